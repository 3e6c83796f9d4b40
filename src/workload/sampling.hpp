#pragma once
// Random variates computed from tf::uniform01 only, so that a seed gives the same numbers on every platform
// and standard library (std:: distributions are not specified bit-for-bit). Each call consumes a fixed or
// data-dependent number of draws from `g`, always the same for the same generator state.

#include <cstdint>
#include <random>

namespace tf::workload {

// Uniform in (0, 1]: safe to take the logarithm of.
double uniform_open0(std::mt19937_64& g);

// Exponential with the given mean (> 0), by inversion.
double sample_exponential(std::mt19937_64& g, double mean);

// Standard normal by Box-Muller (two uniforms per call; the second variate is discarded, which keeps the
// draw count per call fixed and the function stateless).
double sample_standard_normal(std::mt19937_64& g);

// Gamma with shape k > 0 and scale 1, by Marsaglia and Tsang (2000); for k < 1, Gamma(k + 1) * U^(1/k).
double sample_gamma(std::mt19937_64& g, double shape);

// Log-normal whose value (not its logarithm) has the given mean > 0 and standard deviation >= 0.
double sample_lognormal(std::mt19937_64& g, double mean, double stddev);

// Uniform integer in [lo, hi] (lo <= hi), by floor(u * n).
int64_t sample_uniform_int(std::mt19937_64& g, int64_t lo, int64_t hi);

}  // namespace tf::workload
