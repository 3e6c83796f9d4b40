#pragma once
// The discrete-event run (DESIGN.md §4): the only SimGrid-aware code. One SimGrid host per instance in a
// star zone; instances and the arrival stream are actor-less state machines driven by kernel timers, one
// pending timer per instance. One simulation per process: SimGrid keeps process-wide state.

#include <cstdint>
#include <vector>

#include "config/scenario.hpp"
#include "engine/factory.hpp"
#include "metrics/request_log.hpp"
#include "serving/instance.hpp"
#include "workload/workload.hpp"

namespace tf::engine {

struct RunOutput {
  metrics::RequestLog log;
  std::vector<serving::InstanceUsage> instances;  // by global instance id
  Seconds simulated;                              // engine clock when the last event ran
  int64_t events = 0;                             // timer callbacks run
  int64_t rejected_too_large = 0;                 // requests that no instance of their model could ever hold
};

struct RunOptions {
  bool progress = false;  // print a progress line on stderr (only when it is a terminal)
};

RunOutput simulate(const config::Scenario& scenario, const FactoryPlan& plan, workload::Workload& workload,
                   const RunOptions& options = {});

}  // namespace tf::engine
