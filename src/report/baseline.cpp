#include "report/baseline.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <set>

#include "core/error.hpp"
#include "report/expect.hpp"

namespace tf::report {

Better better_direction(const std::string& metric) {
  auto leaf = metric.substr(metric.rfind('.') + 1);
  auto has = [&](const char* word) { return metric.find(word) != std::string::npos; };
  if (leaf == "count") return Better::neither;  // how many values a distribution holds
  if (has("slo_attainment") || has("useful_tokens") || has("completed") || has("per_s") || has("hit"))
    return Better::higher;
  if (has("cost") || has("ttft") || has("tpot") || has("e2e") || has("tbt") || has("gap") || has("energy") ||
      has("rejected") || has("preempt"))
    return Better::lower;
  return Better::neither;
}

bool failed(Verdict v) {
  return v == Verdict::regressed || v == Verdict::changed;
}

std::vector<MetricComparison> compare_summaries(const nlohmann::json& baseline, const nlohmann::json& now,
                                                double tolerance, const std::map<std::string, double>& tolerances) {
  const auto* base_summary = find_metric(baseline, "summary");
  const auto* now_summary = find_metric(now, "summary");
  static const nlohmann::json empty = nlohmann::json::object();
  auto paths = metric_paths(base_summary ? *base_summary : empty, "summary");
  std::set<std::string> known(paths.begin(), paths.end());
  for (const auto& p : metric_paths(now_summary ? *now_summary : empty, "summary"))
    if (known.insert(p).second) paths.push_back(p);  // a metric the baseline lacks: reported as changed
  for (const auto& [metric, tol] : tolerances)
    if (!known.count(metric))
      throw ConfigError("--tolerance", metric,
                        "not a summary metric of the baseline (e.g. summary.ttft_s.p99, summary.cost_usd)");

  std::vector<MetricComparison> out;
  for (const auto& metric : paths) {
    MetricComparison c;
    c.metric = metric;
    c.better = better_direction(metric);
    auto it = tolerances.find(metric);
    c.tolerance = it != tolerances.end() ? it->second : tolerance;
    auto value = [&](const nlohmann::json& doc) -> std::optional<double> {
      const auto* node = find_metric(doc, metric);
      if (node && node->is_number()) return node->get<double>();
      return std::nullopt;
    };
    c.baseline = value(baseline);
    c.now = value(now);
    if (!c.baseline || !c.now) {
      c.change = NAN;
      c.verdict = c.baseline.has_value() == c.now.has_value() ? Verdict::same : Verdict::changed;
      out.push_back(c);
      continue;
    }
    double b = *c.baseline, n = *c.now;
    if (b == n)
      c.change = 0;
    else if (b == 0)
      c.change = n > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    else
      c.change = (n - b) / std::abs(b);
    if (std::abs(c.change) <= c.tolerance) {
      c.verdict = Verdict::same;
    } else if (c.better == Better::neither) {
      c.verdict = Verdict::changed;
    } else {
      bool worse = c.better == Better::lower ? c.change > 0 : c.change < 0;
      c.verdict = worse ? Verdict::regressed : Verdict::improved;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace tf::report
