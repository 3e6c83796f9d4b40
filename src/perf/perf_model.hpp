#pragma once
// The time of one batch iteration of one model instance (DESIGN.md §3, perf/), summed over the model's
// operators (GEMMs, attention, MoE experts, TP all-reduce, ...), and the memory fit of weights and KV cache.
//
// Each operator's time comes from one of two modes (docs/performance-model.md):
// - measured: interpolated in a table of measured kernel latencies for this accelerator (profile.hpp,
//   models/profiles/<accelerator>/), when one covers the operator's shapes;
// - roofline: otherwise, a roofline whose achieved fractions of peak compute and bandwidth are curves of
//   problem size fitted per accelerator family on measured kernels (calibration.hpp).
// A query outside a table's range is extrapolated by the roofline and the operator flagged (modes()).
//
// The engine leaps over decode-only iterations in closed form (DESIGN.md §4), which relies on one
// property this class guarantees: for a decode-only batch of n sequences whose contexts sum to C,
//   iteration_time(batch) == decode_linear(n).base + decode_linear(n).per_context_token * C
// (up to floating-point rounding).

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/accelerator.hpp"
#include "catalog/llm.hpp"
#include "core/units.hpp"
#include "perf/collectives.hpp"
#include "perf/serving_stack.hpp"

namespace tf::perf {

struct FamilyCurves;

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
  // The links the instance's accelerators span, from its placement on the topology; span->ranks must equal
  // accelerators(). Absent: CollectiveSpan::within_domains(*accelerator, accelerators()), i.e. one scale-up
  // domain up to its size, full domains on the catalog's scale-out figures beyond it. The TP all-reduce and
  // the expert-parallel all-to-all run over the span of their group (span->group(tp), group(max(tp, ep))):
  // inside one domain as before (measured tables, fitted curve); across domains priced by collectives.hpp.
  std::optional<CollectiveSpan> span;
  // The serving software's host time per iteration (serving_stack.hpp); its iteration_overhead replaces
  // the efficiency's. Absent: the efficiency's iteration_overhead alone, which for the default efficiencies
  // is the "modern" stack's figure, so that a shape without a stack and one with models/stacks/modern.json
  // time every batch identically.
  std::optional<ServingStack> stack;

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
  // Roofline mode with the accelerator family's fitted curves for every operator.
  explicit PerfModel(InstanceShape shape);
  // Measured mode where `profiles` (a directory with one folder of tables per accelerator, named as in
  // the catalog: models/profiles) has tables covering an operator, roofline elsewhere. Throws
  // tf::ConfigError for a malformed table.
  PerfModel(InstanceShape shape, const std::filesystem::path& profiles);
  // The plain roofline with these constant efficiencies for every operator (no curves, no tables).
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

  // How each operator kind this model runs is timed, in execution order: "measured", "roofline", or
  // "measured+extrapolated" once a query has fallen outside its table and was extrapolated by the
  // roofline (see the header comment). "iteration" (host overhead) is a constant, reported as "constant",
  // and so are the stack's "host.launch" and "host.sync", listed only when the stack charges them.
  std::vector<std::pair<std::string, std::string>> modes() const;

  struct Measured;  // the lookups built from the tables (perf_model.cpp)
  struct Dims;      // the operator shapes of the instance, derived once (perf_model.cpp)

 private:
  InstanceShape shape_;
  Efficiency eff_;
  bool curves_ = true;                        // false: the constant-efficiency roofline of eff_
  std::shared_ptr<const Measured> measured_;  // null: no tables
  std::shared_ptr<const Dims> dims_;
  CollectiveSpan span_;                                     // shape_.span, or the default
  std::shared_ptr<const CollectiveEfficiency> collective_;  // for groups that cross domains
  const FamilyCurves* family_ = nullptr;                    // the roofline curves of the accelerator's family
  ServingStack host_;  // shape_.stack, or the efficiency's iteration overhead with no eager or sync terms
  // Per operator kind: a query was extrapolated beyond its table (written from const methods; atomic so
  // that concurrent callers stay well-defined).
  std::shared_ptr<std::array<std::atomic<bool>, 24>> flagged_;
};

}  // namespace tf::perf
