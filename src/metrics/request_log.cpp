#include "metrics/request_log.hpp"

#include "core/error.hpp"

namespace tf::metrics {

void RequestLog::arrived(uint64_t id, Seconds arrival, int64_t input_tokens, int64_t output_tokens, uint32_t class_id) {
  TF_ASSERT(id == arrival_.size(), "request ids must be dense and in arrival order");
  arrival_.push_back(arrival.value());
  input_.push_back(static_cast<int32_t>(input_tokens));
  output_.push_back(static_cast<int32_t>(output_tokens));
  class_.push_back(class_id);
  instance_.push_back(kNoInstance);
  entry_.push_back(kNoInstance);
  status_.push_back(RequestStatus::pending);
  first_token_.push_back(-1.0);
  finish_.push_back(-1.0);
  max_gap_.push_back(0.0);
  tbt_.push_back(0.0);
}

void RequestLog::routed(uint64_t id, uint32_t instance) {
  instance_[id] = instance;
  entry_[id] = instance;
}

void RequestLog::first_token(uint64_t request, uint32_t instance, Seconds time) {
  instance_[request] = instance;
  first_token_[request] = time.value();
}

void RequestLog::finished(uint64_t request, uint32_t instance, Seconds time, Gaps gaps) {
  instance_[request] = instance;
  finish_[request] = time.value();
  max_gap_[request] = gaps.max.value();
  tbt_[request] = gaps.tbt.value();
  status_[request] = RequestStatus::finished;
  ++settled_;
}

void RequestLog::rejected(uint64_t request, Seconds time) {
  finish_[request] = time.value();
  status_[request] = RequestStatus::rejected;
  ++settled_;
}

}  // namespace tf::metrics
