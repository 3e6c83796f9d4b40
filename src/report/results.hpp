#pragma once
// Everything a run produced, assembled once, and the writers for each output format: results.json
// (schema-versioned), requests.csv (one row per request) and the terminal summary.

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "cost/cost_model.hpp"
#include "engine/factory.hpp"
#include "engine/simulation.hpp"
#include "metrics/summary.hpp"

namespace tf::report {

inline constexpr int kSchemaVersion = 1;

struct PoolResult {
  std::string name;
  std::string accelerator;
  std::string model;
  int64_t accelerators = 0;
  int64_t instances = 0;
  double utilization = 0;          // busy instance-time / (instances x interval)
  int64_t kv_capacity_tokens = 0;  // per instance
  std::string role;                // colocated | prefill | decode
  int64_t requests = 0;            // served by this pool's instances (prefill or decode or both)
  int64_t output_tokens = 0;       // produced by them (a disaggregated request's, by its decode pool)
  int64_t useful_tokens = 0;
  double weighted_useful_tokens = 0;
  serving::InstanceUsage usage;  // summed over the pool's instances
  cost::CostBreakdown cost;      // spares included
  int64_t spares = 0;            // spare accelerators (cluster.pools[].spares)
  double spares_cost_usd = 0;    // what they add to cost
  double availability = 1;       // 1 - instance-seconds down / (instances x interval)
  int64_t failures = 0;          // failure events that took instances of the pool down
  int64_t spare_swaps = 0;       // of which a spare cut short
};

struct RunResults {
  const config::Scenario* scenario = nullptr;
  const engine::FactoryPlan* plan = nullptr;
  const engine::RunOutput* run = nullptr;
  metrics::Summary summary;
  std::vector<PoolResult> pools;
  cost::CostBreakdown cost;                    // all pools
  std::vector<double> class_cost_usd;          // cost attributed to each class (by class id)
  int64_t useful_tokens_lost_to_failures = 0;  // output tokens of retried requests that missed their SLO
};

// Computes the summary, per-pool utilisation and costs, and each class's share of the cost: a model's
// pools' cost is split among the classes that use that model in proportion to the tokens (prompt +
// answer) of their completed requests.
RunResults assemble(const config::Scenario& scenario, const engine::FactoryPlan& plan, const engine::RunOutput& run);

nlohmann::json results_json(const RunResults& r);
void write_requests_csv(std::ostream& out, const RunResults& r);
std::string terminal_summary(const RunResults& r);

}  // namespace tf::report
