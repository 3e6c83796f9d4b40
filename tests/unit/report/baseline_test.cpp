#include <catch2/catch.hpp>

#include <cmath>

#include "core/error.hpp"
#include "report/baseline.hpp"

using namespace tf;
using nlohmann::json;

namespace {

json run(double attainment, double cost, double ttft_p99, int64_t requests) {
  return {{"schema_version", 1},
          {"summary",
           {{"slo_attainment", attainment},
            {"cost_per_useful_mtok_usd", cost},
            {"requests", requests},
            {"ttft_s", {{"count", requests}, {"p99", ttft_p99}}}}}};
}

const report::MetricComparison& find(const std::vector<report::MetricComparison>& all, const std::string& metric) {
  for (const auto& c : all)
    if (c.metric == metric) return c;
  FAIL("no comparison for " << metric);
  return all.front();
}

}  // namespace

TEST_CASE("metric directions: costs and latencies lower is better, attainment higher, counts neither") {
  CHECK(report::better_direction("summary.cost_per_useful_mtok_usd") == report::Better::lower);
  CHECK(report::better_direction("summary.ttft_s.p99") == report::Better::lower);
  CHECK(report::better_direction("summary.energy_kwh") == report::Better::lower);
  CHECK(report::better_direction("summary.slo_attainment") == report::Better::higher);
  CHECK(report::better_direction("summary.weighted_useful_tokens") == report::Better::higher);
  CHECK(report::better_direction("summary.output_tokens_per_s") == report::Better::higher);
  CHECK(report::better_direction("summary.ttft_s.count") == report::Better::neither);
  CHECK(report::better_direction("summary.requests") == report::Better::neither);
}

TEST_CASE("a change beyond the tolerance in the worse direction is a regression, in the better one is not") {
  auto base = run(0.99, 1.0, 0.2, 100);
  auto all = report::compare_summaries(base, run(0.90, 1.04, 0.3, 100), 0.05, {});
  CHECK(find(all, "summary.slo_attainment").verdict == report::Verdict::regressed);       // -9 %
  CHECK(find(all, "summary.cost_per_useful_mtok_usd").verdict == report::Verdict::same);  // +4 %
  CHECK(find(all, "summary.ttft_s.p99").verdict == report::Verdict::regressed);           // +50 %
  CHECK(find(all, "summary.ttft_s.p99").change == Approx(0.5));
  CHECK(report::failed(find(all, "summary.ttft_s.p99").verdict));

  auto better = report::compare_summaries(base, run(0.99, 0.5, 0.1, 100), 0.05, {});
  CHECK(find(better, "summary.cost_per_useful_mtok_usd").verdict == report::Verdict::improved);
  CHECK_FALSE(report::failed(find(better, "summary.cost_per_useful_mtok_usd").verdict));
}

TEST_CASE("a metric without a direction fails on any change beyond the tolerance") {
  auto all = report::compare_summaries(run(0.99, 1.0, 0.2, 100), run(0.99, 1.0, 0.2, 120), 0.05, {});
  CHECK(find(all, "summary.requests").verdict == report::Verdict::changed);
  CHECK(report::failed(find(all, "summary.requests").verdict));
}

TEST_CASE("a per-metric tolerance overrides the global one, and must name a summary metric") {
  auto base = run(0.99, 1.0, 0.2, 100);
  auto all = report::compare_summaries(base, run(0.99, 1.0, 0.3, 100), 0.05, {{"summary.ttft_s.p99", 0.6}});
  CHECK(find(all, "summary.ttft_s.p99").verdict == report::Verdict::same);
  CHECK(find(all, "summary.ttft_s.p99").tolerance == 0.6);
  CHECK_THROWS_AS(report::compare_summaries(base, base, 0.05, {{"summary.ttft_s.p42", 0.1}}), ConfigError);
}

TEST_CASE("a value that becomes null, or a zero baseline that becomes positive, is reported") {
  auto base = run(0.99, 1.0, 0.2, 100);
  auto now = run(0.99, 1.0, 0.2, 100);
  now["summary"]["cost_per_useful_mtok_usd"] = nullptr;
  auto all = report::compare_summaries(base, now, 0.05, {});
  CHECK(find(all, "summary.cost_per_useful_mtok_usd").verdict == report::Verdict::changed);
  auto zero = run(0.99, 1.0, 0.0, 100);
  auto grown = report::compare_summaries(zero, run(0.99, 1.0, 0.1, 100), 0.05, {});
  CHECK(std::isinf(find(grown, "summary.ttft_s.p99").change));
  CHECK(find(grown, "summary.ttft_s.p99").verdict == report::Verdict::regressed);
}
