#include <catch2/catch.hpp>

#include "report/expect.hpp"

using namespace tf;
using nlohmann::json;

namespace {

json results() {
  return json::parse(R"({
    "schema_version": 1,
    "summary": {"slo_attainment": 0.95, "cost_per_useful_mtok_usd": null, "ttft_s": {"p50": 0.1, "p99": 0.8}},
    "classes": {"chat": {"slo_attainment": 0.9, "meets_target": true, "model": "m"},
                "batch.v2": {"slo_attainment": 0.5}}
  })");
}

config::Expectation bound(const std::string& metric, std::optional<double> min, std::optional<double> max) {
  config::Expectation e;
  e.metric = metric;
  e.min = min;
  e.max = max;
  return e;
}

}  // namespace

TEST_CASE("find_metric follows dotted paths, including class names that contain dots") {
  auto r = results();
  REQUIRE(report::find_metric(r, "summary.ttft_s.p99") != nullptr);
  CHECK(*report::find_metric(r, "summary.ttft_s.p99") == 0.8);
  CHECK(*report::find_metric(r, "classes.batch.v2.slo_attainment") == 0.5);
  CHECK(report::find_metric(r, "summary.ttft_s.p42") == nullptr);
  CHECK(report::find_metric(r, "classes.code.slo_attainment") == nullptr);
  CHECK(report::find_metric(r, "") == nullptr);
}

TEST_CASE("metric_paths lists numeric and null leaves, not booleans or strings") {
  auto paths = report::metric_paths(results()["classes"], "classes");
  CHECK(paths == std::vector<std::string>{"classes.batch.v2.slo_attainment", "classes.chat.slo_attainment"});
  auto summary = report::metric_paths(results()["summary"], "summary");
  CHECK(std::find(summary.begin(), summary.end(), "summary.cost_per_useful_mtok_usd") != summary.end());
}

TEST_CASE("an expectation passes inside its bounds and fails outside them or on a null value") {
  auto r = results();
  auto out = report::evaluate_expectations(
      {bound("summary.slo_attainment", 0.9, std::nullopt), bound("summary.ttft_s.p99", std::nullopt, 0.5),
       bound("classes.chat.slo_attainment", 0.8, 0.95), bound("summary.cost_per_useful_mtok_usd", std::nullopt, 2.0)},
      r);
  REQUIRE(out.size() == 4);
  CHECK(out[0].pass);
  CHECK_FALSE(out[1].pass);
  CHECK(out[1].value == 0.8);
  CHECK(out[2].pass);
  CHECK_FALSE(out[3].pass);  // null: no useful token, so no bound can hold
  CHECK_FALSE(out[3].value.has_value());
}

TEST_CASE("bounds are described the way the check table prints them") {
  CHECK(report::describe_bound(bound("x", 0.9, std::nullopt)) == ">= 0.9");
  CHECK(report::describe_bound(bound("x", std::nullopt, 2.0)) == "<= 2");
  CHECK(report::describe_bound(bound("x", 0.5, 2.0)) == "in [0.5, 2]");
}
