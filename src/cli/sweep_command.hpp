#pragma once
// `tokenfactory sweep` and `tokenfactory collect` (docs/sweep.md).

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tf::cli {

struct SweepOptions {
  std::string scenario;
  std::vector<std::string> sets;    // --set, applied to every point
  std::vector<std::string> grid;    // --grid path=v1,v2,...
  std::vector<std::string> zip;     // --zip path=v1,v2,...
  std::vector<std::string> ranges;  // --range path=min..max[:log]
  int64_t random = 0;               // --random N (0: no random points)
  uint64_t seed = 1;                // --seed
  std::string file;                 // --file sweep.json
  int jobs = 0;                     // --jobs (0: every core)
  std::string out;                  // --out (default runs/<scenario name>-sweep)
  std::string emit_jobs;            // --emit-jobs DIR: write jobs.txt and sweep.sbatch instead of running
  bool quiet = false;
};

CLI::App* add_sweep_command(CLI::App& app, SweepOptions& options);
int run_sweep(const SweepOptions& options);

struct CollectOptions {
  std::string dir;
};

CLI::App* add_collect_command(CLI::App& app, CollectOptions& options);
int run_collect(const CollectOptions& options);

}  // namespace tf::cli
