#pragma once
// A scenario's `expect` block (docs/check.md): bounds on results.json metrics. Which paths are metrics is
// decided by the results writer itself: the template is results_json() of an empty run of the same factory,
// so the list of metrics never drifts from what run writes.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "engine/factory.hpp"

namespace tf::report {

// results.json as this factory would write it, every metric present (null where an empty run has no value).
nlohmann::json results_template(const config::Scenario& scenario, const engine::FactoryPlan& plan);

// The value at a dotted path ("classes.chat.ttft_s.p99") of a results document, or nullptr when absent.
// Dots separate keys; a key that itself holds dots is matched whole when it exists.
const nlohmann::json* find_metric(const nlohmann::json& results, const std::string& dotted);

// Every numeric leaf (numbers and nulls, not booleans or strings) under `node`, as dotted paths below `prefix`.
std::vector<std::string> metric_paths(const nlohmann::json& node, const std::string& prefix);

// Throws tf::ConfigError naming the scenario file and the expectation's JSON path when an expectation's metric
// is not a number in results.json (unknown key, unknown class or pool, an object such as ttft_s, a string).
void check_expectations(const config::Scenario& scenario, const engine::FactoryPlan& plan);

struct ExpectResult {
  config::Expectation expectation;
  std::optional<double> value;  // absent when results.json holds null (e.g. no useful tokens) or no such path
  bool pass = false;            // a missing value never passes
};

std::vector<ExpectResult> evaluate_expectations(const std::vector<config::Expectation>& expect,
                                                const nlohmann::json& results);

// ">= 0.9", "<= 2", "in [0.5, 2]".
std::string describe_bound(const config::Expectation& e);

}  // namespace tf::report
