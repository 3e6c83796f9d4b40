#include <catch2/catch.hpp>

#include <regex>

#include "cli_util.hpp"

using namespace tf::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The shipped quickstart with one scheduler setting made worse: one sequence per batch, so requests queue.
const std::string kWorseScheduler = " --set cluster.pools.0.instance.scheduler.max_num_seqs=1";

// failures="N" of the <testsuites> element.
int junit_failures(const std::string& xml) {
  std::smatch m;
  if (!std::regex_search(xml, m, std::regex("<testsuites [^>]*failures=\"([0-9]+)\""))) return -1;
  return std::stoi(m[1]);
}

}  // namespace

TEST_CASE("check passes a shipped scenario that meets its expect block, and writes JUnit XML") {
  auto dir = temp_dir("check-pass");
  auto r = run_binary("check scenarios/quickstart.json --out " + (dir / "runs").string() + " --junit " +
                      (dir / "junit.xml").string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("quickstart  (scenarios/quickstart.json)  PASS"));
  CHECK_THAT(r.output, Catch::Contains("classes.chat.slo_attainment") && Catch::Contains(">= 0.99"));
  CHECK_THAT(r.output, Catch::Contains("check: 1 of 1 scenarios passed"));
  std::string xml = read_file(dir / "junit.xml");
  CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 0) == 0);
  CHECK(junit_failures(xml) == 0);
  // One test case for the run and one per expectation.
  CHECK_THAT(xml, Catch::Contains("<testcase classname=\"quickstart\" name=\"run\""));
  CHECK_THAT(xml, Catch::Contains("name=\"classes.chat.slo_attainment &gt;= 0.99\""));
  CHECK(fs::exists(dir / "runs" / "quickstart" / "results.json"));
}

TEST_CASE("check fails with exit 1 and a readable table when the scheduler is made worse with --set") {
  auto dir = temp_dir("check-regression");
  auto base = run_binary("check scenarios/quickstart.json -q --out " + (dir / "base").string());
  REQUIRE(base.exit_code == 0);
  // Against the same build and scenario the baseline is met exactly.
  auto same = run_binary("check scenarios/quickstart.json --baseline " + (dir / "base").string() + " --out " +
                         (dir / "same").string());
  INFO(same.output);
  REQUIRE(same.exit_code == 0);
  CHECK_THAT(same.output, Catch::Contains("0 of ") && Catch::Contains("summary metrics beyond tolerance"));

  auto worse =
      run_binary("check scenarios/quickstart.json" + kWorseScheduler + " --baseline " + (dir / "base").string() +
                 " --out " + (dir / "worse").string() + " --junit " + (dir / "junit.xml").string());
  INFO(worse.output);
  CHECK(worse.exit_code == 1);
  CHECK_THAT(worse.output, Catch::Contains("quickstart  (scenarios/quickstart.json)  FAIL"));
  // The expect table: the attainment bound fails.
  CHECK(std::regex_search(worse.output, std::regex("classes\\.chat\\.slo_attainment +>= 0\\.99 +[0-9.]+ +FAIL")));
  // The baseline table: metric, baseline, now, change, limit.
  CHECK(std::regex_search(worse.output, std::regex("metric +baseline +now +change +limit +result")));
  CHECK(std::regex_search(
      worse.output, std::regex("summary\\.ttft_s\\.p99 +[0-9.e+-]+ +[0-9.e+-]+ +\\+[0-9.]+% +\\+5\\.0% +REGRESSED")));
  CHECK(std::regex_search(worse.output,
                          std::regex("summary\\.slo_attainment +1 +[0-9.]+ +-[0-9.]+% +-5\\.0% +REGRESSED")));
  CHECK_THAT(worse.output, Catch::Contains("check: 0 of 1 scenarios passed"));
  std::string xml = read_file(dir / "junit.xml");
  CHECK(junit_failures(xml) > 2);
  CHECK_THAT(xml, Catch::Contains("<failure type=\"baseline\" message=\"REGRESSED: baseline"));
}

TEST_CASE("a looser tolerance for one metric lets that metric through") {
  auto dir = temp_dir("check-tolerance");
  REQUIRE(run_binary("check scenarios/quickstart.json -q --out " + (dir / "base").string()).exit_code == 0);
  // Twice the accelerators: latencies fall (improved), cost per token rises by ~100 % (a regression). The
  // scenario's own expect block (cost per useful token <= 1.5) is emptied: this test is about the baseline.
  std::string cmd = "check scenarios/quickstart.json --set 'expect={}' --set cluster.pools.0.count=16 --baseline " +
                    (dir / "base").string() + " --out " + (dir / "now").string();
  auto strict = run_binary(cmd);
  INFO(strict.output);
  CHECK(strict.exit_code == 1);
  CHECK_THAT(strict.output, Catch::Contains("summary.accelerators") && Catch::Contains("CHANGED"));
  auto loose = run_binary(cmd +
                          " --tolerance summary.accelerators=1.5 --tolerance summary.instances=1.5"
                          " --tolerance summary.cost_usd=1.5 --tolerance summary.cost_per_mtok_usd=1.5"
                          " --tolerance summary.cost_per_useful_mtok_usd=1.5 --tolerance summary.energy_kwh=1.5");
  INFO(loose.output);
  CHECK(loose.exit_code == 0);
  CHECK_THAT(loose.output, Catch::Contains("improved"));
}

TEST_CASE("check rejects bad input with exit 2 and a message naming the path") {
  auto dir = temp_dir("check-bad");
  json s = read_json("scenarios/quickstart.json");
  struct Case {
    std::string name;
    json expect;
    std::vector<std::string> fragments;
  };
  std::vector<Case> cases = {
      {"unknown-metric",
       {{"classes.chat.ttft_s.p42", {{"max", 1}}}},
       {"/expect/classes.chat.ttft_s.p42", "\"classes.chat.ttft_s\" holds count, max, mean, p50, p90, p99"}},
      {"unknown-class", {{"classes.code.slo_attainment", {{"min", 0.9}}}}, {"classes.code.slo_attainment", "chat"}},
      {"not-a-number", {{"classes.chat.ttft_s", {{"max", 1}}}}, {"classes.chat.ttft_s", "is not a number"}},
      {"string-leaf", {{"pools.h100.accelerator", {{"max", 1}}}}, {"pools.h100.accelerator", "is not a number"}},
      {"no-bound", {{"summary.slo_attainment", json::object()}}, {"/expect/summary.slo_attainment", "\"min\""}},
      {"bad-string-form", json::array({"summary.slo_attainment = 0.9"}), {"/expect/0", "metric <= number"}},
  };
  for (const auto& c : cases) {
    json bad = s;
    bad["expect"] = c.expect;
    auto file = dir / (c.name + ".json");
    write_file(file, bad.dump(2));
    for (const std::string& cmd :
         std::vector<std::string>{"check ", "run -q --out " + (dir / "out").string() + " ", "validate "}) {
      auto r = run_binary(cmd + file.string());
      INFO(c.name << ": " << cmd << "\n" << r.output);
      CHECK(r.exit_code == 2);
      CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
      CHECK_THAT(r.output, Catch::Contains(file.string()));
      for (const auto& f : c.fragments)
        CHECK_THAT(r.output, Catch::Contains(f));
    }
  }
  // The string form works as well as the object form.
  json good = s;
  good["expect"] = json::array({"summary.slo_attainment >= 0.9", "classes.chat.ttft_s.p99 <= 2.0"});
  write_file(dir / "string-form.json", good.dump(2));
  auto ok = run_binary("check " + (dir / "string-form.json").string() + " --out " + (dir / "runs").string());
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Catch::Contains("classes.chat.ttft_s.p99") && Catch::Contains("<= 2"));
}

TEST_CASE("a baseline from another schema version, or without the scenario, is bad input") {
  auto dir = temp_dir("check-bad-baseline");
  REQUIRE(run_binary("check scenarios/quickstart.json -q --out " + (dir / "base").string()).exit_code == 0);
  json old = read_json(dir / "base" / "quickstart" / "results.json");
  old["schema_version"] = 0;
  write_file(dir / "base" / "quickstart" / "results.json", old.dump());
  auto r = run_binary("check scenarios/quickstart.json --baseline " + (dir / "base").string());
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains((dir / "base" / "quickstart" / "results.json").string() + ": /schema_version") &&
                           Catch::Contains("schema version 0"));
  auto missing = run_binary("check scenarios/quickstart.json --baseline " + (dir / "nowhere").string());
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("no baseline for scenario \"quickstart\""));
  auto tolerance = run_binary("check scenarios/quickstart.json --tolerance=-1");
  CHECK(tolerance.exit_code == 2);
  CHECK_THAT(tolerance.output, Catch::Contains("--tolerance"));
}
