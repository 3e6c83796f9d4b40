#include "workload/workload.hpp"

#include <algorithm>
#include <queue>

#include "core/error.hpp"
#include "workload/synthetic_source.hpp"
#include "workload/trace_format.hpp"
#include "workload/trace_source.hpp"

namespace tf::workload {

struct Workload::Impl {
  std::vector<std::unique_ptr<RequestSource>> sources;
  std::vector<std::optional<Request>> heads;  // next request of each source
  // Sources with a head: earliest arrival first, then lowest source index. Each source holds one entry at
  // most, so the order within a source is its own.
  using Entry = std::pair<double, size_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> ready;
  std::optional<Seconds> duration;
  uint64_t next_id = 0;
  bool done = false;
  WorkloadStats stats;

  void pull(size_t i) {
    heads[i] = sources[i]->next();
    if (heads[i]) ready.emplace(heads[i]->arrival.value(), i);
  }
};

Workload::Workload(const config::WorkloadConfig& cfg, const std::vector<std::string>& classes, uint64_t seed,
                   std::optional<Seconds> duration)
    : impl_(std::make_unique<Impl>()) {
  impl_->duration = duration;
  for (size_t i = 0; i < cfg.traces.size(); ++i) {
    auto source = std::make_unique<TraceSource>(cfg.traces[i], i, cfg.rate_scale, classes, seed);
    impl_->stats.trace_rows += source->file().rows();
    impl_->stats.clamped_outputs += source->file().clamped_outputs();
    impl_->stats.expected_span =
        std::max(impl_->stats.expected_span, source->file().span() / (cfg.traces[i].rate_scale * cfg.rate_scale));
    impl_->sources.push_back(std::move(source));
  }
  for (size_t i = 0; i < cfg.synthetic.size(); ++i) {
    const auto index = static_cast<uint32_t>(cfg.traces.size() + i);
    const auto& g = cfg.synthetic[i];
    if (g.count && g.rate > 0)
      impl_->stats.expected_span =
          std::max(impl_->stats.expected_span, Seconds(static_cast<double>(*g.count) / (g.rate * cfg.rate_scale)));
    impl_->sources.push_back(
        std::make_unique<SyntheticSource>(cfg.synthetic[i], i, index, cfg.rate_scale, classes, seed, duration));
  }
  impl_->stats.sources = static_cast<int64_t>(impl_->sources.size());
  impl_->heads.resize(impl_->sources.size());
  for (size_t i = 0; i < impl_->sources.size(); ++i)
    impl_->pull(i);
}

Workload::~Workload() = default;
Workload::Workload(Workload&&) noexcept = default;
Workload& Workload::operator=(Workload&&) noexcept = default;

std::optional<Request> Workload::next() {
  Impl& m = *impl_;
  if (m.done || m.ready.empty()) return std::nullopt;
  const size_t i = m.ready.top().second;
  m.ready.pop();
  Request req = std::move(*m.heads[i]);
  // The merge is sorted, so the first arrival past the end ends the stream.
  if (m.duration && req.arrival > *m.duration) {
    m.done = true;
    return std::nullopt;
  }
  m.pull(i);
  TF_ASSERT(!m.heads[i] || m.heads[i]->arrival >= req.arrival, "request source went back in time");
  req.id = m.next_id++;
  return req;
}

const WorkloadStats& Workload::stats() const {
  return impl_->stats;
}

std::vector<std::string> trace_formats() {
  return trace_format_registry().names();
}

}  // namespace tf::workload
