#pragma once
// `tokenfactory report RUN_DIR` (docs/report.md): one self-contained HTML page for a run or a sweep.

#include <CLI/CLI.hpp>

#include <string>

namespace tf::cli {

struct ReportOptions {
  std::string dir;
  std::string out;      // default DIR/report.html
  bool points = false;  // for a sweep: also a report in every point's directory, linked from the sweep's page
};

CLI::App* add_report_command(CLI::App& app, ReportOptions& options);
int run_report(const ReportOptions& options);

}  // namespace tf::cli
