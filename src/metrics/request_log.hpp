#pragma once
// Per-request records, kept as a structure of arrays indexed by request id (ids are dense and in arrival
// order), so a million requests cost tens of megabytes and no allocation per token.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/units.hpp"
#include "serving/request_sink.hpp"

namespace tf::metrics {

enum class RequestStatus : uint8_t { pending, finished, rejected };

class RequestLog final : public serving::RequestSink {
 public:
  static constexpr uint32_t kNoInstance = UINT32_MAX;

  // Records a request as it arrives (ids must come in order 0, 1, 2...).
  void arrived(uint64_t id, Seconds arrival, int64_t input_tokens, int64_t output_tokens, uint32_t class_id);
  void routed(uint64_t id, uint32_t instance);

  void first_token(uint64_t request, uint32_t instance, Seconds time) override;
  void finished(uint64_t request, uint32_t instance, Seconds time, Gaps gaps) override;
  void rejected(uint64_t request, Seconds time) override;
  void prefill_phases(uint64_t request, Phases phases) override;
  void decode_phases(uint64_t request, Phases phases) override;
  // Network time of the request's own messages beyond the client latency both ways (fabric time of the
  // request on its way in, for instance); calls accumulate.
  void add_network(uint64_t id, Seconds time);
  // The request's KV left its prefill instance at `start` and had arrived at its decode instance at `end`
  // (engine clock); or its cached prefix, fetched from a cluster-scope store as a flow, took that time to arrive
  // at its instance (which leaves that time out of the prefill phase). Calls accumulate.
  void kv_transfer(uint64_t id, Seconds start, Seconds end);
  // The request's instance failed and it starts over (engine/failures.hpp): its first token is forgotten
  // (the user sees a new stream) and its arrival stands, so the lost time counts against its SLO.
  void retried(uint64_t id);
  int retries(size_t i) const { return i < retries_.size() ? retries_[i] : 0; }

  size_t size() const { return arrival_.size(); }
  // Requests finished or rejected so far.
  int64_t settled() const { return settled_; }
  double arrival(size_t i) const { return arrival_[i]; }
  int64_t input_tokens(size_t i) const { return input_[i]; }
  int64_t output_tokens(size_t i) const { return output_[i]; }
  uint32_t class_id(size_t i) const { return class_[i]; }
  // The instance that produced the request's tokens (in a disaggregated factory, its decode instance).
  uint32_t instance(size_t i) const { return instance_[i]; }
  // The instance the router sent the request to (in a disaggregated factory, its prefill instance).
  uint32_t entry_instance(size_t i) const { return entry_[i]; }
  RequestStatus status(size_t i) const { return status_[i]; }
  double first_token_time(size_t i) const { return first_token_[i]; }
  double finish_time(size_t i) const { return finish_[i]; }
  double max_gap(size_t i) const { return max_gap_[i]; }
  double tbt(size_t i) const { return tbt_[i]; }
  // Latency budget parts (s; docs/concepts.md), 0 until reported. "Before" and "after" are the first token.
  double extra_network(size_t i) const { return network_.empty() ? 0.0 : network_[i]; }
  double queue_before(size_t i) const { return queue_before_[i]; }
  double queue_after(size_t i) const { return queue_after_[i]; }
  double prefill(size_t i) const { return prefill_[i]; }
  double kv_transfer(size_t i) const { return kv_.empty() ? 0.0 : kv_[i]; }
  // Of a finished request: first token to last, less the wait after the first token (what its decode instance
  // reported as compute, to the bit, so it is not stored twice).
  double decode(size_t i) const { return finish_[i] - first_token_[i] - queue_after_[i]; }
  double collectives_before(size_t i) const { return coll_before_[i]; }
  double collectives_after(size_t i) const { return coll_after_[i]; }

 private:
  std::vector<double> arrival_;
  std::vector<int32_t> input_;
  std::vector<int32_t> output_;
  std::vector<uint32_t> class_;
  std::vector<uint32_t> instance_;
  std::vector<uint32_t> entry_;
  std::vector<RequestStatus> status_;
  std::vector<double> first_token_;
  std::vector<double> finish_;
  std::vector<double> max_gap_;
  std::vector<double> tbt_;
  // Latency budget: 40 bytes per request, and 8 more for each of network_ and kv_ once a request uses them
  // (they stay empty in runs without fabric time for requests, or without disaggregation).
  std::vector<double> queue_before_;
  std::vector<double> queue_after_;
  std::vector<double> prefill_;
  std::vector<double> coll_before_;
  std::vector<double> coll_after_;
  std::vector<double> network_;
  std::vector<double> kv_;
  std::vector<uint8_t> retries_;  // grown on the first retry only: runs without failures pay nothing
  int64_t settled_ = 0;
};

}  // namespace tf::metrics
