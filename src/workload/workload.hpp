#pragma once
// The request stream of a scenario: every trace and synthetic generator of the scenario's workload,
// each rate-scaled and replicated, merged in arrival order. Streams: a trace is read from disk as the
// simulation consumes it (plus one validating pass at open), never held whole in memory.

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
  int64_t sources = 0;
};

class Workload {
 public:
  // classes: class names in the order whose index is Request::class_id.
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Names of the registered trace formats ("azure", "mooncake", "vidur").
std::vector<std::string> trace_formats();

}  // namespace tf::workload
