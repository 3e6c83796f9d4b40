#pragma once
// Merging a sweep's per-point results (DIR/point-*/results.json, listed in DIR/points.json) into DIR/sweep.csv and
// DIR/sweep.json: one row per point with its swept values and summary metrics. `tokenfactory sweep` calls it when
// its points are done; `tokenfactory collect DIR` calls it after GNU parallel or Slurm ran the points.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>

namespace tf::cli {

// DIR/points.json, checked: a sweep manifest of a schema this build reads. Throws tf::ConfigError naming the file.
nlohmann::json read_manifest(const std::filesystem::path& dir);

struct CollectCounts {
  size_t ok = 0;       // points with results.json
  size_t failed = 0;   // points whose run exited non-zero in this invocation
  size_t missing = 0;  // points with neither (not run yet, or run elsewhere and failed)
};

// Writes DIR/sweep.csv and DIR/sweep.json. `exit_codes` holds the exit code of each point run (by point name)
// that failed in this invocation, so their rows say "failed" rather than "missing". A results.json of another
// schema version throws tf::ConfigError naming it.
CollectCounts collect_sweep(const std::filesystem::path& dir, const std::map<std::string, int>& exit_codes = {});

// The metric columns of sweep.csv for one results document, as dotted results.json paths: the headline summary
// metrics (cost per useful and per raw million tokens, SLO attainment, p99 TTFT and TPOT, throughput, cost), the
// other summary metrics, then per class its attainment, latency percentiles and cost per useful token, then per
// pool its utilisation and cost.
std::vector<std::string> sweep_metric_columns(const nlohmann::json& results);

}  // namespace tf::cli
