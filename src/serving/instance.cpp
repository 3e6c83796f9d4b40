#include "serving/instance.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>

#include "core/error.hpp"

namespace tf::serving {

namespace {
constexpr int64_t kPrefixBlockTokens = 512;     // Mooncake hash_ids cover 512-token blocks
constexpr int64_t kExactCollectiveTokens = 64;  // grid points 0..64 are these token counts
constexpr double kCollectivePointsPerDoubling = 8;

// Token count of collective grid point i.
int64_t collective_point(int64_t i) {
  if (i <= kExactCollectiveTokens) return i;
  double octaves = static_cast<double>(i - kExactCollectiveTokens) / kCollectivePointsPerDoubling;
  return static_cast<int64_t>(std::floor(static_cast<double>(kExactCollectiveTokens) * std::exp2(octaves)));
}
}  // namespace

PerfMemo::PerfMemo(const perf::PerfModel& perf)
    : perf_(&perf), any_(perf.shape().tp > 1 || perf.shape().pp > 1 || perf.shape().ep > 1) {}

double PerfMemo::point(size_t i) {
  if (grid_.size() <= i) grid_.resize(i + 1, -1.0);
  if (grid_[i] < 0) {
    // Any batch of that many new tokens will do: a decode-only one is the simplest to describe.
    perf::Batch b;
    b.decode_seqs = collective_point(static_cast<int64_t>(i));
    double t = 0;
    for (const auto& op : perf_->breakdown(b)) {
      std::string_view name = op.name;
      if (name.starts_with("tp.") || name.starts_with("ep.") || name.starts_with("pp.")) t += op.time.value();
    }
    grid_[i] = t;
  }
  return grid_[i];
}

const perf::PerfModel::DecodeLinear& PerfMemo::decode_linear(int64_t n) {
  const auto i = static_cast<size_t>(std::max<int64_t>(n, 0));
  if (decode_.size() <= i) decode_.resize(i + 1);
  if (!decode_[i]) decode_[i] = perf_->decode_linear(n);
  return *decode_[i];
}

double PerfMemo::collectives(int64_t tokens) {
  if (!any_ || tokens <= 0) return 0.0;
  if (tokens <= kExactCollectiveTokens) return point(static_cast<size_t>(tokens));
  // The grid interval [point(j), point(j + 1)) holding `tokens`.
  double octaves = std::log2(static_cast<double>(tokens) / static_cast<double>(kExactCollectiveTokens));
  auto j = kExactCollectiveTokens + static_cast<int64_t>(std::floor(octaves * kCollectivePointsPerDoubling));
  while (collective_point(j) > tokens)
    --j;
  while (collective_point(j + 1) <= tokens)
    ++j;
  int64_t lo = collective_point(j), hi = collective_point(j + 1);
  double a = point(static_cast<size_t>(j));
  if (lo == tokens) return a;
  double b = point(static_cast<size_t>(j + 1));
  return a + (b - a) * static_cast<double>(tokens - lo) / static_cast<double>(hi - lo);
}

Instance::Instance(uint32_t id, Role role, const perf::PerfModel& perf, SchedulerParams params,
                   int64_t kv_capacity_tokens, bool leap, RequestSink& sink, PrefixCacheUse cache, PerfMemo* memo)
    : id_(id),
      role_(role),
      perf_(&perf),
      params_(params),
      kv_capacity_blocks_(kv_capacity_tokens / std::max<int64_t>(params.kv_block_tokens, 1)),
      leap_enabled_(leap),
      sink_(&sink),
      cache_(cache),
      shared_memo_(memo),
      own_memo_(perf) {
  TF_ASSERT(!memo || &memo->perf() == &perf, "a perf memo shared across perf models");
  TF_ASSERT(params_.max_batched_tokens > 0 && params_.max_num_seqs > 0 && params_.kv_block_tokens > 0,
            "scheduler limits must be positive");
  if (cache_.cache) usage_.prefix_hit_blocks.assign(cache_.cache->tiers().size(), 0);
}

int64_t Instance::blocks_for(int64_t tokens) const {
  int64_t b = params_.kv_block_tokens;
  return (tokens + b - 1) / b;
}

bool Instance::can_ever_fit(int64_t input_tokens, int64_t output_tokens) const {
  int64_t tokens = role_ == Role::prefill ? input_tokens + 1 : input_tokens + output_tokens;
  return blocks_for(tokens) <= kv_capacity_blocks_;
}

double Instance::kv_load(Seconds now) const {
  if (kv_capacity_blocks_ == 0) return 1.0;
  int64_t need = kv_used_blocks_;
  // A leap books its iterations' blocks when it ends (complete_leap); stepping allocates each iteration's as it
  // starts (make_room_for_decodes). Add what stepping would hold by now.
  if (phase_ == Phase::leap && leap_k_ > 1)
    if (int64_t j = leap_iteration_at(now.value()); j > 0)
      for (const auto& s : running_)
        if (s.decode_now) need += std::max<int64_t>(0, blocks_for(s.context() + j + 1) - s.blocks);
  for (const auto& [prio, q] : waiting_)
    for (const auto& s : q)
      need += blocks_for(s.target + 1);
  return static_cast<double>(need) / static_cast<double>(kv_capacity_blocks_);
}

int64_t Instance::cached_prefix_blocks(const std::vector<uint64_t>* blocks) const {
  if (!cache_.cache || !blocks || blocks->empty()) return 0;
  return cache_.cache->lookup(*blocks).blocks;
}

Seconds Instance::predicted_prefill_done(int64_t input_tokens, const std::vector<uint64_t>* blocks, Seconds now) const {
  double t = phase_ == Phase::idle ? 0.0 : std::max(0.0, seg_end_ - now.value());
  int64_t cached = std::min(cached_prefix_blocks(blocks) * kPrefixBlockTokens, input_tokens - 1);
  int64_t tokens = queued_prefill_tokens_ + input_tokens - cached;
  // The queue drains in budget-sized prefill iterations.
  int64_t budget = params_.max_batched_tokens;
  perf::Batch full;
  full.prefills.push_back({budget, 0});
  perf::Batch rest;
  rest.prefills.push_back({tokens % budget, 0});
  t += static_cast<double>(tokens / budget) * perf_->iteration_time(full).value();
  if (tokens % budget > 0) t += perf_->iteration_time(rest).value();
  return Seconds(t);
}

std::optional<Seconds> Instance::next_wake() const {
  if (phase_ == Phase::idle) return std::nullopt;
  return Seconds(seg_end_);
}

Seconds Instance::busy_time_at(Seconds now) const {
  Seconds b = usage_.busy;
  if (phase_ != Phase::idle) b += Seconds(std::clamp(now.value() - seg_begin_, 0.0, seg_end_ - seg_begin_));
  return b;
}

size_t Instance::tbt_slots(const Seq& s) const {
  int64_t gaps = s.req.output_tokens - 1;
  if (gaps <= 0) return 0;
  return static_cast<size_t>(std::max<int64_t>(1, (gaps + 9) / 10));
}

void Instance::record_gap(Seq& s, double gap) const {
  s.max_gap = std::max(s.max_gap, gap);
  size_t k = tbt_slots(s);
  if (k == 0) return;
  auto& h = s.top_gaps;
  if (h.size() < k) {
    h.push_back(gap);
    std::push_heap(h.begin(), h.end(), std::greater<>());
  } else if (gap > h.front()) {
    std::pop_heap(h.begin(), h.end(), std::greater<>());
    h.back() = gap;
    std::push_heap(h.begin(), h.end(), std::greater<>());
  }
}

void Instance::enqueue(const SeqRequest& r, double now) {
  Seq s;
  s.req = r;
  s.target = r.input_tokens;
  s.phase_start = now;
  s.waiting_since = now;
  queued_prefill_tokens_ += s.target;
  waiting_[r.priority].push_back(std::move(s));
  ++waiting_count_;
}

void Instance::requeue_front(Seq s) {
  queued_prefill_tokens_ += s.target - s.prefilled;
  int prio = s.req.priority;
  waiting_[prio].push_front(std::move(s));
  ++waiting_count_;
}

int64_t Instance::leap_iteration_at(double now) const {
  // The first i with leap_end(i) > now (the last iteration when none ends after now).
  int64_t lo = 0, hi = leap_k_ - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (leap_end(mid) > now)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

std::optional<Seconds> Instance::interrupt(double now) {
  if (phase_ == Phase::idle) return start_segment(now);
  if (phase_ == Phase::leap && leap_k_ > 1) {
    // Cut the leap at the end of the iteration in progress.
    int64_t lo = leap_iteration_at(now);
    if (lo + 1 < leap_k_) {
      leap_k_ = lo + 1;
      seg_end_ = leap_end(lo);
    }
  }
  return Seconds(seg_end_);
}

std::optional<Seconds> Instance::on_arrival(const SeqRequest& request, Seconds now) {
  TF_ASSERT(role_ != Role::decode, "a request was routed to a decode instance");
  TF_ASSERT(can_ever_fit(request.input_tokens, request.output_tokens), "router sent a request that cannot fit");
  enqueue(request, now.value());
  return interrupt(now.value());
}

std::optional<Seconds> Instance::on_handoff(const SeqRequest& request, Seconds now) {
  TF_ASSERT(role_ == Role::decode, "a handoff reached an instance that is not a decode instance");
  double t = now.value();
  sink_->first_token(request.id, id_, now);
  ++usage_.decode_tokens;
  if (request.output_tokens <= 1) {
    sink_->decode_phases(request.id, {});
    sink_->finished(request.id, id_, now, {Seconds(0.0), Seconds(0.0)});
    return next_wake();
  }
  Seq s;
  s.req = request;
  s.target = request.input_tokens;
  s.prefilled = s.target;
  s.generated = 1;
  s.last_token = t;
  s.phase_start = t;
  s.waiting_since = t;
  waiting_[request.priority].push_back(std::move(s));
  ++waiting_count_;
  return interrupt(t);
}

std::optional<Seconds> Instance::on_released(uint64_t id, Seconds now) {
  auto it = std::find_if(handed_off_.begin(), handed_off_.end(), [&](const Seq& s) { return s.req.id == id; });
  TF_ASSERT(it != handed_off_.end(), "released a request this instance does not hold");
  kv_used_blocks_ -= it->blocks;
  handed_off_.erase(it);
  if (phase_ == Phase::idle) return start_segment(now.value());
  return next_wake();
}

std::optional<Seconds> Instance::on_fetched(uint64_t id, Seconds now) {
  auto it = std::find_if(fetching_.begin(), fetching_.end(), [&](const Seq& s) { return s.req.id == id; });
  TF_ASSERT(it != fetching_.end(), "fetched a prefix for a request this instance is not fetching for");
  Seq s = std::move(*it);
  fetching_.erase(it);
  double t = now.value();
  s.fetched += t - s.fetch_start;
  // It waits for the next iteration boundary like an arrival: fetched_, not running_, so that the iteration or
  // leap in progress neither counts it nor charges it collectives.
  s.waiting_since = t;
  fetched_.push_back(std::move(s));
  return interrupt(t);
}

std::vector<Instance::Handoff> Instance::take_handoffs() {
  std::vector<Handoff> out;
  out.swap(handoffs_);
  return out;
}

std::optional<Seconds> Instance::on_wake(Seconds now) {
  TF_ASSERT(phase_ != Phase::idle, "an idle instance was woken");
  if (phase_ == Phase::iteration)
    finish_iteration(seg_end_);
  else
    finish_leap(leap_k_);
  retire(seg_end_);
  phase_ = Phase::idle;
  return start_segment(std::max(now.value(), seg_end_));
}

double Instance::leap_end(int64_t i) const {
  double m = static_cast<double>(i + 1);
  double n = static_cast<double>(leap_n_);
  return seg_start_ + m * leap_alpha_ + leap_beta_ * (m * leap_c0_ + n * m * (m - 1.0) / 2.0);
}

Bytes Instance::kv_bytes(int64_t blocks) const {
  return perf_->shape().model->kv_bytes_per_token(perf_->shape().kv_dtype) *
         static_cast<double>(blocks * params_.kv_block_tokens);
}

void Instance::preempt(size_t index, double now) {
  Seq s = std::move(running_[index]);
  // Waiting from now on, unless it was swapped in at this very boundary and never ran.
  if (s.waiting_since < 0) s.waiting_since = now;
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  ++usage_.preemptions;
  kv_used_blocks_ -= s.blocks;
  s.chunk = 0;
  s.decode_now = false;
  if (!s.decoding()) queued_prefill_tokens_ -= s.target - s.prefilled;
  if (params_.preemption == Preemption::swap) {
    Bytes b = kv_bytes(s.blocks);
    stall_ += (b / params_.swap_bandwidth).value();
    usage_.swapped += b;
    s.swapped_blocks = s.blocks;
    s.blocks = 0;
    if (!s.decoding()) queued_prefill_tokens_ += s.target - s.prefilled;
    swapped_.push_back(std::move(s));
    return;
  }
  // Recompute: everything in the KV cache is computed again, the prompt and the tokens generated so far.
  s.blocks = 0;
  s.target = s.context();
  s.prefilled = 0;
  s.load_time = 0;
  requeue_front(std::move(s));
}

void Instance::make_room_for_decodes(double now) {
  while (true) {
    int64_t need = 0;
    for (const auto& s : running_)
      if (s.decoding()) need += std::max<int64_t>(0, blocks_for(s.context() + 1) - s.blocks);
    if (need <= kv_capacity_blocks_ - kv_used_blocks_) {
      for (auto& s : running_)
        if (s.decoding()) {
          int64_t b = std::max(s.blocks, blocks_for(s.context() + 1));
          kv_used_blocks_ += b - s.blocks;
          s.blocks = b;
        }
      return;
    }
    // The victim: lowest priority, then the most recently admitted.
    size_t victim = 0;
    for (size_t i = 1; i < running_.size(); ++i) {
      const Seq& a = running_[i];
      const Seq& v = running_[victim];
      if (a.req.priority < v.req.priority || (a.req.priority == v.req.priority && a.order > v.order)) victim = i;
    }
    preempt(victim, now);
  }
}

void Instance::try_swap_in() {
  while (!swapped_.empty() && batch_seqs() < params_.max_num_seqs) {
    Seq& s = swapped_.front();
    if (s.swapped_blocks > kv_capacity_blocks_ - kv_used_blocks_) break;
    Bytes b = kv_bytes(s.swapped_blocks);
    stall_ += (b / params_.swap_bandwidth).value();
    usage_.swapped += b;
    s.blocks = s.swapped_blocks;
    s.swapped_blocks = 0;
    kv_used_blocks_ += s.blocks;
    running_.push_back(std::move(s));
    swapped_.erase(swapped_.begin());
  }
}

// Takes a waiting sequence into the running batch: allocates its blocks and, for a fresh prompt, takes what
// the prefix cache holds of it.
bool Instance::admit(Seq s, int64_t blocks, double now) {
  kv_used_blocks_ += blocks;
  s.blocks = blocks;
  s.order = next_order_++;
  if (!s.decoding() && !s.looked_up && cache_.cache && s.req.prefix_blocks && !s.req.prefix_blocks->empty()) {
    s.looked_up = true;
    const auto& cache = *cache_.cache;
    auto hit = cache.lookup(*s.req.prefix_blocks);
    usage_.prefix_lookup_blocks += static_cast<int64_t>(s.req.prefix_blocks->size());
    for (size_t t = 0; t < hit.per_tier.size(); ++t)
      usage_.prefix_hit_blocks[t] += hit.per_tier[t];
    int64_t cached = std::min(hit.blocks * kPrefixBlockTokens, s.target - 1);
    if (cached > 0 && cache_.fetch_flows) {
      // One flow of every block hit, no faster than its tiers read them: the rate at which each tier's blocks, at
      // that tier's bandwidth one after another, make up the whole.
      int64_t remote_blocks = 0;
      double tier_time = 0;
      for (size_t t = 0; t < hit.per_tier.size(); ++t) {
        if (hit.per_tier[t] == 0) continue;
        remote_blocks += hit.per_tier[t];
        BytesPerSecond bw = cache.tiers()[t].bandwidth;
        if (bw.value() > 0) tier_time += (cache_.block_bytes * static_cast<double>(hit.per_tier[t]) / bw).value();
      }
      Bytes bytes = cache_.block_bytes * static_cast<double>(remote_blocks);
      BytesPerSecond rate_cap(tier_time > 0 ? bytes.value() / tier_time : 0.0);
      s.prefilled = cached;
      queued_prefill_tokens_ -= cached;
      usage_.cached_tokens += cached;
      // Its wait for admission ends now; the fetch is not queueing.
      s.queued += now - s.waiting_since;
      s.waiting_since = -1;
      s.fetch_start = now;
      uint64_t request = s.req.id;
      fetching_.push_back(std::move(s));
      sink_->fetch(id_, request, bytes, rate_cap);
      return false;
    }
    if (cached > 0) {
      // Copy time of the blocks that are not already in this instance's HBM.
      double copy = 0;
      for (size_t t = 0; t < hit.per_tier.size(); ++t) {
        const auto& tier = cache.tiers()[t];
        bool local_hbm = !cache_.remote && tier.name == "hbm";
        if (local_hbm || hit.per_tier[t] == 0) continue;
        BytesPerSecond bw = tier.bandwidth;
        if (cache_.remote) bw = BytesPerSecond(std::min(bw.value(), cache_.network.value()));
        copy += (cache_.block_bytes * static_cast<double>(hit.per_tier[t]) / bw).value();
      }
      s.load_time = copy;
      s.prefilled = cached;
      queued_prefill_tokens_ -= cached;
      usage_.cached_tokens += cached;
    }
  }
  running_.push_back(std::move(s));
  return true;
}

std::optional<Seconds> Instance::start_segment(double now) {
  for (auto& s : fetched_)
    running_.push_back(std::move(s));
  fetched_.clear();
  try_swap_in();
  if (role_ != Role::prefill) make_room_for_decodes(now);

  const bool chunked = params_.policy == BatchPolicy::chunked;
  int64_t budget = params_.max_batched_tokens;
  int64_t chunk_limit = chunked && params_.chunk_size > 0 ? params_.chunk_size : INT64_MAX;
  // Chunked batching runs every decode in every iteration, one token of the budget each; continuous
  // batching runs prompts alone and decodes when no prompt is ready.
  for (auto& s : running_) {
    s.chunk = 0;
    s.decode_now = chunked && s.decoding();
    if (s.decode_now) --budget;
  }

  // Prompts already in progress continue.
  for (auto& s : running_) {
    if (s.decoding() || budget <= 0) continue;
    s.chunk = std::min({budget, s.target - s.prefilled, chunk_limit});
    budget -= s.chunk;
  }
  // Admit waiting sequences in priority then arrival order; stop at the first that does not fit. Swapped-out
  // sequences come back before anything new is admitted.
  while (waiting_count_ > 0 && swapped_.empty() && batch_seqs() < params_.max_num_seqs) {
    auto level = waiting_.begin();
    Seq& head = level->second.front();
    bool prompt = !head.decoding();
    if (prompt && budget <= 0) break;
    int64_t need = blocks_for((prompt ? head.target : head.context()) + 1);
    if (need > kv_capacity_blocks_ - kv_used_blocks_) break;
    Seq s = std::move(head);
    level->second.pop_front();
    if (level->second.empty()) waiting_.erase(level);
    --waiting_count_;
    if (!admit(std::move(s), need, now)) continue;
    Seq& a = running_.back();
    if (!a.decoding()) {
      a.chunk = std::min({budget, a.target - a.prefilled, chunk_limit});
      budget -= a.chunk;
    }
  }
  if (running_.empty()) {
    phase_ = Phase::idle;
    stall_ = 0;
    return std::nullopt;
  }

  perf::Batch batch;
  double copy = 0;
  for (auto& s : running_) {
    if (s.chunk > 0) {
      batch.prefills.push_back({s.chunk, s.prefilled});
      copy += s.load_time;
      s.load_time = 0;
    }
  }
  seg_begin_ = now;
  seg_start_ = now + stall_;
  stall_ = 0;
  // Sequences admitted or swapped in at this boundary stop waiting when its first iteration starts.
  for (auto& s : running_)
    if (s.waiting_since >= 0) {
      s.queued += seg_start_ - s.waiting_since;
      s.waiting_since = -1;
    }
  if (!batch.prefills.empty()) {
    for (const auto& s : running_)
      if (s.decode_now) {
        ++batch.decode_seqs;
        batch.decode_context_sum += s.context();
      }
    phase_ = Phase::iteration;
    seg_prefill_ = true;
    int64_t tokens = batch.decode_seqs;
    for (const auto& c : batch.prefills)
      tokens += c.tokens;
    seg_collectives_ = collective_time(tokens);
    seg_end_ = seg_start_ + std::max(perf_->iteration_time(batch).value(), copy);
    return Seconds(seg_end_);
  }
  // Only decodes: leap to the first completion or the first iteration the KV cache cannot hold (or step one
  // iteration when leaping is off).
  int64_t k = INT64_MAX;
  int64_t n = 0;
  int64_t c0 = 0;
  bool prompt_waits = false;  // a prompt in progress found no budget: decode one iteration, then look again
  for (auto& s : running_) {
    if (!s.decoding()) {
      prompt_waits = true;
      continue;
    }
    k = std::min(k, s.req.output_tokens - s.generated);
    s.decode_now = true;
    ++n;
    c0 += s.context();
  }
  TF_ASSERT(n > 0 && k >= 1, "nothing to run in a decode segment");
  // A swapped-out sequence that fits now comes back at the next boundary (swap-ins are tried before this
  // boundary's preemptions free their blocks); as blocks only get scarcer during a run of decodes, one that
  // does not fit now cannot come back before the run ends.
  bool swap_in_next = !swapped_.empty() && batch_seqs() < params_.max_num_seqs &&
                      swapped_.front().swapped_blocks <= kv_capacity_blocks_ - kv_used_blocks_;
  if (!leap_enabled_ || prompt_waits || swap_in_next) k = 1;
  phase_ = Phase::leap;
  seg_prefill_ = false;
  leap_k_ = kv_iterations(k);
  leap_n_ = n;
  leap_c0_ = static_cast<double>(c0);
  const auto& lin = memo().decode_linear(n);
  leap_alpha_ = lin.base.value();
  leap_beta_ = lin.per_context_token.value();
  seg_collectives_ = collective_time(n);
  seg_end_ = leap_end(leap_k_ - 1);
  return Seconds(seg_end_);
}

void Instance::end_prefill_phase(Seq& s, double end) {
  double queued = s.queued;
  sink_->prefill_phases(s.req.id,
                        {Seconds(queued), Seconds(end - s.phase_start - queued - s.fetched), Seconds(s.collectives)});
  s.phase_start = end;
  s.queued = 0;
  s.collectives = 0;
  s.fetched = 0;
}

int64_t Instance::kv_iterations(int64_t limit) const {
  int64_t free = kv_capacity_blocks_ - kv_used_blocks_;
  auto extra = [&](int64_t k) {
    int64_t e = 0;
    for (const auto& s : running_)
      if (s.decode_now) e += std::max<int64_t>(0, blocks_for(s.context() + k) - s.blocks);
    return e;
  };
  if (extra(limit) <= free) return limit;
  int64_t lo = 1, hi = limit;  // extra(1) == 0: make_room_for_decodes allocated the first iteration
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (extra(mid) <= free)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

void Instance::finish_iteration(double end) {
  usage_.busy += Seconds(end - seg_begin_);
  usage_.prefill_busy += Seconds(end - seg_begin_);
  ++usage_.iterations;
  for (size_t i = 0; i < running_.size();) {
    Seq& s = running_[i];
    s.collectives += seg_collectives_;
    if (s.chunk > 0) {
      s.prefilled += s.chunk;
      usage_.prefill_tokens += s.chunk;
      queued_prefill_tokens_ -= s.chunk;
      s.chunk = 0;
      if (s.decoding()) {
        // The prompt is done: its blocks join the prefix cache.
        if (cache_.cache && s.req.prefix_blocks && s.generated == 0) cache_.cache->insert(*s.req.prefix_blocks);
        if (s.generated == 0) end_prefill_phase(s, end);
        if (role_ == Role::prefill) {
          handoffs_.push_back({s.req, s.target});
          handed_off_.push_back(std::move(s));
          running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
          continue;
        }
        if (s.generated == 0) {
          sink_->first_token(s.req.id, id_, Seconds(end));
        } else {
          record_gap(s, end - s.last_token);  // a recomputed sequence resumes with its next token
        }
        ++s.generated;
        ++usage_.decode_tokens;
        s.last_token = end;
      }
    } else if (s.decode_now) {
      ++s.generated;
      ++usage_.decode_tokens;
      record_gap(s, end - s.last_token);
      s.last_token = end;
    }
    s.decode_now = false;
    ++i;
  }
}

void Instance::finish_leap(int64_t iterations) {
  double end = leap_end(iterations - 1);
  usage_.busy += Seconds(end - seg_begin_);
  usage_.iterations += iterations;
  usage_.decode_tokens += iterations * leap_n_;
  double first_end = leap_end(0);
  double collectives = seg_collectives_ * static_cast<double>(iterations);
  for (auto& s : running_) {
    s.collectives += collectives;
    if (!s.decode_now) continue;
    // Iterations lengthen as contexts grow, so a run's later gaps are its longest: only the last
    // tbt_slots() of them can be among the request's longest gaps.
    record_gap(s, first_end - s.last_token);
    int64_t slots = static_cast<int64_t>(tbt_slots(s));
    for (int64_t i = std::max<int64_t>(1, iterations - slots); i < iterations; ++i)
      record_gap(s, leap_end(i) - leap_end(i - 1));
    int64_t b = std::max(s.blocks, blocks_for(s.context() + iterations));
    kv_used_blocks_ += b - s.blocks;
    s.blocks = b;
    s.generated += iterations;
    s.last_token = end;
    s.decode_now = false;
  }
  seg_end_ = end;
}

void Instance::retire(double now) {
  auto done = [](const Seq& s) { return s.decoding() && s.generated >= s.req.output_tokens; };
  for (const auto& s : running_) {
    if (!done(s)) continue;
    kv_used_blocks_ -= s.blocks;
    double tbt = 0;
    for (double g : s.top_gaps)
      tbt += g;
    if (!s.top_gaps.empty()) tbt /= static_cast<double>(s.top_gaps.size());
    sink_->decode_phases(s.req.id,
                         {Seconds(s.queued), Seconds(now - s.phase_start - s.queued), Seconds(s.collectives)});
    sink_->finished(s.req.id, id_, Seconds(now), {Seconds(s.max_gap), Seconds(tbt)});
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(), done), running_.end());
}

}  // namespace tf::serving
