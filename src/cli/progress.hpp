#pragma once
// The progress line a long run draws on stderr: how far simulated time has come against when the last
// request is due, how many requests have arrived and settled, how fast the run goes, and an estimate of the
// wall time left. Drawn only when stderr is a terminal (a log file or a pipe gets nothing), in place
// (carriage return), at most four times a second, so that it costs nothing measurable.

#include <chrono>
#include <cstdio>
#include <string>

#include "core/units.hpp"
#include "engine/simulation.hpp"

namespace tf::cli {

// The text of the line, without the leading carriage return. horizon: when the last arrival is due
// (<= 0: unknown, so no share and no estimate). wall: seconds since the simulation started.
std::string progress_text(const engine::ProgressSample& sample, Seconds horizon, double wall);

class ProgressLine {
 public:
  // Draws on `out` when `enabled` and `out` is a terminal.
  ProgressLine(std::FILE* out, Seconds horizon, bool enabled);
  void update(const engine::ProgressSample& sample);
  // Erases the line, if one was drawn, so that what follows starts on a clean line.
  void finish();
  bool active() const { return active_; }

 private:
  std::FILE* out_;
  Seconds horizon_;
  bool active_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace tf::cli
