#pragma once
// When instances fail and when they serve again (docs/failures.md). Pure arithmetic, no SimGrid: the engine
// asks for the time of the next event and applies the changes it returns.
//
// Each instance fails as a Poisson process whose rate is the sum over its accelerators of the accelerator
// type's failure rate and its NIC and scale-up link failure rates (failures.accelerators, failures.links, or
// the sourced defaults in failures.cpp). A failure takes the instance down (blast radius "instance") or every
// instance of its scale-up domain ("domain"). The instance serves again after the repair time, or after the
// restart time when its pool has an idle spare to swap in for the failed accelerator; that spare's slot
// returns to the pool when the repair is done. Scripted failures (failures.scripted) happen at their times in
// addition. Streams are seeded from (scenario seed, instance id): a run is a pure function of its inputs.

#include <cstdint>
#include <limits>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "config/scenario.hpp"

namespace tf::engine {

// What the failure process needs to know about one pool.
struct FailurePool {
  std::string name;         // scenario pool name (scripted failures name it)
  std::string accelerator;  // catalog key, to find its rate in failures.accelerators
  int64_t instances = 0;
  int64_t accelerators_per_instance = 1;
  int64_t domain_size = 8;  // accelerators per scale-up domain (blast radius "domain")
  int64_t spares = 0;
  uint32_t first_instance = 0;  // global id of the pool's first instance
};

// Failure rate of one unit, per second, with where the figure comes from.
struct FailureRate {
  double per_second = 0;
  double repair_s = 0;
  std::string source;
};

// The rates the process uses for accelerator type `accelerator` (scenario entry, else the default).
FailureRate accelerator_failure_rate(const config::FailuresConfig& f, const std::string& accelerator);
FailureRate link_failure_rate(const config::FailuresConfig& f, const std::string& kind);  // "nic" | "scale_up"

struct PoolFailureStats {
  int64_t failures = 0;     // failure events that took instances of the pool down
  int64_t spare_swaps = 0;  // of which a spare shortened the outage to the restart time
  double down_seconds = 0;  // instance-seconds out of service
};

class FailureProcess {
 public:
  FailureProcess(const config::FailuresConfig& config, uint64_t seed, std::vector<FailurePool> pools);

  static constexpr double kNever = std::numeric_limits<double>::infinity();
  // Time of the next event (kNever when none is left).
  double next_time() const { return events_.empty() ? kNever : events_.top().at; }

  struct Change {
    uint32_t instance = 0;
    bool up = false;  // false: it just failed; true: it serves again
  };
  // Applies every event due at next_time() and returns the instances that changed state, in id order.
  std::vector<Change> advance();

  bool down(uint32_t instance) const { return down_[instance]; }
  // Per pool, with outages still open counted up to `now`.
  std::vector<PoolFailureStats> stats(double now) const;
  const std::vector<FailurePool>& pools() const { return pools_; }

 private:
  enum class Kind : uint8_t { random_failure, scripted_failure, recover, spare_back };
  struct Event {
    double at = 0;
    uint64_t order = 0;  // ties break in creation order: deterministic
    Kind kind = Kind::recover;
    uint32_t target = 0;  // instance, or pool for spare_back
    double repair_s = 0;  // scripted failures: their repair time
    bool domain = false;  // scripted failures: blast radius domain
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  void push(double at, Kind kind, uint32_t target, double repair_s = 0, bool domain = false);
  void fail(uint32_t instance, double now, double repair_s, bool domain, std::vector<Change>& out);
  uint32_t pool_of(uint32_t instance) const;

  config::FailuresConfig config_;
  std::vector<FailurePool> pools_;
  std::vector<double> rate_;          // per instance, failures per second
  std::vector<double> repair_;        // per instance, seconds
  std::vector<std::mt19937_64> rng_;  // per instance
  std::vector<char> down_;
  std::vector<double> up_at_;  // per instance: when the current outage ends
  std::vector<double> down_since_;
  std::vector<int64_t> spares_free_;  // per pool
  std::vector<PoolFailureStats> stats_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  uint64_t order_ = 0;
};

}  // namespace tf::engine
