#include <catch2/catch.hpp>

#include <cmath>
#include <regex>
#include <vector>

#include "run_util.hpp"

using namespace tf::test;
namespace fs = std::filesystem;

TEST_CASE("quickstart runs and writes results.json, requests.csv and scenario.resolved.json") {
  auto dir = temp_dir("quickstart");
  auto r = run_binary("run scenarios/quickstart.json --quiet --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto j = read_json(dir / "results.json");
  CHECK(j["schema_version"] == 1);
  CHECK(j["scenario"] == "quickstart");
  CHECK(j["summary"]["requests"] == 2000);
  CHECK(j["summary"]["completed"].get<int64_t>() + j["summary"]["rejected"].get<int64_t>() == 2000);
  CHECK(j["summary"]["cost_usd"].get<double>() > 0);
  CHECK(j["summary"]["cost_per_useful_mtok_usd"].get<double>() >= j["summary"]["cost_per_mtok_usd"].get<double>());
  CHECK(j["classes"]["chat"]["ttft_s"]["p99"].get<double>() >= j["classes"]["chat"]["ttft_s"]["p50"].get<double>());
  CHECK(j["pools"]["h100"]["instances"] == 8);
  CHECK(j["pools"]["h100"]["utilization"].get<double>() > 0);
  auto rows = read_csv(dir / "requests.csv");
  CHECK(rows.size() == 2001);
  CHECK(rows[0][0] == "id");
  auto resolved = read_json(dir / "scenario.resolved.json");
  CHECK(resolved["cluster"]["pools"][0]["instance"]["scheduler"]["max_batched_tokens"] == 8192);
}

TEST_CASE("the same scenario and seed give a byte-identical results.json") {
  auto a = temp_dir("determinism-a"), b = temp_dir("determinism-b");
  REQUIRE(run_binary("run scenarios/quickstart.json -q --out " + a.string()).exit_code == 0);
  REQUIRE(run_binary("run scenarios/quickstart.json -q --out " + b.string()).exit_code == 0);
  CHECK(read_file(a / "results.json") == read_file(b / "results.json"));
  CHECK(read_file(a / "requests.csv") == read_file(b / "requests.csv"));
}

TEST_CASE("requests.csv names each request's instance as pool-k, whatever the pool name's length") {
  // A pool name too long for std::string's inline buffer once printed garbage here (a view of a dead temporary).
  auto dir = temp_dir("instance-names");
  const std::string pool = "h100-pool-with-a-name-longer-than-sso";
  auto r = run_binary("run scenarios/quickstart.json -q --set cluster.pools.0.name=" + pool + " --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto rows = read_csv(dir / "requests.csv");
  REQUIRE(rows.size() == 2001);
  REQUIRE(rows[0][5] == "instance");
  const std::regex name(pool + "-[0-7]");
  size_t routed = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i][6] == "rejected" && rows[i][5].empty()) continue;
    INFO("row " << i << ": " << rows[i][5]);
    CHECK(std::regex_match(rows[i][5], name));
    ++routed;
  }
  CHECK(routed > 1000);
}

TEST_CASE("a run with --results-only writes the same results.json and no per-request files, removing stale ones") {
  auto full = temp_dir("results-full"), only = temp_dir("results-only");
  REQUIRE(run_binary("run scenarios/quickstart.json -q --out " + full.string()).exit_code == 0);
  // A full run first, so that the results-only run must remove its requests.csv and timeseries.csv.
  REQUIRE(
      run_binary("run scenarios/quickstart.json -q --set cluster.pools.0.count=4 --out " + only.string()).exit_code ==
      0);
  REQUIRE(fs::exists(only / "requests.csv"));
  auto r = run_binary("run scenarios/quickstart.json -q --results-only --out " + only.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(only / "results.json") == read_file(full / "results.json"));
  CHECK(read_file(only / "scenario.resolved.json") == read_file(full / "scenario.resolved.json"));
  CHECK_FALSE(fs::exists(only / "requests.csv"));
  CHECK_FALSE(fs::exists(only / "timeseries.csv"));
}

TEST_CASE("overrides given with --set change the run and appear in scenario.resolved.json") {
  auto dir = temp_dir("overrides");
  auto r = run_binary("run scenarios/quickstart.json -q --out " + dir.string() +
                      " --set cluster.pools.0.count=16 --set workload.rate_scale=2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto resolved = read_json(dir / "scenario.resolved.json");
  CHECK(resolved["cluster"]["pools"][0]["count"] == 16);
  CHECK(resolved["workload"]["rate_scale"] == 2.0);
  CHECK(read_json(dir / "results.json")["pools"]["h100"]["instances"] == 16);
}

TEST_CASE("leaping and stepping give the same per-request times through the whole engine") {
  auto leap = temp_dir("leap"), step = temp_dir("step");
  REQUIRE(run_binary("run scenarios/quickstart.json -q --out " + leap.string()).exit_code == 0);
  REQUIRE(run_binary("run scenarios/quickstart.json -q --set engine.leap=false --out " + step.string()).exit_code == 0);
  auto a = read_csv(leap / "requests.csv");
  auto b = read_csv(step / "requests.csv");
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() > 1);
  // Columns 7..10: ttft, tpot, e2e, max_gap (seconds).
  double worst = 0;
  for (size_t i = 1; i < a.size(); ++i) {
    REQUIRE(a[i][6] == b[i][6]);  // status
    REQUIRE(a[i][5] == b[i][5]);  // instance
    for (size_t c = 7; c <= 10; ++c) {
      if (a[i][c].empty()) continue;
      double x = std::stod(a[i][c]), y = std::stod(b[i][c]);
      double rel = std::abs(x - y) / std::max(std::abs(y), 1e-12);
      worst = std::max(worst, rel);
    }
  }
  INFO("worst relative difference " << worst);
  CHECK(worst <= 1e-9);
  auto ja = read_json(leap / "results.json"), jb = read_json(step / "results.json");
  CHECK(ja["engine"]["events"].get<int64_t>() < jb["engine"]["events"].get<int64_t>());
}

TEST_CASE("every shipped scenario validates") {
  for (const auto& e : fs::directory_iterator("scenarios")) {
    if (e.path().extension() != ".json") continue;
    auto r = run_binary("validate " + e.path().string());
    INFO(e.path() << ": " << r.output);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("the H100 Llama-3.1-70B scenario replays the whole Azure conversation trace") {
  auto dir = temp_dir("h100-70b");
  auto r = run_binary("run scenarios/h100-llama70b-azure-conv.json -q --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto j = read_json(dir / "results.json");
  CHECK(j["summary"]["requests"] == 19366);
  CHECK(j["summary"]["completed"] == 19366);
  CHECK(j["simulated_seconds"].get<double>() > 3400);
}

TEST_CASE("the Ascend-versus-H20 scenario reports each pool's cost per useful token") {
  auto dir = temp_dir("ascend-h20");
  auto r = run_binary("run scenarios/ascend-vs-h20-deepseek.json -q --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto j = read_json(dir / "results.json");
  CHECK(j["classes"].size() == 2);
  CHECK(j["pools"].size() == 2);
  CHECK(j["pools"]["ascend-910c"]["cost_usd"].get<double>() > 0);
  CHECK(j["pools"]["h20"]["cost_usd"].get<double>() > 0);
}

TEST_CASE("a factory serving two models routes each class only to the pools that serve its model") {
  auto dir = temp_dir("two-models");
  nlohmann::json j = read_json("scenarios/quickstart.json");
  j["models"]["qwen3-32b"] = "qwen3-32b";
  j["cluster"]["pools"].push_back(
      {{"name", "qwen"}, {"accelerator", "h200"}, {"count", 4}, {"instance", {{"model", "qwen3-32b"}, {"tp", 2}}}});
  j["workload"]["classes"]["code"] = {{"model", "qwen3-32b"}, {"slo", {{"ttft", "3s"}}}, {"value", 2.0}};
  j["workload"]["traces"][0].erase("class");
  j["workload"]["traces"][0]["class_mix"] = {{"chat", 0.5}, {"code", 0.5}};
  write_file(dir / "two-models.json", j.dump(2));
  auto r = run_binary("run -q --out " + (dir / "out").string() + " " + (dir / "two-models.json").string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto rows = read_csv(dir / "out" / "requests.csv");
  int chat = 0, code = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& cls = rows[i][1];
    const auto& inst = rows[i][5];
    if (cls == "chat") {
      ++chat;
      CHECK(inst.rfind("h100-", 0) == 0);
    } else {
      ++code;
      CHECK(inst.rfind("qwen-", 0) == 0);
    }
  }
  CHECK(chat > 800);
  CHECK(code > 800);
  auto res = read_json(dir / "out" / "results.json");
  CHECK(res["classes"]["code"]["model"] == "qwen3-32b");
  CHECK(res["pools"]["qwen"]["instances"] == 2);
}
