#pragma once
// The roofline of the perf model's "roofline" mode: for a kernel of `flops` operations and `bytes` of
// memory traffic,
//   time = overhead + max(flops / (peak * compute(flops)), bytes / (bandwidth * memory(bytes)))
// where compute() and memory() are efficiency curves: the achieved fraction of peak compute as a function
// of the problem size in flops, and of peak HBM bandwidth as a function of the bytes moved. Small kernels
// reach a small fraction (too few tiles to fill the machine, launch and tail effects); large ones approach
// the ceiling the kernel library reaches. Curves are piecewise-linear in log10(size) and constant beyond
// their end knots. They are fitted per accelerator family and operator class from measured kernels
// (fit_roofline below; the fitted values are in roofline_defaults.cpp).

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace tf::perf {

struct EfficiencyCurve {
  std::vector<std::pair<double, double>> knots;  // (log10 of size, achieved fraction), increasing size
  double at(double size) const;
};

struct RooflineCurve {
  double overhead_s = 0.0;  // fixed cost per kernel, seconds
  EfficiencyCurve compute;  // fraction of peak compute vs flops
  EfficiencyCurve memory;   // fraction of peak bandwidth vs bytes
  // Seconds for one kernel; peak in flop/s, bandwidth in bytes/s.
  double time(double flops, double bytes, double peak, double bandwidth) const;
};

// One measured kernel reduced to its work.
struct KernelSample {
  double flops = 0, bytes = 0, seconds = 0;
};

// Fits a RooflineCurve to samples measured on an accelerator of `peak` flop/s and `bandwidth` bytes/s:
// the overhead is the 0.5th percentile of the latencies (the floor small kernels hit); then each kernel's
// achieved fraction of the bound that limits it, (work / rate) / (latency - overhead), is binned by
// half-decade of size and the bin medians (bins of `min_bin` kernels or more) become the knots. Which bound
// limits a kernel is decided by the fitted curves themselves, iterated four times from the plain
// roofline. Fractions are clamped to [0.02, 1] and limited so that time never falls as size grows.
RooflineCurve fit_roofline(const std::vector<KernelSample>& samples, double peak, double bandwidth,
                           size_t min_bin = 20);

// C++ initialiser text of a curve, for pasting fitted values into roofline_defaults.cpp.
std::string to_code(const RooflineCurve& c);

}  // namespace tf::perf
