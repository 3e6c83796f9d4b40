// Where the default efficiencies come from: fits on measured kernel tables that are separate from the
// validation data (aiconfigurator's H100 SXM collections, SOURCES.md §2). Each test repeats its fit,
// prints the value and fails if the hard-coded default in perf_model.cpp has drifted from it.

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "perf/calibration.hpp"
#include "perf/perf_model.hpp"

namespace {

// Rows of a CSV with a header, as maps from column name to text.
std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& file, std::vector<std::string>& header) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  header.clear();
  std::stringstream hs(line);
  for (std::string f; std::getline(hs, f, ',');)
    header.push_back(f);
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');)
      f.push_back(x);
    if (f.size() == header.size()) rows.push_back(std::move(f));
  }
  return rows;
}

size_t column(const std::vector<std::string>& header, const std::string& name) {
  const auto it = std::find(header.begin(), header.end(), name);
  REQUIRE(it != header.end());
  return static_cast<size_t>(it - header.begin());
}

// The efficiency on a 0.01 grid in [lo, hi] minimising the summed squared log error of predict(e, row).
template <class Row>
double fit_grid(const std::vector<Row>& rows, double lo, double hi,
                const std::function<double(double, const Row&)>& log_err) {
  double best = lo;
  double best_sse = INFINITY;
  for (int i = static_cast<int>(std::lround(lo * 100)); i <= static_cast<int>(std::lround(hi * 100)); ++i) {
    const double e = i / 100.0;
    double sse = 0.0;
    for (const auto& r : rows)
      sse += std::pow(log_err(e, r), 2);
    if (sse < best_sse) {
      best_sse = sse;
      best = e;
    }
  }
  return best;
}

const std::filesystem::path kAic = std::filesystem::path(TF_SHARED_DATA) / "profiling/aiconfigurator/h100_sxm";

}  // namespace

TEST_CASE("compute efficiency default is the roofline fit on aiconfigurator's H100 bf16 GEMM table",
          "[perf][calibration]") {
  const auto file = kAic / "gemm/trtllm/1.3.0rc20/gemm_perf.csv";
  if (!std::filesystem::exists(file)) {
    WARN("shared data not found, skipping: " << file.string());
    return;
  }
  const tf::catalog::Catalog catalog(TF_SOURCE_ROOT);
  const auto& h100 = catalog.accelerator("h100-sxm");
  const auto eff = tf::perf::PerfModel::default_efficiency(h100);

  struct Gemm {
    double flops, bytes, seconds;
  };
  std::vector<std::string> header;
  const auto rows = read_csv(file, header);
  const size_t c_dtype = column(header, "gemm_dtype"), c_m = column(header, "m"), c_n = column(header, "n"),
               c_k = column(header, "k"), c_lat = column(header, "latency");
  std::vector<Gemm> gemms;
  for (const auto& r : rows) {
    if (r[c_dtype] != "bfloat16") continue;
    const double m = std::stod(r[c_m]), n = std::stod(r[c_n]), k = std::stod(r[c_k]);
    // bf16 operands and output; latency in ms.
    gemms.push_back({2.0 * m * n * k, 2.0 * (m * k + k * n + m * n), std::stod(r[c_lat]) * 1e-3});
  }
  REQUIRE(gemms.size() > 30000);

  const double peak = h100.peak(tf::catalog::Dtype::bf16).value();
  const double bw = h100.hbm_bandwidth.value() * eff.memory;
  const double overhead = eff.kernel_overhead.value();
  const double fitted = fit_grid<Gemm>(gemms, 0.30, 1.00, [&](double c, const Gemm& g) {
    return std::log((std::max(g.flops / (peak * c), g.bytes / bw) + overhead) / g.seconds);
  });
  fmt::print("compute efficiency fitted on {} H100 bf16 GEMMs: {:.2f} (default {:.2f})\n", gemms.size(), fitted,
             eff.compute);
  CHECK(eff.compute == Approx(fitted).margin(0.005));
}

TEST_CASE("interconnect efficiency default is the ring all-reduce fit on aiconfigurator's H100 NCCL table",
          "[perf][calibration]") {
  const auto file = kAic / "comm/nccl/2.29.2/nccl_perf.csv";
  if (!std::filesystem::exists(file)) {
    WARN("shared data not found, skipping: " << file.string());
    return;
  }
  const tf::catalog::Catalog catalog(TF_SOURCE_ROOT);
  const auto& h100 = catalog.accelerator("h100-sxm");
  const auto eff = tf::perf::PerfModel::default_efficiency(h100);

  struct AllReduce {
    double gpus, bytes, seconds;
  };
  std::vector<std::string> header;
  const auto rows = read_csv(file, header);
  const size_t c_op = column(header, "op_name"), c_dtype = column(header, "nccl_dtype"),
               c_gpus = column(header, "num_gpus"), c_size = column(header, "message_size"),
               c_lat = column(header, "latency");
  std::vector<AllReduce> samples;
  for (const auto& r : rows) {
    // fp16 elements; 16M elements (32 MB) and more, where bandwidth dominates the latency terms.
    if (r[c_op] != "all_reduce" || r[c_dtype] != "half") continue;
    const double elements = std::stod(r[c_size]);
    if (elements < 16.0 * 1024 * 1024) continue;
    samples.push_back({std::stod(r[c_gpus]), 2.0 * elements, std::stod(r[c_lat]) * 1e-3});
  }
  REQUIRE(samples.size() >= 9);

  const double link = h100.scale_up_bandwidth.value();
  const double hop = h100.scale_up_latency.value();
  const double overhead = eff.kernel_overhead.value();
  const double fitted = fit_grid<AllReduce>(samples, 0.30, 1.20, [&](double e, const AllReduce& s) {
    const double steps = 2.0 * (s.gpus - 1.0);
    return std::log((steps / s.gpus * s.bytes / (link * e) + steps * hop + overhead) / s.seconds);
  });
  fmt::print("interconnect efficiency fitted on {} H100 NCCL all-reduces: {:.2f} (default {:.2f})\n", samples.size(),
             fitted, eff.interconnect);
  CHECK(eff.interconnect == Approx(fitted).margin(0.005));
}

TEST_CASE("attention efficiency and overhead defaults are the roofline fit on aiconfigurator's H100 attention tables",
          "[perf][calibration]") {
  const auto gqa = kAic / "attention/trtllm/1.3.0rc20";
  const auto mla = kAic / "mla/trtllm/1.3.0rc20";
  if (!std::filesystem::exists(gqa) || !std::filesystem::exists(mla)) {
    WARN("shared data not found, skipping: " << gqa.string());
    return;
  }
  const tf::catalog::Catalog catalog(TF_SOURCE_ROOT);
  const auto& h100 = catalog.accelerator("h100-sxm");
  const auto eff = tf::perf::PerfModel::default_efficiency(h100);
  const double peak = h100.peak(tf::catalog::Dtype::bf16).value();
  const double bw = h100.hbm_bandwidth.value() * eff.memory;

  // Flops and bytes counted as perf_model.cpp counts them (bf16 everywhere; causal prefill does half the
  // score matrix; MLA decode runs absorbed over the 512 + 64 latent, MLA prefill unabsorbed over 192/128).
  struct Kernel {
    double flops, bytes, seconds;
  };
  std::vector<Kernel> kernels;
  auto load = [&](const std::filesystem::path& file,
                  const std::function<bool(const std::vector<std::string>&, const std::vector<std::string>&, Kernel&)>&
                      convert) {
    std::vector<std::string> header;
    for (const auto& r : read_csv(file, header)) {
      Kernel k{};
      if (convert(header, r, k)) kernels.push_back(k);
    }
  };
  auto field = [](const std::vector<std::string>& h, const std::vector<std::string>& r, const std::string& name) {
    return r[column(h, name)];
  };
  auto num = [&](const std::vector<std::string>& h, const std::vector<std::string>& r, const std::string& name) {
    return std::stod(field(h, r, name));
  };
  const double hd = 128.0;
  load(gqa / "context_attention_perf.csv", [&](const auto& h, const auto& r, Kernel& k) {
    if (field(h, r, "attn_dtype") != "bfloat16" || field(h, r, "kv_cache_dtype") != "bfloat16" ||
        num(h, r, "window_size") != 0.0 || num(h, r, "head_dim") != hd)
      return false;
    const double b = num(h, r, "batch_size"), s = num(h, r, "isl"), heads = num(h, r, "num_heads"),
                 kv = num(h, r, "num_key_value_heads");
    k = {4.0 * heads * hd * b * s * s / 2.0, b * s * (2.0 * kv * hd + 2.0 * heads * hd) * 2.0,
         num(h, r, "latency") * 1e-3};
    return true;
  });
  load(gqa / "generation_attention_perf.csv", [&](const auto& h, const auto& r, Kernel& k) {
    if (field(h, r, "kv_cache_dtype") != "bfloat16" || num(h, r, "window_size") != 0.0 || num(h, r, "head_dim") != hd)
      return false;
    const double b = num(h, r, "batch_size"), s = num(h, r, "step"), heads = num(h, r, "num_heads"),
                 kv = num(h, r, "num_key_value_heads");
    k = {4.0 * heads * hd * b * s, (b * s * 2.0 * kv * hd + b * 2.0 * heads * hd) * 2.0, num(h, r, "latency") * 1e-3};
    return true;
  });
  load(mla / "context_mla_perf.csv", [&](const auto& h, const auto& r, Kernel& k) {
    if (field(h, r, "mla_dtype") != "bfloat16" || field(h, r, "kv_cache_dtype") != "bfloat16") return false;
    const double b = num(h, r, "batch_size"), s = num(h, r, "isl"), heads = num(h, r, "num_heads");
    k = {2.0 * heads * (192.0 + 128.0) * b * s * s / 2.0, b * s * (576.0 + heads * (192.0 + 128.0)) * 2.0,
         num(h, r, "latency") * 1e-3};
    return true;
  });
  load(mla / "generation_mla_perf.csv", [&](const auto& h, const auto& r, Kernel& k) {
    if (field(h, r, "mla_dtype") != "bfloat16" || field(h, r, "kv_cache_dtype") != "bfloat16") return false;
    const double b = num(h, r, "batch_size"), s = num(h, r, "step"), heads = num(h, r, "num_heads");
    k = {2.0 * heads * (2.0 * 512.0 + 64.0) * b * s, (b * s * 576.0 + b * heads * (576.0 + 512.0)) * 2.0,
         num(h, r, "latency") * 1e-3};
    return true;
  });
  REQUIRE(kernels.size() > 15000);

  // The share of peak from the compute-bound kernels (1e11 flops and more, past the roofline ridge), where
  // the fixed cost is a few percent; then the fixed cost from all kernels with that share.
  std::vector<Kernel> compute_bound;
  for (const auto& k : kernels)
    if (k.flops >= 1e11 && k.flops / peak > k.bytes / bw) compute_bound.push_back(k);
  REQUIRE(compute_bound.size() > 2000);
  const double overhead_guess = eff.attention_overhead.value();
  const double share = fit_grid<Kernel>(compute_bound, 0.30, 0.90, [&](double c, const Kernel& k) {
    return std::log((std::max(k.flops / (peak * c), k.bytes / bw) + overhead_guess) / k.seconds);
  });
  // Overhead on a 1 us grid, expressed as hundredths of 100 us for fit_grid's 0.01 steps.
  const double overhead = 1e-4 * fit_grid<Kernel>(kernels, 0.01, 0.40, [&](double o, const Kernel& k) {
                            return std::log((std::max(k.flops / (peak * share), k.bytes / bw) + o * 1e-4) / k.seconds);
                          });
  fmt::print(
      "attention compute efficiency fitted on {} compute-bound H100 attention kernels: {:.2f} (default {:.2f}); "
      "overhead on all {}: {:.0f} us (default {:.0f} us)\n",
      compute_bound.size(), share, eff.attention_compute, kernels.size(), overhead * 1e6,
      eff.attention_overhead.value() * 1e6);
  CHECK(eff.attention_compute == Approx(share).margin(0.005));
  CHECK(eff.attention_overhead.value() == Approx(overhead).margin(0.5e-6));
}

namespace {

void check_same(const std::string& name, const tf::perf::RooflineCurve& fitted,
                const tf::perf::RooflineCurve& shipped) {
  INFO(name << ": fitted now " << tf::perf::to_code(fitted) << "\n shipped " << tf::perf::to_code(shipped));
  CHECK(fitted.overhead_s == Approx(shipped.overhead_s).epsilon(0.01));
  for (const auto* pair : {&fitted.compute, &fitted.memory}) {
    const auto& other = pair == &fitted.compute ? shipped.compute : shipped.memory;
    REQUIRE(pair->knots.size() == other.knots.size());
    for (size_t i = 0; i < other.knots.size(); ++i) {
      CHECK(pair->knots[i].first == Approx(other.knots[i].first));
      CHECK(pair->knots[i].second == Approx(other.knots[i].second).margin(0.001));
    }
  }
}

}  // namespace

TEST_CASE("the shipped roofline curves are the fit on the shipped H100 and B200 tables", "[perf][calibration]") {
  const tf::catalog::Catalog catalog(TF_SOURCE_ROOT);
  const auto profiles = std::filesystem::path(TF_SOURCE_ROOT) / "models/profiles";
  const auto hopper =
      tf::perf::fit_family(*tf::perf::Profile::load(profiles / "h100-sxm"), catalog.accelerator("h100-sxm"));
  const auto& h = tf::perf::family_curves(tf::perf::Family::hopper);
  check_same("hopper gemm_bf16", hopper.gemm_bf16, h.gemm_bf16);
  check_same("hopper gemm_fp8", hopper.gemm_fp8, h.gemm_fp8);
  check_same("hopper attention", hopper.attention, h.attention);
  check_same("hopper moe", hopper.moe, h.moe);
  check_same("hopper collective", hopper.collective, h.collective);
  const auto blackwell = tf::perf::fit_family(*tf::perf::Profile::load(profiles / "b200"), catalog.accelerator("b200"));
  const auto& b = tf::perf::family_curves(tf::perf::Family::blackwell);
  check_same("blackwell moe", blackwell.moe, b.moe);
  check_same("blackwell collective", blackwell.collective, b.collective);
}
