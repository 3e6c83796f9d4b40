#include "perf/measured.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <tuple>

namespace tf::perf {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Indices of the grid values bracketing x (equal when x is on the grid or outside it, clamped).
std::pair<size_t, size_t> bracket(const std::vector<double>& grid, double x) {
  if (x <= grid.front()) return {0, 0};
  if (x >= grid.back()) return {grid.size() - 1, grid.size() - 1};
  const size_t hi = static_cast<size_t>(std::lower_bound(grid.begin(), grid.end(), x) - grid.begin());
  if (grid[hi] == x) return {hi, hi};
  return {hi - 1, hi};
}

}  // namespace

MeasuredCurve::MeasuredCurve(std::vector<std::pair<double, double>> points) {
  std::sort(points.begin(), points.end());
  for (size_t i = 0; i < points.size();) {
    size_t j = i;
    std::vector<double> ys;
    while (j < points.size() && points[j].first == points[i].first)
      ys.push_back(points[j++].second);
    x_.push_back(points[i].first);
    y_.push_back(median(ys));
    i = j;
  }
  for (size_t i = 1; i < y_.size(); ++i)
    y_[i] = std::max(y_[i], y_[i - 1]);
}

double MeasuredCurve::clamp(double x) const {
  return std::clamp(x, x_.front(), x_.back());
}

double MeasuredCurve::at(double x) const {
  if (x <= x_.front()) return y_.front();
  if (x >= x_.back()) return y_.back();
  const size_t hi = static_cast<size_t>(std::upper_bound(x_.begin(), x_.end(), x) - x_.begin());
  const size_t lo = hi - 1;
  const double w = (x - x_[lo]) / (x_[hi] - x_[lo]);
  return y_[lo] + w * (y_[hi] - y_[lo]);
}

MeasuredGemm measured_gemm(const GemmGrid& grid, double n, double k) {
  MeasuredGemm g;
  if (grid.empty()) return g;
  const auto [n0, n1] = bracket(grid.ns, n);
  const auto [k0, k1] = bracket(grid.ks, k);
  g.n_table = std::clamp(n, grid.ns.front(), grid.ns.back());
  g.k_table = std::clamp(k, grid.ks.front(), grid.ks.back());
  const double wn = n1 > n0 ? std::log(g.n_table / grid.ns[n0]) / std::log(grid.ns[n1] / grid.ns[n0]) : 0.0;
  const double wk = k1 > k0 ? std::log(g.k_table / grid.ks[k0]) / std::log(grid.ks[k1] / grid.ks[k0]) : 0.0;
  std::vector<std::pair<double, double>> points;
  for (size_t im = 0; im < grid.ms.size(); ++im) {
    const double c00 = grid.at(im, n0, k0), c01 = grid.at(im, n0, k1), c10 = grid.at(im, n1, k0),
                 c11 = grid.at(im, n1, k1);
    if (std::isnan(c00) || std::isnan(c01) || std::isnan(c10) || std::isnan(c11)) continue;
    const double l = (1 - wn) * ((1 - wk) * std::log(c00) + wk * std::log(c01)) +
                     wn * ((1 - wk) * std::log(c10) + wk * std::log(c11));
    points.emplace_back(grid.ms[im], std::exp(l));
  }
  if (!points.empty()) g.curve = MeasuredCurve(std::move(points));
  return g;
}

MeasuredDecode measured_decode(const std::vector<std::array<double, 3>>& points) {
  MeasuredDecode d;
  if (points.empty()) return d;
  // Relative least squares of t = a + beta * work over the context-dominated kernels, one intercept for
  // all (a is small there): minimise sum ((a + beta w - t) / t)^2.
  double s11 = 0, s1w = 0, sww = 0, s1t = 0, swt = 0;
  for (const auto& [b, ctx, t] : points) {
    const double w = b * ctx;
    if (w < 65536.0) continue;
    const double inv = 1.0 / (t * t);
    s11 += inv;
    s1w += w * inv;
    sww += w * w * inv;
    s1t += t * inv;
    swt += w * t * inv;
  }
  const double det = s11 * sww - s1w * s1w;
  if (s11 > 0.0 && det > 0.0) d.per_token = std::max(0.0, (s11 * swt - s1w * s1t) / det);
  if (!(d.per_token > 0.0)) {
    // Too few large kernels: the plain ratio over the largest one.
    const auto& big = *std::max_element(points.begin(), points.end(),
                                        [](const auto& a, const auto& b) { return a[0] * a[1] < b[0] * b[1]; });
    d.per_token = big[2] / (big[0] * big[1]);
  }
  std::map<double, std::vector<double>> intercepts;
  for (const auto& [b, ctx, t] : points)
    intercepts[b].push_back(std::max(t - d.per_token * b * ctx, 0.0));
  std::vector<std::pair<double, double>> base;
  double floor = INFINITY;
  for (const auto& p : points)
    floor = std::min(floor, p[2]);
  for (const auto& [b, v] : intercepts)
    base.emplace_back(b, std::max(median(v), 0.5 * floor));
  d.base = MeasuredCurve(std::move(base));
  return d;
}

MeasuredCurve measured_prefill(const std::vector<std::array<double, 3>>& points) {
  std::map<long, std::pair<std::vector<double>, std::vector<double>>> bins;  // half-octave -> (pairs, seconds)
  for (const auto& [b, s, t] : points) {
    const double pairs = b * s * s / 2.0;
    auto& bin = bins[std::lround(2.0 * std::log2(std::max(pairs, 1.0)))];
    bin.first.push_back(pairs);
    bin.second.push_back(t);
  }
  std::vector<std::pair<double, double>> curve;
  for (const auto& [key, bin] : bins)
    curve.emplace_back(median(bin.first), median(bin.second));
  return curve.empty() ? MeasuredCurve() : MeasuredCurve(std::move(curve));
}

}  // namespace tf::perf
