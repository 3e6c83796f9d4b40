#pragma once
// Comparing a run's summary metrics with a baseline run (tokenfactory check --baseline, docs/check.md).
// Each metric has a direction: lower is better (costs, latencies, energy, rejections), higher is better (SLO
// attainment, useful tokens, throughput), or neither (request and token counts, the factory's size), where
// any change beyond the tolerance means the two runs are not comparable.

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tf::report {

enum class Better { lower, higher, neither };

// Direction of a results.json metric, decided from its path.
Better better_direction(const std::string& metric);

enum class Verdict {
  same,       // within the tolerance
  improved,   // beyond the tolerance in the better direction (not a failure; refresh the baseline)
  regressed,  // beyond the tolerance in the worse direction
  changed,    // a metric without a direction moved beyond the tolerance, or a value appeared or vanished
};

struct MetricComparison {
  std::string metric;              // dotted results.json path, e.g. "summary.ttft_s.p99"
  std::optional<double> baseline;  // absent: null in results.json
  std::optional<double> now;
  double change = 0;     // relative: (now - baseline) / |baseline|; +-inf from a zero baseline
  double tolerance = 0;  // relative limit applied
  Better better = Better::neither;
  Verdict verdict = Verdict::same;
};

bool failed(Verdict v);

// Compares every numeric leaf of the baseline's "summary" with the same metric now. `tolerances` overrides
// `tolerance` for single metrics (dotted paths, e.g. "summary.ttft_s.p99"); an override naming a metric
// that is not in the baseline's summary throws tf::ConfigError naming it (origin "--tolerance").
std::vector<MetricComparison> compare_summaries(const nlohmann::json& baseline, const nlohmann::json& now,
                                                double tolerance, const std::map<std::string, double>& tolerances);

}  // namespace tf::report
