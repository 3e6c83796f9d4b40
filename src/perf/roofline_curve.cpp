#include "perf/roofline_curve.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace tf::perf {

double EfficiencyCurve::at(double size) const {
  if (knots.empty()) return 1.0;
  const double x = std::log10(std::max(size, 1.0));
  if (x <= knots.front().first) return knots.front().second;
  if (x >= knots.back().first) return knots.back().second;
  const auto hi = std::upper_bound(knots.begin(), knots.end(), x,
                                   [](double v, const std::pair<double, double>& k) { return v < k.first; });
  const auto lo = hi - 1;
  const double w = (x - lo->first) / (hi->first - lo->first);
  return lo->second + w * (hi->second - lo->second);
}

double RooflineCurve::time(double flops, double bytes, double peak, double bandwidth) const {
  const double tc = flops > 0.0 ? flops / (peak * compute.at(flops)) : 0.0;
  const double tm = bytes > 0.0 ? bytes / (bandwidth * memory.at(bytes)) : 0.0;
  return overhead_s + std::max(tc, tm);
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

EfficiencyCurve binned(const std::vector<std::pair<double, double>>& size_fraction, size_t min_bin) {
  std::map<int, std::vector<double>> bins;  // half-decades
  for (const auto& [size, fraction] : size_fraction)
    bins[static_cast<int>(std::lround(std::log10(std::max(size, 1.0)) * 2.0))].push_back(fraction);
  EfficiencyCurve c;
  for (const auto& [half_decade, v] : bins)
    if (v.size() >= min_bin) c.knots.emplace_back(half_decade / 2.0, std::clamp(median(v), 0.02, 1.0));
  // More work must never take less time: size / fraction(size) non-decreasing. Along a segment where the
  // fraction rises linearly in log10(size) that holds while it rises by at most ln(10) * (step in
  // decades) of its starting value; noisy bins that rise faster are cut back to that.
  for (size_t i = 1; i < c.knots.size(); ++i) {
    const double step = c.knots[i].first - c.knots[i - 1].first;
    c.knots[i].second = std::min(c.knots[i].second, c.knots[i - 1].second * (1.0 + std::log(10.0) * step));
  }
  return c;
}

}  // namespace

RooflineCurve fit_roofline(const std::vector<KernelSample>& samples, double peak, double bandwidth, size_t min_bin) {
  RooflineCurve c;
  if (samples.empty()) return c;
  std::vector<double> latencies;
  for (const auto& s : samples)
    latencies.push_back(s.seconds);
  std::sort(latencies.begin(), latencies.end());
  c.overhead_s = latencies[latencies.size() / 200];
  for (int iteration = 0; iteration < 4; ++iteration) {
    std::vector<std::pair<double, double>> compute, memory;
    for (const auto& s : samples) {
      const double busy = std::max(s.seconds - c.overhead_s, 1e-9);
      const bool compute_bound =
          iteration == 0 ? s.flops / peak > s.bytes / bandwidth
                         : s.flops / (peak * c.compute.at(s.flops)) > s.bytes / (bandwidth * c.memory.at(s.bytes));
      if (compute_bound)
        compute.emplace_back(s.flops, s.flops / peak / busy);
      else
        memory.emplace_back(s.bytes, s.bytes / bandwidth / busy);
    }
    RooflineCurve next = c;
    next.compute = binned(compute, min_bin);
    next.memory = binned(memory, min_bin);
    // A side with no bin of min_bin kernels keeps the previous curve (or the plain roofline).
    if (next.compute.knots.empty()) next.compute = c.compute;
    if (next.memory.knots.empty()) next.memory = c.memory;
    c = next;
  }
  return c;
}

std::string to_code(const RooflineCurve& c) {
  auto knots = [](const EfficiencyCurve& e) {
    std::string s = "{";
    for (const auto& [x, y] : e.knots)
      s += fmt::format("{{{:.1f}, {:.3f}}}, ", x, y);
    if (s.size() > 1) s.resize(s.size() - 2);
    return s + "}";
  };
  return fmt::format("{{{:.3g}, {{{}}}, {{{}}}}}", c.overhead_s, knots(c.compute), knots(c.memory));
}

}  // namespace tf::perf
