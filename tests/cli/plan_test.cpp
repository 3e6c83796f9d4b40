// `tokenfactory plan` (docs/planning.md) on the shipped supply-crunch scenario, scaled down with --set so that
// each run takes a fraction of a second: a few hundred requests, pools of tens of accelerators.
#include <catch2/catch.hpp>

#include <string>

#include "cli_util.hpp"

using namespace tf::test;
namespace fs = std::filesystem;

namespace {

// The first few hundred requests of each trace at their recorded pace, on pools and supply 1/500 of the
// scenario's.
const std::string kSmall =
    " --set workload.traces.0.replicas=1 --set workload.traces.0.rate_scale=1 --set workload.traces.0.max_requests=300"
    " --set workload.traces.1.replicas=1 --set workload.traces.1.rate_scale=1 --set workload.traces.1.max_requests=150"
    " --set cluster.pools.0.count=64 --set cluster.pools.1.count=32 --set cluster.pools.2.count=32"
    " --set cluster.supply.h100-sxm.available=64 --set cluster.supply.ascend-910c.available=32";

Result plan(const fs::path& out, const std::string& extra) {
  return run_binary("plan scenarios/supply-crunch-100k.json --jobs 2 --out " + out.string() + kSmall + extra);
}

}  // namespace

TEST_CASE("plan finds a feasible plan for the supply-crunch scenario scaled down, printing every run") {
  auto out = temp_dir("plan-small");
  auto r = plan(out, " --max-runs 4");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // One line per run: the pools, capex, attainment per class, cost per useful Mtok, and the verdict.
  CHECK_THAT(r.output, Catch::Contains("round 1:"));
  CHECK_THAT(r.output, Catch::Contains("  #1 "));
  CHECK_THAT(r.output, Catch::Contains("attainment agent"));
  CHECK_THAT(r.output, Catch::Contains("/useful Mtok"));
  CHECK_THAT(r.output, Catch::Contains("best plan (run #"));
  CHECK_THAT(r.output, Catch::Contains("binding constraint: "));

  auto j = read_json(out / "plan.json");
  CHECK(j["kind"] == "tokenfactory-plan");
  CHECK(j["runs"].get<int>() <= 4);
  REQUIRE(j["best"].is_object());
  const auto& best = j["best"];
  CHECK(best["cost_per_useful_mtok_usd"].get<double>() > 0);
  for (const auto& [name, c] : best["classes"].items()) {
    INFO(name);
    CHECK(c["meets"] == true);
    CHECK(c["slo_attainment"].get<double>() >= c["target"].get<double>());
  }
  // The best plan is one of the runs, and its results.json agrees with it.
  auto results = read_json(out / best["results"].get<std::string>());
  CHECK(results["summary"]["cost_per_useful_mtok_usd"] == best["cost_per_useful_mtok_usd"]);
  // Within the supply caps given on the command line.
  int64_t h100 = 0, ascend = 0;
  for (const auto& p : best["pools"]) {
    if (p["accelerator"] == "h100-sxm") h100 += p["count"].get<int64_t>();
    if (p["accelerator"] == "ascend-910c") ascend += p["count"].get<int64_t>();
  }
  CHECK(h100 <= 64);
  CHECK(ascend <= 32);
  std::string binding = j["binding"];
  CHECK((binding == "slo" || binding == "supply" || binding == "budget" || binding == "max_count"));
  // The frontier lists every run, and frontier.csv holds the same rows.
  CHECK(j["frontier"].size() == j["runs"].get<size_t>());
  auto rows = read_csv_rows(out / "frontier.csv");
  CHECK(rows.size() == j["runs"].get<size_t>() + 1);
  CHECK(rows[0][column(rows[0], "cost_per_useful_mtok_usd")] == "cost_per_useful_mtok_usd");

  // Deterministic, and nothing runs twice: the same command again reuses every run and writes the same plan.json.
  std::string first = read_file(out / "plan.json");
  auto again = plan(out, " --max-runs 4");
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.output, Catch::Contains("(reused)"));
  CHECK(read_file(out / "plan.json") == first);
}

TEST_CASE("plan rejects a budget below the cheapest candidate, naming the budget") {
  auto out = temp_dir("plan-budget");
  auto r = plan(out, " --set 'plan.budget=$10000'");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("/plan/budget"));
  CHECK_THAT(r.output, Catch::Contains("the budget of $10.0k does not allow even"));
  CHECK_FALSE(fs::exists(out / "plan.json"));
}

TEST_CASE("plan names the pool whose min_count leaves another model no room in the budget") {
  auto out = temp_dir("plan-min-count");
  // deepseek-gpu held at 6,000 H20s takes the whole budget, so no Llama pool fits beside it.
  auto r = plan(out, " --set 'plan.budget=$100000000' --set plan.pools.2.min_count=6000");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("/plan/budget"));
  CHECK_THAT(r.output, Catch::Contains("no candidate for model llama-3.1-70b fits"));
  CHECK_THAT(r.output, Catch::Contains("deepseek-gpu 6,000 x h20 (capex $108.0M, its min_count 6,000)"));
  CHECK_FALSE(fs::exists(out / "plan.json"));
}

TEST_CASE("plan names the supply cap when no size within it meets the SLO") {
  auto out = temp_dir("plan-supply");
  // The Llama pool limited to one accelerator type whose supply is too small for the agent class.
  auto r = plan(out,
                " --set 'plan.pools.0.candidates=[\"h100-sxm\"]' --set cluster.supply.h100-sxm.available=8"
                " --max-runs 6");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("no plan meets every class's target within the constraints: supply: the "
                                       "supply of 8 h100-sxm caps pool llama at 8 x h100-sxm"));
  auto j = read_json(out / "plan.json");
  CHECK(j["best"].is_null());
  CHECK(j["binding"] == "supply");
}

TEST_CASE("plan needs a plan block and known candidate accelerators") {
  auto none = run_binary("plan scenarios/quickstart.json --out " + temp_dir("plan-none").string());
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.output, Catch::Contains("scenarios/quickstart.json: /plan: the scenario has no plan block"));
  auto unknown = run_binary("plan scenarios/quickstart.json --out " + temp_dir("plan-unknown").string() +
                            " --set 'plan={\"pools\":[{\"pool\":\"h100\",\"candidates\":[\"h100-sxm\",\"b300\"]}]}'");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.output, Catch::Contains("/plan/pools/0/candidates/1: unknown accelerator \"b300\""));
}
