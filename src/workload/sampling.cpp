#include "workload/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.hpp"
#include "core/random.hpp"

namespace tf::workload {

double uniform_open0(std::mt19937_64& g) {
  return 1.0 - uniform01(g);
}

double sample_exponential(std::mt19937_64& g, double mean) {
  return -mean * std::log(uniform_open0(g));
}

double sample_standard_normal(std::mt19937_64& g) {
  const double u1 = uniform_open0(g);
  const double u2 = uniform01(g);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double sample_gamma(std::mt19937_64& g, double shape) {
  TF_ASSERT(shape > 0 && std::isfinite(shape), "gamma shape must be positive");
  if (shape < 1.0) {
    const double boost = std::pow(uniform_open0(g), 1.0 / shape);
    return sample_gamma(g, shape + 1.0) * boost;
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x = 0;
    double v = 0;
    do {
      x = sample_standard_normal(g);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform_open0(g);
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double sample_lognormal(std::mt19937_64& g, double mean, double stddev) {
  TF_ASSERT(mean > 0 && stddev >= 0, "lognormal needs mean > 0 and stddev >= 0");
  const double ratio = stddev / mean;
  const double sigma2 = std::log1p(ratio * ratio);
  const double mu = std::log(mean) - 0.5 * sigma2;
  return std::exp(mu + std::sqrt(sigma2) * sample_standard_normal(g));
}

int64_t sample_uniform_int(std::mt19937_64& g, int64_t lo, int64_t hi) {
  TF_ASSERT(lo <= hi, "empty integer range");
  const double n = static_cast<double>(hi - lo) + 1.0;
  const auto k = static_cast<int64_t>(std::floor(uniform01(g) * n));
  return std::min(hi, lo + k);
}

}  // namespace tf::workload
