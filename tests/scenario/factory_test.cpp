// The 100,000-accelerator scenarios (issue 5) at full size for validation, and scaled down with --set for
// runs: the full runs belong to tools/bench, not to the test suite.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "run_util.hpp"

using namespace tf::test;

namespace {

// A few hundred accelerators and two minutes of the same traffic: a second or less per run.
const std::string h100_small =
    " --set cluster.pools.0.count=800 --set workload.traces.0.replicas=2 --set workload.traces.1.replicas=2"
    " --set duration=2min";
const std::string cm384_small =
    " --set cluster.pools.0.count=384 --set workload.traces.0.replicas=2 --set workload.traces.1.replicas=2"
    " --set duration=2min";

}  // namespace

TEST_CASE("the 100k-accelerator factories validate at full size") {
  auto h100 = run_binary("validate scenarios/factory-100k.json");
  INFO(h100.output);
  CHECK(h100.exit_code == 0);
  CHECK(h100.output.find("100000 accelerators, 12500 instances") != std::string::npos);
  auto cm384 = run_binary("validate scenarios/factory-100k-cloudmatrix384.json");
  INFO(cm384.output);
  CHECK(cm384.exit_code == 0);
  CHECK(cm384.output.find("99840 accelerators, 6240 instances") != std::string::npos);
}

TEST_CASE("the 100k-accelerator H100 factory runs scaled down") {
  auto dir = temp_dir("factory-100k-small");
  auto r = run_binary("run scenarios/factory-100k.json -q --out " + dir.string() + h100_small);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto j = read_json(dir / "results.json");
  CHECK(j["summary"]["accelerators"] == 800);
  CHECK(j["summary"]["instances"] == 100);
  CHECK(j["summary"]["requests"].get<int64_t>() > 1000);
  CHECK(j["summary"]["completed"] == j["summary"]["requests"]);
  CHECK(j["classes"]["chat"]["requests"].get<int64_t>() > 0);
  CHECK(j["classes"]["long-context"]["requests"].get<int64_t>() > 0);
}

TEST_CASE("the 100k-accelerator CloudMatrix384 factory runs scaled down to one supernode") {
  auto dir = temp_dir("factory-100k-cm384-small");
  auto r = run_binary("run scenarios/factory-100k-cloudmatrix384.json -q --out " + dir.string() + cm384_small);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto j = read_json(dir / "results.json");
  CHECK(j["summary"]["instances"] == 24);
  CHECK(j["summary"]["requests"].get<int64_t>() > 1000);
}

TEST_CASE("run --stats prints one JSON line with the run's size, wall time, memory and events") {
  auto dir = temp_dir("factory-stats");
  auto r = run_binary("run scenarios/factory-100k.json -q --stats --out " + dir.string() + h100_small);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto line = nlohmann::json::parse(r.output);  // nothing else is printed with --quiet
  auto results = read_json(dir / "results.json");
  CHECK(line["accelerators"] == 800);
  CHECK(line["instances"] == 100);
  CHECK(line["requests"] == results["summary"]["requests"]);
  CHECK(line["events"] == results["engine"]["events"]);
  CHECK(line["simulated_s"] == results["simulated_seconds"]);
  CHECK(line["wall_s"].get<double>() > 0);
  CHECK(line["peak_rss_mb"].get<double>() > 1);
  CHECK(line["requests_per_wall_s"].get<double>() > 0);
}

TEST_CASE("leaping and stepping serve every request of the factory traffic alike") {
  // Long Mooncake prompts (chunked prefill) and two classes, beside the quickstart's leap/step test.
  auto leap = temp_dir("factory-leap"), step = temp_dir("factory-step");
  REQUIRE(run_binary("run scenarios/factory-100k.json -q --out " + leap.string() + h100_small).exit_code == 0);
  REQUIRE(run_binary("run scenarios/factory-100k.json -q --set engine.leap=false --out " + step.string() + h100_small)
              .exit_code == 0);
  std::istringstream a(read_file(leap / "requests.csv")), b(read_file(step / "requests.csv"));
  std::string la, lb;
  size_t rows = 0;
  double worst = 0;
  std::vector<std::string> header;
  while (std::getline(a, la)) {
    REQUIRE(std::getline(b, lb));
    if (rows++ == 0) {
      header = split_csv_line(la);
      continue;
    }
    auto x = split_csv_line(la), y = split_csv_line(lb);
    REQUIRE(x.size() == header.size());
    REQUIRE(x.size() == y.size());
    REQUIRE(x[5] == y[5]);       // instance
    REQUIRE(x[6] == y[6]);       // status
    if (x[9].empty()) continue;  // unfinished: no times
    double e2e = std::stod(y[9]);
    // Every time column (named *_s after the status): the request's times relative to themselves, the parts
    // of its latency budget (which may be near zero) relative to its E2E.
    bool parts = false;
    for (size_t c = 7; c < x.size(); ++c) {
      if (header[c] == "network_s") parts = true;
      if (header[c].size() < 2 || header[c].substr(header[c].size() - 2) != "_s") continue;
      double u = std::stod(x[c]), v = std::stod(y[c]);
      worst = std::max(worst, std::abs(u - v) / std::max(parts ? e2e : std::abs(v), 1e-12));
    }
  }
  CHECK_FALSE(std::getline(b, lb));
  CHECK(rows > 1000);
  INFO("worst relative difference " << worst);
  CHECK(worst <= 1e-9);
}
