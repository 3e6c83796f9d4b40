#include <catch2/catch.hpp>

#include <regex>

#include "cli_util.hpp"

using namespace tf::test;
using nlohmann::json;

TEST_CASE("topology prints the quickstart's fabric as a table and as JSON") {
  auto r = run_binary("topology scenarios/quickstart.json");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("topology of quickstart") && Catch::Contains("ideal: one non-blocking switch"));
  CHECK_THAT(r.output, Catch::Contains("8 accelerators") && Catch::Contains("bisection"));
  CHECK(std::regex_search(r.output, std::regex("same domain +2 +5\\.00 us")));

  auto j = run_shell(std::string(TF_BINARY) + " topology scenarios/quickstart.json --json", false);
  INFO(j.output);
  REQUIRE(j.exit_code == 0);
  auto doc = json::parse(j.output);
  CHECK(doc["kind"] == "ideal");
  CHECK(doc["accelerators"] == 8);
  CHECK(doc["domains"] == 1);
  CHECK(doc["pools"][0]["scale_up"] == "nvlink-node");
  CHECK(doc["bisection_Bps"].get<double>() == Approx(4 * 50e9));
  CHECK(doc["diameter_hops"] == 2);
}

TEST_CASE("topology builds a clos fabric from --set and reports its tiers") {
  auto r = run_shell(std::string(TF_BINARY) +
                         " topology scenarios/factory-100k.json --json --set cluster.topology.kind=clos"
                         " --set cluster.topology.tiers=3 --set cluster.topology.radix=128",
                     false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto doc = json::parse(r.output);
  CHECK(doc["accelerators"] == 100000);
  CHECK(doc["leaf_groups"] == 1563);
  CHECK(doc["pods"] == 25);
  CHECK(doc["diameter_hops"] == 6);
  CHECK(doc["latencies"].size() == 4);
}

TEST_CASE("topology rejects an impossible fabric with exit code 2, naming cluster.topology.radix") {
  auto r = run_binary(
      "topology scenarios/factory-100k.json --set cluster.topology.kind=clos --set cluster.topology.radix=4");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(std::regex_search(r.output, std::regex("cluster[./]topology[./]radix")));
  CHECK_THAT(r.output, Catch::Contains("raise topology.radix"));
  // One message, no crash.
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
}

TEST_CASE("topology runs on every shipped scenario") {
  for (const auto& dir : {"scenarios", "scenarios/validation"})
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() != ".json") continue;
      auto r = run_binary("topology " + e.path().string());
      INFO(e.path().string() << "\n" << r.output);
      CHECK(r.exit_code == 0);
    }
}
