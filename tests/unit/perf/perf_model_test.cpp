#include "perf/perf_model.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <map>
#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "perf_test_util.hpp"

namespace {

std::map<std::string, std::string> mode_map(const tf::perf::PerfModel& m) {
  const auto v = m.modes();
  return {v.begin(), v.end()};
}

using tf::Bytes;
using tf::Seconds;
using tf::catalog::Dtype;
using tf::perf::Batch;
using tf::perf::InstanceShape;
using tf::perf::PerfModel;
using tf::perf::PrefillChunk;

using tf::test::catalog;
using tf::test::shape;

// Shapes covering the operator families: dense GQA, pipeline, MoE with TP experts, MoE with expert
// parallelism and data-parallel attention inside and beyond one scale-up domain, MLA with TP and with DP.
std::vector<InstanceShape> shapes() {
  return {
      shape("llama-3.1-70b", "h100-sxm", 4),
      shape("llama-2-70b", "a100-sxm-80gb", 4, 1, 2),
      shape("llama-3.1-8b", "h100-sxm", 1),
      shape("qwen3-235b-a22b", "h100-sxm", 8, 1, 1, Dtype::fp8),
      shape("qwen3-235b-a22b", "h200", 2, 8, 1, Dtype::fp8),
      shape("deepseek-v3", "h800", 1, 32, 1, Dtype::fp8),
      shape("deepseek-v3", "h200", 8, 8, 1, Dtype::fp8),
      shape("kimi-k2", "gb200", 4, 64, 1, Dtype::fp8),
  };
}

// Every shape in both modes: roofline only, and measured where models/profiles has tables (H100, H200,
// GB200 MoE and NCCL).
std::vector<PerfModel> models() {
  std::vector<PerfModel> out;
  for (const auto& s : shapes()) {
    out.emplace_back(s);
    out.emplace_back(s, std::filesystem::path(TF_SOURCE_ROOT) / "models/profiles");
  }
  return out;
}

double rel(Seconds a, Seconds b) {
  return std::abs(a.value() - b.value()) / std::max(a.value(), b.value());
}

Seconds sum(const std::vector<tf::perf::OperatorTime>& parts) {
  Seconds t;
  for (const auto& p : parts)
    t += p.time;
  return t;
}

Batch random_batch(std::mt19937_64& rng, bool with_prefill) {
  std::uniform_int_distribution<int64_t> seqs(0, 300), ctx(1, 32768), chunks(1, 4), chunk_tokens(1, 4096);
  Batch b;
  b.decode_seqs = seqs(rng);
  for (int64_t i = 0; i < b.decode_seqs; ++i)
    b.decode_context_sum += ctx(rng);
  if (with_prefill) {
    const int64_t n = chunks(rng);
    for (int64_t i = 0; i < n; ++i)
      b.prefills.push_back({chunk_tokens(rng), ctx(rng) / 2});
  }
  return b;
}

}  // namespace

TEST_CASE("decode-only iteration time is exactly linear in the context sum", "[perf]") {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<int64_t> seqs(1, 1024), per_seq(1, 65536);
  for (const auto& model : models()) {
    const auto& s = model.shape();
    INFO(s.model->name << " on " << s.accelerator->name << " tp=" << s.tp << " ep=" << s.ep << " pp=" << s.pp);
    for (int trial = 0; trial < 200; ++trial) {
      Batch b;
      b.decode_seqs = seqs(rng);
      b.decode_context_sum = b.decode_seqs * per_seq(rng);
      const auto d = model.decode_linear(b.decode_seqs);
      const Seconds closed_form = d.base + d.per_context_token * double(b.decode_context_sum);
      const Seconds t = model.iteration_time(b);
      REQUIRE(rel(t, closed_form) < 1e-12);
      // The general (mixed-batch) path, through breakdown(), agrees with the closed form as well.
      REQUIRE(rel(sum(model.breakdown(b)), closed_form) < 1e-12);
      // And the slope is the same at other context sums of the same n.
      Batch longer = b;
      longer.decode_context_sum += 12345;
      const double slope = (model.iteration_time(longer) - t).value() / 12345.0;
      REQUIRE(slope == Approx(d.per_context_token.value()).epsilon(1e-6));
      REQUIRE(d.per_context_token > Seconds(0.0));
    }
  }
}

TEST_CASE("an empty batch takes no time and decode_linear(0) agrees", "[perf]") {
  const PerfModel model(shape("llama-3.1-70b", "h100-sxm", 4));
  CHECK(model.iteration_time(Batch{}) == Seconds(0.0));
  CHECK(model.decode_linear(0).base == Seconds(0.0));
  Batch zero_chunk;
  zero_chunk.prefills.push_back({0, 100});
  CHECK(model.iteration_time(zero_chunk) == Seconds(0.0));
  CHECK(model.breakdown(Batch{}).empty());
}

TEST_CASE("more work never makes an iteration faster", "[perf]") {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> small(1, 512), ctx(1, 16384);
  for (const auto& model : models()) {
    const auto& s = model.shape();
    INFO(s.model->name << " on " << s.accelerator->name << " tp=" << s.tp << " ep=" << s.ep << " pp=" << s.pp);
    for (int trial = 0; trial < 100; ++trial) {
      const Batch b = random_batch(rng, trial % 2 == 0);
      const Seconds t = model.iteration_time(b);

      Batch more_decode = b;
      more_decode.decode_seqs += 1;
      more_decode.decode_context_sum += ctx(rng);
      CHECK(model.iteration_time(more_decode) >= t);

      Batch more_context = b;
      more_context.decode_context_sum += b.decode_seqs > 0 ? small(rng) : 0;
      CHECK(model.iteration_time(more_context) >= t);

      Batch new_chunk = b;
      new_chunk.prefills.push_back({small(rng), ctx(rng)});
      CHECK(model.iteration_time(new_chunk) >= t);

      if (!b.prefills.empty()) {
        Batch longer_chunk = b;
        longer_chunk.prefills.front().tokens += small(rng);
        CHECK(model.iteration_time(longer_chunk) >= t);
        Batch later_chunk = b;
        later_chunk.prefills.front().context_before += small(rng);
        CHECK(model.iteration_time(later_chunk) >= t);
      }
    }
  }
}

TEST_CASE("breakdown sums to the iteration time of mixed batches", "[perf]") {
  std::mt19937_64 rng(11);
  for (const auto& model : models()) {
    for (int trial = 0; trial < 20; ++trial) {
      const Batch b = random_batch(rng, true);
      REQUIRE(rel(sum(model.breakdown(b)), model.iteration_time(b)) < 1e-12);
    }
  }
}

TEST_CASE("decode is memory-bound and prefill compute-bound on a dense model", "[perf]") {
  const PerfModel model(shape("llama-3.1-70b", "h100-sxm", 8));
  // Weights are streamed once per iteration whatever the batch: 64 sequences cost far less than 64x one.
  Batch one;
  one.decode_seqs = 1;
  one.decode_context_sum = 1000;
  Batch many;
  many.decode_seqs = 64;
  many.decode_context_sum = 64000;
  CHECK(model.iteration_time(many) / model.iteration_time(one) < 1.5);
  // Prefill of long prompts scales with the tokens (plus the quadratic attention term).
  Batch p4k;
  p4k.prefills.push_back({4096, 0});
  Batch p8k;
  p8k.prefills.push_back({8192, 0});
  const double ratio = model.iteration_time(p8k) / model.iteration_time(p4k);
  CHECK(ratio > 1.9);
  CHECK(ratio < 2.3);
}

TEST_CASE("chunked prefill costs more when the chunk attends to a longer cached prefix", "[perf]") {
  for (const auto& s : {shape("llama-3.1-70b", "h100-sxm", 8), shape("deepseek-v3", "h800", 1, 32, 1, Dtype::fp8)}) {
    const PerfModel model(s);
    Batch first;
    first.prefills.push_back({2048, 0});
    Batch late;
    late.prefills.push_back({2048, 30000});
    CHECK(model.iteration_time(late) > model.iteration_time(first));
  }
}

TEST_CASE("pipeline stages add hand-offs but no compute", "[perf]") {
  const PerfModel pp1(shape("llama-3.1-70b", "h100-sxm", 4, 1, 1));
  const PerfModel pp2(shape("llama-3.1-70b", "h100-sxm", 4, 1, 2));
  Batch b;
  b.prefills.push_back({1024, 0});
  b.decode_seqs = 16;
  b.decode_context_sum = 16 * 2000;
  const Seconds t1 = pp1.iteration_time(b);
  const Seconds t2 = pp2.iteration_time(b);
  CHECK(t2 > t1);
  CHECK(t2 < t1 * 1.05);
  CHECK(pp2.memory_fit().weights_per_accelerator.value() ==
        Approx(pp1.memory_fit().weights_per_accelerator.value() / 2.0));
}

TEST_CASE("instance accelerators follow tp, pp and ep", "[perf]") {
  CHECK(shape("llama-3.1-70b", "h100-sxm", 4, 1, 2).accelerators() == 8);
  CHECK(shape("llama-3.1-70b", "h100-sxm", 4, 8, 1).accelerators() == 4);  // ep means nothing for dense
  CHECK(shape("deepseek-v3", "h800", 1, 16).accelerators() == 16);
  CHECK(shape("deepseek-v3", "h800", 8, 4).accelerators() == 8);
  CHECK(shape("deepseek-v3", "h800", 2, 32, 2).accelerators() == 64);
}

TEST_CASE("Llama-3.1-70B in bf16 needs two H100s and gains KV capacity with every doubling", "[perf][memory]") {
  const auto one = PerfModel(shape("llama-3.1-70b", "h100-sxm", 1)).memory_fit();
  CHECK_FALSE(one.fits());
  CHECK(one.kv_capacity_tokens == 0);
  CHECK(one.weights_per_accelerator > Bytes(140e9));  // 70.6B parameters x 2 bytes

  int64_t previous = 0;
  for (int tp : {2, 4, 8}) {
    const auto fit = PerfModel(shape("llama-3.1-70b", "h100-sxm", tp)).memory_fit();
    INFO("tp=" << tp);
    CHECK(fit.fits());
    CHECK(fit.kv_capacity_tokens > previous);
    CHECK(fit.usable_per_accelerator == Bytes(72e9));  // 90 % of 80 GB
    previous = fit.kv_capacity_tokens;
  }
  // At TP8 each GPU keeps ~17.6 GB of weights; ~53 GB each of KV at 320 KiB per token is ~1.3M tokens.
  CHECK(previous > 1'000'000);
  CHECK(previous < 1'500'000);
}

TEST_CASE("KV heads replicated beyond tp = kv_heads do not add capacity", "[perf][memory]") {
  // Llama-3.1-70B has 8 KV heads: at TP16 each head is stored twice, so the per-token cost doubles.
  const auto tp8 = PerfModel(shape("llama-3.1-70b", "h100-sxm", 8)).memory_fit();
  const auto tp16 = PerfModel(shape("llama-3.1-70b", "h100-sxm", 16)).memory_fit();
  const double per_token_8 = tp8.kv_budget_per_instance.value() / double(tp8.kv_capacity_tokens);
  const double per_token_16 = tp16.kv_budget_per_instance.value() / double(tp16.kv_capacity_tokens);
  CHECK(per_token_16 == Approx(2.0 * per_token_8).epsilon(1e-4));
}

TEST_CASE("DeepSeek-V3 in fp8 does not fit on one 8-GPU H100 node but fits with EP16", "[perf][memory]") {
  // 671B parameters at 1 byte exceed 8 x 72 GB whichever way they are split.
  CHECK_FALSE(PerfModel(shape("deepseek-v3", "h100-sxm", 8, 8, 1, Dtype::fp8)).memory_fit().fits());
  CHECK_FALSE(PerfModel(shape("deepseek-v3", "h100-sxm", 1, 8, 1, Dtype::fp8)).memory_fit().fits());
  // EP16 with data-parallel attention: ~41 GB of routed experts plus ~17 GB of replicated attention,
  // dense layers, shared experts and embeddings per GPU.
  const auto fit = PerfModel(shape("deepseek-v3", "h100-sxm", 1, 16, 1, Dtype::fp8)).memory_fit();
  CHECK(fit.fits());
  CHECK(fit.weights_per_accelerator > Bytes(50e9));
  CHECK(fit.weights_per_accelerator < Bytes(65e9));
  // MLA caches 70,272 bytes per token in bf16 (PUBLISHED.md): a 16-GPU budget of ~200 GB holds millions.
  const double per_token = fit.kv_budget_per_instance.value() / double(fit.kv_capacity_tokens);
  CHECK(per_token == Approx(70272.0).epsilon(1e-4));
  CHECK(fit.kv_capacity_tokens > 2'000'000);
}

TEST_CASE("unusable shapes are rejected", "[perf]") {
  InstanceShape s = shape("llama-3.1-70b", "h100-sxm", 4);
  {
    InstanceShape bad = s;
    bad.accelerator = nullptr;
    CHECK_THROWS_AS(PerfModel(bad), std::invalid_argument);
  }
  {
    InstanceShape bad = s;
    bad.model = nullptr;
    CHECK_THROWS_AS(PerfModel(bad), std::invalid_argument);
  }
  for (int which = 0; which < 3; ++which) {
    InstanceShape bad = s;
    (which == 0 ? bad.tp : which == 1 ? bad.pp : bad.ep) = 0;
    CHECK_THROWS_AS(PerfModel(bad), std::invalid_argument);
  }
  {
    InstanceShape bad = s;
    bad.pp = 1000;  // more stages than layers
    CHECK_THROWS_AS(PerfModel(bad), std::invalid_argument);
  }
  {
    // The A100 has no fp8 tensor cores.
    InstanceShape bad = shape("llama-3.1-70b", "a100-sxm-80gb", 4);
    bad.weight_dtype = Dtype::fp8;
    CHECK_THROWS_AS(PerfModel(bad), std::invalid_argument);
  }
  {
    InstanceShape bad = s;
    bad.memory_fraction = 0.0;
    CHECK_THROWS_AS(PerfModel(bad), std::invalid_argument);
  }
}

TEST_CASE("default efficiencies are in a physical range for every catalog accelerator", "[perf]") {
  for (const auto& name : catalog().accelerator_names()) {
    const auto e = PerfModel::default_efficiency(catalog().accelerator(name));
    INFO(name);
    CHECK(e.compute > 0.5);
    CHECK(e.compute < 1.0);
    CHECK(e.memory > 0.5);
    CHECK(e.memory < 1.0);
    CHECK(e.interconnect > 0.5);
    CHECK(e.interconnect <= 1.0);
    CHECK(e.kernel_overhead > Seconds(0.0));
    CHECK(e.iteration_overhead > Seconds(0.0));
  }
}

TEST_CASE("operators with measured tables run in measured mode, the rest in roofline mode", "[perf][measured]") {
  const auto profiles = std::filesystem::path(TF_SOURCE_ROOT) / "models/profiles";
  const PerfModel h100(shape("llama-3.1-70b", "h100-sxm", 4), profiles);
  const auto modes = mode_map(h100);
  CHECK(modes.at("attention.qkv") == "measured");
  CHECK(modes.at("ffn.down") == "measured");
  CHECK(modes.at("attention.decode") == "measured");
  CHECK(modes.at("attention.prefill") == "measured");
  CHECK(modes.at("tp.all_reduce") == "measured");
  CHECK(modes.at("norm") == "roofline");
  CHECK(modes.at("iteration") == "constant");
  // No tables for the A100: every operator is a roofline.
  const PerfModel a100(shape("llama-2-70b", "a100-sxm-80gb", 4), profiles);
  for (const auto& [op, mode] : a100.modes())
    if (op != "iteration") CHECK(mode == "roofline");
}

TEST_CASE("a query beyond a measured table is extrapolated by the roofline and flagged", "[perf][measured]") {
  const auto profiles = std::filesystem::path(TF_SOURCE_ROOT) / "models/profiles";
  const PerfModel model(shape("llama-3.1-8b", "h100-sxm", 1), profiles);
  Batch small;
  small.prefills.push_back({1024, 0});
  model.iteration_time(small);
  const auto before = mode_map(model);
  CHECK(before.at("ffn.gate_up") == "measured");
  // 100k tokens in one iteration: past the GEMM table's largest m (32,768 rows).
  Batch huge;
  huge.prefills.push_back({100000, 0});
  const Seconds t = model.iteration_time(huge);
  CHECK(t > model.iteration_time(small) * 50.0);
  const auto after = mode_map(model);
  CHECK(after.at("ffn.gate_up") == "measured+extrapolated");
}

namespace {

// Writes a one-table profile folder and returns its parent (the "profiles" directory).
std::filesystem::path bad_profile(const std::string& name, const std::string& gemm_csv) {
  const auto root = std::filesystem::temp_directory_path() / ("tf_perf_profiles_" + name);
  std::filesystem::create_directories(root / "h100-sxm");
  std::ofstream(root / "h100-sxm/gemm.csv") << gemm_csv;
  return root;
}

std::string config_error(const std::filesystem::path& profiles) {
  try {
    const PerfModel model(shape("llama-3.1-8b", "h100-sxm", 1), profiles);
  } catch (const tf::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a malformed measured table is a ConfigError naming the file, line and column", "[perf][measured]") {
  const std::string header = "gemm_dtype,m,n,k,latency\n";
  const auto missing = config_error(bad_profile("missing", "gemm_dtype,m,n,latency\nbfloat16,1,2,0.1\n"));
  CHECK(missing.find("gemm.csv") != std::string::npos);
  CHECK(missing.find("missing column 'k'") != std::string::npos);
  const auto text = config_error(bad_profile("text", header + "bfloat16,1,2,3,0.1\nbfloat16,1,2,x,0.1\n"));
  CHECK(text.find("line 3") != std::string::npos);
  CHECK(text.find("expected a number") != std::string::npos);
  const auto negative = config_error(bad_profile("negative", header + "bfloat16,1,2,3,-0.1\n"));
  CHECK(negative.find("latency") != std::string::npos);
  CHECK(negative.find("negative") != std::string::npos);
  const auto zero = config_error(bad_profile("zero", header + "bfloat16,1,2,3,0\n"));
  CHECK(zero.find("positive") != std::string::npos);
  const auto ragged = config_error(bad_profile("ragged", header + "bfloat16,1,2\n"));
  CHECK(ragged.find("fields") != std::string::npos);
}
