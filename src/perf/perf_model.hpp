#pragma once
// The time of one batch iteration of one model instance (DESIGN.md §3, perf/). A roofline over the
// model's operators (GEMMs, attention, MoE experts, TP all-reduce) with efficiency factors, and the
// memory fit of weights and KV cache.
//
// The engine leaps over decode-only iterations in closed form (DESIGN.md §4), which relies on one
// property this class guarantees: for a decode-only batch of n sequences whose contexts sum to C,
//   iteration_time(batch) == decode_linear(n).base + decode_linear(n).per_context_token * C
// (up to floating-point rounding).

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/accelerator.hpp"
#include "catalog/llm.hpp"
#include "core/units.hpp"

namespace tf::perf {

struct InstanceShape {
  const catalog::Accelerator* accelerator = nullptr;
  const catalog::LlmArchitecture* model = nullptr;
  int tp = 1;  // tensor parallel degree
  int pp = 1;  // pipeline stages
  int ep = 1;  // expert parallel degree (MoE); experts spread over ep accelerators
  catalog::Dtype weight_dtype = catalog::Dtype::bf16;
  catalog::Dtype kv_dtype = catalog::Dtype::bf16;
  double memory_fraction = 0.9;  // share of HBM the serving engine may use (vLLM gpu_memory_utilization)
  // Per accelerator, held back from the KV cache for activations, communication buffers and CUDA graphs
  // (what vLLM's profiling run finds). 1 GiB is an estimate: an 8k-token forward pass of a 70B model at
  // TP8 peaks near 0.5 GB of activations, NCCL and graph pools take a few hundred MB more.
  Bytes activation_reserve{1024.0 * 1024.0 * 1024.0};

  // Accelerators one instance spans: tp * pp for dense models; max(tp, ep) * pp for MoE, since attention
  // is replicated in data-parallel groups across the expert-parallel accelerators.
  int accelerators() const;
};

// A chunk of prompt processed in this iteration: `tokens` new tokens after `context_before` tokens
// whose KV is already in cache.
struct PrefillChunk {
  int64_t tokens = 0;
  int64_t context_before = 0;
};

struct Batch {
  std::vector<PrefillChunk> prefills;
  int64_t decode_seqs = 0;         // sequences generating one token each
  int64_t decode_context_sum = 0;  // sum over decode sequences of the tokens each attends to
};

// Calibration constants of the roofline. Defaults are documented in the .cpp with their sources.
struct Efficiency {
  double compute = 0.0;        // achieved fraction of peak dense compute on large GEMMs
  double memory = 0.0;         // achieved fraction of peak HBM bandwidth on streaming reads
  double interconnect = 0.0;   // achieved fraction of scale-up bandwidth in collectives
  Seconds kernel_overhead;     // fixed cost per kernel launch / operator
  Seconds iteration_overhead;  // fixed cost per iteration (scheduler, sampling)
  // Attention kernels (FlashAttention/FMHA, MLA) reach a lower share of peak than GEMMs and have a
  // larger fixed cost (softmax pipeline start-up, split-KV reduction), so they get their own pair.
  double attention_compute = 0.0;  // achieved fraction of peak bf16 compute in attention kernels
  Seconds attention_overhead;      // fixed cost per attention kernel
};

struct MemoryFit {
  Bytes weights_per_accelerator;
  Bytes usable_per_accelerator;    // hbm * memory_fraction
  Bytes kv_budget_per_instance;    // what is left for KV cache across the instance (<= 0 means it does not fit)
  int64_t kv_capacity_tokens = 0;  // tokens of KV cache the instance can hold
  bool fits() const { return kv_capacity_tokens > 0; }
};

// One operator kind's share of an iteration, summed over layers (for reports and diagnosis).
struct OperatorTime {
  std::string name;  // "attention.qkv", "ffn.gate_up", "tp.all_reduce", ...
  Seconds time;
};

class PerfModel {
 public:
  // Throws std::invalid_argument when the shape is unusable (null pointers, degrees < 1, dtype not
  // supported by the accelerator); config validation reports these with a JSON path before this point.
  explicit PerfModel(InstanceShape shape);
  PerfModel(InstanceShape shape, Efficiency efficiency);

  // Default efficiencies for an accelerator (by vendor/family), with sources in the .cpp.
  static Efficiency default_efficiency(const catalog::Accelerator& accelerator);

  const InstanceShape& shape() const { return shape_; }
  const Efficiency& efficiency() const { return eff_; }

  Seconds iteration_time(const Batch& batch) const;

  struct DecodeLinear {
    Seconds base;               // time of a decode-only iteration of n sequences, independent of context
    Seconds per_context_token;  // added time per token of total context
  };
  DecodeLinear decode_linear(int64_t n) const;

  MemoryFit memory_fit() const;

  // iteration_time(batch) split by operator kind, in execution order; the times sum to iteration_time.
  std::vector<OperatorTime> breakdown(const Batch& batch) const;

 private:
  InstanceShape shape_;
  Efficiency eff_;
};

}  // namespace tf::perf
