#include "perf/perf_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include <map>
#include "perf/calibration.hpp"
#include "perf/measured.hpp"
#include "perf/profile.hpp"

namespace tf::perf {

// ---- default efficiencies and their sources --------------------------------------------------------------
//
// Calibration discipline: none of these constants is tuned against the validation data
// (profiling/splitwise_sim/perf_model.csv, the published end-to-end numbers in PUBLISHED.md). Each comes
// from a separate source named here.
namespace {

// Achieved fraction of dense peak on GEMMs. Fitted (least squares in log time) on aiconfigurator's measured
// H100 SXM bf16 GEMM table (TRT-LLM 1.3.0rc20, 35,700 shapes, m = 1..32768) with this file's roofline,
// memory efficiency 0.8 and 3 us per operator: the fit gives 0.74, and the model then reproduces the
// Llama-70B TP2/4/8 shapes of that table within about 10 %. tests/unit/perf/calibration_fit_test.cpp
// repeats the fit and fails if it drifts from this value. For comparison, large bf16 GEMMs alone reach
// 0.78 of peak in that table, DeepGEMM reports 1,550 of 1,979 FP8 TFLOPS on H800 (0.78) and FlashMLA
// 660 of 989 TFLOPS (0.67). Attention kernels have their own pair of constants below.
constexpr double kComputeEfficiencyNvidia = 0.74;
// Huawei CloudMatrix384 paper (arXiv 2506.12708), as quoted in PUBLISHED.md [secondary]: INT8 GEMMs reach
// 77.4-82.7 % of peak per 910C die. We take the low end.
constexpr double kComputeEfficiencyAscend = 0.77;

// aiconfigurator's systems/*.yaml: mem_bw_empirical_scaling_factor = 0.8 (PUBLISHED.md, "Empirical
// derating factors"). Matches the measured GEMV-like decode GEMMs in vidur's A100 table (0.81 of 2.039 TB/s
// for Llama-2-70B mlp_up_proj at one token) and CloudMatrix's MLA memory utilisation (84 %).
constexpr double kMemoryEfficiency = 0.8;

// Achieved fraction of per-direction scale-up bandwidth in collectives. Fitted on aiconfigurator's NCCL
// 2.29 all_reduce table for 2/4/8 H100 SXM (fp16, messages of 16M elements and more, where the latency
// term is small) with the ring model of ring_all_reduce(): 0.65 at 2 GPUs, 0.78 at 4, 1.03 at 8 (NVLink
// SHARP reduces in the switch), 0.79 over all three. See calibration_fit_test.cpp.
constexpr double kInterconnectEfficiency = 0.79;

// aiconfigurator: mem_empirical_constant_latency = 3 us, a fixed cost per memory operation. We charge it
// once per operator (kernel launch, tail effects).
constexpr Seconds kKernelOverhead{3e-6};

// Attention kernels, fitted on aiconfigurator's H100 SXM attention tables (TRT-LLM 1.3.0rc20, bf16):
// context_attention (GQA/MHA, head_dim 128), generation_attention, context_mla and generation_mla,
// 15,982 kernels. The achieved share of peak is fitted on the compute-bound kernels of 1e11 flops and more
// (2,311 of them: 0.44; the largest GQA prefills reach 0.48, MLA prefill 0.59, MLA decode 0.67 as in
// FlashMLA's README), the fixed cost on all of them with that share (18 us; the smallest kernels take
// 15-25 us). With the GEMM values (0.74, 3 us) the model was ~3x fast on the median attention kernel;
// with these, within ~30 %. See calibration_fit_test.cpp.
constexpr double kAttentionComputeEfficiency = 0.44;
constexpr Seconds kAttentionOverhead{18e-6};

// Per-iteration host work outside the kernels: scheduling, input preparation, sampling and output
// processing. vidur's measured cpu_overheads.csv (microsoft/vidur data/profiling/a100, sarathi-serve,
// Llama-2-70B TP4, batch 8): schedule 0.18 + sampler 1.18 + prepare inputs 0.37 + process outputs 0.79 ms
// (medians) = 2.5 ms. Ray's 3 ms per-step RPC is left out: current engines do not drive workers through
// Ray each step. It grows with batch size in that table (9 ms at batch 64); modern engines overlap much
// of it with the GPU, so a constant is a middle estimate. models/stacks/modern.json, the default serving
// stack, holds the same figure; stacks that pay more host time (eager launches) are in models/stacks/.
constexpr Seconds kIterationOverhead{2.5e-3};

}  // namespace

int InstanceShape::accelerators() const {
  const bool moe = model != nullptr && model->is_moe();
  return (moe ? std::max(tp, ep) : tp) * pp;
}

namespace {

CollectiveSpan resolved_span(const InstanceShape& s) {
  return s.span ? *s.span : CollectiveSpan::within_domains(*s.accelerator, s.accelerators());
}

// The collective model's constants for groups that cross domains, matching the roofline inside a domain:
// the family's fitted curve, or the constant efficiency with a hop latency per step.
std::shared_ptr<const CollectiveEfficiency> collective_efficiency(const catalog::Accelerator& a, const Efficiency& e,
                                                                  bool curves) {
  auto c = std::make_shared<CollectiveEfficiency>(CollectiveEfficiency::defaults(a));
  if (!curves) {
    c->scale_up = RooflineCurve{};
    c->scale_up.overhead_s = e.kernel_overhead.value();
    c->scale_up.memory.knots = {{0.0, e.interconnect}};
    c->scale_up_hops = true;
  }
  return c;
}

}  // namespace

Efficiency PerfModel::default_efficiency(const catalog::Accelerator& accelerator) {
  Efficiency e;
  e.compute = accelerator.vendor == "Huawei" ? kComputeEfficiencyAscend : kComputeEfficiencyNvidia;
  e.memory = kMemoryEfficiency;
  e.interconnect = kInterconnectEfficiency;
  e.kernel_overhead = kKernelOverhead;
  e.iteration_overhead = kIterationOverhead;
  e.attention_compute = kAttentionComputeEfficiency;
  e.attention_overhead = kAttentionOverhead;
  return e;
}

// ---- operators, shapes and modes -------------------------------------------------------------------------
namespace {

// Operator kinds, in execution order; names as breakdown() reports them.
enum Op : int {
  kEmbedding,
  kNorm,
  kQkv,
  kRopeCache,
  kAttnPrefill,
  kAttnDecode,
  kOut,
  kTpAllReduce,
  kFfnGateUp,
  kFfnAct,
  kFfnDown,
  kMoeRouter,
  kMoeSharedGateUp,
  kMoeSharedAct,
  kMoeSharedDown,
  kMoeExperts,
  kEpDispatch,
  kEpCombine,
  kLmHead,
  kPpSend,
  kHostLaunch,
  kHostSync,
  kIteration,
  kOpCount
};
constexpr const char* kOpName[kOpCount] = {"embedding",
                                           "norm",
                                           "attention.qkv",
                                           "attention.rope_cache",
                                           "attention.prefill",
                                           "attention.decode",
                                           "attention.out",
                                           "tp.all_reduce",
                                           "ffn.gate_up",
                                           "ffn.act",
                                           "ffn.down",
                                           "moe.router",
                                           "moe.shared_gate_up",
                                           "moe.shared_act",
                                           "moe.shared_down",
                                           "moe.experts",
                                           "ep.dispatch",
                                           "ep.combine",
                                           "lm_head",
                                           "pp.send",
                                           "host.launch",
                                           "host.sync",
                                           "iteration"};
static_assert(kOpCount <= 24, "PerfModel::flagged_ holds 24 flags");

// One GEMM: n output features, k input features (per accelerator).
struct GemmShape {
  double n = 0, k = 0;
};

// The GEMMs of one operator kind (MLA's input projection is four).
using GemmList = std::vector<GemmShape>;

constexpr double kActivationBytes = 2.0;  // bf16 activations and collectives between operators

}  // namespace

// Quantities of the instance the operator formulas need, per accelerator; derived from the shape only.
struct PerfModel::Dims {
  explicit Dims(const InstanceShape& s) : model(*s.model) {
    tp = s.tp;
    moe_group = model.is_moe() ? std::max(s.tp, s.ep) : s.tp;
    // MoE with more expert-parallel ranks than the TP degree runs attention data-parallel: moe_group / tp
    // groups, each holding its own sequences (DeepSeek's "MLA DP32, routed experts EP32").
    dp = double(moe_group) / tp;
    wb = catalog::dtype_bytes(s.weight_dtype);
    kvb = catalog::dtype_bytes(s.kv_dtype);
    const double h = model.hidden;
    heads = double(model.heads) / tp;
    if (model.mla) {
      // Weight-absorbed MLA: one latent (kv_lora_rank) plus the shared rope key per token, replicated on
      // every TP rank; queries are qk_nope + qk_rope wide per head, outputs v_head_dim. The down
      // projections (q_a, kv_a) are replicated on every TP rank, the up projections split by head.
      const double qk = model.qk_nope_head_dim + model.qk_rope_head_dim;
      if (model.q_lora_rank > 0) {
        qkv.push_back({double(model.q_lora_rank), h});
        qkv.push_back({heads * qk, double(model.q_lora_rank)});
      } else {
        qkv.push_back({heads * qk, h});
      }
      qkv.push_back({double(model.kv_lora_rank + model.qk_rope_head_dim), h});
      qkv.push_back({heads * (model.qk_nope_head_dim + model.v_head_dim), double(model.kv_lora_rank)});
      out.push_back({h, heads * model.v_head_dim});
      q_width = heads * qk;
      o_width = heads * model.v_head_dim;
      kv_width = model.kv_lora_rank + model.qk_rope_head_dim;
      decode_flops_per_context = 2.0 * heads * (2.0 * model.kv_lora_rank + model.qk_rope_head_dim);
    } else {
      // A KV head is replicated when tp exceeds the KV head count (Llama-70B at TP16).
      kv_heads = std::max(1.0, double(model.kv_heads) / tp);
      qkv.push_back({(heads + 2.0 * kv_heads) * model.head_dim, h});
      out.push_back({h, heads * model.head_dim});
      q_width = heads * model.head_dim;
      o_width = heads * model.head_dim;
      kv_width = 2.0 * kv_heads * model.head_dim;
      decode_flops_per_context = 4.0 * heads * model.head_dim;  // q.k and p.v, 2 flops per multiply-add
    }
    kv_token_bytes = kv_width * kvb;
    if (model.dense_layers() > 0) {
      const double inter = double(model.intermediate) / tp;
      gate_up.push_back({(model.gated_mlp ? 2.0 : 1.0) * inter, h});
      down.push_back({h, inter});
    }
    if (model.is_moe()) {
      router.push_back({double(model.routed_experts), h});
      if (model.shared_experts > 0) {
        const double inter = double(model.shared_experts) * model.moe_intermediate / tp;
        shared_gate_up.push_back({2.0 * inter, h});
        shared_down.push_back({h, inter});
      }
    }
    lm_head.push_back({double(model.vocab) / tp, h});
  }

  const GemmList& gemms(Op op) const {
    switch (op) {
      case kQkv:
        return qkv;
      case kOut:
        return out;
      case kFfnGateUp:
        return gate_up;
      case kFfnDown:
        return down;
      case kMoeRouter:
        return router;
      case kMoeSharedGateUp:
        return shared_gate_up;
      case kMoeSharedDown:
        return shared_down;
      default:
        return lm_head;
    }
  }

  const catalog::LlmArchitecture& model;
  int tp = 1;
  int moe_group = 1;                      // accelerators one MoE layer's routed experts are spread over
  double dp = 1.0;                        // data-parallel attention groups in the instance
  double wb = 2.0;                        // bytes per weight element
  double kvb = 2.0;                       // bytes per KV-cache element
  double heads = 0.0;                     // query heads per accelerator
  double kv_heads = 0.0;                  // GQA KV heads per accelerator (0 for MLA)
  double q_width = 0.0;                   // query elements per token per accelerator
  double o_width = 0.0;                   // attention output elements per token per accelerator
  double kv_width = 0.0;                  // KV-cache elements per token per layer per accelerator
  double kv_token_bytes = 0.0;            // KV-cache bytes per token per layer per accelerator
  double decode_flops_per_context = 0.0;  // decode attention flops per cached token per layer
  GemmList qkv, out, gate_up, down, router, shared_gate_up, shared_down, lm_head;
};

namespace {

// aiconfigurator's table dtype names.
const char* gemm_table_dtype(catalog::Dtype d) {
  switch (d) {
    case catalog::Dtype::bf16:
      return "bfloat16";
    case catalog::Dtype::fp8:
      return "fp8_block";  // 128x128 block scales, as FP8 checkpoints ship
    default:
      return nullptr;  // no measured int8/fp4 GEMMs
  }
}
const char* kv_table_dtype(catalog::Dtype d) {
  return d == catalog::Dtype::bf16 ? "bfloat16" : d == catalog::Dtype::fp8 ? "fp8" : nullptr;
}

}  // namespace

// The lookups built from an accelerator's tables for one instance shape. An empty lookup means the
// operator runs in roofline mode.
struct PerfModel::Measured {
  std::array<std::vector<MeasuredGemm>, kOpCount> gemm;  // parallel to Dims::gemms(op)
  MeasuredCurve prefill;                                 // attention seconds over causal pairs, one group
  MeasuredDecode decode;                                 // decode attention, one group
  MeasuredCurve moe;                                     // fused MoE layer seconds over tokens
  MeasuredCurve all_reduce;                              // seconds over bytes per accelerator, tp GPUs
  MeasuredCurve all_to_all;                              // seconds over bytes sent per accelerator
  std::array<bool, kOpCount> shape_outside{};            // a fixed shape (GEMM n or k) is outside the table
  bool has(int op) const {
    switch (op) {
      case kAttnPrefill:
        return !prefill.empty();
      case kAttnDecode:
        return !decode.empty();
      case kMoeExperts:
        return !moe.empty();
      case kTpAllReduce:
        return !all_reduce.empty();
      case kEpDispatch:
      case kEpCombine:
        return !all_to_all.empty();
      default:
        return !gemm[static_cast<size_t>(op)].empty();
    }
  }
};

namespace {

std::shared_ptr<const PerfModel::Measured> build_measured(const InstanceShape& s, const Profile& p) {
  auto m = std::make_shared<PerfModel::Measured>();
  const PerfModel::Dims d(s);
  const auto& model = *s.model;

  // GEMMs: every GEMM of an operator must be measurable for the operator to be.
  if (const char* dt = gemm_table_dtype(s.weight_dtype); dt != nullptr && !p.gemm_bf16().empty()) {
    for (int op : {kQkv, kOut, kFfnGateUp, kFfnDown, kMoeRouter, kMoeSharedGateUp, kMoeSharedDown, kLmHead}) {
      std::vector<MeasuredGemm> list;
      // The MoE router runs in bf16 whatever the weights.
      const GemmGrid& grid = op == kMoeRouter || std::string(dt) == "bfloat16" ? p.gemm_bf16() : p.gemm_fp8_block();
      for (const auto& g : d.gemms(static_cast<Op>(op))) {
        auto mg = measured_gemm(grid, g.n, g.k);
        if (mg.curve.empty()) {
          list.clear();
          break;
        }
        if (mg.n_table != g.n || mg.k_table != g.k) m->shape_outside[op] = true;
        list.push_back(std::move(mg));
      }
      m->gemm[op] = std::move(list);
    }
  }

  const char* kv = kv_table_dtype(s.kv_dtype);
  if (kv != nullptr) {
    std::vector<std::array<double, 3>> prefill, decode;
    if (model.mla) {
      // The measured MLA kernels are DeepSeek-V3's layout (Kimi-K2 shares it), per GPU head count.
      const bool layout = model.kv_lora_rank == 512 && model.qk_rope_head_dim == 64 && model.qk_nope_head_dim == 128 &&
                          model.v_head_dim == 128;
      if (layout) {
        for (const auto& r : p.context_mla())
          if (r.kv_dtype == kv && r.heads == d.heads) prefill.push_back({r.batch, r.isl, r.seconds});
        for (const auto& r : p.generation_mla())
          if (r.kv_dtype == kv && r.heads == d.heads) decode.push_back({r.batch, r.step, r.seconds});
      }
    } else {
      auto match = [&](const AttentionRow& r) {
        return r.kv_dtype == kv && r.window == 0.0 && r.heads == d.heads && r.kv_heads == d.kv_heads &&
               r.head_dim == model.head_dim;
      };
      for (const auto& r : p.context_attention())
        if (match(r)) prefill.push_back({r.batch, r.isl, r.seconds});
      for (const auto& r : p.generation_attention())
        if (match(r)) decode.push_back({r.batch, r.step, r.seconds});
    }
    m->prefill = measured_prefill(prefill);
    m->decode = measured_decode(decode);
  }

  if (model.is_moe() && !p.moe().empty()) {
    const char* dt = s.weight_dtype == catalog::Dtype::bf16  ? "bfloat16"
                     : s.weight_dtype == catalog::Dtype::fp8 ? "fp8_block"
                                                             : nullptr;
    if (dt != nullptr) {
      const double ep = s.ep > 1 ? std::min(s.ep, d.moe_group) : 1.0;
      const std::vector<std::pair<double, double>> splits = {
          {d.moe_group / ep, ep}, {1.0, double(d.moe_group)}, {double(d.moe_group), 1.0}};  // (tp, ep)
      for (const auto& [tp, e] : splits) {
        std::vector<std::pair<double, double>> points;
        for (const auto& r : p.moe())
          if (r.dtype == dt && r.distribution == "balanced" && r.hidden == model.hidden &&
              r.inter == model.moe_intermediate && r.topk == model.experts_per_token &&
              r.experts == model.routed_experts && r.tp == tp && r.ep == e)
            points.emplace_back(r.tokens, r.seconds);
        if (!points.empty()) {
          m->moe = MeasuredCurve(std::move(points));
          break;
        }
      }
    }
  }

  auto comm = [&](const std::vector<CommRow>& rows, const char* op, double gpus, std::map<double, double>& best) {
    for (const auto& r : rows)
      if (r.op == op && r.gpus == gpus) {
        auto [it, inserted] = best.try_emplace(r.bytes, r.seconds);
        if (!inserted) it->second = std::min(it->second, r.seconds);
      }
  };
  // The tables are measured inside one node: they time groups that stay inside one scale-up domain.
  const CollectiveSpan span = resolved_span(s);
  if (d.tp > 1 && span.group(d.tp).one_domain()) {
    // The serving engine uses the faster of NCCL and its custom all-reduce kernel at each size.
    std::map<double, double> best;
    comm(p.nccl(), "all_reduce", d.tp, best);
    comm(p.custom_all_reduce(), "all_reduce", d.tp, best);
    if (!best.empty()) m->all_reduce = MeasuredCurve({best.begin(), best.end()});
  }
  if (d.dp > 1.0 && span.group(d.moe_group).one_domain()) {
    std::map<double, double> best;
    comm(p.nccl(), "alltoall", d.moe_group, best);
    if (!best.empty()) m->all_to_all = MeasuredCurve({best.begin(), best.end()});
  }
  return m;
}

}  // namespace

PerfModel::PerfModel(InstanceShape shape)
    : PerfModel(shape, shape.accelerator != nullptr ? default_efficiency(*shape.accelerator) : Efficiency{}) {
  curves_ = true;
  collective_ = collective_efficiency(*shape_.accelerator, eff_, curves_);
}

PerfModel::PerfModel(InstanceShape shape, const std::filesystem::path& profiles) : PerfModel(shape) {
  if (profiles.empty()) return;
  const auto profile = Profile::load(profiles / shape_.accelerator->name);
  if (!profile->empty()) measured_ = build_measured(shape_, *profile);
}

PerfModel::PerfModel(InstanceShape shape, Efficiency efficiency)
    : shape_(shape), eff_(efficiency), curves_(false), flagged_(std::make_shared<std::array<std::atomic<bool>, 24>>()) {
  if (shape_.accelerator == nullptr) throw std::invalid_argument("perf model: no accelerator");
  if (shape_.model == nullptr) throw std::invalid_argument("perf model: no model");
  if (shape_.tp < 1 || shape_.pp < 1 || shape_.ep < 1)
    throw std::invalid_argument(
        fmt::format("perf model: tp, pp and ep must be >= 1, got tp={} pp={} ep={}", shape_.tp, shape_.pp, shape_.ep));
  if (shape_.pp > shape_.model->layers)
    throw std::invalid_argument(fmt::format("perf model: pp={} exceeds the {} layers of {}", shape_.pp,
                                            shape_.model->layers, shape_.model->name));
  if (!shape_.accelerator->supports(shape_.weight_dtype))
    throw std::invalid_argument(fmt::format("perf model: {} has no {} compute", shape_.accelerator->name,
                                            catalog::to_string(shape_.weight_dtype)));
  if (!(shape_.memory_fraction > 0.0 && shape_.memory_fraction <= 1.0))
    throw std::invalid_argument(
        fmt::format("perf model: memory_fraction must be in (0, 1], got {}", shape_.memory_fraction));
  if (!(eff_.compute > 0.0 && eff_.memory > 0.0 && eff_.interconnect > 0.0 && eff_.attention_compute > 0.0))
    throw std::invalid_argument("perf model: efficiencies must be > 0");
  if (const auto& sp = shape_.span) {
    if (sp->ranks != shape_.accelerators())
      throw std::invalid_argument(fmt::format("perf model: the span has {} ranks, the instance {} accelerators",
                                              sp->ranks, shape_.accelerators()));
    if (sp->ranks_per_domain < 1 || sp->ranks_per_domain > sp->ranks)
      throw std::invalid_argument(
          fmt::format("perf model: span ranks_per_domain must be in [1, {}], got {}", sp->ranks, sp->ranks_per_domain));
    if (!(sp->scale_up_bandwidth.value() > 0.0 && sp->scale_out_bandwidth.value() > 0.0) ||
        sp->scale_up_latency.value() < 0.0 || sp->scale_out_latency.value() < 0.0)
      throw std::invalid_argument("perf model: span bandwidths must be > 0 and latencies >= 0");
  }
  if (shape_.stack) {
    host_ = *shape_.stack;
    if (host_.iteration_overhead.value() < 0.0 || host_.layer_launch.value() < 0.0 ||
        host_.collective_sync_per_rank.value() < 0.0)
      throw std::invalid_argument(fmt::format("perf model: serving stack {} has a negative host time", host_.name));
  } else {
    host_.iteration_overhead = eff_.iteration_overhead;
  }
  dims_ = std::make_shared<const Dims>(shape_);
  family_ = &family_curves(family_of(*shape_.accelerator));
  span_ = resolved_span(shape_);
  collective_ = collective_efficiency(*shape_.accelerator, eff_, curves_);
}

// ---- the operator times ----------------------------------------------------------------------------------
namespace {

// Sums operator times, optionally keeping a per-kind ledger for breakdown().
class Ledger {
 public:
  explicit Ledger(std::vector<OperatorTime>* parts = nullptr) : parts_(parts) {}

  // Adds `count` executions of one operator kind (count = layers it runs in).
  void add(Op op, Seconds each, double count = 1.0) {
    const Seconds t = each * count;
    total_ += t;
    if (parts_ == nullptr) return;
    const std::string_view name = kOpName[op];
    auto it = std::find_if(parts_->begin(), parts_->end(), [&](const OperatorTime& p) { return p.name == name; });
    if (it == parts_->end())
      parts_->push_back({std::string(name), t});
    else
      it->time += t;
  }
  Seconds total() const { return total_; }

 private:
  std::vector<OperatorTime>* parts_;
  Seconds total_;
};

// Times one operator of the shape: measured where the model has a lookup, roofline otherwise.
class Layout {
 public:
  Layout(const InstanceShape& s, const Efficiency& e, const PerfModel::Dims& dims, const FamilyCurves& family,
         bool use_curves, const PerfModel::Measured* tables, std::array<std::atomic<bool>, 24>* flags,
         const CollectiveSpan& instance_span, const CollectiveEfficiency& collective_eff, const ServingStack& stack)
      : shape(s),
        eff(e),
        model(*s.model),
        acc(*s.accelerator),
        d(dims),
        fam(family),
        curves(use_curves),
        measured(tables),
        flagged(flags),
        span(instance_span),
        collective(collective_eff),
        host(stack) {
    peak_w = acc.peak(s.weight_dtype).value();
    // Attention kernels (FlashAttention, FlashMLA) compute in bf16 whatever the weight format.
    peak_bf16 = acc.supports(catalog::Dtype::bf16) ? acc.peak(catalog::Dtype::bf16).value() : peak_w;
    bw = acc.hbm_bandwidth.value();
    gemm_curve = s.weight_dtype == catalog::Dtype::bf16 ? &fam.gemm_bf16 : &fam.gemm_fp8;
  }

  bool has(Op op) const { return measured != nullptr && measured->has(op); }

  // measured(boundary) * roofline(x) / roofline(boundary) outside the table; flags the operator.
  template <class Roofline>
  double anchored(Op op, const MeasuredCurve& c, double x, const Roofline& roofline) const {
    if (c.covers(x)) return c.at(x);
    flag(op);
    const double xb = c.clamp(x);
    return c.at(xb) * roofline(x) / roofline(xb);
  }
  void flag(Op op) const {
    if (flagged != nullptr) (*flagged)[op].store(true, std::memory_order_relaxed);
  }

  // -- rooflines (seconds)
  double kernel(const RooflineCurve& c, double flops, double bytes, double peak) const {
    return c.time(flops, bytes, peak, bw);
  }
  double roofline_gemm(double m, const GemmShape& g, double peak, double wbytes, const RooflineCurve* c) const {
    const double flops = 2.0 * m * g.n * g.k;
    const double bytes = g.n * g.k * wbytes + m * (g.n + g.k) * kActivationBytes;
    if (!curves) return std::max(flops / (peak * eff.compute), bytes / (bw * eff.memory)) + eff.kernel_overhead.value();
    return kernel(*c, flops, bytes, peak);
  }
  double attention(double flops, double bytes) const {
    if (!curves)
      return std::max(flops / (peak_bf16 * eff.attention_compute), bytes / (bw * eff.memory)) +
             eff.attention_overhead.value();
    return kernel(fam.attention, flops, bytes, peak_bf16);
  }
  double elementwise(double bytes) const {
    if (!curves) return bytes / (bw * eff.memory) + eff.kernel_overhead.value();
    return kernel(fam.gemm_bf16, 0.0, bytes, peak_bf16);
  }

  // A GEMM operator (all its GEMMs) over m tokens.
  Seconds gemm(Op op, double m) const {
    const GemmList& list = d.gemms(op);
    const bool router = op == kMoeRouter;
    const double peak = router ? peak_bf16 : peak_w;
    const double wbytes = router ? kActivationBytes : d.wb;
    const RooflineCurve* c = router ? &fam.gemm_bf16 : gemm_curve;
    double t = 0.0;
    if (has(op)) {
      const auto& lookups = measured->gemm[op];
      if (measured->shape_outside[op]) flag(op);
      for (size_t i = 0; i < list.size(); ++i) {
        const MeasuredGemm& g = lookups[i];
        const GemmShape table{g.n_table, g.k_table};
        const double mb = g.curve.clamp(m);
        double v = g.curve.at(mb);
        if (mb != m || table.n != list[i].n || table.k != list[i].k) {
          flag(op);
          v *= roofline_gemm(m, list[i], peak, wbytes, c) / roofline_gemm(mb, table, peak, wbytes, c);
        }
        t += v;
      }
      return Seconds(t);
    }
    for (const auto& g : list)
      t += roofline_gemm(m, g, peak, wbytes, c);
    return Seconds(t);
  }

  // Collectives of a group of n accelerators of the instance, over the links of its span. Inside one
  // scale-up domain: the fitted collective curve (or the constant efficiency with a hop latency per step),
  // anchored on the measured tables where they exist. Across domains: collectives.hpp.
  //
  // Ring all-reduce of `bytes` held by each of n accelerators: 2(n-1)/n of the data crosses each link.
  double roofline_all_reduce(double bytes, int n) const {
    const CollectiveSpan g = span.group(n);
    if (!g.one_domain()) return perf::all_reduce(g, Bytes(bytes), collective).value();
    const double steps = 2.0 * (n - 1);
    const double link = g.scale_up_bandwidth.value();
    if (!curves)
      return steps / n * bytes / (link * eff.interconnect) + g.scale_up_latency.value() * steps +
             eff.kernel_overhead.value();
    return fam.collective.time(0.0, steps / n * bytes, 1.0, link);
  }
  Seconds all_reduce(double bytes, int n) const {
    if (n <= 1) return Seconds(0.0);
    if (has(kTpAllReduce))
      return Seconds(
          anchored(kTpAllReduce, measured->all_reduce, bytes, [&](double b) { return roofline_all_reduce(b, n); }));
    return Seconds(roofline_all_reduce(bytes, n));
  }
  // All-to-all where each accelerator sends `bytes` to the others of a group of n.
  double roofline_all_to_all(double bytes, int n) const {
    const CollectiveSpan g = span.group(n);
    if (!g.one_domain()) return perf::all_to_all(g, Bytes(bytes), collective).value();
    const double link = g.scale_up_bandwidth.value();
    if (!curves) return bytes / (link * eff.interconnect) + g.scale_up_latency.value() + eff.kernel_overhead.value();
    return fam.collective.time(0.0, bytes, 1.0, link);
  }
  Seconds all_to_all(Op op, double bytes, int n) const {
    if (has(op))
      return Seconds(anchored(op, measured->all_to_all, bytes, [&](double b) { return roofline_all_to_all(b, n); }));
    return Seconds(roofline_all_to_all(bytes, n));
  }
  // One activation hand-off between pipeline stages, inside a domain or across two.
  Seconds pp_send(double bytes, bool across_domains) const {
    if (across_domains) return perf::send(span, Bytes(bytes), collective);
    return Seconds(roofline_all_to_all(bytes, std::min(span.ranks, span.ranks_per_domain)));
  }

  const InstanceShape& shape;
  const Efficiency& eff;
  const catalog::LlmArchitecture& model;
  const catalog::Accelerator& acc;
  const PerfModel::Dims& d;
  const FamilyCurves& fam;
  const bool curves;
  const PerfModel::Measured* measured;
  std::array<std::atomic<bool>, 24>* flagged;
  double peak_w = 0, peak_bf16 = 0, bw = 0;
  const RooflineCurve* gemm_curve = nullptr;
  const CollectiveSpan& span;
  const CollectiveEfficiency& collective;
  const ServingStack& host;
};

// Attention over the prompt chunks of this iteration, one layer, per accelerator. Causal within a chunk:
// token i attends to context_before + i earlier tokens, context_before + tokens/2 on average.
Seconds prefill_attention(const Layout& l, const std::vector<PrefillChunk>& prefills) {
  const auto& m = l.model;
  const auto& d = l.d;
  double flops = 0.0, bytes = 0.0, pairs_total = 0.0, expand_flops = 0.0;
  for (const auto& c : prefills) {
    const double t = double(c.tokens);
    const double before = double(c.context_before);
    const double pairs = t * (before + t / 2.0);
    pairs_total += pairs;
    if (m.mla) {
      // Prefill runs MLA unabsorbed (MHA over expanded K and V): scores over qk_nope + qk_rope, values
      // over v_head_dim, and the cached latent of earlier chunks is expanded again through kv_b.
      flops += 2.0 * d.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim) * pairs;
      expand_flops += 2.0 * before * m.kv_lora_rank * d.heads * (m.qk_nope_head_dim + m.v_head_dim);
    } else {
      flops += 2.0 * 2.0 * d.heads * m.head_dim * pairs;
    }
    bytes += (before + t) * d.kv_token_bytes + t * (d.q_width + d.o_width) * kActivationBytes;
  }
  // Data-parallel attention groups share the chunks.
  const double dp = d.dp;
  if (l.has(kAttnPrefill)) {
    // The measured kernels have no cached prefix: a chunk's pairs stand for its work, and MLA's
    // re-expansion of the cached latent is added at the fitted compute rate.
    const double pairs = pairs_total / dp;
    const double per_pair = (flops / dp) / std::max(pairs, 1.0);
    const double bytes_per_pair = (bytes / dp) / std::max(pairs, 1.0);
    double t = l.anchored(kAttnPrefill, l.measured->prefill, pairs,
                          [&](double p) { return l.attention(per_pair * p, bytes_per_pair * p); });
    if (expand_flops > 0.0)
      t += (expand_flops / dp) /
           (l.peak_bf16 * (l.curves ? l.fam.attention.compute.at(expand_flops / dp) : l.eff.attention_compute));
    return Seconds(t);
  }
  return Seconds(l.attention((flops + expand_flops) / dp, bytes / dp));
}

// Decode attention for n sequences (whole instance), one layer, per accelerator: the part that does not
// depend on context, and the time per token of context summed over the instance. Both depend on n only,
// so a decode-only iteration is exactly linear in the context sum.
struct DecodeAttention {
  Seconds base;
  Seconds per_context;
};
DecodeAttention decode_attention(const Layout& l, double n) {
  const auto& d = l.d;
  const double group = n / d.dp;  // sequences per attention group
  if (l.has(kAttnDecode)) {
    const auto& md = l.measured->decode;
    double base = md.base.at(group);
    if (!md.base.covers(group)) {
      l.flag(kAttnDecode);
      // Beyond the measured batch sizes: the fixed part scales with the per-sequence traffic.
      const double gb = md.base.clamp(group);
      const auto fixed = [&](double g) { return l.attention(0.0, g * (d.q_width + d.o_width) * kActivationBytes); };
      base *= fixed(group) / fixed(gb);
    }
    return {Seconds(base), Seconds(md.per_token / d.dp)};
  }
  // Per sequence: read its query, write its output. Per token of context: the roofline of its flops and
  // KV bytes at the efficiency large attention kernels reach (the curves' last knots). A slope that fell
  // with the batch size would let one more sequence shorten a long-context iteration.
  const Seconds base(l.attention(0.0, group * (d.q_width + d.o_width) * kActivationBytes));
  double compute_eff = l.eff.attention_compute, memory_eff = l.eff.memory;
  if (l.curves) {
    compute_eff = l.fam.attention.compute.at(1e15);
    memory_eff = l.fam.attention.memory.at(1e15);
  }
  const double per =
      std::max(d.decode_flops_per_context / (l.peak_bf16 * compute_eff), d.kv_token_bytes / (l.bw * memory_eff));
  return {base, Seconds(per / d.dp)};
}

// The routed experts of one MoE layer for `tokens` tokens entering it (whole instance), per accelerator.
Seconds moe_experts(const Layout& l, double tokens) {
  const auto& m = l.model;
  const auto& d = l.d;
  const double experts = m.routed_experts;
  const double top_k = m.experts_per_token;
  const double h = m.hidden, mi = m.moe_intermediate;
  // Experts touched by `tokens` tokens choosing top_k of `experts` uniformly: each expert is missed by
  // all of them with probability (1 - k/E)^T. Their weights are streamed once; balanced routing spreads
  // the work evenly over moe_group.
  auto roofline = [&](double t) {
    const double touched = 1.0 - std::pow(1.0 - top_k / experts, t);
    const double weights_here = experts * 3.0 * h * mi / d.moe_group;  // gate, up, down
    const double pairs = t * top_k / d.moe_group;                      // token-expert pairs here
    const double flops = 2.0 * pairs * 3.0 * h * mi;
    const double bytes = touched * weights_here * d.wb + pairs * (h + 2.0 * mi) * kActivationBytes;
    if (!l.curves)
      return std::max(flops / (l.peak_w * l.eff.compute), bytes / (l.bw * l.eff.memory)) +
             2.0 * l.eff.kernel_overhead.value();
    return l.kernel(l.fam.moe, flops * l.peak_bf16 / l.peak_w, bytes, l.peak_bf16);
  };
  if (l.has(kMoeExperts)) return Seconds(l.anchored(kMoeExperts, l.measured->moe, tokens, roofline));
  return Seconds(roofline(tokens));
}

// Everything of one iteration except decode attention over cached context: depends on the token counts
// only. `tokens` are all new tokens (prefill chunks plus one per decode sequence), `outputs` those that
// produce logits, `decode_seqs` the decode sequences.
void fixed_part(const Layout& l, double tokens, double outputs, const std::vector<PrefillChunk>& prefills,
                double decode_seqs, Ledger& ledger) {
  const auto& m = l.model;
  const auto& d = l.d;
  const auto& s = l.shape;
  const double h = m.hidden;
  const double act = kActivationBytes;
  const double layers = m.layers;
  const double ta = tokens / d.dp;  // tokens one attention group processes

  ledger.add(kEmbedding, Seconds(l.elementwise(ta * h * act)));

  // -- attention block, every layer
  // Fused residual add + RMSNorm: reads the block input and the residual, writes both.
  ledger.add(kNorm, Seconds(l.elementwise(4.0 * ta * h * act)), 2.0 * layers);  // before attention and the FFN
  ledger.add(kQkv, l.gemm(kQkv, ta), layers);
  // RoPE on queries and keys, and the new tokens' K and V written into the cache.
  ledger.add(kRopeCache, Seconds(l.elementwise(ta * (2.0 * d.q_width * act + d.kv_token_bytes))), layers);
  if (!prefills.empty()) ledger.add(kAttnPrefill, prefill_attention(l, prefills), layers);
  if (decode_seqs > 0.0) ledger.add(kAttnDecode, decode_attention(l, decode_seqs).base, layers);
  ledger.add(kOut, l.gemm(kOut, ta), layers);
  if (d.tp > 1) ledger.add(kTpAllReduce, l.all_reduce(ta * h * act, d.tp), layers);

  // -- FFN of dense layers: SwiGLU gate/up, activation, down, then the TP all-reduce
  const double dense_layers = m.dense_layers();
  if (dense_layers > 0) {
    const double inter = double(m.intermediate) / d.tp;
    ledger.add(kFfnGateUp, l.gemm(kFfnGateUp, ta), dense_layers);
    ledger.add(kFfnAct, Seconds(l.elementwise(3.0 * ta * inter * act)), dense_layers);
    ledger.add(kFfnDown, l.gemm(kFfnDown, ta), dense_layers);
    if (d.tp > 1) ledger.add(kTpAllReduce, l.all_reduce(ta * h * act, d.tp), dense_layers);
  }

  // -- MoE layers: router, shared experts (replicated per attention group like attention), routed experts
  const double moe_layers = m.moe_layers();
  if (moe_layers > 0) {
    const double top_k = m.experts_per_token;
    ledger.add(kMoeRouter, l.gemm(kMoeRouter, ta), moe_layers);
    if (m.shared_experts > 0) {
      const double inter = double(m.shared_experts) * m.moe_intermediate / d.tp;
      ledger.add(kMoeSharedGateUp, l.gemm(kMoeSharedGateUp, ta), moe_layers);
      ledger.add(kMoeSharedAct, Seconds(l.elementwise(3.0 * ta * inter * act)), moe_layers);
      ledger.add(kMoeSharedDown, l.gemm(kMoeSharedDown, ta), moe_layers);
    }
    ledger.add(kMoeExperts, moe_experts(l, tokens), moe_layers);
    if (d.dp > 1.0) {
      // Expert parallel with data-parallel attention: dispatch each token to the ranks of its experts
      // (at most top_k of them) and combine the results back; (n-1)/n of it leaves the accelerator.
      const int n = d.moe_group;
      const double bytes = tokens / n * std::min(top_k, double(n)) * h * act * (n - 1.0) / n;
      ledger.add(kEpDispatch, l.all_to_all(kEpDispatch, bytes, n), moe_layers);
      ledger.add(kEpCombine, l.all_to_all(kEpCombine, bytes, n), moe_layers);
    } else if (d.tp > 1) {
      ledger.add(kTpAllReduce, l.all_reduce(ta * h * act, d.tp), moe_layers);
    }
  }

  // -- LM head (vocab-parallel over tp) on the tokens that produce output; final norm folded in.
  if (outputs > 0.0) ledger.add(kLmHead, l.gemm(kLmHead, outputs / d.dp));

  // -- pipeline: one batch without micro-batching passes the stages in turn, so the time is the sum over
  // all layers computed above plus pp-1 activation hand-offs.
  if (s.pp > 1) {
    // Stages are placed domain by domain: of the pp-1 hand-offs, domains-1 cross a domain boundary.
    const double across = std::min(s.pp - 1.0, l.span.domains() - 1.0);
    if (across < s.pp - 1.0) ledger.add(kPpSend, l.pp_send(ta * h * act, false), s.pp - 1.0 - across);
    if (across > 0.0) ledger.add(kPpSend, l.pp_send(ta * h * act, true), across);
  }

  // -- host time of the serving stack (serving_stack.hpp): each layer's kernels launched eagerly, and at
  // every collective call the wait for the slowest of its ranks' hosts. A stack with CUDA graphs charges
  // neither, and then neither is listed. Both depend on the shape only, so decode stays linear in context.
  if (l.host.layer_launch.value() > 0.0) ledger.add(kHostLaunch, l.host.layer_launch, layers);
  if (l.host.collective_sync_per_rank.value() > 0.0) {
    double waits = s.pp - 1.0;  // sum over the iteration's collective calls of (ranks - 1)
    if (d.tp > 1) {
      const double tp_all_reduces = layers + dense_layers + (d.dp > 1.0 ? 0.0 : moe_layers);
      waits += (d.tp - 1.0) * tp_all_reduces;
    }
    if (moe_layers > 0 && d.dp > 1.0) waits += 2.0 * moe_layers * (d.moe_group - 1.0);  // dispatch, combine
    if (waits > 0.0) ledger.add(kHostSync, l.host.collective_sync_per_rank, waits);
  }
  ledger.add(kIteration, l.host.iteration_overhead);
}

int64_t new_tokens(const Batch& b) {
  int64_t t = b.decode_seqs;
  for (const auto& c : b.prefills)
    t += c.tokens;
  return t;
}

// Chunks of zero tokens do no work; a batch with only those and decode sequences is decode-only.
std::vector<PrefillChunk> real_chunks(const Batch& b) {
  std::vector<PrefillChunk> chunks;
  for (const auto& c : b.prefills)
    if (c.tokens > 0) chunks.push_back(c);
  return chunks;
}

}  // namespace

PerfModel::DecodeLinear PerfModel::decode_linear(int64_t n) const {
  const Layout l(shape_, eff_, *dims_, *family_, curves_, measured_.get(), flagged_.get(), span_, *collective_, host_);
  const double layers = double(shape_.model->layers);
  if (n <= 0) return {Seconds(0.0), decode_attention(l, 1.0).per_context * layers};
  Ledger ledger;
  const double seqs = double(n);
  fixed_part(l, seqs, seqs, {}, seqs, ledger);
  return {ledger.total(), decode_attention(l, seqs).per_context * layers};
}

namespace {

// The general path, shared by iteration_time and breakdown. A prefill chunk's last token produces output
// (a chunk that is not its prompt's last overcounts one LM-head row; the weight stream dominates that
// operator anyway).
Seconds mixed_iteration(const Layout& l, const Batch& batch, const std::vector<PrefillChunk>& chunks, Ledger& ledger) {
  const double outputs = double(chunks.size()) + double(batch.decode_seqs);
  fixed_part(l, double(new_tokens(batch)), outputs, chunks, double(batch.decode_seqs), ledger);
  if (batch.decode_seqs > 0) {
    const Seconds per_context = decode_attention(l, double(batch.decode_seqs)).per_context * double(l.model.layers);
    ledger.add(kAttnDecode, per_context * double(batch.decode_context_sum));
  }
  return ledger.total();
}

}  // namespace

Seconds PerfModel::iteration_time(const Batch& batch) const {
  const std::vector<PrefillChunk> chunks = real_chunks(batch);
  if (chunks.empty()) {
    // Literally the closed form the engine leaps with.
    const DecodeLinear d = decode_linear(batch.decode_seqs);
    return d.base + d.per_context_token * double(batch.decode_context_sum);
  }
  const Layout l(shape_, eff_, *dims_, *family_, curves_, measured_.get(), flagged_.get(), span_, *collective_, host_);
  Ledger ledger;
  return mixed_iteration(l, batch, chunks, ledger);
}

std::vector<OperatorTime> PerfModel::breakdown(const Batch& batch) const {
  std::vector<OperatorTime> parts;
  if (new_tokens(batch) <= 0) return parts;
  const Layout l(shape_, eff_, *dims_, *family_, curves_, measured_.get(), flagged_.get(), span_, *collective_, host_);
  Ledger ledger(&parts);
  mixed_iteration(l, batch, real_chunks(batch), ledger);
  return parts;
}

std::vector<std::pair<std::string, std::string>> PerfModel::modes() const {
  const auto& m = *shape_.model;
  const Dims& d = *dims_;
  std::vector<std::pair<std::string, std::string>> out;
  for (int op = 0; op < kOpCount; ++op) {
    // Only the operators this shape runs.
    const bool runs = (op != kTpAllReduce || d.tp > 1) && (op < kFfnGateUp || op > kFfnDown || m.dense_layers() > 0) &&
                      (op < kMoeRouter || op > kEpCombine || m.is_moe()) &&
                      (op < kMoeSharedGateUp || op > kMoeSharedDown || m.shared_experts > 0) &&
                      (op != kEpDispatch && op != kEpCombine ? true : d.dp > 1.0) && (op != kPpSend || shape_.pp > 1) &&
                      (op != kHostLaunch || host_.layer_launch.value() > 0.0) &&
                      (op != kHostSync ||
                       (host_.collective_sync_per_rank.value() > 0.0 && (d.tp > 1 || d.dp > 1.0 || shape_.pp > 1)));
    if (!runs) continue;
    std::string mode;
    if (op == kIteration || op == kHostLaunch || op == kHostSync)
      mode = "constant";
    else if (measured_ != nullptr && measured_->has(op))
      mode = (*flagged_)[op].load(std::memory_order_relaxed) ? "measured+extrapolated" : "measured";
    else
      mode = curves_ ? "roofline" : "roofline-constant";
    out.emplace_back(kOpName[op], mode);
  }
  return out;
}

// ---- memory ----------------------------------------------------------------------------------------------

MemoryFit PerfModel::memory_fit() const {
  const auto& m = *shape_.model;
  const auto& a = *shape_.accelerator;
  const double tp = shape_.tp;
  const double pp = shape_.pp;
  const double moe_group = m.is_moe() ? std::max(shape_.tp, shape_.ep) : shape_.tp;

  // Routed experts spread over the MoE group; everything else (attention, norms, dense FFNs, routers,
  // shared experts, vocab-parallel embedding and head) is split over tp and replicated in each
  // data-parallel attention group. Layers split over pp stages; the embedding and head sit on the first
  // and last stage, counted here as spread evenly.
  const double routed = double(m.moe_layers()) * m.routed_experts * m.expert_params();
  const double rest = m.total_params() - routed;
  const double params_here = rest / (tp * pp) + routed / (moe_group * pp);

  MemoryFit fit;
  fit.weights_per_accelerator = Bytes(params_here * catalog::dtype_bytes(shape_.weight_dtype));
  fit.usable_per_accelerator = a.hbm_capacity * shape_.memory_fraction;
  const Bytes free_here = fit.usable_per_accelerator - fit.weights_per_accelerator - shape_.activation_reserve;
  fit.kv_budget_per_instance = free_here * double(shape_.accelerators());

  // A token's KV lives in its attention group; inside it, split over tp unless replicated: MLA's latent
  // is on every TP rank, and a GQA KV head on tp / kv_heads ranks when tp exceeds the KV head count.
  const double replication = m.mla ? tp : std::max(1.0, tp / m.kv_heads);
  const Bytes per_token = m.kv_bytes_per_token(shape_.kv_dtype) * replication;
  if (fit.kv_budget_per_instance > Bytes(0.0) && per_token > Bytes(0.0))
    fit.kv_capacity_tokens = static_cast<int64_t>(std::floor(fit.kv_budget_per_instance / per_token));
  return fit;
}

}  // namespace tf::perf
