#include <catch2/catch.hpp>

#include "config/scenario_load.hpp"
#include "core/error.hpp"

using namespace tf;
using nlohmann::json;

namespace {

json minimal() {
  return json::parse(R"({
    "name": "t",
    "models": {"m": "llama-3.1-8b"},
    "cluster": {"pools": [{"name": "p", "accelerator": "h100-sxm", "count": 8,
                           "instance": {"model": "m", "tp": 1}}]},
    "workload": {"synthetic": [{"arrival": "poisson", "rate": 1, "count": 10,
                                "input": {"kind": "fixed", "value": 100},
                                "output": {"kind": "fixed", "value": 10}}],
                 "classes": {"chat": {"model": "m", "slo": {"ttft": "2s", "tpot": "100ms"}}}}
  })");
}

std::string error_of(const json& doc) {
  try {
    config::parse_scenario(doc, "s.json", "/root");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a minimal scenario parses with documented defaults") {
  auto s = config::parse_scenario(minimal(), "s.json", "/root");
  CHECK(s.seed == 1);
  CHECK(s.cluster.router.kind == "least-outstanding");
  CHECK(s.cluster.pools[0].instance.scheduler.max_batched_tokens == 8192);
  CHECK(s.cluster.pools[0].instance.kv_dtype == "bf16");
  CHECK(s.workload.classes.at("chat").slo.tpot->value() == Approx(0.1));
  CHECK(s.workload.synthetic[0].class_name == "chat");  // the only class
}

TEST_CASE("an unknown key anywhere is rejected with its JSON path") {
  auto doc = minimal();
  doc["cluster"]["pools"][0]["instance"]["tpp"] = 2;
  CHECK(error_of(doc).find("s.json: /cluster/pools/0/instance/tpp: unknown key \"tpp\"") == 0);
}

TEST_CASE("a missing required key names the object") {
  auto doc = minimal();
  doc["cluster"]["pools"][0].erase("count");
  CHECK(error_of(doc) == "s.json: /cluster/pools/0: missing required key \"count\"");
}

TEST_CASE("a value with a wrong unit or a negative duration is rejected") {
  auto doc = minimal();
  doc["workload"]["classes"]["chat"]["slo"]["ttft"] = "10 parsecs";
  CHECK(error_of(doc) ==
        "s.json: /workload/classes/chat/slo/ttft: expected a duration such as \"50ms\" or \"2s\", got \"10 parsecs\"");
  doc = minimal();
  doc["workload"]["client_latency"] = "-5ms";
  CHECK_THAT(error_of(doc), Catch::Contains("/workload/client_latency") && Catch::Contains("non-negative"));
}

TEST_CASE("a class whose model no pool serves is rejected") {
  auto doc = minimal();
  doc["models"]["other"] = "llama-3.1-70b";
  doc["workload"]["classes"]["chat"]["model"] = "other";
  CHECK_THAT(error_of(doc), Catch::Contains("/workload/classes/chat/model") && Catch::Contains("no pool serves"));
}

TEST_CASE("overrides reach nested keys, array elements and keys left at their defaults") {
  auto doc = minimal();
  config::apply_override(doc, "cluster.pools.0.count=16");
  config::apply_override(doc, "workload.rate_scale=2");
  config::apply_override(doc, "workload.client_latency=5ms");
  config::apply_override(doc, "engine.leap=false");
  auto s = config::parse_scenario(doc, "s.json", "/root");
  CHECK_FALSE(s.engine.leap);
  CHECK(s.cluster.pools[0].count == 16);
  CHECK(s.workload.rate_scale == 2.0);
  CHECK(s.workload.client_latency.value() == Approx(0.005));
}

TEST_CASE("an override of a path that is not in the schema is rejected with the path") {
  auto doc = minimal();
  CHECK_THROWS_WITH(config::apply_override(doc, "cluster.pools.3.count=1"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(config::apply_override(doc, "no-equals-sign"), Catch::Contains("path=value"));
  config::apply_override(doc, "clustr.pools=1");
  CHECK(error_of(doc).find("s.json: /clustr: unknown key \"clustr\"") == 0);
}

TEST_CASE("the resolved scenario parses back to the same scenario") {
  auto s = config::parse_scenario(minimal(), "s.json", "/root");
  json resolved = config::to_json(s);
  auto again = config::parse_scenario(resolved, "resolved.json", "/root");
  CHECK(config::to_json(again) == resolved);
}
