#pragma once
// A run over simulated time (timeseries.csv): what each pool's instances were doing at every interval boundary,
// and what requests arrived, finished and met their SLO in each interval. Pure: the engine tells the recorder when
// simulated time advances; no SimGrid here.
//
// Sampling is exact, not approximate: instance state changes only at events, so the state the recorder sees when
// the clock jumps to the next event (before that event runs) is the state at every interval boundary the jump
// crosses. Busy time comes from each instance's busy_time_at(), which counts the part of an iteration or leap in
// progress that lies before the boundary.

#include <cstdint>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "core/units.hpp"
#include "metrics/request_log.hpp"
#include "serving/instance.hpp"

namespace tf::metrics {

// A pool's instances: global ids first_instance .. first_instance + instances - 1.
struct PoolSpan {
  uint32_t first_instance = 0;
  int64_t instances = 0;
};

// One pool over one interval.
struct PoolInterval {
  double busy_s = 0;           // instance-seconds spent running iterations within the interval
  int64_t outstanding = 0;     // requests waiting or running at the pool's instances at the interval's end
  int64_t waiting = 0;         // of which not yet admitted into a batch
  int64_t kv_used_tokens = 0;  // KV-cache tokens in use at the interval's end, all instances
};

struct PoolSeries {
  Seconds interval;                              // nominal width of an interval
  std::vector<double> ends;                      // end of each interval, s; the last may be shorter
  std::vector<std::vector<PoolInterval>> pools;  // [interval][pool]
  std::vector<int64_t> kv_capacity_tokens;       // per pool, all instances
};

class TimeSeriesRecorder {
 public:
  // `instances` is indexed by global instance id and must outlive every advance() call.
  TimeSeriesRecorder(Seconds interval, std::vector<PoolSpan> pools, const std::vector<serving::Instance>& instances);

  // Simulated time has jumped to `now` and no event at `now` has run yet: records every interval boundary up to
  // and including `now`.
  void advance(Seconds now);
  // The run ended at `end`: records the last (partial) interval and detaches from the instances, so that a
  // late advance() is a no-op.
  PoolSeries finish(Seconds end);

 private:
  void record(double boundary);

  std::vector<PoolSpan> spans_;
  const std::vector<serving::Instance>* instances_;
  PoolSeries series_;
  double next_boundary_;
  std::vector<double> busy_before_;  // per pool: busy instance-seconds up to the last boundary recorded
};

// One row of timeseries.csv.
struct IntervalRow {
  double start = 0, end = 0;    // s, engine clock
  std::string scope;            // "all", "class" or "pool"
  std::string name;             // class or pool name; empty for "all"
  int64_t arrivals = 0;         // requests that reached the cluster (class, or routed to the pool) in the interval
  int64_t completed = 0;        // requests whose last token was produced in the interval
  int64_t rejected = 0;         // requests turned away in the interval
  int64_t met_slo = 0;          // of the completed ones, those that met every budget
  int64_t output_tokens = 0;    // answer tokens of the completed requests
  int64_t useful_tokens = 0;    // answer tokens of the completed requests that met their SLO
  bool has_pool_state = false;  // the fields below apply ("all" and "pool" rows)
  double utilization = 0;       // busy instance-time / (instances x interval width)
  int64_t outstanding = 0;      // requests waiting or running at the interval's end
  int64_t waiting = 0;          // of which not admitted into a batch
  double kv_used_fraction = 0;  // KV-cache tokens in use / capacity at the interval's end
};

// The rows of every interval: for each interval the "all" row, then one per class (class-id order), then one
// per pool. Request times are on the engine clock: a request arrives when it reaches the cluster (its send time
// plus the client latency) and completes when its last token is produced.
std::vector<IntervalRow> tabulate(const PoolSeries& series, const std::vector<std::string>& pool_names,
                                  const std::vector<PoolSpan>& spans, const RequestLog& log,
                                  const std::vector<config::ClassConfig>& classes, Seconds client_latency);

}  // namespace tf::metrics
