#pragma once
// Synthetic requests: Poisson or Gamma arrivals and lengths drawn from distributions.
//
// Arrivals: inter-arrival times are exponential (Poisson) or Gamma with shape 1/cv^2 (the coefficient of
// variation of the gaps is cv), with mean 1 / (rate x the workload's rate_scale); the first request arrives
// one gap after 0. The source ends after `count` requests or at the first arrival past `duration`; one of
// them must be bounded.
//
// Lengths are integers >= 1:
//   fixed      value, rounded
//   uniform    an integer in [min, max], each equally likely
//   normal     mean, stddev; rounded and clamped to [max(1, min), max] (max only when > 0)
//   lognormal  mean and stddev of the value itself (not of its log); rounded and clamped likewise
//   trace      a length drawn uniformly from the input or output column of a trace (loaded into memory as
//              int32, 4 bytes a row); clamped likewise
//
// Each source draws from its own named streams (arrivals, input, output, class) so that changing, say, the
// output distribution leaves the arrival times unchanged.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "workload/class_chooser.hpp"
#include "workload/workload.hpp"

namespace tf::workload {

class LengthSampler {
 public:
  // where: JSON pointer of the distribution ("/workload/synthetic/0/input"), for errors.
  LengthSampler(const config::DistributionConfig& cfg, const std::string& where);
  int64_t sample(std::mt19937_64& g) const;
  // Number of lengths held in memory (trace distributions), 0 otherwise.
  size_t table_size() const { return table_.size(); }

 private:
  enum class Kind { fixed, uniform, normal, lognormal, trace };
  int64_t clamp(double v) const;

  Kind kind_ = Kind::fixed;
  double mean_ = 0, stddev_ = 0;
  int64_t lo_ = 1, hi_ = INT64_MAX;  // clamps (inclusive); uniform's bounds
  std::vector<int32_t> table_;       // trace lengths
};

class SyntheticSource final : public RequestSource {
 public:
  // synthetic_index: position in WorkloadConfig::synthetic (errors, stream names); source: its Request::source.
  SyntheticSource(const config::SyntheticConfig& cfg, size_t synthetic_index, uint32_t source, double rate_scale,
                  const std::vector<std::string>& classes, uint64_t seed, std::optional<Seconds> duration);

  std::optional<Request> next() override;

 private:
  double gap();  // seconds

  bool gamma_ = false;
  double mean_gap_ = 1.0;  // seconds
  double shape_ = 1.0;     // gamma shape, 1/cv^2
  std::optional<int64_t> count_;
  std::optional<Seconds> duration_;
  LengthSampler input_;
  LengthSampler output_;
  ClassChooser chooser_;
  uint32_t source_ = 0;
  std::mt19937_64 arrival_rng_, input_rng_, output_rng_, class_rng_;
  double time_ = 0;  // seconds, of the last arrival
  int64_t emitted_ = 0;
  bool done_ = false;
};

}  // namespace tf::workload
