#include <catch2/catch.hpp>

#include <functional>

#include "run_util.hpp"

using namespace tf::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json base() {
  return read_json("scenarios/quickstart.json");
}

// Writes the scenario into a temp dir, runs `validate` and `run` on it, and checks both exit with 2 and
// print one error line containing every expected fragment.
// `names_file` is the file the message must name: the scenario, unless the error is in a trace.
void expect_rejected(const std::string& name, const std::string& text, const std::vector<std::string>& fragments,
                     bool names_scenario = true) {
  auto dir = temp_dir("bad-" + name);
  auto file = dir / "scenario.json";
  write_file(file, text);
  for (const char* cmd : {"validate ", "run -q --out "}) {
    std::string args =
        std::string(cmd) + (std::string(cmd) == "validate " ? "" : (dir / "out").string() + " ") + file.string();
    auto r = run_binary(args);
    INFO(name << ": " << args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.rfind("tokenfactory: error: ", 0) == 0);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    if (names_scenario) CHECK_THAT(r.output, Catch::Contains(file.string()));
    for (const auto& f : fragments)
      CHECK_THAT(r.output, Catch::Contains(f));
    CHECK_FALSE(fs::exists(dir / "out" / "results.json"));
  }
}

void expect_rejected(const std::string& name, const std::function<void(json&)>& edit,
                     const std::vector<std::string>& fragments, bool names_scenario = true) {
  json j = base();
  edit(j);
  expect_rejected(name, j.dump(2), fragments, names_scenario);
}

std::string trace_file(const std::string& name, const std::string& text) {
  auto dir = temp_dir("trace-" + name);
  auto p = dir / "trace.csv";
  write_file(p, text);
  return p.string();
}

void use_trace(json& j, const std::string& format, const std::string& path) {
  j["workload"]["traces"][0]["format"] = format;
  j["workload"]["traces"][0]["path"] = path;
  j["workload"]["traces"][0].erase("max_requests");
}

}  // namespace

TEST_CASE("malformed JSON is rejected with its line") {
  expect_rejected("malformed", "{\n  \"name\": \"x\",\n  \"models\": {,\n}\n", {"line 3", "malformed JSON"});
}

TEST_CASE("an unknown key is rejected with its path") {
  expect_rejected("unknown-key", [](json& j) { j["cluster"]["pools"][0]["instance"]["tensor_parallel"] = 8; },
                  {"/cluster/pools/0/instance/tensor_parallel", "unknown key"});
}

TEST_CASE("a missing required key is rejected with its path") {
  expect_rejected("missing-key", [](json& j) { j["cluster"]["pools"][0].erase("accelerator"); },
                  {"/cluster/pools/0", "missing required key \"accelerator\""});
}

TEST_CASE("a wrong unit or a negative value is rejected with its path") {
  expect_rejected("parsecs", [](json& j) { j["workload"]["classes"]["chat"]["slo"]["ttft"] = "10 parsecs"; },
                  {"/workload/classes/chat/slo/ttft", "expected a duration"});
  expect_rejected("negative", [](json& j) { j["workload"]["client_latency"] = "-5ms"; },
                  {"/workload/client_latency", "non-negative"});
  expect_rejected("wrong-type", [](json& j) { j["cluster"]["pools"][0]["count"] = "eight"; },
                  {"/cluster/pools/0/count", "expected an integer"});
}

TEST_CASE("a pool whose instances cannot hold the model's weights is rejected") {
  expect_rejected("weights",
                  [](json& j) {
                    j["models"] = {{"llama-3.1-70b", "models/llm/llama-3.1-70b.json"}};
                    j["cluster"]["pools"][0]["instance"]["model"] = "llama-3.1-70b";
                    j["workload"]["classes"]["chat"]["model"] = "llama-3.1-70b";
                  },
                  {"/cluster/pools/0/instance", "weights", "raise tp"});
}

TEST_CASE("tp that does not divide the pool's accelerators is rejected") {
  expect_rejected("tp-divide", [](json& j) { j["cluster"]["pools"][0]["instance"]["tp"] = 3; },
                  {"/cluster/pools/0/count", "multiple of 3"});
}

TEST_CASE("unknown accelerator, model, router and trace format names are rejected with the valid ones") {
  expect_rejected("accelerator", [](json& j) { j["cluster"]["pools"][0]["accelerator"] = "h1000"; },
                  {"/cluster/pools/0/accelerator", "h1000", "h100-sxm"});
  expect_rejected("model", [](json& j) { j["models"]["llama-3.1-8b"] = "llama-9"; },
                  {"/models/llama-3.1-8b", "llama-9", "llama-3.1-70b"});
  expect_rejected("router", [](json& j) { j["cluster"]["router"]["kind"] = "fastest"; },
                  {"/cluster/router/kind", "fastest", "round-robin"});
  expect_rejected("format", [](json& j) { j["workload"]["traces"][0]["format"] = "burstgpt2"; },
                  {"/workload/traces/0/format", "burstgpt2", "mooncake"});
}

TEST_CASE("a missing trace file is rejected naming it") {
  expect_rejected("missing-trace", [](json& j) { use_trace(j, "azure", "/nonexistent/trace.csv"); },
                  {"/workload/traces/0/path", "/nonexistent/trace.csv"});
}

TEST_CASE("a trace with a malformed line is rejected naming the line") {
  auto p = trace_file("malformed",
                      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                      "2023-11-16 18:15:46.6805900,374,44\n"
                      "2023-11-16 18:15:50.9951690,lots,109\n"
                      "2023-11-16 18:15:51.9951690,200,10\n");
  expect_rejected(
      "malformed-trace", [&](json& j) { use_trace(j, "azure", p); }, {p, "line 3", "ContextTokens"}, false);
}

TEST_CASE("a trace with a truncated last line is rejected naming the line") {
  auto p = trace_file("truncated",
                      "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [0]}\n"
                      "{\"timestamp\": 5, \"input_length\": 12, \"outp");
  expect_rejected(
      "truncated-trace", [&](json& j) { use_trace(j, "mooncake", p); }, {p, "line 2", "truncated"}, false);
}

TEST_CASE("an empty trace is rejected") {
  auto p = trace_file("empty", "TIMESTAMP,ContextTokens,GeneratedTokens\n");
  expect_rejected(
      "empty-trace", [&](json& j) { use_trace(j, "azure", p); }, {p, "empty"}, false);
}
