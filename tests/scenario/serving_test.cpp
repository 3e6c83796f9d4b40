#include <catch2/catch.hpp>

#include <set>

#include "run_util.hpp"

using namespace tf::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The share of a Mooncake trace's 512-token prompt blocks that an unbounded cache holds when each request
// arrives: a block is reusable only if every block before it in the prompt has been seen.
double intrinsic_prefix_block_ratio(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string line;
  std::set<uint64_t> seen;
  int64_t blocks = 0, hits = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto ids = json::parse(line)["hash_ids"].get<std::vector<uint64_t>>();
    blocks += static_cast<int64_t>(ids.size());
    for (uint64_t b : ids) {
      if (!seen.count(b)) break;
      ++hits;
    }
    seen.insert(ids.begin(), ids.end());
  }
  return static_cast<double>(hits) / static_cast<double>(blocks);
}

struct HitRatio {
  double blocks = 0;  // prompt blocks found in the cache / blocks looked up
  double tokens = 0;  // prompt tokens taken from the cache / prompt tokens
};

// Replays a Mooncake trace on 32 lightly loaded Llama-3.1-8B instances sharing one unbounded cache, and returns
// the prefix hit ratios the simulator measured.
HitRatio measured_hit_ratio(const std::string& trace, const std::string& name) {
  json s = {
      {"name", name},
      {"models", {{"m", "llama-3.1-8b"}}},
      {"cluster",
       {{"pools",
         {{{"name", "p"},
           {"accelerator", "h100-sxm"},
           {"count", 32},
           {"instance",
            {{"model", "m"},
             {"prefix_cache",
              {{"scope", "cluster"},
               {"tiers", {{{"tier", "dram"}, {"capacity", "unbounded"}, {"bandwidth", "100GB/s"}}}}}}}}}}},
        {"router", {{"kind", "round-robin"}}}}},
      {"workload", {{"traces", {{{"format", "mooncake"}, {"path", trace}}}}, {"classes", {{"c", {{"model", "m"}}}}}}}};
  auto dir = temp_dir(name);
  write_file(dir / "s.json", s.dump(2));
  auto r = run_binary("run -q --out " + (dir / "out").string() + " " + (dir / "s.json").string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto j = read_json(dir / "out" / "results.json");
  const auto& cache = j["pools"]["p"]["serving"]["prefix_cache"];
  return {cache["hit_rate"].get<double>(),
          cache["cached_tokens"].get<double>() / j["summary"]["input_tokens"].get<double>()};
}

}  // namespace

TEST_CASE("with an unbounded cache the measured prefix hit ratio is the trace's own reuse ratio") {
  for (const auto& [trace, published] : std::vector<std::pair<std::string, double>>{
           {"traces/mooncake/conversation_trace.jsonl", 0.40}, {"traces/mooncake/synthetic_trace.jsonl", 0.66}}) {
    double intrinsic = intrinsic_prefix_block_ratio(trace);
    auto measured = measured_hit_ratio(fs::absolute(trace).string(), fs::path(trace).stem().string());
    std::printf(
        "%s: measured prefix hit ratio %.1f %% of blocks, %.1f %% of prompt tokens; the trace's own %.1f %% "
        "of blocks; published cache ratio %.0f %%\n",
        trace.c_str(), 100 * measured.blocks, 100 * measured.tokens, 100 * intrinsic, 100 * published);
    INFO(trace << ": measured " << measured.blocks << " (blocks), " << measured.tokens << " (tokens), intrinsic "
               << intrinsic << ", published " << published);
    // The simulator must find every reuse the trace holds.
    CHECK(std::abs(measured.blocks - intrinsic) <= 0.005);
    // Against the Mooncake paper's Table 2 (a share of prompt tokens). The synthetic trace matches; the
    // conversation trace as shipped holds 37.4 % of prompt tokens in reusable prefixes, 2.6 points short of the
    // paper's 40 % (docs/validation.md), so only the synthetic figure is asserted.
    if (published == 0.66) CHECK(std::abs(measured.tokens - published) <= 0.02);
  }
}

TEST_CASE("Mooncake-style disaggregation meets the tightest TBT threshold for more requests than colocation") {
  auto a = temp_dir("mooncake-colocated"), b = temp_dir("mooncake-disaggregated");
  auto ra = run_binary("run scenarios/mooncake-conversation-colocated.json -q --out " + a.string());
  auto rb = run_binary("run scenarios/mooncake-conversation-disaggregated.json -q --out " + b.string());
  INFO(ra.output << rb.output);
  REQUIRE(ra.exit_code == 0);
  REQUIRE(rb.exit_code == 0);
  auto ja = read_json(a / "results.json"), jb = read_json(b / "results.json");
  double coloc = ja["summary"]["slo_attainment"], disagg = jb["summary"]["slo_attainment"];
  CHECK(disagg > coloc);
  CHECK(jb["serving"]["kv_transfers"]["count"].get<int64_t>() > 0);
  CHECK(jb["pools"]["prefill"]["serving"]["prefix_cache"]["hit_rate"].get<double>() > 0.3);
  // Colocated decodes stall behind long prefills: its longest tenth of inter-token gaps is worse.
  CHECK(ja["summary"]["tbt_s"]["p90"].get<double>() > jb["summary"]["tbt_s"]["p90"].get<double>());
}

TEST_CASE(
    "the DeepSeek prefill/decode scenario hands every request from an EP32 prefill unit to the EP144 decode unit") {
  auto dir = temp_dir("deepseek-pd");
  auto r = run_binary("run scenarios/deepseek-pd-h800.json -q --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto j = read_json(dir / "results.json");
  CHECK(j["pools"]["prefill"]["instances"] == 2);
  CHECK(j["pools"]["decode"]["instances"] == 1);
  CHECK(j["serving"]["kv_transfers"]["count"].get<int64_t>() == j["summary"]["completed"].get<int64_t>());
}

namespace {

json disaggregated() {
  return read_json("scenarios/mooncake-conversation-disaggregated.json");
}

void expect_rejected(const std::string& name, const json& scenario, const std::vector<std::string>& fragments) {
  auto dir = temp_dir("bad-serving-" + name);
  write_file(dir / "s.json", scenario.dump(2));
  auto r = run_binary("validate " + (dir / "s.json").string());
  INFO(name << ": " << r.output);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  for (const auto& f : fragments)
    CHECK_THAT(r.output, Catch::Contains(f));
}

}  // namespace

TEST_CASE("a disaggregated scenario without a decode pool is rejected") {
  json s = disaggregated();
  s["cluster"]["pools"].erase(1);
  expect_rejected("no-decode", s, {"/cluster/pools/0/instance/role", "no pool has role \"decode\""});
}

TEST_CASE("a prefix cache on a trace without prefix hashes is rejected unless the scenario says to ignore it") {
  json s = disaggregated();
  s["workload"]["traces"][0] = {{"format", "azure"},
                                {"path", "traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv"},
                                {"class", "conversation"}};
  expect_rejected("no-hashes", s, {"/cluster/pools/0/instance/prefix_cache", "has none", "on_missing_hashes"});
  s["cluster"]["pools"][0]["instance"]["prefix_cache"]["on_missing_hashes"] = "ignore";
  auto dir = temp_dir("ignore-hashes");
  write_file(dir / "s.json", s.dump(2));
  CHECK(run_binary("validate " + (dir / "s.json").string()).exit_code == 0);
}

TEST_CASE("a cache tier with zero capacity is rejected") {
  json s = disaggregated();
  s["cluster"]["pools"][0]["instance"]["prefix_cache"]["tiers"][0]["capacity"] = "0GB";
  expect_rejected("zero-tier", s, {"/cluster/pools/0/instance/prefix_cache/tiers/0/capacity", "zero capacity"});
}

TEST_CASE("unknown policy names are rejected with the valid ones") {
  json s = disaggregated();
  s["cluster"]["decode_router"]["kind"] = "nearest";
  expect_rejected("decode-router", s, {"/cluster/decode_router/kind", "least-kv-load", "slo-aware"});
  s = disaggregated();
  s["cluster"]["pools"][1]["instance"]["scheduler"]["kind"] = "fcfs";
  expect_rejected("scheduler", s, {"/cluster/pools/1/instance/scheduler/kind", "chunked", "continuous"});
  s = disaggregated();
  s["cluster"]["pools"][1]["instance"]["scheduler"]["preemption"] = {{"kind", "evict"}};
  expect_rejected("preemption", s, {"/cluster/pools/1/instance/scheduler/preemption/kind", "recompute", "swap"});
  s = disaggregated();
  s["cluster"]["pools"][0]["instance"]["prefix_cache"]["eviction"] = "lfu";
  expect_rejected("eviction", s, {"/cluster/pools/0/instance/prefix_cache/eviction", "lru"});
}
