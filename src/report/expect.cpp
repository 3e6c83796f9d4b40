#include "report/expect.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/json_reader.hpp"
#include "report/results.hpp"

namespace tf::report {

nlohmann::json results_template(const config::Scenario& scenario, const engine::FactoryPlan& plan) {
  engine::RunOutput empty;
  empty.instances.resize(plan.instances);
  auto results = assemble(scenario, plan, empty);
  return results_json(results);
}

namespace {

// Walks `dotted` through objects. Keys may contain dots themselves, so at each level the longest prefix of the
// remaining path that is a key wins.
const nlohmann::json* walk(const nlohmann::json& node, const std::string& rest) {
  if (rest.empty()) return &node;
  if (!node.is_object()) return nullptr;
  for (size_t end = rest.size(); end != std::string::npos && end > 0; end = rest.rfind('.', end - 1)) {
    auto it = node.find(rest.substr(0, end));
    if (it == node.end()) continue;
    if (end == rest.size()) return &*it;
    if (const auto* found = walk(*it, rest.substr(end + 1))) return found;
  }
  return nullptr;
}

std::string keys_of(const nlohmann::json& node) {
  std::vector<std::string> keys;
  for (auto it = node.begin(); it != node.end(); ++it)
    keys.push_back(it.key());
  return fmt::format("{}", fmt::join(keys, ", "));
}

std::string number(double v) {
  return fmt::format("{:.6g}", v);
}

}  // namespace

const nlohmann::json* find_metric(const nlohmann::json& results, const std::string& dotted) {
  if (dotted.empty()) return nullptr;
  return walk(results, dotted);
}

std::vector<std::string> metric_paths(const nlohmann::json& node, const std::string& prefix) {
  std::vector<std::string> out;
  if (node.is_number() || node.is_null()) {
    out.push_back(prefix);
  } else if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      auto sub = metric_paths(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key());
      out.insert(out.end(), sub.begin(), sub.end());
    }
  }
  return out;
}

void check_expectations(const config::Scenario& scenario, const engine::FactoryPlan& plan) {
  if (scenario.expect.empty()) return;
  auto tmpl = results_template(scenario, plan);
  for (const auto& e : scenario.expect) {
    const auto* node = find_metric(tmpl, e.metric);
    if (node && (node->is_number() || node->is_null())) continue;
    std::string why;
    if (!node) {
      // Name the deepest part of the path that exists, and what it holds.
      std::string prefix = e.metric;
      const nlohmann::json* parent = nullptr;
      while (!parent) {
        size_t dot = prefix.rfind('.');
        if (dot == std::string::npos) break;
        prefix = prefix.substr(0, dot);
        parent = find_metric(tmpl, prefix);
      }
      if (parent && parent->is_object())
        why =
            fmt::format("\"{}\" is not a metric of results.json: \"{}\" holds {}", e.metric, prefix, keys_of(*parent));
      else
        why = fmt::format("\"{}\" is not a metric of results.json (top level: {})", e.metric, keys_of(tmpl));
    } else if (node->is_object()) {
      why = fmt::format("\"{}\" is not a number: it holds {}", e.metric, keys_of(*node));
    } else {
      why = fmt::format("\"{}\" is not a number: results.json holds {} there", e.metric, node->dump());
    }
    throw ConfigError(scenario.file, e.where, why);
  }
}

std::vector<ExpectResult> evaluate_expectations(const std::vector<config::Expectation>& expect,
                                                const nlohmann::json& results) {
  std::vector<ExpectResult> out;
  for (const auto& e : expect) {
    ExpectResult r;
    r.expectation = e;
    const auto* node = find_metric(results, e.metric);
    if (node && node->is_number()) r.value = node->get<double>();
    r.pass = r.value && (!e.min || *r.value >= *e.min) && (!e.max || *r.value <= *e.max);
    out.push_back(r);
  }
  return out;
}

std::string describe_bound(const config::Expectation& e) {
  if (e.min && e.max) return fmt::format("in [{}, {}]", number(*e.min), number(*e.max));
  if (e.min) return ">= " + number(*e.min);
  return "<= " + number(e.max.value_or(0));
}

}  // namespace tf::report
