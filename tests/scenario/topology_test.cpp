// The fabric through the whole binary (docs/topologies.md): on a clos or rail topology KV hand-offs, request
// messages and cluster-scope prefix fetches are SimGrid flows over the lowered fabric, and collectives are priced over
// the links each instance's placement spans; a fabric that cannot be built is a config error naming its key.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "run_util.hpp"

using namespace tf::test;

namespace {

nlohmann::json run_ok(const std::string& name, const std::string& args) {
  auto dir = temp_dir(name);
  auto r = run_binary("run -q --out " + dir.string() + " " + args);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return read_json(dir / "results.json");
}

}  // namespace

TEST_CASE("KV hand-offs queue on an oversubscribed spine: TTFT and the cost per useful token rise with the ratio") {
  const std::string scenario = "scenarios/topology-oversubscription.json --set cluster.topology.oversubscription=";
  auto one = run_ok("oversub-1", scenario + "1");
  auto four = run_ok("oversub-4", scenario + "4");
  auto eight = run_ok("oversub-8", scenario + "8");
  for (const auto* j : {&one, &four, &eight}) {
    REQUIRE((*j)["fabric"]["kind"] == "clos");
    CHECK((*j)["summary"]["requests"] == one["summary"]["requests"]);
    // Every request reached its prefill instance over the fabric, and every prefilled one was handed off.
    CHECK((*j)["fabric"]["request_messages"]["count"] == (*j)["summary"]["requests"]);
    CHECK((*j)["serving"]["kv_transfers"]["count"].get<int64_t>() > 3000);
    // The prefill pool's cluster-scope prefix store is read over the fabric too.
    CHECK((*j)["fabric"]["prefix_fetches"]["count"].get<int64_t>() > 0);
    CHECK((*j)["fabric"]["prefix_fetches"]["gb"].get<double>() > 0);
  }
  CHECK(four["fabric"]["oversubscription"][0] == 4.0);
  auto kv = [](const nlohmann::json& j) {
    return j["classes"]["conversation"]["latency_budget"]["kv_transfer"]["mean_s"].get<double>();
  };
  auto ttft = [](const nlohmann::json& j) { return j["classes"]["conversation"]["ttft_s"]["mean"].get<double>(); };
  auto cost = [](const nlohmann::json& j) { return j["summary"]["cost_per_useful_mtok_usd"].get<double>(); };
  INFO("KV part of TTFT " << kv(one) << " / " << kv(four) << " / " << kv(eight) << " s; TTFT " << ttft(one) << " / "
                          << ttft(four) << " / " << ttft(eight) << " s; $/useful Mtok " << cost(one) << " / "
                          << cost(four) << " / " << cost(eight));
  CHECK(kv(one) < kv(four));
  CHECK(kv(four) < kv(eight));
  CHECK(ttft(one) < ttft(four));
  CHECK(ttft(four) < ttft(eight));
  CHECK(cost(one) < cost(four));
  CHECK(cost(four) < cost(eight));
  // At 8:1 the spine is the bottleneck of the hand-off, not the NICs: it takes markedly longer.
  CHECK(kv(eight) > 1.2 * kv(one));
}

TEST_CASE("prefix fetches over an oversubscribed fabric are deterministic") {
  const std::string args = "scenarios/topology-oversubscription.json --set cluster.topology.oversubscription=4";
  auto a = temp_dir("fetch-det-a"), b = temp_dir("fetch-det-b");
  REQUIRE(run_binary("run -q --out " + a.string() + " " + args).exit_code == 0);
  REQUIRE(run_binary("run -q --out " + b.string() + " " + args).exit_code == 0);
  CHECK(read_json(a / "results.json")["fabric"]["prefix_fetches"]["count"].get<int64_t>() > 0);
  CHECK(read_file(a / "results.json") == read_file(b / "results.json"));
}

TEST_CASE("an instance that spans leaf groups pays the oversubscribed fabric in its collectives") {
  // TP16 instances on 8-GPU servers, one server per leaf group (radix 16): every all-reduce crosses the spine.
  const std::string tp16 =
      "scenarios/quickstart.json --set cluster.pools.0.count=32 --set cluster.pools.0.instance.tp=16"
      " --set cluster.topology.kind=clos --set cluster.topology.radix=16";
  auto one = run_ok("span-1", tp16 + " --set cluster.topology.oversubscription=1");
  auto four = run_ok("span-4", tp16 + " --set cluster.topology.oversubscription=4");
  auto collectives = [](const nlohmann::json& j) {
    return j["classes"]["chat"]["latency_budget"]["collectives"]["mean_s"].get<double>();
  };
  auto tpot = [](const nlohmann::json& j) { return j["classes"]["chat"]["tpot_s"]["p50"].get<double>(); };
  INFO("collectives " << collectives(one) << " / " << collectives(four) << " s; TPOT p50 " << tpot(one) << " / "
                      << tpot(four));
  CHECK(collectives(four) > collectives(one));
  CHECK(tpot(four) > tpot(one));
}

TEST_CASE("CloudMatrix384: KV crosses supernodes over RDMA, and decode breaks the 10 ms agent budget") {
  auto j = run_ok("cloudmatrix384", "scenarios/cloudmatrix384-deepseek.json");
  CHECK(j["fabric"]["kind"] == "clos");
  CHECK(j["fabric"]["leaf_groups"] == 2);  // one per supernode
  CHECK(j["pools"]["prefill"]["accelerators"] == 384);
  CHECK(j["pools"]["decode"]["instances"] == 2);
  CHECK(j["serving"]["kv_transfers"]["count"] == j["summary"]["completed"]);
  // Every request's first token came back to the gateway over the fabric, a few microseconds each.
  CHECK(j["fabric"]["responses"]["count"] == j["summary"]["completed"]);
  CHECK(j["fabric"]["responses"]["mean_s"].get<double>() > 0);
  CHECK(j["fabric"]["responses"]["max_s"].get<double>() < 1e-3);
  const auto& agent = j["classes"]["agent"];
  CHECK(agent["slo_attainment"].get<double>() < 0.5);
  CHECK(agent["tpot_s"]["p50"].get<double>() > 0.010);
  CHECK(agent["latency_budget"]["tpot_breaker"] == "decode");
  CHECK(j["classes"]["chat"]["slo_attainment"].get<double>() > 0.9);
}

TEST_CASE("runs over a fabric are deterministic") {
  const std::string args = "scenarios/cloudmatrix384-deepseek.json --set duration=3min";
  auto a = temp_dir("fabric-det-a"), b = temp_dir("fabric-det-b");
  REQUIRE(run_binary("run -q --out " + a.string() + " " + args).exit_code == 0);
  REQUIRE(run_binary("run -q --out " + b.string() + " " + args).exit_code == 0);
  CHECK(read_file(a / "results.json") == read_file(b / "results.json"));
  CHECK(read_file(a / "requests.csv") == read_file(b / "requests.csv"));
}

TEST_CASE("leaping and stepping agree request by request on a disaggregated factory over an oversubscribed fabric") {
  // Hand-offs, prefix fetches, request and first-token flows all share the spine; the decode router reads KV
  // load mid-leap as stepping would have it.
  const std::string args = "scenarios/topology-oversubscription.json --set cluster.topology.oversubscription=8";
  auto leap = temp_dir("fabric-leap"), step = temp_dir("fabric-step");
  REQUIRE(run_binary("run -q --out " + leap.string() + " " + args).exit_code == 0);
  REQUIRE(run_binary("run -q --out " + step.string() + " " + args + " --set engine.leap=false").exit_code == 0);
  auto a = read_csv(leap / "requests.csv"), b = read_csv(step / "requests.csv");
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() > 3000);
  double worst = 0;
  for (size_t i = 1; i < a.size(); ++i) {
    REQUIRE(a[i][5] == b[i][5]);        // instance
    REQUIRE(a[i][6] == b[i][6]);        // status
    for (size_t c = 7; c <= 10; ++c) {  // ttft, tpot, e2e, max_gap
      if (a[i][c].empty()) continue;
      double x = std::stod(a[i][c]), y = std::stod(b[i][c]);
      worst = std::max(worst, std::abs(x - y) / std::max(std::abs(y), 1e-12));
    }
  }
  INFO("worst relative difference " << worst);
  CHECK(worst <= 1e-9);
}

TEST_CASE("a fabric that cannot be built stops run and validate with exit code 2, naming the key to change") {
  struct Case {
    std::string sets, where, says;
  };
  const Case cases[] = {
      {"--set cluster.topology.kind=clos --set cluster.topology.radix=4 --set cluster.pools.0.count=64",
       "/cluster/topology/radix", "raise topology.radix"},
      {"--set cluster.pools.0.count=24 --set cluster.pools.0.instance.tp=12 --set cluster.topology.allow_split=false",
       "/cluster/topology/allow_split", "would straddle nvlink-node domains of 8"},
      {"--set cluster.pools.0.accelerator=ascend-910c --set cluster.pools.0.count=400 "
       "--set cluster.pools.0.instance.dtype=int8",
       "/cluster/pools/0/count", "do not fill whole ub-supernode domains of 384"},
      {"--set cluster.topology.link_bandwidth=0Gb/s", "/cluster/topology/link_bandwidth", "positive bandwidth"},
  };
  for (const auto& c : cases)
    for (const std::string& command : {std::string("validate"), "run -q --out " + temp_dir("fabric-bad").string()}) {
      auto r = run_binary(command + " scenarios/quickstart.json " + c.sets);
      INFO(command << " " << c.sets << ": " << r.output);
      CHECK(r.exit_code == 2);
      CHECK_THAT(r.output, Catch::Contains("scenarios/quickstart.json: " + c.where));
      CHECK_THAT(r.output, Catch::Contains(c.says));
    }
}
