#pragma once
// The discrete-event run (DESIGN.md §4): the only SimGrid-aware code. One SimGrid host per instance in a star
// zone, each behind a link as fast as its accelerators' scale-out NICs together; KV-cache hand-offs from
// prefill to decode instances are SimGrid flows over those links, so hand-offs that share a NIC contend.
// Instances and the arrival stream are actor-less state machines driven by kernel timers, one pending timer
// per instance. One simulation per process: SimGrid keeps process-wide state.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "config/scenario.hpp"
#include "engine/factory.hpp"
#include "engine/failures.hpp"
#include "metrics/request_log.hpp"
#include "metrics/timeseries.hpp"  // timeseries
#include "serving/instance.hpp"
#include "workload/workload.hpp"

namespace tf::engine {

struct TransferStats {
  int64_t count = 0;
  Bytes bytes;
  Seconds time;  // summed over transfers
  Seconds max;

  void add(Bytes b, Seconds t) {
    ++count;
    bytes += b;
    time += t;
    max = std::max(max, t);
  }
};

struct RunOutput {
  metrics::RequestLog log;
  std::vector<serving::InstanceUsage> instances;  // by global instance id
  Seconds simulated;                              // engine clock when the last event ran
  int64_t events = 0;                             // timer callbacks and completed transfers
  int64_t rejected_too_large = 0;                 // requests that no instance of their model could ever hold
  int64_t rejected_admission = 0;                 // turned away because their predicted TTFT exceeded the budget
  TransferStats kv_transfers;                     // prefill -> decode hand-offs
  TransferStats request_messages;                 // gateway -> instance, on a clos or rail fabric only
  TransferStats responses;                        // first tokens, instance -> gateway, on a clos or rail fabric only
  TransferStats prefix_fetches;                   // store -> instance, cluster-scope caches on clos or rail only
  metrics::PoolSeries timeseries;                 // timeseries: pool samples per interval (metrics.timeseries_interval)
  std::vector<PoolFailureStats> failures;         // per pool; empty when the scenario has no failures
  int64_t requests_retried = 0;                   // restarts after their instance failed
};

// Where a run stands, for a progress display.
struct ProgressSample {
  Seconds simulated;    // engine clock
  int64_t arrived = 0;  // requests that have arrived so far
  int64_t settled = 0;  // of those, finished or rejected
  int64_t events = 0;   // engine events so far
};

struct RunOptions {
  // Called from inside the run every 4,096 engine events (never when empty). It runs between events, so it
  // must be quick and must not touch the simulation.
  std::function<void(const ProgressSample&)> on_progress;
};

RunOutput simulate(const config::Scenario& scenario, const FactoryPlan& plan, workload::Workload& workload,
                   const RunOptions& options = {});

}  // namespace tf::engine
