#include "workload/synthetic_source.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "core/random.hpp"
#include "workload/sampling.hpp"
#include "workload/trace_file.hpp"

namespace tf::workload {

namespace {

std::string synthetic_where(size_t index) {
  return fmt::format("/workload/synthetic/{}", index);
}

void require(bool ok, const std::string& where, const std::string& message) {
  if (!ok) throw ConfigError("", where, message);
}

}  // namespace

LengthSampler::LengthSampler(const config::DistributionConfig& cfg, const std::string& where) {
  const auto finite = [](double v) { return std::isfinite(v); };
  require(finite(cfg.min) && finite(cfg.max) && finite(cfg.mean) && finite(cfg.stddev) && finite(cfg.value), where,
          "expected finite numbers");
  // Clamps for normal, lognormal and trace: [max(1, min), max], max only when set (> 0).
  lo_ = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::min(cfg.min, 1e15))));
  hi_ = cfg.max > 0 ? static_cast<int64_t>(std::floor(std::min(cfg.max, 1e15))) : int64_t{1'000'000'000'000'000};
  if (cfg.kind == "fixed") {
    kind_ = Kind::fixed;
    require(cfg.value >= 1 && cfg.value <= 1e15, where + "/value",
            fmt::format("expected a length >= 1, got {}", cfg.value));
    lo_ = hi_ = std::llround(cfg.value);
  } else if (cfg.kind == "uniform") {
    kind_ = Kind::uniform;
    require(cfg.min >= 1, where + "/min", fmt::format("expected a length >= 1, got {}", cfg.min));
    require(cfg.max >= cfg.min, where + "/max", fmt::format("expected max >= min ({}), got {}", cfg.min, cfg.max));
    require(hi_ >= lo_, where, fmt::format("expected an integer between min {} and max {}", cfg.min, cfg.max));
  } else if (cfg.kind == "normal" || cfg.kind == "lognormal") {
    kind_ = cfg.kind == "normal" ? Kind::normal : Kind::lognormal;
    mean_ = cfg.mean;
    stddev_ = cfg.stddev;
    require(cfg.stddev >= 0, where + "/stddev", fmt::format("expected a number >= 0, got {}", cfg.stddev));
    if (kind_ == Kind::lognormal)
      require(cfg.mean > 0, where + "/mean", fmt::format("expected a number > 0, got {}", cfg.mean));
    require(hi_ >= lo_, where + "/max", fmt::format("expected max >= max(1, min) = {}, got {}", lo_, cfg.max));
  } else if (cfg.kind == "trace") {
    kind_ = Kind::trace;
    require(cfg.trace_field == "input" || cfg.trace_field == "output", where + "/field",
            fmt::format("expected \"input\" or \"output\", got \"{}\"", cfg.trace_field));
    require(hi_ >= lo_, where + "/max", fmt::format("expected max >= max(1, min) = {}, got {}", lo_, cfg.max));
    TraceFile file(cfg.trace_format, cfg.trace_path, std::nullopt, where + "/format");
    table_.reserve(static_cast<size_t>(file.rows()));
    const bool input = cfg.trace_field == "input";
    auto cursor = file.all_rows();
    while (auto row = cursor.next()) {
      const int64_t v = input ? row->data.input_tokens : row->data.output_tokens;
      table_.push_back(static_cast<int32_t>(std::min<int64_t>(v, std::numeric_limits<int32_t>::max())));
    }
  } else {
    throw ConfigError("", where + "/kind",
                      fmt::format("unknown distribution \"{}\"; expected one of: fixed, uniform, normal, lognormal, "
                                  "trace",
                                  cfg.kind));
  }
}

int64_t LengthSampler::clamp(double v) const {
  v = std::clamp(v, static_cast<double>(lo_), static_cast<double>(hi_));
  return std::clamp<int64_t>(std::llround(v), lo_, hi_);
}

int64_t LengthSampler::sample(std::mt19937_64& g) const {
  switch (kind_) {
    case Kind::fixed:
      return lo_;
    case Kind::uniform:
      return sample_uniform_int(g, lo_, hi_);
    case Kind::normal:
      return clamp(mean_ + stddev_ * sample_standard_normal(g));
    case Kind::lognormal:
      return clamp(sample_lognormal(g, mean_, stddev_));
    case Kind::trace: {
      const auto i = sample_uniform_int(g, 0, static_cast<int64_t>(table_.size()) - 1);
      return clamp(static_cast<double>(table_[static_cast<size_t>(i)]));
    }
  }
  TF_ASSERT(false, "unhandled distribution kind");
  return lo_;
}

SyntheticSource::SyntheticSource(const config::SyntheticConfig& cfg, size_t synthetic_index, uint32_t source,
                                 double rate_scale, const std::vector<std::string>& classes, uint64_t seed,
                                 std::optional<Seconds> duration)
    : count_(cfg.count),
      duration_(duration),
      input_(cfg.input, synthetic_where(synthetic_index) + "/input"),
      output_(cfg.output, synthetic_where(synthetic_index) + "/output"),
      chooser_(cfg.class_name, cfg.class_mix, classes, synthetic_where(synthetic_index)),
      source_(source),
      arrival_rng_(random_stream(seed, "workload/synthetic/arrival", synthetic_index)),
      input_rng_(random_stream(seed, "workload/synthetic/input", synthetic_index)),
      output_rng_(random_stream(seed, "workload/synthetic/output", synthetic_index)),
      class_rng_(random_stream(seed, "workload/synthetic/class_mix", synthetic_index)) {
  const std::string where = synthetic_where(synthetic_index);
  if (cfg.arrival == "gamma") {
    gamma_ = true;
  } else if (cfg.arrival != "poisson") {
    throw ConfigError("", where + "/arrival",
                      fmt::format("unknown arrival process \"{}\"; expected one of: poisson, gamma", cfg.arrival));
  }
  require(cfg.rate > 0 && std::isfinite(cfg.rate), where + "/rate",
          fmt::format("expected requests per second > 0, got {}", cfg.rate));
  require(rate_scale > 0 && std::isfinite(rate_scale), "/workload/rate_scale",
          fmt::format("expected a number > 0, got {}", rate_scale));
  if (gamma_) {
    require(cfg.cv > 0 && std::isfinite(cfg.cv), where + "/cv", fmt::format("expected a number > 0, got {}", cfg.cv));
    shape_ = 1.0 / (cfg.cv * cfg.cv);
  }
  if (cfg.count && *cfg.count < 0)
    throw ConfigError("", where + "/count", fmt::format("expected a count >= 0, got {}", *cfg.count));
  require(cfg.count.has_value() || duration.has_value(), where,
          "expected \"count\", or a scenario \"duration\": otherwise the generator never ends");
  mean_gap_ = 1.0 / (cfg.rate * rate_scale);
}

double SyntheticSource::gap() {
  if (!gamma_) return sample_exponential(arrival_rng_, mean_gap_);
  return sample_gamma(arrival_rng_, shape_) * mean_gap_ / shape_;
}

std::optional<Request> SyntheticSource::next() {
  if (done_ || (count_ && emitted_ >= *count_)) {
    done_ = true;
    return std::nullopt;
  }
  time_ += gap();
  if (duration_ && time_ > duration_->value()) {
    done_ = true;
    return std::nullopt;
  }
  Request req;
  req.arrival = Seconds(time_);
  req.input_tokens = input_.sample(input_rng_);
  req.output_tokens = output_.sample(output_rng_);
  req.class_id = chooser_.choose(class_rng_);
  req.source = source_;
  ++emitted_;
  return req;
}

}  // namespace tf::workload
