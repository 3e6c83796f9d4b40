#include "perf/perf_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>

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
// of it with the GPU, so a constant is a middle estimate.
constexpr Seconds kIterationOverhead{2.5e-3};

constexpr double kActivationBytes = 2.0;  // bf16 activations and collectives between operators
constexpr double kLogitBytes = 4.0;       // fp32 logits out of the LM head

}  // namespace

int InstanceShape::accelerators() const {
  const bool moe = model != nullptr && model->is_moe();
  return (moe ? std::max(tp, ep) : tp) * pp;
}

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

PerfModel::PerfModel(InstanceShape shape)
    : PerfModel(shape, shape.accelerator != nullptr ? default_efficiency(*shape.accelerator) : Efficiency{}) {}

PerfModel::PerfModel(InstanceShape shape, Efficiency efficiency) : shape_(shape), eff_(efficiency) {
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
}

// ---- the roofline ----------------------------------------------------------------------------------------
namespace {

// Sums operator times, optionally keeping a per-kind ledger for breakdown().
class Ledger {
 public:
  explicit Ledger(std::vector<OperatorTime>* parts = nullptr) : parts_(parts) {}

  // Adds `count` executions of one operator kind (count = layers it runs in).
  void add(std::string_view name, Seconds each, double count = 1.0) {
    const Seconds t = each * count;
    total_ += t;
    if (parts_ == nullptr) return;
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

// Everything the operator formulas need, derived once per call from the shape. All per-accelerator
// quantities are what one accelerator of the instance holds or does; counts of tokens are per iteration.
class Layout {
 public:
  Layout(const InstanceShape& s, const Efficiency& e) : shape(s), eff(e), model(*s.model), acc(*s.accelerator) {
    tp = s.tp;
    moe_group = model.is_moe() ? std::max(s.tp, s.ep) : s.tp;
    // MoE with more expert-parallel ranks than the TP degree runs attention data-parallel: moe_group / tp
    // groups, each holding its own sequences (DeepSeek's "MLA DP32, routed experts EP32").
    dp = double(moe_group) / tp;
    wb = catalog::dtype_bytes(s.weight_dtype);
    kvb = catalog::dtype_bytes(s.kv_dtype);
    gemm_rate = acc.peak(s.weight_dtype) * e.compute;
    // Attention kernels (FlashAttention, FlashMLA) compute in bf16 whatever the weight format.
    attention_rate = (acc.supports(catalog::Dtype::bf16) ? acc.peak(catalog::Dtype::bf16) : acc.peak(s.weight_dtype)) *
                     e.attention_compute;
    memory_rate = acc.hbm_bandwidth * e.memory;

    const double h = model.hidden;
    heads = double(model.heads) / tp;
    if (model.mla) {
      // Weight-absorbed MLA: one latent (kv_lora_rank) plus the shared rope key per token, replicated on
      // every TP rank; queries are qk_nope + qk_rope wide per head, outputs v_head_dim.
      const double o_params = double(model.heads) * model.v_head_dim * h;
      in_proj_params = (model.attention_params_per_layer() - o_params) / tp;
      out_proj_params = o_params / tp;
      q_width = heads * (model.qk_nope_head_dim + model.qk_rope_head_dim);
      o_width = heads * model.v_head_dim;
      kv_width = model.kv_lora_rank + model.qk_rope_head_dim;
      kv_token_bytes = kv_width * kvb;
      decode_flops_per_context = 2.0 * heads * (2.0 * model.kv_lora_rank + model.qk_rope_head_dim);
    } else {
      // A KV head is replicated when tp exceeds the KV head count (Llama-70B at TP16).
      const double kv_heads = std::max(1.0, double(model.kv_heads) / tp);
      in_proj_params = h * (heads + 2.0 * kv_heads) * model.head_dim;
      out_proj_params = heads * model.head_dim * h;
      q_width = heads * model.head_dim;
      o_width = heads * model.head_dim;
      kv_width = 2.0 * kv_heads * model.head_dim;
      kv_token_bytes = kv_width * kvb;
      decode_flops_per_context = 4.0 * heads * model.head_dim;  // q.k and p.v, 2 flops per multiply-add
    }
  }

  // One operator: roofline of its compute and memory traffic, plus the fixed per-kernel cost.
  Seconds op(double flops, double bytes, FlopsPerSecond rate) const {
    return std::max(Flops(flops) / rate, Bytes(bytes) / memory_rate) + eff.kernel_overhead;
  }
  Seconds attention_op(double flops, double bytes) const {
    return std::max(Flops(flops) / attention_rate, Bytes(bytes) / memory_rate) + eff.attention_overhead;
  }
  Seconds gemm(double tokens, double params) const {
    // Weights once, input and output activations once (shapes tokens x k and tokens x n, k*n = params,
    // approximated by the hidden size on one side).
    const double width = params / model.hidden;
    return op(2.0 * tokens * params, params * wb + tokens * (model.hidden + width) * kActivationBytes, gemm_rate);
  }
  Seconds elementwise(double bytes) const { return Bytes(bytes) / memory_rate + eff.kernel_overhead; }

  // A collective group of n accelerators uses the scale-up fabric when it fits in one domain.
  BytesPerSecond link_rate(int n) const {
    return (n <= acc.scale_up_domain_size ? acc.scale_up_bandwidth : acc.scale_out_bandwidth) * eff.interconnect;
  }
  Seconds link_latency(int n) const {
    return n <= acc.scale_up_domain_size ? acc.scale_up_latency : acc.scale_out_latency;
  }

  // Ring all-reduce of `bytes` held by each of n accelerators: 2(n-1)/n of the data crosses each link,
  // in 2(n-1) latency-bound steps.
  Seconds ring_all_reduce(double bytes, int n) const {
    if (n <= 1) return Seconds(0.0);
    const double steps = 2.0 * (n - 1);
    return Bytes(steps / n * bytes) / link_rate(n) + link_latency(n) * steps + eff.kernel_overhead;
  }
  // All-to-all where each accelerator sends `bytes` to the others of a group of n.
  Seconds all_to_all(double bytes, int n) const {
    return Bytes(bytes) / link_rate(n) + link_latency(n) + eff.kernel_overhead;
  }

  const InstanceShape& shape;
  const Efficiency& eff;
  const catalog::LlmArchitecture& model;
  const catalog::Accelerator& acc;

  int tp = 1;
  int moe_group = 1;  // accelerators one MoE layer's routed experts are spread over
  double dp = 1.0;    // data-parallel attention groups in the instance
  double wb = 2.0;    // bytes per weight element
  double kvb = 2.0;   // bytes per KV-cache element
  FlopsPerSecond gemm_rate;
  FlopsPerSecond attention_rate;
  BytesPerSecond memory_rate;

  double heads = 0.0;                     // query heads per accelerator
  double in_proj_params = 0.0;            // QKV (MLA: q_a, q_b, kv_a, kv_b) weights per accelerator
  double out_proj_params = 0.0;           // output projection weights per accelerator
  double q_width = 0.0;                   // query elements per token per accelerator
  double o_width = 0.0;                   // attention output elements per token per accelerator
  double kv_width = 0.0;                  // KV-cache elements per token per layer per accelerator
  double kv_token_bytes = 0.0;            // KV-cache bytes per token per layer per accelerator
  double decode_flops_per_context = 0.0;  // decode attention flops per cached token per layer
};

// Attention over the prompt chunks of this iteration, one layer, per accelerator. Causal within a chunk:
// token i attends to context_before + i earlier tokens, context_before + tokens/2 on average.
Seconds prefill_attention(const Layout& l, const std::vector<PrefillChunk>& prefills) {
  const auto& m = l.model;
  double flops = 0.0;
  double bytes = 0.0;
  for (const auto& c : prefills) {
    const double t = double(c.tokens);
    const double before = double(c.context_before);
    const double pairs = t * (before + t / 2.0);
    if (m.mla) {
      // Prefill runs MLA unabsorbed (MHA over expanded K and V): scores over qk_nope + qk_rope, values
      // over v_head_dim, and the cached latent of earlier chunks is expanded again through kv_b.
      flops += 2.0 * l.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim) * pairs;
      flops += 2.0 * before * m.kv_lora_rank * l.heads * (m.qk_nope_head_dim + m.v_head_dim);
    } else {
      flops += 2.0 * 2.0 * l.heads * m.head_dim * pairs;
    }
    bytes += (before + t) * l.kv_token_bytes + t * (l.q_width + l.o_width) * kActivationBytes;
  }
  // Data-parallel attention groups share the chunks.
  return l.attention_op(flops / l.dp, bytes / l.dp);
}

// Decode attention per cached token of context, one layer, per accelerator (excluding the fixed part).
// A max of two terms both proportional to context, so the total is linear in the context sum.
Seconds decode_attention_per_context(const Layout& l) {
  return std::max(Flops(l.decode_flops_per_context) / l.attention_rate, Bytes(l.kv_token_bytes) / l.memory_rate) / l.dp;
}

// Everything of one iteration except decode attention over cached context: depends on the token counts
// only. `tokens` are all new tokens (prefill chunks plus one per decode sequence), `outputs` those that
// produce logits, `decode_seqs` the decode sequences.
void fixed_part(const Layout& l, double tokens, double outputs, const std::vector<PrefillChunk>& prefills,
                double decode_seqs, Ledger& ledger) {
  const auto& m = l.model;
  const auto& s = l.shape;
  const double h = m.hidden;
  const double act = kActivationBytes;
  const double layers = m.layers;
  const double ta = tokens / l.dp;  // tokens one attention group processes

  ledger.add("embedding", l.elementwise(ta * h * act));

  // -- attention block, every layer
  // Fused residual add + RMSNorm: reads the block input and the residual, writes both.
  ledger.add("norm", l.elementwise(4.0 * ta * h * act), 2.0 * layers);  // before attention and before the FFN
  ledger.add("attention.qkv", l.gemm(ta, l.in_proj_params), layers);
  // RoPE on queries and keys, and the new tokens' K and V written into the cache.
  ledger.add("attention.rope_cache", l.elementwise(ta * (2.0 * l.q_width * act + l.kv_token_bytes)), layers);
  if (!prefills.empty()) ledger.add("attention.prefill", prefill_attention(l, prefills), layers);
  if (decode_seqs > 0.0) {
    // Per sequence: read its query, write its output; the context part is added separately.
    const double bytes = decode_seqs / l.dp * (l.q_width + l.o_width) * act;
    ledger.add("attention.decode", l.attention_op(0.0, bytes), layers);
  }
  ledger.add("attention.out", l.gemm(ta, l.out_proj_params), layers);
  if (l.tp > 1) ledger.add("tp.all_reduce", l.ring_all_reduce(ta * h * act, l.tp), layers);

  // -- FFN of dense layers: SwiGLU gate/up, activation, down, then the TP all-reduce
  const double dense_layers = m.dense_layers();
  if (dense_layers > 0) {
    const double inter = double(m.intermediate) / l.tp;
    ledger.add("ffn.gate_up", l.gemm(ta, 2.0 * h * inter), dense_layers);
    ledger.add("ffn.act", l.elementwise(3.0 * ta * inter * act), dense_layers);
    ledger.add("ffn.down", l.gemm(ta, inter * h), dense_layers);
    if (l.tp > 1) ledger.add("tp.all_reduce", l.ring_all_reduce(ta * h * act, l.tp), dense_layers);
  }

  // -- MoE layers: router, shared experts (replicated per attention group like attention), routed experts
  const double moe_layers = m.moe_layers();
  if (moe_layers > 0) {
    const double experts = m.routed_experts;
    const double top_k = m.experts_per_token;
    const double router_params = experts * h;
    ledger.add("moe.router", l.op(2.0 * ta * router_params, router_params * act + ta * h * act, l.gemm_rate),
               moe_layers);
    if (m.shared_experts > 0) {
      const double inter = double(m.shared_experts) * m.moe_intermediate / l.tp;
      ledger.add("moe.shared_gate_up", l.gemm(ta, 2.0 * h * inter), moe_layers);
      ledger.add("moe.shared_act", l.elementwise(3.0 * ta * inter * act), moe_layers);
      ledger.add("moe.shared_down", l.gemm(ta, inter * h), moe_layers);
    }
    // Experts touched by `tokens` tokens choosing top_k of `experts` uniformly: each expert is missed by
    // all of them with probability (1 - k/E)^T. Bounded by min(E, T*k); equal to it for one token.
    // Their weights are streamed once; balanced routing spreads the work evenly over moe_group.
    const double touched = 1.0 - std::pow(1.0 - top_k / experts, tokens);
    const double expert_params = m.expert_params() / 3.0;               // one of the three SwiGLU matrices
    const double weights_here = experts * expert_params / l.moe_group;  // per matrix, per accelerator
    const double routed_tokens = tokens * top_k / l.moe_group;          // token-expert pairs per accelerator
    const double mi = m.moe_intermediate;
    ledger.add("moe.experts_gate_up",
               l.op(2.0 * routed_tokens * 2.0 * expert_params,
                    2.0 * touched * weights_here * l.wb + routed_tokens * (h + 2.0 * mi) * act, l.gemm_rate),
               moe_layers);
    ledger.add("moe.experts_down",
               l.op(2.0 * routed_tokens * expert_params, touched * weights_here * l.wb + routed_tokens * (mi + h) * act,
                    l.gemm_rate),
               moe_layers);
    if (l.dp > 1.0) {
      // Expert parallel with data-parallel attention: dispatch each token to the ranks of its experts
      // (at most top_k of them) and combine the results back; (n-1)/n of it leaves the accelerator.
      const int n = l.moe_group;
      const double bytes = tokens / n * std::min(top_k, double(n)) * h * act * (n - 1.0) / n;
      ledger.add("ep.dispatch", l.all_to_all(bytes, n), moe_layers);
      ledger.add("ep.combine", l.all_to_all(bytes, n), moe_layers);
    } else if (l.tp > 1) {
      ledger.add("tp.all_reduce", l.ring_all_reduce(ta * h * act, l.tp), moe_layers);
    }
  }

  // -- LM head (vocab-parallel over tp) on the tokens that produce output; final norm folded in.
  if (outputs > 0.0) {
    const double o = outputs / l.dp;
    const double vocab = double(m.vocab) / l.tp;
    ledger.add("lm_head",
               l.op(2.0 * o * h * vocab, h * vocab * l.wb + o * (h * act + vocab * kLogitBytes), l.gemm_rate));
  }

  // -- pipeline: one batch without micro-batching passes the stages in turn, so the time is the sum over
  // all layers computed above plus pp-1 activation hand-offs.
  if (s.pp > 1) {
    const int n = s.accelerators();
    const Seconds send = Bytes(ta * h * act) / l.link_rate(n) + l.link_latency(n) + l.eff.kernel_overhead;
    ledger.add("pp.send", send, s.pp - 1.0);
  }

  ledger.add("iteration", l.eff.iteration_overhead);
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
  const Layout l(shape_, eff_);
  const Seconds per_context = decode_attention_per_context(l) * double(shape_.model->layers);
  if (n <= 0) return {Seconds(0.0), per_context};
  Ledger ledger;
  const double seqs = double(n);
  fixed_part(l, seqs, seqs, {}, seqs, ledger);
  return {ledger.total(), per_context};
}

namespace {

// The general path, shared by iteration_time and breakdown. A prefill chunk's last token produces output
// (a chunk that is not its prompt's last overcounts one LM-head row; the weight stream dominates that
// operator anyway).
Seconds mixed_iteration(const Layout& l, const Batch& batch, const std::vector<PrefillChunk>& chunks, Ledger& ledger) {
  const double outputs = double(chunks.size()) + double(batch.decode_seqs);
  fixed_part(l, double(new_tokens(batch)), outputs, chunks, double(batch.decode_seqs), ledger);
  if (batch.decode_seqs > 0) {
    const Seconds per_context = decode_attention_per_context(l) * double(l.model.layers);
    ledger.add("attention.decode_context", per_context * double(batch.decode_context_sum));
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
  const Layout l(shape_, eff_);
  Ledger ledger;
  return mixed_iteration(l, batch, chunks, ledger);
}

std::vector<OperatorTime> PerfModel::breakdown(const Batch& batch) const {
  std::vector<OperatorTime> parts;
  if (new_tokens(batch) <= 0) return parts;
  const Layout l(shape_, eff_);
  Ledger ledger(&parts);
  mixed_iteration(l, batch, real_chunks(batch), ledger);
  return parts;
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
