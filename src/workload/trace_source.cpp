#include "workload/trace_source.hpp"

#include <fmt/format.h>

#include <cmath>

#include "core/error.hpp"
#include "core/random.hpp"

namespace tf::workload {

namespace {

std::string trace_where(size_t index) {
  return fmt::format("/workload/traces/{}", index);
}

std::optional<int64_t> checked_max_requests(const config::TraceConfig& cfg, size_t index) {
  if (cfg.max_requests && *cfg.max_requests < 1)
    throw ConfigError("", trace_where(index) + "/max_requests",
                      fmt::format("expected at least 1, got {}", *cfg.max_requests));
  return cfg.max_requests;
}

}  // namespace

TraceSource::TraceSource(const config::TraceConfig& cfg, size_t trace_index, double rate_scale,
                         const std::vector<std::string>& classes, uint64_t seed)
    : file_(cfg.format, cfg.path, checked_max_requests(cfg, trace_index), trace_where(trace_index) + "/format"),
      time_divisor_(cfg.rate_scale * rate_scale),
      source_(static_cast<uint32_t>(trace_index)),
      chooser_(cfg.class_name, cfg.class_mix, classes, trace_where(trace_index)) {
  const std::string where = trace_where(trace_index);
  if (!(cfg.rate_scale > 0) || !std::isfinite(cfg.rate_scale))
    throw ConfigError("", where + "/rate_scale", fmt::format("expected a number > 0, got {}", cfg.rate_scale));
  if (!(time_divisor_ > 0) || !std::isfinite(time_divisor_))
    throw ConfigError("", "/workload/rate_scale", fmt::format("expected a number > 0, got {}", rate_scale));
  if (cfg.replicas < 1)
    throw ConfigError("", where + "/replicas", fmt::format("expected at least 1, got {}", cfg.replicas));

  const int n = cfg.replicas;
  const std::string stream = fmt::format("workload/traces/{}/class_mix", trace_index);
  replicas_.resize(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    Replica& rep = replicas_[static_cast<size_t>(r)];
    rep.shift_ns = std::llround(static_cast<double>(file_.span_ns()) * r / n);
    rep.cut_ns = file_.span_ns() - rep.shift_ns;
    rep.class_rng = random_stream(seed, stream, static_cast<uint64_t>(r));
    rep.block_offset = static_cast<uint64_t>(r) * file_.prefix_block_bound();
    rep.in_tail = rep.shift_ns > 0;
    rep.cursor.emplace(rep.in_tail ? file_.rows_after(rep.cut_ns) : file_.all_rows());
    advance(rep);
    if (rep.head) ready_.emplace(rep.head_arrival_ns, static_cast<size_t>(r));
  }
}

TraceSource::~TraceSource() = default;

void TraceSource::advance(Replica& rep) {
  rep.head.reset();
  while (rep.cursor) {
    auto row = rep.cursor->next();
    if (rep.in_tail) {
      if (row) {
        rep.head_arrival_ns = row->time_ns - rep.cut_ns;  // in (0, shift]
        rep.head = std::move(row);
        return;
      }
      rep.in_tail = false;
      rep.cursor.emplace(file_.all_rows());
      continue;
    }
    if (row && row->time_ns <= rep.cut_ns) {
      rep.head_arrival_ns = row->time_ns + rep.shift_ns;  // in [shift, span]
      rep.head = std::move(row);
      return;
    }
    rep.cursor.reset();  // the rest of the file was the wrapped segment
  }
}

std::optional<Request> TraceSource::next() {
  if (ready_.empty()) return std::nullopt;
  const size_t r = ready_.top().second;
  ready_.pop();
  Replica& rep = replicas_[r];
  TraceFile::Row& row = *rep.head;
  Request req;
  req.arrival = Seconds(static_cast<double>(rep.head_arrival_ns) * 1e-9 / time_divisor_);
  req.input_tokens = row.data.input_tokens;
  req.output_tokens = row.data.output_tokens;
  req.prefix_blocks = std::move(row.data.prefix_blocks);
  for (uint64_t& b : req.prefix_blocks)
    b += rep.block_offset;
  req.source = source_;
  req.class_id = chooser_.choose(rep.class_rng);
  advance(rep);
  if (rep.head) ready_.emplace(rep.head_arrival_ns, r);
  return req;
}

}  // namespace tf::workload
