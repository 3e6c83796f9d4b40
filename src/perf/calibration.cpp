#include "perf/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace tf::perf {

Family family_of(const catalog::Accelerator& a) {
  if (a.vendor == "Huawei") return Family::ascend;
  const std::string& n = a.name;
  if (n.rfind("a100", 0) == 0) return Family::ampere;
  if (n.rfind("b200", 0) == 0 || n.rfind("gb200", 0) == 0 || n.rfind("b300", 0) == 0) return Family::blackwell;
  return Family::hopper;
}

std::string to_string(Family f) {
  switch (f) {
    case Family::hopper:
      return "nvidia-hopper";
    case Family::blackwell:
      return "nvidia-blackwell";
    case Family::ampere:
      return "nvidia-ampere";
    case Family::ascend:
      return "huawei-ascend";
  }
  return "?";
}

std::vector<KernelSample> gemm_samples(const std::vector<GemmRow>& rows, const std::string& dtype) {
  const double wb = dtype == "bfloat16" ? 2.0 : 1.0;
  std::vector<KernelSample> out;
  for (const auto& r : rows) {
    if (r.dtype != dtype) continue;
    // bf16 activations in and out, weights of `wb` bytes.
    out.push_back({2.0 * r.m * r.n * r.k, 2.0 * (r.m * r.k + r.m * r.n) + wb * r.k * r.n, r.seconds});
  }
  return out;
}

std::vector<KernelSample> attention_samples(const Profile& p) {
  constexpr double kHd = 128.0;
  std::vector<KernelSample> out;
  for (const auto& r : p.context_attention()) {
    if (r.kv_dtype != "bfloat16" || r.window != 0.0 || r.head_dim != kHd) continue;
    const double b = r.batch, s = r.isl;
    out.push_back({4.0 * r.heads * kHd * b * s * s / 2.0, b * s * (2.0 * r.kv_heads * kHd + 2.0 * r.heads * kHd) * 2.0,
                   r.seconds});
  }
  for (const auto& r : p.generation_attention()) {
    if (r.kv_dtype != "bfloat16" || r.window != 0.0 || r.head_dim != kHd) continue;
    const double b = r.batch, s = r.step;
    out.push_back(
        {4.0 * r.heads * kHd * b * s, (b * s * 2.0 * r.kv_heads * kHd + b * 2.0 * r.heads * kHd) * 2.0, r.seconds});
  }
  // DeepSeek-V3 MLA dimensions (the only MLA layout measured): latent 512 + rope 64, qk 192, v 128.
  for (const auto& r : p.context_mla()) {
    if (r.kv_dtype != "bfloat16") continue;
    const double b = r.batch, s = r.isl;
    out.push_back(
        {2.0 * r.heads * (192.0 + 128.0) * b * s * s / 2.0, b * s * (576.0 + r.heads * 320.0) * 2.0, r.seconds});
  }
  for (const auto& r : p.generation_mla()) {
    if (r.kv_dtype != "bfloat16") continue;
    const double b = r.batch, s = r.step;
    out.push_back({2.0 * r.heads * (2.0 * 512.0 + 64.0) * b * s, (b * s * 576.0 + b * r.heads * (576.0 + 512.0)) * 2.0,
                   r.seconds});
  }
  return out;
}

namespace {

// Bytes per weight and the peak the MoE kernel computes at, by aiconfigurator's moe_dtype.
std::pair<double, catalog::Dtype> moe_format(const std::string& dtype) {
  if (dtype == "bfloat16") return {2.0, catalog::Dtype::bf16};
  if (dtype == "fp8" || dtype == "fp8_block") return {1.0, catalog::Dtype::fp8};
  if (dtype == "w4a8_mxfp4_mxfp8") return {0.5, catalog::Dtype::fp8};
  if (dtype == "nvfp4") return {0.5, catalog::Dtype::fp4};
  return {0.5, catalog::Dtype::bf16};  // w4a16 formats: 4-bit weights dequantised to bf16
}

}  // namespace

std::vector<KernelSample> moe_samples(const std::vector<MoeRow>& rows, const catalog::Accelerator& accelerator) {
  std::vector<KernelSample> out;
  const double bf16 = accelerator.peak(catalog::Dtype::bf16).value();
  for (const auto& r : rows) {
    if (r.distribution != "balanced") continue;
    const auto [wb, compute] = moe_format(r.dtype);
    if (!accelerator.supports(compute)) continue;
    const double scale = bf16 / accelerator.peak(compute).value();
    // Per GPU: experts / ep local experts of inter / tp; tokens * topk / ep token-expert pairs (balanced).
    const double inter = r.inter / r.tp;
    const double pairs = r.tokens * r.topk / r.ep;
    const double local = r.experts / r.ep;
    const double touched = local * (1.0 - std::pow(1.0 - r.topk / r.experts, r.tokens));
    const double flops = 2.0 * pairs * 3.0 * r.hidden * inter;
    const double bytes = touched * 3.0 * r.hidden * inter * wb + pairs * (r.hidden + 2.0 * inter) * 2.0;
    out.push_back({flops * scale, bytes, r.seconds});
  }
  return out;
}

std::vector<KernelSample> all_reduce_samples(const Profile& p) {
  std::map<std::pair<double, double>, double> best;  // (gpus, bytes) -> fastest seconds
  for (const auto* rows : {&p.nccl(), &p.custom_all_reduce()})
    for (const auto& r : *rows) {
      if (r.op != "all_reduce" || r.gpus < 2) continue;
      auto [it, inserted] = best.try_emplace({r.gpus, r.bytes}, r.seconds);
      if (!inserted) it->second = std::min(it->second, r.seconds);
    }
  std::vector<KernelSample> out;
  for (const auto& [key, seconds] : best) {
    const auto [n, bytes] = key;
    out.push_back({0.0, 2.0 * (n - 1.0) / n * bytes, seconds});
  }
  return out;
}

FamilyCurves fit_family(const Profile& p, const catalog::Accelerator& a) {
  FamilyCurves f;
  const double bw = a.hbm_bandwidth.value();
  const double bf16 = a.peak(catalog::Dtype::bf16).value();
  if (auto s = gemm_samples(p.gemm(), "bfloat16"); !s.empty()) f.gemm_bf16 = fit_roofline(s, bf16, bw);
  if (auto s = gemm_samples(p.gemm(), "fp8_block"); !s.empty() && a.supports(catalog::Dtype::fp8))
    f.gemm_fp8 = fit_roofline(s, a.peak(catalog::Dtype::fp8).value(), bw);
  if (auto s = attention_samples(p); !s.empty()) f.attention = fit_roofline(s, bf16, bw);
  if (auto s = moe_samples(p.moe(), a); !s.empty()) f.moe = fit_roofline(s, bf16, bw);
  // A few dozen messages (3 group sizes x ~22 sizes): bins of 4.
  if (auto s = all_reduce_samples(p); !s.empty()) f.collective = fit_roofline(s, 1.0, a.scale_up_bandwidth.value(), 4);
  f.source = p.dir().string();
  return f;
}

}  // namespace tf::perf
