#pragma once
// A trace as a request source: read from disk as it is consumed, time-scaled, replicated and classified.
//
// Time: a request's arrival is its time since the trace's first row divided by rate_scale (the trace's own
// times the workload's), so the first request arrives at 0 and rate_scale = 2 halves the span.
//
// Replicas: R superimposed copies, replica r shifted by r * span / R and wrapped around modulo the span
// (the time from the first to the last kept row). A shifted time t + s that passes the span becomes
// t + s - span, so every copy covers the whole window [0, span] and the offered load stays uniform over it,
// instead of piling a tail past the end. Replica 0 is the trace itself. Replica r reads as two segments:
// first the rows with t > span - s (they wrap to the front), then the rows with t <= span - s, each through
// its own cursor (trace_file.hpp: rows held in memory for a small trace, shared by every replica; for a
// large one the file is opened again per segment and read from the segment start, so memory stays O(R)
// open files, not O(rows)). Times are integer nanoseconds until the final division, so segments join in
// order exactly. Ties between replicas go to the lower replica.
//
// Prefix blocks: replica r > 0 gets its own block ids (id + r x (largest id + 1)), as its requests stand for
// other users with other conversations; sharing within a replica is kept, sharing across replicas is not,
// so replicas do not inflate the prefix-cache hit rate.
//
// max_requests keeps the first rows of the file (before replicas); the span is that of the kept rows.
// Classes: a fixed class, or one seeded draw per request from class_mix, from a stream per (trace, replica)
// so that adding replicas or sources leaves the draws of replica 0 unchanged.

#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "workload/class_chooser.hpp"
#include "workload/trace_file.hpp"
#include "workload/workload.hpp"

namespace tf::workload {

class TraceSource final : public RequestSource {
 public:
  // trace_index: position in WorkloadConfig::traces (for errors and random stream names); it is also the
  // Request::source of its requests. rate_scale: the workload's, applied on top of the trace's.
  TraceSource(const config::TraceConfig& cfg, size_t trace_index, double rate_scale,
              const std::vector<std::string>& classes, uint64_t seed);
  ~TraceSource() override;

  std::optional<Request> next() override;

  const TraceFile& file() const { return file_; }
  int replicas() const { return static_cast<int>(replicas_.size()); }

 private:
  struct Replica {
    int64_t shift_ns = 0;
    int64_t cut_ns = 0;    // span - shift: rows after it wrap to the front
    bool in_tail = false;  // reading the wrapped segment (rows > cut)
    std::optional<TraceFile::Cursor> cursor;
    std::optional<TraceFile::Row> head;  // next row of this replica
    int64_t head_arrival_ns = 0;         // its shifted time since the start, unscaled
    uint64_t block_offset = 0;           // added to the prefix block ids of this replica
    std::mt19937_64 class_rng;
  };
  void advance(Replica& r);

  TraceFile file_;
  double time_divisor_ = 1.0;  // trace rate_scale x workload rate_scale
  uint32_t source_ = 0;
  ClassChooser chooser_;
  std::vector<Replica> replicas_;
  // Replicas with a head, earliest first, then lowest replica index.
  using Entry = std::pair<int64_t, size_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> ready_;
};

}  // namespace tf::workload
