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
  for (auto* v : {&queue_before_, &queue_after_, &prefill_, &coll_before_, &coll_after_})
    v->push_back(0.0);
  for (auto* v : {&network_, &kv_})
    if (!v->empty()) v->push_back(0.0);
}

void RequestLog::routed(uint64_t id, uint32_t instance) {
  instance_[id] = instance;
  entry_[id] = instance;
}

void RequestLog::retried(uint64_t id) {
  if (retries_.size() < arrival_.size()) retries_.resize(arrival_.size(), 0);
  if (retries_[id] < UINT8_MAX) ++retries_[id];
  first_token_[id] = -1.0;
  max_gap_[id] = 0.0;
  tbt_[id] = 0.0;
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

void RequestLog::prefill_phases(uint64_t request, Phases phases) {
  queue_before_[request] += phases.queue.value();
  prefill_[request] += phases.compute.value();
  coll_before_[request] += phases.collectives.value();
}

void RequestLog::decode_phases(uint64_t request, Phases phases) {
  // phases.compute is decode(): the finish, less the first token and this wait.
  queue_after_[request] += phases.queue.value();
  coll_after_[request] += phases.collectives.value();
}

void RequestLog::add_network(uint64_t id, Seconds time) {
  if (network_.empty()) network_.assign(size(), 0.0);
  network_[id] += time.value();
}

void RequestLog::kv_transfer(uint64_t id, Seconds start, Seconds end) {
  if (kv_.empty()) kv_.assign(size(), 0.0);
  kv_[id] += (end - start).value();
}

void RequestLog::rejected(uint64_t request, Seconds time) {
  finish_[request] = time.value();
  status_[request] = RequestStatus::rejected;
  ++settled_;
}

}  // namespace tf::metrics
