#include "engine/failures.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/random.hpp"

namespace tf::engine {

namespace {

constexpr double kYear = 365.0 * 24 * 3600;

// Meta's Llama 3 405B pre-training run (The Llama 3 Herd of Models, 2024, §3.3.4, Table 5): 419 unexpected
// interruptions in 54 days on 16,384 H100 GPUs; GPU-side causes (faulty GPU 148, HBM3 72, SRAM 19, GPU system
// processor 17) were 256 of them, network switch and cable 35. Per unit and year:
//   GPU: 256 / 54 d x 365 d / 16,384 = 0.106;  network: 35 / 54 x 365 / 16,384 = 0.0144 (taken per NIC).
// NVLink faults are inside the GPU count, so scale-up links get no separate default.
constexpr double kGpuAnnualRate = 256.0 / 54.0 * 365.0 / 16384.0;
constexpr double kNicAnnualRate = 35.0 / 54.0 * 365.0 / 16384.0;
constexpr const char* kLlama3Source =
    "Llama 3 report (2024) Table 5: 419 unexpected interruptions in 54 days on 16,384 H100";

FailureRate from_config(const config::FailureRateConfig& r, double default_repair_s, const std::string& source) {
  FailureRate out;
  out.per_second = r.annual_failure_rate ? *r.annual_failure_rate / kYear : 1.0 / r.mtbf->value();
  out.repair_s = r.repair ? r.repair->value() : default_repair_s;
  out.source = source;
  return out;
}

}  // namespace

FailureRate accelerator_failure_rate(const config::FailuresConfig& f, const std::string& accelerator) {
  if (auto it = f.accelerators.find(accelerator); it != f.accelerators.end())
    return from_config(it->second, f.repair.value(), "scenario: failures.accelerators." + accelerator);
  bool nvidia_like = accelerator.rfind("h", 0) == 0 || accelerator.rfind("a", 0) == 0 ||
                     accelerator.rfind("b", 0) == 0 || accelerator.rfind("gb", 0) == 0;
  std::string source = std::string(kLlama3Source) + ": GPU-side causes, 0.106 per GPU-year";
  if (!nvidia_like || accelerator.rfind("ascend", 0) == 0)
    source = "estimate: no public fleet figure for " + accelerator + "; the H100 rate of the " + source;
  return {kGpuAnnualRate / kYear, f.repair.value(), source};
}

FailureRate link_failure_rate(const config::FailuresConfig& f, const std::string& kind) {
  if (auto it = f.links.find(kind); it != f.links.end())
    return from_config(it->second, f.repair.value(), "scenario: failures.links." + kind);
  if (kind == "nic")
    return {kNicAnnualRate / kYear, f.repair.value(),
            std::string(kLlama3Source) + ": network switch and cable, 0.0144 per NIC-year"};
  return {0.0, f.repair.value(), "included in the accelerator rate (the Llama 3 report counts NVLink under GPU)"};
}

FailureProcess::FailureProcess(const config::FailuresConfig& config, uint64_t seed, std::vector<FailurePool> pools)
    : config_(config), pools_(std::move(pools)) {
  size_t n = 0;
  for (const auto& p : pools_)
    n = std::max(n, static_cast<size_t>(p.first_instance) + static_cast<size_t>(p.instances));
  rate_.assign(n, 0.0);
  repair_.assign(n, config.repair.value());
  down_.assign(n, 0);
  up_at_.assign(n, 0.0);
  down_since_.assign(n, 0.0);
  stats_.assign(pools_.size(), {});
  for (const auto& p : pools_)
    spares_free_.push_back(p.spares);
  rng_.reserve(n);
  for (size_t i = 0; i < n; ++i)
    rng_.push_back(random_stream(seed, "failures", i));
  if (config.enabled) {
    FailureRate nic = link_failure_rate(config, "nic");
    FailureRate up = link_failure_rate(config, "scale_up");
    for (const auto& p : pools_) {
      FailureRate acc = accelerator_failure_rate(config, p.accelerator);
      double per_accelerator = acc.per_second + nic.per_second + up.per_second;
      // The outage of a failure is the repair time of the part that failed, weighted by how often each fails.
      double repair =
          per_accelerator > 0
              ? (acc.per_second * acc.repair_s + nic.per_second * nic.repair_s + up.per_second * up.repair_s) /
                    per_accelerator
              : config.repair.value();
      for (int64_t k = 0; k < p.instances; ++k) {
        uint32_t i = p.first_instance + static_cast<uint32_t>(k);
        rate_[i] = per_accelerator * static_cast<double>(p.accelerators_per_instance);
        repair_[i] = repair;
        if (rate_[i] > 0) push(-std::log1p(-uniform01(rng_[i])) / rate_[i], Kind::random_failure, i);
      }
    }
  }
  // The scenario loader checked the pool names and the factory the indexes.
  for (const auto& s : config.scripted)
    for (const auto& p : pools_)
      if (p.name == s.pool && s.instance < p.instances)
        push(s.at.value(), Kind::scripted_failure, p.first_instance + static_cast<uint32_t>(s.instance),
             s.repair ? s.repair->value() : config.repair.value(),
             (s.blast_radius.empty() ? config.blast_radius : s.blast_radius) == "domain");
}

void FailureProcess::push(double at, Kind kind, uint32_t target, double repair_s, bool domain) {
  events_.push({at, order_++, kind, target, repair_s, domain});
}

uint32_t FailureProcess::pool_of(uint32_t instance) const {
  for (size_t p = 0; p < pools_.size(); ++p)
    if (instance >= pools_[p].first_instance &&
        instance < pools_[p].first_instance + static_cast<uint32_t>(pools_[p].instances))
      return static_cast<uint32_t>(p);
  TF_ASSERT(false, "instance outside every pool");
  return 0;
}

void FailureProcess::fail(uint32_t instance, double now, double repair_s, bool domain, std::vector<Change>& out) {
  uint32_t p = pool_of(instance);
  const FailurePool& pool = pools_[p];
  std::vector<uint32_t> hit{instance};
  if (domain) {
    // Every instance whose accelerators share a scale-up domain with this one's.
    int64_t k = instance - pool.first_instance;
    int64_t first = k * pool.accelerators_per_instance / pool.domain_size;
    int64_t last = ((k + 1) * pool.accelerators_per_instance - 1) / pool.domain_size;
    hit.clear();
    for (int64_t j = 0; j < pool.instances; ++j) {
      int64_t a = j * pool.accelerators_per_instance / pool.domain_size;
      int64_t b = ((j + 1) * pool.accelerators_per_instance - 1) / pool.domain_size;
      if (b >= first && a <= last) hit.push_back(pool.first_instance + static_cast<uint32_t>(j));
    }
  }
  ++stats_[p].failures;
  // One failed accelerator: a spare can stand in for it (not for a whole domain's shared parts).
  double outage = repair_s;
  if (!domain && spares_free_[p] > 0 && config_.restart.value() < repair_s) {
    --spares_free_[p];
    ++stats_[p].spare_swaps;
    outage = config_.restart.value();
    push(now + repair_s, Kind::spare_back, p);
  }
  for (uint32_t i : hit) {
    double until = now + outage;
    if (!down_[i]) {
      down_[i] = 1;
      down_since_[i] = now;
      out.push_back({i, false});
    }
    if (until > up_at_[i]) {
      up_at_[i] = until;
      push(until, Kind::recover, i);
    }
  }
}

std::vector<FailureProcess::Change> FailureProcess::advance() {
  std::vector<Change> out;
  if (events_.empty()) return out;
  const double now = events_.top().at;
  while (!events_.empty() && events_.top().at == now) {
    Event e = events_.top();
    events_.pop();
    switch (e.kind) {
      case Kind::random_failure:
        // Failures of parts already out of service are not counted; the stream goes on from now.
        if (!down_[e.target]) fail(e.target, now, repair_[e.target], config_.blast_radius == "domain", out);
        push(now - std::log1p(-uniform01(rng_[e.target])) / rate_[e.target], Kind::random_failure, e.target);
        break;
      case Kind::scripted_failure:
        if (!down_[e.target]) fail(e.target, now, e.repair_s, e.domain, out);
        break;
      case Kind::recover:
        if (down_[e.target] && up_at_[e.target] == now) {
          down_[e.target] = 0;
          stats_[pool_of(e.target)].down_seconds += now - down_since_[e.target];
          out.push_back({e.target, true});
        }
        break;
      case Kind::spare_back:
        ++spares_free_[e.target];
        break;
    }
  }
  std::sort(out.begin(), out.end(), [](const Change& a, const Change& b) { return a.instance < b.instance; });
  return out;
}

std::vector<PoolFailureStats> FailureProcess::stats(double now) const {
  std::vector<PoolFailureStats> out = stats_;
  for (size_t p = 0; p < pools_.size(); ++p)
    for (int64_t k = 0; k < pools_[p].instances; ++k) {
      uint32_t i = pools_[p].first_instance + static_cast<uint32_t>(k);
      if (down_[i]) out[p].down_seconds += now - down_since_[i];
    }
  return out;
}

}  // namespace tf::engine
