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
  int64_t settled_ = 0;
};

}  // namespace tf::metrics
