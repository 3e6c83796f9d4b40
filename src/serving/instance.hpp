#pragma once
// One model instance as a pure state machine over a perf model (no SimGrid). The engine owns the clock: it
// calls on_arrival(), on_handoff(), on_released() and on_wake(), and keeps exactly one timer per instance at
// the time they return.
//
// Roles. A colocated instance prefills and decodes. A prefill instance only prefills: a sequence whose prompt
// is done is handed off (take_handoffs()) and keeps its KV blocks until the engine reports the transfer done
// (on_released()). A decode instance receives handed-off sequences whose KV has arrived, and decodes them.
//
// Batching policies (SchedulerParams::policy), at every iteration boundary:
//  - continuous (vLLM v0): if prompts are waiting and can be admitted, run a prefill-only iteration of as many
//    prompts as fit the token budget (decodes pause); otherwise decode every running sequence.
//  - chunked (Sarathi-Serve): every running decode takes one token of the budget; prompts in progress, then
//    newly admitted prompts, fill the rest in chunks of at most chunk_size tokens.
// Waiting requests are admitted in priority, then arrival order while the budget, max_num_seqs and the KV
// cache allow; when the head does not fit, nobody behind it is admitted (vLLM's behaviour).
//
// KV cache: blocks of kv_block_tokens. Admission allocates the blocks of the prompt (plus one token); each
// decode iteration grows a sequence by one token, taking a new block when it crosses a block boundary. When
// the running sequences need more blocks than are free, the lowest-priority, most recently admitted sequence
// is preempted: `recompute` frees its blocks and requeues it to prefill its prompt and the tokens generated so
// far again; `swap` copies its blocks to host memory (the copy stalls the instance for bytes / swap
// bandwidth) and swaps them back, at the same cost, before new requests are admitted.
//
// Prefix cache (optional): a prompt whose leading 512-token blocks are cached skips computing them (at least
// one token is always computed). Blocks from a tier other than local HBM are copied in at that tier's
// bandwidth; the copy overlaps the iteration layer by layer, so the iteration lasts the longer of its compute
// and its copies. A prompt's blocks enter the cache when its prefill completes. When the copies are network
// flows (PrefixCacheUse::fetch_flows: a cluster-scope cache on a clos or rail fabric), the engine moves them
// instead: an admitted prompt with cached blocks asks the sink to fetch() them and waits, holding its KV blocks
// and a batch slot but not scheduled, until the engine calls on_fetched(); it then joins the batch at the next
// iteration boundary, as an arrival would.
//
// Leaping: when an iteration boundary leaves only decoding sequences, the next change happens when the
// shortest remaining answer completes or the KV cache runs out, k iterations later. Iteration i of such a run
// lasts alpha + beta * (C0 + i * n) (perf::PerfModel::decode_linear), so its end time has a closed form and
// the whole run is one timer. An arrival (or a prefix fetch's completion) in the middle cuts the run at the end of
// the iteration in progress, exactly where stepping one iteration at a time would admit it.
//
// Latency budget: each sequence keeps the time it waited (for admission, or preempted until rescheduled) and the
// collective time of the iterations it sat through, and reports them per phase to the sink (prefill_phases()
// when its prompt is done, decode_phases() when it finishes). Iterations' collective times come from a
// PerfMemo (below); a decode leap of k iterations of n sequences adds k times one iteration's.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "perf/perf_model.hpp"
#include "serving/prefix_cache.hpp"
#include "serving/request_sink.hpp"

namespace tf::serving {

enum class Role { colocated, prefill, decode };
enum class BatchPolicy { continuous, chunked };
enum class Preemption { recompute, swap };

struct SchedulerParams {
  BatchPolicy policy = BatchPolicy::continuous;
  int64_t max_batched_tokens = 8192;
  int64_t max_num_seqs = 256;
  int64_t chunk_size = 0;        // chunked: prompt tokens per sequence per iteration (0: the whole budget)
  int64_t kv_block_tokens = 16;  // KV cache is allocated in blocks of this many tokens (vLLM's default)
  Preemption preemption = Preemption::recompute;
  BytesPerSecond swap_bandwidth = BytesPerSecond(32e9);  // instance to host memory, for swap preemption
};

struct PrefixCacheUse {
  PrefixCache* cache = nullptr;  // shared by several instances when its scope is the cluster
  bool remote = false;           // every tier is reached over the scale-out fabric
  BytesPerSecond network;        // the instance's scale-out bandwidth, for remote tiers
  Bytes block_bytes;             // KV bytes of one 512-token block
  bool fetch_flows = false;      // remote copies are the engine's flows (RequestSink::fetch), not priced here
};

// What the instances of one perf model ask it again and again, each answer computed once. The values depend on
// nothing but the perf model, so a leaping and a stepping run get the same ones, and the instances of one pool
// may share one memo.
//
// collectives(tokens): the collective time (s) of one iteration by the new tokens it computes: the sum of the
// perf model's breakdown() operators "tp.*", "ep.*" and "pp.*". Collectives move the new tokens' activations,
// so nothing else about the batch changes that time (a test holds the perf model to it). breakdown() costs as
// much as two iteration times, so the memo asks it only at token counts 0..64 and then 8 per doubling (69, 76,
// 82, ...), each once, as they are first needed, and interpolates linearly in between: within 1 % of the perf
// model's (a test checks).
//
// decode_linear(n): the perf model's decode_linear(n), exactly; asked at the start of every decode leap.
class PerfMemo {
 public:
  explicit PerfMemo(const perf::PerfModel& perf);
  const perf::PerfModel& perf() const { return *perf_; }
  double collectives(int64_t tokens);
  const perf::PerfModel::DecodeLinear& decode_linear(int64_t n);

 private:
  double point(size_t i);  // the perf model's collective time at grid point i

  const perf::PerfModel* perf_;
  bool any_;                  // the shape runs collectives at all (tp, pp or ep above 1)
  std::vector<double> grid_;  // by grid point; negative: not computed yet
  std::vector<std::optional<perf::PerfModel::DecodeLinear>> decode_;  // by n
};

struct SeqRequest {
  uint64_t id = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int priority = 0;                                      // higher first
  const std::vector<uint64_t>* prefix_blocks = nullptr;  // 512-token block hashes; owned by the engine
};

// What one instance did, accumulated as iterations complete.
struct InstanceUsage {
  Seconds busy;          // time spent running iterations
  Seconds prefill_busy;  // of which iterations that carried prompt tokens
  int64_t iterations = 0;
  int64_t prefill_tokens = 0;  // prompt tokens computed
  int64_t decode_tokens = 0;   // output tokens produced here
  int64_t preemptions = 0;
  Bytes swapped;                           // KV bytes copied to and from host memory
  int64_t cached_tokens = 0;               // prompt tokens taken from the prefix cache instead of computed
  int64_t prefix_lookup_blocks = 0;        // prompt blocks looked up in the prefix cache
  std::vector<int64_t> prefix_hit_blocks;  // of which found, per tier
};

class Instance {
 public:
  // `collectives`: a grid over `perf` shared with other instances (it must outlive them); without one the
  // instance keeps its own.
  Instance(uint32_t id, Role role, const perf::PerfModel& perf, SchedulerParams params, int64_t kv_capacity_tokens,
           bool leap, RequestSink& sink, PrefixCacheUse cache = {}, PerfMemo* memo = nullptr);

  uint32_t id() const { return id_; }
  Role role() const { return role_; }
  // True when a request of this size could ever be served here: its prompt (and, off a prefill instance, its
  // whole answer) fits an empty KV cache.
  bool can_ever_fit(int64_t input_tokens, int64_t output_tokens) const;

  // A routed request arrives at `now` (colocated and prefill instances). Returns the time of the next wake-up
  // the engine must arrange (which may differ from the previous one), or nullopt when idle.
  std::optional<Seconds> on_arrival(const SeqRequest& request, Seconds now);
  // A handed-off sequence whose prompt KV has arrived (decode instances). Its first token is produced now.
  std::optional<Seconds> on_handoff(const SeqRequest& request, Seconds now);
  // The KV of handed-off request `id` has left this prefill instance: its blocks are free.
  std::optional<Seconds> on_released(uint64_t id, Seconds now);
  // The prefix blocks request `id` asked the sink to fetch() have arrived: it can be scheduled.
  std::optional<Seconds> on_fetched(uint64_t id, Seconds now);
  // The engine's timer for this instance fired at `now` (the time last returned).
  std::optional<Seconds> on_wake(Seconds now);

  struct Handoff {
    SeqRequest request;
    int64_t kv_tokens = 0;  // prompt tokens whose KV must move to a decode instance
  };
  // Sequences whose prefill finished since the last call (prefill instances).
  std::vector<Handoff> take_handoffs();

  // Requests routed here and not finished or handed off (waiting + running, and fetching their prefix).
  int64_t outstanding() const { return batch_seqs() + waiting_count_; }
  int64_t waiting() const { return waiting_count_; }  // of which not admitted into a batch yet (timeseries)
  int64_t kv_capacity_tokens() const { return kv_capacity_blocks_ * params_.kv_block_tokens; }
  int64_t kv_used_tokens() const { return kv_used_blocks_ * params_.kv_block_tokens; }
  // Used / capacity at `now`, counting waiting prompts' needs. Mid-leap it counts the blocks the iterations started
  // by `now` hold, as stepping would have allocated them, so routers see the same load leaping or stepping.
  double kv_load(Seconds now) const;
  // Prompt tokens still to compute here (waiting and in progress).
  int64_t queued_prefill_tokens() const { return queued_prefill_tokens_; }
  // Cached leading blocks of a prompt, in blocks (0 without a prefix cache).
  int64_t cached_prefix_blocks(const std::vector<uint64_t>* blocks) const;
  // Predicted time from `now` to the end of a new request's prefill here: the iteration in progress, the
  // queued prompt work, and its own uncached prompt.
  Seconds predicted_prefill_done(int64_t input_tokens, const std::vector<uint64_t>* blocks, Seconds now) const;

  const InstanceUsage& usage() const { return usage_; }
  // Busy time so far, counting the part of the segment in progress that lies before `now`.
  Seconds busy_time_at(Seconds now) const;
  std::optional<Seconds> next_wake() const;

 private:
  struct Seq {
    SeqRequest req;
    int64_t target = 0;     // tokens whose KV must be computed before decoding (the prompt, plus the tokens
                            // generated before a recompute preemption)
    int64_t prefilled = 0;  // of which in the KV cache
    int64_t generated = 0;  // output tokens produced
    int64_t blocks = 0;     // KV blocks held
    int64_t order = 0;      // admission order, for choosing preemption victims
    double last_token = 0;  // time of the latest output token
    double max_gap = 0;
    std::vector<double> top_gaps;  // min-heap of the longest gaps, Mooncake TBT
    double load_time = 0;          // prefix-cache copy still to do before its first chunk
    double fetch_start = 0;        // when its prefix fetch began (fetch_flows)
    int64_t chunk = 0;             // prompt tokens scheduled in the current iteration
    bool decode_now = false;       // produces a token in the current iteration
    bool looked_up = false;        // the prefix cache was consulted for this prompt
    int64_t swapped_blocks = 0;    // blocks held in host memory while swapped out
    // Latency budget of the phase in progress (prefill: from the arrival here; decode: from the first token).
    double phase_start = 0;
    double waiting_since = -1;  // when it began waiting for (re)admission; negative while admitted
    double queued = 0;          // time waited so far in this phase
    double collectives = 0;     // collective time of the iterations it sat through in this phase
    double fetched = 0;         // time spent fetching its prefix in this phase: the sink counts it as KV transfer
    bool decoding() const { return prefilled == target; }
    int64_t context() const { return req.input_tokens + generated; }
  };
  enum class Phase { idle, iteration, leap };

  int64_t blocks_for(int64_t tokens) const;
  size_t tbt_slots(const Seq& s) const;
  void record_gap(Seq& s, double gap) const;
  void enqueue(const SeqRequest& r, double now);
  void requeue_front(Seq s);
  // Returns false when the sequence went to fetch its prefix instead of joining the batch.
  bool admit(Seq s, int64_t blocks, double now);
  // Sequences that hold batch slots: running, fetching their prefix, or fetched and waiting for a boundary.
  int64_t batch_seqs() const { return static_cast<int64_t>(running_.size() + fetching_.size() + fetched_.size()); }
  Bytes kv_bytes(int64_t blocks) const;
  // A new sequence arrived at `now`: start if idle, or cut a leap at the iteration in progress.
  std::optional<Seconds> interrupt(double now);
  // Preempts sequences (at `now`) until every decoding sequence can grow by one token, and allocates that token.
  void make_room_for_decodes(double now);
  void preempt(size_t index, double now);
  void try_swap_in();
  std::optional<Seconds> start_segment(double now);
  void finish_iteration(double now);
  void finish_leap(int64_t iterations);
  void retire(double now);
  // End time of iteration i (0-based) of the current leap.
  double leap_end(int64_t i) const;
  int64_t leap_iteration_at(double now) const;  // the iteration of the leap in progress at `now`
  // The largest k <= limit such that k decode iterations fit the free KV blocks.
  int64_t kv_iterations(int64_t limit) const;
  // Collective time (s) of one iteration that computes `tokens` new tokens (prompt chunks and decodes).
  double collective_time(int64_t tokens) { return memo().collectives(tokens); }
  PerfMemo& memo() { return shared_memo_ ? *shared_memo_ : own_memo_; }
  // Reports the prefill phase of a sequence whose prompt is done at `end`, and starts its decode phase.
  void end_prefill_phase(Seq& s, double end);

  uint32_t id_;
  Role role_;
  const perf::PerfModel* perf_;
  SchedulerParams params_;
  int64_t kv_capacity_blocks_;
  bool leap_enabled_;
  RequestSink* sink_;
  PrefixCacheUse cache_;

  std::vector<Seq> running_;
  std::map<int, std::deque<Seq>, std::greater<>> waiting_;  // by priority, highest first; FIFO within
  int64_t waiting_count_ = 0;
  std::vector<Seq> swapped_;     // swapped-out sequences, resumed before new admissions
  std::vector<Seq> handed_off_;  // prefill role: done, KV held until released
  std::vector<Seq> fetching_;    // admitted, blocks held, prefix on the wire (fetch_flows)
  std::vector<Seq> fetched_;     // prefix arrived: join running_ at the next boundary, in arrival order
  std::vector<Handoff> handoffs_;
  int64_t kv_used_blocks_ = 0;
  int64_t next_order_ = 0;
  int64_t queued_prefill_tokens_ = 0;
  double stall_ = 0;  // swap copies to charge before the next iteration

  Phase phase_ = Phase::idle;
  double seg_begin_ = 0;  // when the segment was composed (busy from here)
  double seg_start_ = 0;  // when its first iteration starts (after any swap stall)
  double seg_end_ = 0;
  bool seg_prefill_ = false;
  double seg_collectives_ = 0;  // collective time of one iteration of the segment (s)
  PerfMemo* shared_memo_;
  PerfMemo own_memo_;  // used without a shared memo
  // Leap parameters: k iterations of n sequences, total context c0 at the start.
  int64_t leap_k_ = 0;
  int64_t leap_n_ = 0;
  double leap_c0_ = 0;
  double leap_alpha_ = 0;
  double leap_beta_ = 0;

  InstanceUsage usage_;
};

}  // namespace tf::serving
