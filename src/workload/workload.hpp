#pragma once
// The request stream of a scenario: every trace and synthetic generator of the scenario's workload,
// each rate-scaled and replicated, merged in arrival order. Requests are produced as the simulation
// consumes them. A trace is validated in one pass at open; then a small trace (up to 256 MiB of compact rows,
// trace_file.hpp) is read from memory, and a larger one is read again from disk, streaming.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "workload/request.hpp"

namespace tf::workload {

// A source of requests in nondecreasing arrival order. Ids and class ids are filled by the Workload.
class RequestSource {
 public:
  virtual ~RequestSource() = default;
  virtual std::optional<Request> next() = 0;
};

struct WorkloadStats {
  int64_t sources = 0;          // traces + synthetic generators
  int64_t trace_rows = 0;       // rows kept from all traces (after max_requests, before replicas)
  int64_t clamped_outputs = 0;  // of those, rows whose 0 output tokens were raised to 1 (trace_format.hpp)
  // When the last arrival is due, before any scenario duration cuts it: the longest trace span after rate
  // scaling, or a count-bounded generator's expected span (count x mean gap). 0 when no source is bounded
  // on its own (generators that run until the duration). For progress estimates; not a simulation input.
  Seconds expected_span;
};

class Workload {
 public:
  // classes: class names in the order whose index is Request::class_id.
  // Request::source is the index in cfg.traces for traces, and cfg.traces.size() + index in cfg.synthetic
  // for generators. cfg.rate_scale multiplies every source's rate (divides trace times). Scaling, replicas
  // and classes: trace_source.hpp; generators: synthetic_source.hpp; formats and 0-token rows: trace_format.hpp.
  // Opens and validates every trace (missing file, malformed or truncated line, empty trace: ConfigError
  // naming the file and line). `duration`, when set, drops arrivals after it.
  Workload(const config::WorkloadConfig& cfg, const std::vector<std::string>& classes, uint64_t seed,
           std::optional<Seconds> duration);
  ~Workload();
  Workload(Workload&&) noexcept;
  Workload& operator=(Workload&&) noexcept;

  // The next request in arrival order (ties broken by source index, then by order within the source),
  // or nullopt at the end.
  std::optional<Request> next();

  // Known at construction (every trace has been validated by then).
  const WorkloadStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Names of the registered trace formats ("azure", "mooncake", "vidur").
std::vector<std::string> trace_formats();

}  // namespace tf::workload
