// Serving stacks (perf/serving_stack.hpp): the default adds nothing to what the perf model timed before
// stacks existed, a stack's host terms are what its header says, and bad stack files are ConfigErrors.

#include "perf/serving_stack.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "perf/perf_model.hpp"
#include "perf_test_util.hpp"

namespace {

using tf::Seconds;
using tf::catalog::Dtype;
using tf::perf::Batch;
using tf::perf::InstanceShape;
using tf::perf::PerfModel;
using tf::perf::ServingStack;

using tf::test::catalog;
using tf::test::shape;

std::filesystem::path stacks_dir() {
  return std::filesystem::path(TF_SOURCE_ROOT) / "models/stacks";
}

std::filesystem::path profiles_dir() {
  return std::filesystem::path(TF_SOURCE_ROOT) / "models/profiles";
}

// Dense with and without TP, a pipeline, MoE with TP experts, MoE with expert parallelism and data-parallel
// attention, MLA.
std::vector<InstanceShape> shapes() {
  return {
      shape("llama-3.1-8b", "h100-sxm", 1),
      shape("llama-2-70b", "a100-sxm-80gb", 8),
      shape("llama-2-70b", "a100-sxm-80gb", 4, 1, 2),
      shape("qwen3-235b-a22b", "h100-sxm", 8, 1, 1, Dtype::fp8),
      shape("deepseek-v3", "h800", 1, 32, 1, Dtype::fp8),
      shape("deepseek-v3", "h200", 8, 8, 1, Dtype::fp8),
  };
}

std::vector<Batch> batches() {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> seqs(1, 256), ctx(1, 16384), tokens(1, 4096);
  std::vector<Batch> out;
  for (int i = 0; i < 20; ++i) {
    Batch b;
    if (i % 3 != 1) {
      b.decode_seqs = seqs(rng);
      for (int64_t k = 0; k < b.decode_seqs; ++k)
        b.decode_context_sum += ctx(rng);
    }
    if (i % 3 != 0) b.prefills.push_back({tokens(rng), ctx(rng) / 4});
    out.push_back(b);
  }
  return out;
}

double part(const std::vector<tf::perf::OperatorTime>& parts, const std::string& name) {
  for (const auto& p : parts)
    if (p.name == name) return p.time.value();
  return 0.0;
}

// A stack file written to the temporary directory.
std::filesystem::path write_stack(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "tf_serving_stack_test";
  std::filesystem::create_directories(dir);
  const auto file = dir / (name + ".json");
  std::ofstream(file) << text;
  return file;
}

const char* kValidFigures = R"(
  "iteration_overhead": "2ms", "layer_launch": "100us", "collective_sync_per_rank": "10us",)";

}  // namespace

TEST_CASE("the modern stack times every batch exactly as a shape without a stack", "[perf][stack]") {
  const ServingStack modern = tf::perf::find_serving_stack(stacks_dir(), "modern");
  CHECK(modern.name == tf::perf::kDefaultServingStack);
  for (const auto& base : shapes()) {
    INFO(base.model->name << " on " << base.accelerator->name << " tp=" << base.tp << " ep=" << base.ep
                          << " pp=" << base.pp);
    InstanceShape with = base;
    with.stack = modern;
    for (const bool measured : {false, true}) {
      const PerfModel a = measured ? PerfModel(base, profiles_dir()) : PerfModel(base);
      const PerfModel b = measured ? PerfModel(with, profiles_dir()) : PerfModel(with);
      for (const auto& batch : batches()) {
        // Bit for bit, so that scenarios give the same results.json as before stacks existed.
        REQUIRE(a.iteration_time(batch).value() == b.iteration_time(batch).value());
        const auto pa = a.breakdown(batch), pb = b.breakdown(batch);
        REQUIRE(pa.size() == pb.size());
        for (size_t i = 0; i < pa.size(); ++i) {
          REQUIRE(pa[i].name == pb[i].name);
          REQUIRE(pa[i].time.value() == pb[i].time.value());
        }
      }
      for (int64_t n : {0, 1, 64, 512}) {
        REQUIRE(a.decode_linear(n).base.value() == b.decode_linear(n).base.value());
        REQUIRE(a.decode_linear(n).per_context_token.value() == b.decode_linear(n).per_context_token.value());
      }
      CHECK(a.modes() == b.modes());
    }
  }
}

TEST_CASE("a stack adds layers x layer_launch and, per collective call, (ranks - 1) x collective_sync_per_rank",
          "[perf][stack]") {
  const ServingStack modern = tf::perf::find_serving_stack(stacks_dir(), "modern");
  const ServingStack old = tf::perf::find_serving_stack(stacks_dir(), "vllm-2023");
  REQUIRE(old.layer_launch.value() > 0.0);
  REQUIRE(old.collective_sync_per_rank.value() > 0.0);
  const double launch = old.layer_launch.value(), sync = old.collective_sync_per_rank.value();
  const double iteration = old.iteration_overhead.value() - modern.iteration_overhead.value();

  struct Case {
    InstanceShape shape;
    double waits;  // sum over one iteration's collective calls of (ranks - 1)
  };
  const auto& llama = catalog().llm("llama-2-70b");
  const auto& qwen = catalog().llm("qwen3-235b-a22b");
  const auto& deepseek = catalog().llm("deepseek-v3");
  const std::vector<Case> cases = {
      {shape("llama-3.1-8b", "h100-sxm", 1), 0.0},
      // Two all-reduces per layer over 8 ranks.
      {shape("llama-2-70b", "a100-sxm-80gb", 8), 2.0 * llama.layers * 7.0},
      // Over 4 ranks, and one hand-off between the two stages.
      {shape("llama-2-70b", "a100-sxm-80gb", 4, 1, 2), 2.0 * llama.layers * 3.0 + 1.0},
      // MoE with TP experts: an all-reduce after attention and one after the experts.
      {shape("qwen3-235b-a22b", "h100-sxm", 8, 1, 1, Dtype::fp8), 2.0 * qwen.layers * 7.0},
      // Expert parallel with data-parallel attention: dispatch and combine over 32 ranks per MoE layer.
      {shape("deepseek-v3", "h800", 1, 32, 1, Dtype::fp8), 2.0 * deepseek.moe_layers() * 31.0},
  };
  for (const auto& c : cases) {
    INFO(c.shape.model->name << " tp=" << c.shape.tp << " ep=" << c.shape.ep << " pp=" << c.shape.pp);
    InstanceShape with = c.shape;
    with.stack = old;
    const PerfModel a(c.shape), b(with);
    const double layers = c.shape.model->layers;
    for (const auto& batch : batches()) {
      const double added = (b.iteration_time(batch) - a.iteration_time(batch)).value();
      REQUIRE(added == Approx(iteration + layers * launch + c.waits * sync).epsilon(1e-9));
      const auto parts = b.breakdown(batch);
      REQUIRE(part(parts, "host.launch") == Approx(layers * launch));
      REQUIRE(part(parts, "host.sync") == Approx(c.waits * sync).margin(1e-15));
    }
    // Host time depends on the shape only: decode stays exactly linear in the context sum.
    for (int64_t n : {1, 37, 256}) {
      const auto d = b.decode_linear(n);
      Batch batch;
      batch.decode_seqs = n;
      batch.decode_context_sum = n * 3000;
      REQUIRE((d.base + d.per_context_token * double(batch.decode_context_sum)).value() ==
              Approx(b.iteration_time(batch).value()).epsilon(1e-12));
    }
    // Reported as constants, and only where charged.
    std::map<std::string, std::string> modes;
    for (const auto& [op, mode] : b.modes())
      modes[op] = mode;
    CHECK(modes.at("host.launch") == "constant");
    CHECK(modes.count("host.sync") == (c.waits > 0.0 ? 1u : 0u));
  }
}

TEST_CASE("every shipped stack loads, with a note for each figure", "[perf][stack]") {
  const auto names = tf::perf::serving_stack_names(stacks_dir());
  CHECK(std::find(names.begin(), names.end(), "modern") != names.end());
  for (const auto& name : names) {
    INFO(name);
    const ServingStack s = tf::perf::find_serving_stack(stacks_dir(), name);
    CHECK(s.name == name);
    CHECK(s.sources.size() == 3);
    CHECK(s.iteration_overhead.value() > 0.0);
  }
}

TEST_CASE("bad stack files and unknown stack names are ConfigErrors that say what is wrong", "[perf][stack]") {
  using Catch::Matchers::Contains;
  SECTION("an unknown key lists the known stacks") {
    CHECK_THROWS_WITH(tf::perf::find_serving_stack(stacks_dir(), "vllm-2019"),
                      Contains("unknown serving stack \"vllm-2019\"") && Contains("modern"));
  }
  SECTION("a figure without a note in sources") {
    const auto file = write_stack("no-note", std::string(R"({"display_name": "x", "source": "y",)") + kValidFigures +
                                                 R"( "sources": {"iteration_overhead": "a", "layer_launch": "b"}})");
    CHECK_THROWS_WITH(tf::perf::find_serving_stack(stacks_dir(), file.string()),
                      Contains("collective_sync_per_rank") && Contains("no-note.json"));
  }
  SECTION("a negative duration") {
    const auto file = write_stack("negative", R"({"display_name": "x", "source": "y",
      "iteration_overhead": "2ms", "layer_launch": "-5us", "collective_sync_per_rank": "0us",
      "sources": {"iteration_overhead": "a", "layer_launch": "b", "collective_sync_per_rank": "c"}})");
    CHECK_THROWS_AS(tf::perf::find_serving_stack(stacks_dir(), file.string()), tf::ConfigError);
    CHECK_THROWS_WITH(tf::perf::find_serving_stack(stacks_dir(), file.string()), Contains("/layer_launch"));
  }
  SECTION("an unknown field") {
    const auto file = write_stack("extra", std::string(R"({"display_name": "x", "source": "y", "cuda_graphs": true,)") +
                                               kValidFigures +
                                               R"( "sources": {"iteration_overhead": "a", "layer_launch": "b",
                                                   "collective_sync_per_rank": "c"}})");
    CHECK_THROWS_WITH(tf::perf::find_serving_stack(stacks_dir(), file.string()), Contains("cuda_graphs"));
  }
  SECTION("a bare estimate is not a source") {
    const auto file = write_stack("bare", std::string(R"({"display_name": "x", "source": "y",)") + kValidFigures +
                                              R"( "sources": {"iteration_overhead": "estimate", "layer_launch": "b",
                                                  "collective_sync_per_rank": "c"}})");
    CHECK_THROWS_WITH(tf::perf::find_serving_stack(stacks_dir(), file.string()),
                      Contains("/sources/iteration_overhead"));
  }
}
