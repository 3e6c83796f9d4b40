#include "serving/instance.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace tf::serving {

Instance::Instance(uint32_t id, const perf::PerfModel& perf, SchedulerParams params, int64_t kv_capacity_tokens,
                   bool leap, RequestSink& sink)
    : id_(id), perf_(&perf), params_(params), kv_capacity_(kv_capacity_tokens), leap_enabled_(leap), sink_(&sink) {
  TF_ASSERT(params_.max_batched_tokens > 0 && params_.max_num_seqs > 0 && params_.kv_block_tokens > 0,
            "scheduler limits must be positive");
}

int64_t Instance::reservation(const SeqRequest& r) const {
  int64_t tokens = r.input_tokens + r.output_tokens;
  int64_t b = params_.kv_block_tokens;
  return (tokens + b - 1) / b * b;
}

bool Instance::can_ever_fit(int64_t input_tokens, int64_t output_tokens) const {
  return reservation(SeqRequest{0, input_tokens, output_tokens, 0}) <= kv_capacity_;
}

std::optional<Seconds> Instance::next_wake() const {
  if (phase_ == Phase::idle) return std::nullopt;
  return Seconds(seg_end_);
}

std::optional<Seconds> Instance::on_arrival(const SeqRequest& request, Seconds now) {
  TF_ASSERT(can_ever_fit(request.input_tokens, request.output_tokens), "router sent a request that cannot fit");
  waiting_[request.priority].push_back(request);
  ++waiting_count_;
  double t = now.value();
  if (phase_ == Phase::idle) return start_segment(t);
  if (phase_ == Phase::leap && leap_k_ > 1) {
    // Cut the leap at the end of the iteration in progress: the first i with leap_end(i) > t.
    int64_t lo = 0, hi = leap_k_ - 1;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (leap_end(mid) > t)
        hi = mid;
      else
        lo = mid + 1;
    }
    if (lo + 1 < leap_k_) {
      leap_k_ = lo + 1;
      seg_end_ = leap_end(lo);
    }
  }
  return Seconds(seg_end_);
}

std::optional<Seconds> Instance::on_wake(Seconds now) {
  double t = now.value();
  TF_ASSERT(phase_ != Phase::idle, "an idle instance was woken");
  if (phase_ == Phase::iteration) {
    finish_iteration(seg_end_);
  } else {
    finish_leap(leap_k_);
  }
  retire_finished(seg_end_);
  phase_ = Phase::idle;
  return start_segment(std::max(t, seg_end_));
}

double Instance::leap_end(int64_t i) const {
  double m = static_cast<double>(i + 1);
  double n = static_cast<double>(leap_n_);
  return seg_start_ + m * leap_alpha_ + leap_beta_ * (m * leap_c0_ + n * m * (m - 1.0) / 2.0);
}

std::optional<Seconds> Instance::start_segment(double now) {
  if (running_.empty() && waiting_count_ == 0) return std::nullopt;

  // 1. Every decoding sequence takes one token of the budget.
  int64_t budget = params_.max_batched_tokens;
  perf::Batch batch;
  for (auto& s : running_) {
    s.chunk = 0;
    if (s.decoding()) {
      ++batch.decode_seqs;
      batch.decode_context_sum += s.req.input_tokens + s.generated;
      --budget;
    }
  }
  // 2. Prompts already in progress continue.
  for (auto& s : running_) {
    if (s.decoding() || budget <= 0) continue;
    s.chunk = std::min(budget, s.req.input_tokens - s.prefilled);
    budget -= s.chunk;
    batch.prefills.push_back({s.chunk, s.prefilled});
  }
  // 3. Admit waiting requests in priority then arrival order; stop at the first that does not fit.
  while (waiting_count_ > 0 && budget > 0 && static_cast<int64_t>(running_.size()) < params_.max_num_seqs) {
    auto level = waiting_.begin();
    const SeqRequest& r = level->second.front();
    int64_t need = reservation(r);
    if (kv_used_ + need > kv_capacity_) break;
    Seq s;
    s.req = r;
    s.reserved = need;
    s.chunk = std::min(budget, r.input_tokens);
    budget -= s.chunk;
    kv_used_ += need;
    batch.prefills.push_back({s.chunk, 0});
    running_.push_back(s);
    level->second.pop_front();
    if (level->second.empty()) waiting_.erase(level);
    --waiting_count_;
  }
  if (running_.empty()) return std::nullopt;  // waiting requests that cannot be admitted into an empty cache

  seg_start_ = now;
  if (!batch.prefills.empty()) {
    phase_ = Phase::iteration;
    seg_has_prefill_ = true;
    seg_end_ = now + perf_->iteration_time(batch).value();
    return Seconds(seg_end_);
  }
  // Only decodes: leap to the first completion (or step one iteration when leaping is off).
  phase_ = Phase::leap;
  seg_has_prefill_ = false;
  int64_t k = INT64_MAX;
  for (const auto& s : running_)
    k = std::min(k, s.req.output_tokens - s.generated);
  TF_ASSERT(k >= 1, "a finished sequence is still running");
  leap_k_ = leap_enabled_ ? k : 1;
  leap_n_ = batch.decode_seqs;
  leap_c0_ = static_cast<double>(batch.decode_context_sum);
  auto lin = perf_->decode_linear(leap_n_);
  leap_alpha_ = lin.base.value();
  leap_beta_ = lin.per_context_token.value();
  seg_end_ = leap_end(leap_k_ - 1);
  return Seconds(seg_end_);
}

void Instance::finish_iteration(double now) {
  double duration = now - seg_start_;
  usage_.busy += Seconds(duration);
  usage_.prefill_busy += Seconds(duration);
  ++usage_.iterations;
  for (auto& s : running_) {
    if (s.chunk > 0) {
      s.prefilled += s.chunk;
      usage_.prefill_tokens += s.chunk;
      s.chunk = 0;
      if (s.decoding()) {
        s.generated = 1;
        s.last_token = now;
        ++usage_.decode_tokens;
        sink_->first_token(s.req.id, id_, Seconds(now));
      }
    } else if (s.decoding() && s.generated > 0 && s.last_token <= seg_start_) {
      ++s.generated;
      ++usage_.decode_tokens;
      s.max_gap = std::max(s.max_gap, now - s.last_token);
      s.last_token = now;
    }
  }
}

void Instance::finish_leap(int64_t iterations) {
  double end = leap_end(iterations - 1);
  double before = iterations >= 2 ? leap_end(iterations - 2) : seg_start_;
  double last_gap = end - before;  // iterations lengthen as contexts grow, so the last is the longest
  usage_.busy += Seconds(end - seg_start_);
  usage_.iterations += iterations;
  usage_.decode_tokens += iterations * static_cast<int64_t>(running_.size());
  for (auto& s : running_) {
    s.generated += iterations;
    s.max_gap = std::max(s.max_gap, last_gap);
    s.last_token = end;
  }
  seg_end_ = end;
}

void Instance::retire_finished(double now) {
  auto done = [](const Seq& s) { return s.decoding() && s.generated >= s.req.output_tokens; };
  for (const auto& s : running_) {
    if (!done(s)) continue;
    kv_used_ -= s.reserved;
    sink_->finished(s.req.id, id_, Seconds(now), Seconds(s.max_gap));
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(), done), running_.end());
}

}  // namespace tf::serving
