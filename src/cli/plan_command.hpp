#pragma once
// `tokenfactory plan` (docs/planning.md): a procurement search. Within the scenario's `plan` block (which pools
// to size, with which accelerator candidates), the supply caps (cluster.supply) and an optional budget, it
// looks for the plan with the lowest cost per useful token whose every class reaches its SLO attainment target.
// Each plan tried is one `tokenfactory run` in a child process; results are cached by plan, so nothing runs
// twice, and a stopped search resumes from the runs already in its directory.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace tf::cli {

struct PlanOptions {
  std::string scenario;
  std::vector<std::string> sets;  // --set, applied to every run before the plan's own values
  int jobs = 0;                   // --jobs: runs at once (0: every core)
  std::string out;                // --out (default runs/<scenario name>-plan)
  int max_runs = 0;               // --max-runs (0: the scenario's plan.max_runs)
  bool quiet = false;             // no step lines or table: only errors
};

CLI::App* add_plan_command(CLI::App& app, PlanOptions& options);
// Exit codes: 0 a plan was found; 2 bad input, or no plan meets the SLO within the constraints (the message
// names the constraint); 1 a run failed; 130 interrupted (run the same command again to resume).
int run_plan(const PlanOptions& options);

}  // namespace tf::cli
