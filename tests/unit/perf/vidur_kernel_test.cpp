// The perf model's per-layer operators against measured kernels: vidur's Llama-2-70B per-operator
// timings on A100 and H100 (profiling/vidur/compute/..., SOURCES.md §2), at TP1-8 and 1-4096 tokens.
// Independent of the efficiency fits (those use aiconfigurator's tables) and of the Splitwise data.

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.hpp"
#include "perf/perf_model.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// (tp, tokens) -> measured seconds per layer for the operators outside attention and communication:
// two layernorms, QKV, RoPE, output projection, gate/up, activation, down and two residual adds.
std::map<std::pair<int, int>, double> read_vidur_layer_times(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string f; std::getline(hs, f, ',');)
    header.push_back(f);
  auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return static_cast<size_t>(it - header.begin());
  };
  const size_t c_tokens = column("num_tokens"), c_tp = column("num_tensor_parallel_workers");
  const std::vector<std::pair<std::string, double>> ops = {{"input_layernorm", 1},
                                                           {"attn_pre_proj", 1},
                                                           {"attn_rope", 1},
                                                           {"attn_post_proj", 1},
                                                           {"post_attention_layernorm", 1},
                                                           {"mlp_up_proj", 1},
                                                           {"mlp_act", 1},
                                                           {"mlp_down_proj", 1},
                                                           {"add", 2}};
  std::vector<std::pair<size_t, double>> op_columns;
  for (const auto& [op, count] : ops)
    op_columns.emplace_back(column("time_stats." + op + ".median"), count);

  std::map<std::pair<int, int>, std::vector<double>> repeats;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');)
      f.push_back(x);
    if (f.size() != header.size()) continue;
    double ms = 0.0;
    for (const auto& [c, count] : op_columns)
      ms += count * std::stod(f[c]);
    repeats[{std::stoi(f[c_tp]), std::stoi(f[c_tokens])}].push_back(ms * 1e-3);
  }
  std::map<std::pair<int, int>, double> layer;
  for (const auto& [key, v] : repeats)
    layer[key] = median(v);
  return layer;
}

}  // namespace

TEST_CASE("per-layer GEMM and elementwise times match vidur's measured Llama-2-70B kernels", "[perf][validation]") {
  const tf::catalog::Catalog catalog(TF_SOURCE_ROOT);
  const auto& llama = catalog.llm("llama-2-70b");
  const std::vector<std::string> modelled = {
      "norm", "attention.qkv", "attention.rope_cache", "attention.out", "ffn.gate_up", "ffn.act", "ffn.down"};
  std::string table =
      fmt::format("\n{:<6} {:>3} {:>7} {:>12} {:>12} {:>7}\n", "gpu", "tp", "tokens", "vidur us", "model us", "ratio");
  std::vector<double> ratios;
  for (const auto& [gpu, accelerator] :
       std::vector<std::pair<std::string, std::string>>{{"a100", "a100-sxm-80gb"}, {"h100", "h100-sxm"}}) {
    const auto file =
        std::filesystem::path(TF_SHARED_DATA) / "profiling/vidur/compute" / gpu / "meta-llama/Llama-2-70b-hf/mlp.csv";
    if (!std::filesystem::exists(file)) {
      WARN("shared data not found, skipping: " << file.string());
      return;
    }
    for (const auto& [key, measured] : read_vidur_layer_times(file)) {
      const auto [tp, tokens] = key;
      if (tokens < 1) continue;
      tf::perf::InstanceShape shape;
      shape.accelerator = &catalog.accelerator(accelerator);
      shape.model = &llama;
      shape.tp = tp;
      const tf::perf::PerfModel model(shape);
      tf::perf::Batch batch;
      batch.prefills.push_back({tokens, 0});
      double predicted = 0.0;
      for (const auto& part : model.breakdown(batch))
        if (std::find(modelled.begin(), modelled.end(), part.name) != modelled.end()) predicted += part.time.value();
      predicted /= llama.layers;
      const double ratio = predicted / measured;
      ratios.push_back(ratio);
      if (tokens == 1 || tokens == 64 || tokens == 512 || tokens == 2048 || tokens == 4096)
        table += fmt::format("{:<6} {:>3} {:>7} {:>12.1f} {:>12.1f} {:>7.2f}\n", gpu, tp, tokens, measured * 1e6,
                             predicted * 1e6, ratio);
    }
  }
  // The roofline has no GEMM tile quantization: vidur's kernels (PyTorch/cuBLAS of 2024) step up at
  // token counts just above multiples of 128 (136 tokens cost as much as 256), where the model is up to
  // ~45 % low. aiconfigurator's TRT-LLM GEMMs show no such steps, so the model leaves them out; we
  // require agreement on the bulk of the points rather than on every one.
  const double med = median(ratios);
  const auto within = std::count_if(ratios.begin(), ratios.end(), [](double r) { return r > 0.75 && r < 1.25; });
  const double share = double(within) / double(ratios.size());
  table += fmt::format("{} points, median model/measured {:.2f}, range {:.2f}-{:.2f}, {:.0f} % within 25 %\n",
                       ratios.size(), med, *std::min_element(ratios.begin(), ratios.end()),
                       *std::max_element(ratios.begin(), ratios.end()), share * 100.0);
  fmt::print("{}", table);
  CHECK(med > 0.85);
  CHECK(med < 1.15);
  CHECK(share > 0.85);
}
