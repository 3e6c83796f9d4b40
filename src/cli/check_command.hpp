#pragma once
// `tokenfactory check` (docs/check.md): runs scenarios and checks their `expect` blocks and, with --baseline,
// every summary metric against an earlier run. Exit 0 when all pass, 1 on a regression, 2 on bad input.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace tf::cli {

struct CheckOptions {
  std::vector<std::string> scenarios;
  std::vector<std::string> sets;        // --set, applied to every scenario
  std::string baseline;                 // --baseline DIR: DIR/<scenario name>/results.json (or DIR/results.json)
  std::vector<std::string> tolerances;  // --tolerance 0.05 and/or --tolerance summary.ttft_s.p99=0.2
  std::string out;                      // --out (default runs/check)
  std::string junit;                    // --junit FILE
  int jobs = 0;                         // scenarios run at once (0: every core)
  bool all = false;                     // print every compared metric, not only those beyond tolerance
  bool quiet = false;                   // print only the scenarios that fail, and the last line
};

CLI::App* add_check_command(CLI::App& app, CheckOptions& options);
int run_check(const CheckOptions& options);

}  // namespace tf::cli
