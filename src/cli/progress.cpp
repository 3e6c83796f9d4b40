#include "cli/progress.hpp"

#include <fmt/format.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>

namespace tf::cli {

namespace {

// 1234567 -> "1.23M": the line must stay short enough for an 80-column terminal.
std::string compact(double v) {
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e4) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

std::string duration(double s) {
  if (s >= 3600) return fmt::format("{}h{:02}m", static_cast<int64_t>(s / 3600), static_cast<int64_t>(s / 60) % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", static_cast<int64_t>(s / 60), static_cast<int64_t>(s) % 60);
  return fmt::format("{:.0f}s", s);
}

}  // namespace

std::string progress_text(const engine::ProgressSample& p, Seconds horizon, double wall) {
  const double now = p.simulated.value();
  const double end = horizon.value();
  std::string text = fmt::format("simulated {}", duration(now));
  if (end > 0) text += fmt::format(" of {} ({:.0f}%)", duration(end), std::min(now / end, 1.0) * 100);
  text += fmt::format("  requests {} arrived, {} done", compact(static_cast<double>(p.arrived)),
                      compact(static_cast<double>(p.settled)));
  if (wall > 0) text += fmt::format("  {} req/s", compact(static_cast<double>(p.arrived) / wall));
  if (end > 0 && now >= end) {
    // Arrivals are over; what is left is the requests in flight, whose pace no clock here predicts.
    text += fmt::format("  draining {} in flight", compact(static_cast<double>(p.arrived - p.settled)));
  } else if (end > 0 && now > 0 && wall > 0) {
    // Wall time per simulated second so far, applied to the simulated time still to come.
    text += fmt::format("  ETA {}", duration(wall * (end - now) / now));
  }
  return text;
}

ProgressLine::ProgressLine(std::FILE* out, Seconds horizon, bool enabled)
    : out_(out),
      horizon_(horizon),
      active_(enabled && isatty(fileno(out))),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressLine::update(const engine::ProgressSample& sample) {
  if (!active_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(250)) return;
  last_draw_ = now;
  double wall = std::chrono::duration<double>(now - start_).count();
  // "\x1b[K" erases what a longer earlier line left to the right.
  std::fprintf(out_, "\r  %s\x1b[K", progress_text(sample, horizon_, wall).c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressLine::finish() {
  if (!drawn_) return;
  std::fputs("\r\x1b[K", out_);
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace tf::cli
