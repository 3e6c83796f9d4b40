#pragma once
// One model instance as a pure state machine: continuous batching (vLLM-style) over a perf model, with
// closed-form decode leaping (DESIGN.md §4). The engine owns the clock: it calls on_arrival() and
// on_wake() and keeps exactly one timer per instance at the time they return.
//
// Batching: at every iteration boundary the running decodes are all scheduled (one token each), then
// partially prefilled prompts continue, then waiting requests are admitted in priority, then arrival
// order while the iteration's token budget (max_batched_tokens), the sequence limit (max_num_seqs) and
// the KV cache allow. Prompts larger than the remaining budget are prefilled in chunks. A request's first
// token appears at the end of the iteration that completes its prompt; each later iteration adds one.
//
// KV cache: a request reserves blocks for its prompt and its whole answer when admitted, so a running
// batch never outgrows memory (no preemption). Waiting requests queue first-come first-served: when the
// head does not fit, nobody behind it is admitted (vLLM's behaviour).
//
// Leaping: when an iteration boundary leaves only decoding sequences, the next change happens when the
// shortest remaining answer completes, k iterations later. Iteration i of such a run lasts
// alpha + beta * (C0 + i * n) (perf::PerfModel::decode_linear), so its end time has a closed form and
// the whole run is one timer. An arrival in the middle cuts the run at the end of the iteration in
// progress, exactly where stepping would admit it.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "perf/perf_model.hpp"
#include "serving/request_sink.hpp"

namespace tf::serving {

struct SchedulerParams {
  int64_t max_batched_tokens = 8192;
  int64_t max_num_seqs = 256;
  int64_t kv_block_tokens = 16;  // KV cache is allocated in blocks of this many tokens (vLLM's default)
};

struct SeqRequest {
  uint64_t id = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int priority = 0;  // higher first
};

// Busy time and energy of one instance, accumulated as iterations complete.
struct InstanceUsage {
  Seconds busy;          // time spent running iterations
  Seconds prefill_busy;  // of which iterations that carried prompt tokens
  int64_t iterations = 0;
  int64_t prefill_tokens = 0;
  int64_t decode_tokens = 0;  // output tokens produced (first tokens included)
};

class Instance {
 public:
  Instance(uint32_t id, const perf::PerfModel& perf, SchedulerParams params, int64_t kv_capacity_tokens, bool leap,
           RequestSink& sink);

  uint32_t id() const { return id_; }
  // True when a request of this size could ever be admitted (its KV reservation fits an empty cache).
  bool can_ever_fit(int64_t input_tokens, int64_t output_tokens) const;

  // A routed request arrives at `now`. Returns the time of the next wake-up the engine must arrange
  // (which may differ from the previous one), or nullopt when idle.
  std::optional<Seconds> on_arrival(const SeqRequest& request, Seconds now);
  // The engine's timer for this instance fired at `now` (the time last returned).
  std::optional<Seconds> on_wake(Seconds now);

  // Requests routed here and not finished (waiting + running).
  int64_t outstanding() const { return static_cast<int64_t>(running_.size()) + waiting_count_; }
  int64_t kv_used_tokens() const { return kv_used_; }
  int64_t kv_capacity_tokens() const { return kv_capacity_; }
  const InstanceUsage& usage() const { return usage_; }
  std::optional<Seconds> next_wake() const;

 private:
  struct Seq {
    SeqRequest req;
    int64_t prefilled = 0;  // prompt tokens whose KV is computed
    int64_t generated = 0;  // output tokens produced
    int64_t reserved = 0;   // KV tokens reserved
    double last_token = 0;  // time of the latest output token
    double max_gap = 0;
    int64_t chunk = 0;  // prompt tokens scheduled in the current iteration
    bool decoding() const { return prefilled == req.input_tokens; }
  };
  enum class Phase { idle, iteration, leap };

  int64_t reservation(const SeqRequest& r) const;
  // Composes and starts the next segment at `now`; returns its end, or nullopt when there is nothing to do.
  std::optional<Seconds> start_segment(double now);
  void finish_iteration(double now);
  void finish_leap(int64_t iterations);
  void retire_finished(double now);
  // End time of iteration i (0-based) of the current leap.
  double leap_end(int64_t i) const;

  uint32_t id_;
  const perf::PerfModel* perf_;
  SchedulerParams params_;
  int64_t kv_capacity_;
  bool leap_enabled_;
  RequestSink* sink_;

  std::vector<Seq> running_;
  std::map<int, std::deque<SeqRequest>, std::greater<>> waiting_;  // by priority, highest first; FIFO within
  int64_t waiting_count_ = 0;
  int64_t kv_used_ = 0;

  Phase phase_ = Phase::idle;
  double seg_start_ = 0;
  double seg_end_ = 0;
  bool seg_has_prefill_ = false;
  // Leap parameters: k iterations of n sequences, total context c0 at the start.
  int64_t leap_k_ = 0;
  int64_t leap_n_ = 0;
  double leap_c0_ = 0;
  double leap_alpha_ = 0;
  double leap_beta_ = 0;

  InstanceUsage usage_;
};

}  // namespace tf::serving
