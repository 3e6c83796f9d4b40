#pragma once
// Roofline calibration per accelerator family: which measured kernels each family's curves are fitted on,
// how a measured kernel's work is counted (the same way perf_model.cpp counts it), and the fitted curves.

#include <string>
#include <vector>

#include "catalog/accelerator.hpp"
#include "perf/profile.hpp"
#include "perf/roofline_curve.hpp"

namespace tf::perf {

enum class Family { hopper, blackwell, ampere, ascend };

// By catalog name: h100/h200/h800/h20 are Hopper, b200/gb200 Blackwell, a100 Ampere, Huawei parts Ascend.
// Anything else is treated as Hopper (the family with the most measured data).
Family family_of(const catalog::Accelerator& accelerator);
std::string to_string(Family f);

// The curves of one family's roofline mode. `source` says what they were fitted on.
struct FamilyCurves {
  RooflineCurve gemm_bf16;   // dense GEMMs, bf16 weights and activations
  RooflineCurve gemm_fp8;    // fp8 weights (128x128 block scales, as DeepSeek/Qwen3 FP8 checkpoints ship)
  RooflineCurve attention;   // FMHA/MLA kernels, prefill and decode, bf16 peak
  RooflineCurve moe;         // fused MoE layers; flops counted at bf16-equivalent (scaled by bf16/dtype peak)
  RooflineCurve collective;  // all-reduce: "bytes" are the ring-equivalent 2(n-1)/n * message per link
  std::string source;
};

// The fitted defaults (roofline_defaults.cpp). Blackwell has measured MoE and NCCL only: its GEMM and
// attention curves are Hopper's. Ampere and Ascend have no measured kernels: Hopper's curves throughout.
const FamilyCurves& family_curves(Family f);

// Kernel work counted as perf_model.cpp counts it. Each filters its table to what the model uses:
// bf16 KV cache, head_dim 128, no sliding window; MoE balanced routing.
std::vector<KernelSample> gemm_samples(const std::vector<GemmRow>& rows, const std::string& dtype);
std::vector<KernelSample> attention_samples(const Profile& p);
// Peaks are the accelerator's, for scaling flops to bf16-equivalent.
std::vector<KernelSample> moe_samples(const std::vector<MoeRow>& rows, const catalog::Accelerator& accelerator);
// All-reduce with the faster of NCCL and the custom kernel at each (gpus, size); bytes ring-equivalent.
std::vector<KernelSample> all_reduce_samples(const Profile& p);

// Fits a family's curves on one accelerator's profile (its peaks and bandwidths). Curves without data in
// the profile are left empty (callers fill them from another family).
FamilyCurves fit_family(const Profile& p, const catalog::Accelerator& accelerator);

}  // namespace tf::perf
