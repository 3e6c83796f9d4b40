#include "metrics/timeseries.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "metrics/summary.hpp"

namespace tf::metrics {

TimeSeriesRecorder::TimeSeriesRecorder(Seconds interval, std::vector<PoolSpan> pools,
                                       const std::vector<serving::Instance>& instances)
    : spans_(std::move(pools)), instances_(&instances), next_boundary_(interval.value()) {
  TF_ASSERT(interval.value() > 0, "the time-series interval must be positive");
  series_.interval = interval;
  busy_before_.assign(spans_.size(), 0.0);
  for (const auto& span : spans_) {
    int64_t capacity = 0;
    for (int64_t k = 0; k < span.instances; ++k)
      capacity += instances[span.first_instance + static_cast<size_t>(k)].kv_capacity_tokens();
    series_.kv_capacity_tokens.push_back(capacity);
  }
}

void TimeSeriesRecorder::advance(Seconds now) {
  if (!instances_) return;
  while (next_boundary_ <= now.value()) {
    record(next_boundary_);
    // Multiplying rather than adding keeps boundaries exact multiples of the interval over long runs.
    next_boundary_ = static_cast<double>(series_.ends.size() + 1) * series_.interval.value();
  }
}

void TimeSeriesRecorder::record(double boundary) {
  std::vector<PoolInterval> row(spans_.size());
  for (size_t p = 0; p < spans_.size(); ++p) {
    double busy = 0;
    auto& out = row[p];
    for (int64_t k = 0; k < spans_[p].instances; ++k) {
      const auto& inst = (*instances_)[spans_[p].first_instance + static_cast<size_t>(k)];
      busy += inst.busy_time_at(Seconds(boundary)).value();
      out.outstanding += inst.outstanding();
      out.waiting += inst.waiting();
      out.kv_used_tokens += inst.kv_used_tokens();
    }
    out.busy_s = busy - busy_before_[p];
    busy_before_[p] = busy;
  }
  series_.ends.push_back(boundary);
  series_.pools.push_back(std::move(row));
}

PoolSeries TimeSeriesRecorder::finish(Seconds end) {
  if (instances_) {
    advance(end);
    double last = series_.ends.empty() ? 0.0 : series_.ends.back();
    if (end.value() > last) record(end.value());
  }
  instances_ = nullptr;
  return std::move(series_);
}

std::vector<IntervalRow> tabulate(const PoolSeries& series, const std::vector<std::string>& pool_names,
                                  const std::vector<PoolSpan>& spans, const RequestLog& log,
                                  const std::vector<config::ClassConfig>& classes, Seconds client_latency) {
  const size_t intervals = series.ends.size();
  const size_t nc = classes.size(), np = spans.size();
  TF_ASSERT(pool_names.size() == np, "one name per pool");
  if (intervals == 0) return {};
  // Rows per interval: [0] all, [1 .. nc] classes, [nc + 1 .. nc + np] pools.
  const size_t per = 1 + nc + np;
  std::vector<IntervalRow> rows(intervals * per);
  for (size_t k = 0; k < intervals; ++k) {
    double start = k == 0 ? 0.0 : series.ends[k - 1];
    for (size_t r = 0; r < per; ++r) {
      auto& row = rows[k * per + r];
      row.start = start;
      row.end = series.ends[k];
      row.scope = r == 0 ? "all" : r <= nc ? "class" : "pool";
      row.name = r == 0 ? "" : r <= nc ? classes[r - 1].name : pool_names[r - 1 - nc];
    }
  }
  // The interval holding time t: boundaries are multiples of the interval, except a shorter last one.
  const double width = series.interval.value();
  auto interval_of = [&](double t) {
    double k = std::floor(t / width);
    if (k < 0) return size_t{0};
    return std::min(static_cast<size_t>(k), intervals - 1);
  };
  std::vector<size_t> pool_of;  // global instance id -> pool
  for (size_t p = 0; p < np; ++p) {
    size_t end = spans[p].first_instance + static_cast<size_t>(spans[p].instances);
    if (pool_of.size() < end) pool_of.resize(end, SIZE_MAX);
    for (size_t i = spans[p].first_instance; i < end; ++i)
      pool_of[i] = p;
  }
  auto rows_for = [&](size_t k, size_t i, auto&& fn) {
    fn(rows[k * per]);
    fn(rows[k * per + 1 + log.class_id(i)]);
    uint32_t inst = log.instance(i);
    if (inst != RequestLog::kNoInstance && inst < pool_of.size() && pool_of[inst] != SIZE_MAX)
      fn(rows[k * per + 1 + nc + pool_of[inst]]);
  };
  for (size_t i = 0; i < log.size(); ++i) {
    rows_for(interval_of(log.arrival(i) + client_latency.value()), i, [](IntervalRow& r) { ++r.arrivals; });
    if (log.status(i) == RequestStatus::rejected) {
      rows_for(interval_of(log.finish_time(i)), i, [](IntervalRow& r) { ++r.rejected; });
      continue;
    }
    Outcome o = outcome(log, i, classes[log.class_id(i)], client_latency);
    if (!o.finished) continue;
    int64_t tokens = log.output_tokens(i);
    rows_for(interval_of(log.finish_time(i)), i, [&](IntervalRow& r) {
      ++r.completed;
      r.output_tokens += tokens;
      if (o.met_slo) ++r.met_slo;
      if (o.useful) r.useful_tokens += tokens;
    });
  }
  int64_t all_instances = 0, all_capacity = 0;
  for (size_t p = 0; p < np; ++p) {
    all_instances += spans[p].instances;
    all_capacity += series.kv_capacity_tokens[p];
  }
  for (size_t k = 0; k < intervals; ++k) {
    double w = rows[k * per].end - rows[k * per].start;
    auto& all = rows[k * per];
    all.has_pool_state = true;
    double all_busy = 0;
    int64_t all_kv = 0;
    for (size_t p = 0; p < np; ++p) {
      const auto& s = series.pools[k][p];
      auto& row = rows[k * per + 1 + nc + p];
      row.has_pool_state = true;
      row.utilization = w > 0 && spans[p].instances > 0 ? s.busy_s / (w * static_cast<double>(spans[p].instances)) : 0;
      row.outstanding = s.outstanding;
      row.waiting = s.waiting;
      row.kv_used_fraction = series.kv_capacity_tokens[p] > 0 ? static_cast<double>(s.kv_used_tokens) /
                                                                    static_cast<double>(series.kv_capacity_tokens[p])
                                                              : 0;
      all_busy += s.busy_s;
      all_kv += s.kv_used_tokens;
      all.outstanding += s.outstanding;
      all.waiting += s.waiting;
    }
    all.utilization = w > 0 && all_instances > 0 ? all_busy / (w * static_cast<double>(all_instances)) : 0;
    all.kv_used_fraction = all_capacity > 0 ? static_cast<double>(all_kv) / static_cast<double>(all_capacity) : 0;
  }
  return rows;
}

}  // namespace tf::metrics
