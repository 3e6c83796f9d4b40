#pragma once
// Lookups into measured kernel tables (profile.hpp) for the perf model's "measured" mode. Each is built
// once when a PerfModel is constructed, for the pool's fixed shapes (GEMM n and k, heads per GPU, MoE
// dimensions, collective group size), and leaves one variable free (tokens, batch, context, bytes), so a
// query is a binary search and a linear interpolation: no allocation, no I/O.
//
// Outside a table's range the perf model extrapolates with the roofline, anchored at the nearest measured
// point (time = measured(boundary) * roofline(x) / roofline(boundary)), and flags the operator.

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "perf/profile.hpp"

namespace tf::perf {

// Measured seconds as a function of one variable: piecewise-linear between points, made non-decreasing
// (more work never takes less time; this also removes the dips that measurement noise leaves).
class MeasuredCurve {
 public:
  MeasuredCurve() = default;
  // Points (x, seconds) in any order; points of equal x are replaced by their median.
  explicit MeasuredCurve(std::vector<std::pair<double, double>> points);

  bool empty() const { return x_.empty(); }
  double lo() const { return x_.front(); }
  double hi() const { return x_.back(); }
  bool covers(double x) const { return !empty() && x >= lo() && x <= hi(); }
  double clamp(double x) const;
  // Seconds at clamp(x).
  double at(double x) const;
  size_t size() const { return x_.size(); }

 private:
  std::vector<double> x_, y_;
};

// A GEMM of fixed n, k: seconds over m. n and k are interpolated bilinearly in log space between the
// table's grid values (log latency); `n_table`/`k_table` are the values used, clamped into the grid (they
// differ from n and k when the shape is outside it).
struct MeasuredGemm {
  MeasuredCurve curve;
  double n_table = 0, k_table = 0;
};
MeasuredGemm measured_gemm(const GemmGrid& grid, double n, double k);

// Decode attention of a batch of b sequences with contexts summing to C, as base(b) + per_token * C:
// exactly linear in C (the engine leaps on it). per_token is one slope for the head configuration,
// fitted (relative least squares) on the kernels whose context work dominates (b * context >= 65,536);
// base(b) is the median intercept per measured batch size.
struct MeasuredDecode {
  MeasuredCurve base;    // seconds over batch size
  double per_token = 0;  // seconds per cached token of context
  bool empty() const { return base.empty(); }
};
// (batch, context, seconds) points of one head configuration.
MeasuredDecode measured_decode(const std::vector<std::array<double, 3>>& points);

// Prefill attention over causal query-key pairs: a batch of b prompts of s tokens does b * s^2 / 2
// pairs; a chunk of t tokens after `before` cached ones does t * (before + t / 2). Seconds over pairs,
// the median per half-octave of pairs of all (batch, length) points of one head configuration.
MeasuredCurve measured_prefill(const std::vector<std::array<double, 3>>& points);

}  // namespace tf::perf
