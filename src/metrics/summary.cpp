#include "metrics/summary.hpp"

#include <algorithm>
#include <cmath>

namespace tf::metrics {

Distribution distribution(std::vector<double>& values) {
  Distribution d;
  const size_t n = values.size();
  d.count = n;
  if (n == 0) return d;
  // The mean in the values' own order, with Neumaier's compensation: as accurate as summing them sorted.
  double sum = 0, carry = 0;
  for (double v : values) {
    const double t = sum + v;
    carry += std::abs(sum) >= std::abs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  d.mean = (sum + carry) / static_cast<double>(n);
  // The order statistics the percentiles need, selected in increasing rank: each selection partitions only
  // what lies above the last one, so the whole costs a few passes over the values, not a sort (at a million
  // requests the sorts were most of the summary's time).
  size_t from = 0;
  auto rank = [&](size_t k) {
    std::nth_element(values.begin() + static_cast<std::ptrdiff_t>(from),
                     values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
    from = k;
    return values[k];
  };
  auto q = [&](double p) {
    const double pos = p * static_cast<double>(n - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, n - 1);
    const double frac = pos - static_cast<double>(lo);
    const double below = lo >= from ? rank(lo) : values[lo];
    const double above = hi > from ? rank(hi) : values[hi];
    return below + (above - below) * frac;
  };
  d.p50 = q(0.50);
  d.p90 = q(0.90);
  d.p99 = q(0.99);
  d.max = n - 1 > from ? rank(n - 1) : values[n - 1];
  return d;
}

Outcome outcome(const RequestLog& log, size_t i, const config::ClassConfig& cls, Seconds client_latency) {
  Outcome o;
  if (log.status(i) != RequestStatus::finished) return o;
  double lat = client_latency.value();
  o.finished = true;
  o.ttft = log.first_token_time(i) + lat - log.arrival(i);
  o.e2e = log.finish_time(i) + lat - log.arrival(i);
  int64_t out = log.output_tokens(i);
  o.tpot = out > 1 ? (log.finish_time(i) - log.first_token_time(i)) / static_cast<double>(out - 1) : 0.0;
  o.max_gap = log.max_gap(i);
  o.tbt = log.tbt(i);
  const auto& slo = cls.slo;
  o.met_slo = (!slo.ttft || o.ttft <= slo.ttft->value()) && (!slo.tpot || o.tpot <= slo.tpot->value()) &&
              (!slo.e2e || o.e2e <= slo.e2e->value()) && (!slo.tbt || o.tbt <= slo.tbt->value());
  o.useful = o.met_slo;
  return o;
}

Summary summarize(const RequestLog& log, const std::vector<config::ClassConfig>& classes, Seconds client_latency) {
  Summary s;
  size_t nc = classes.size();
  s.classes.resize(nc);
  std::vector<std::vector<double>> ttft(nc), tpot(nc), e2e(nc), tbt(nc);
  std::vector<double> all_ttft, all_tpot, all_e2e, all_tbt;
  std::vector<int64_t> met(nc, 0);
  std::vector<LatencyBudgetBuilder> budgets(nc);
  for (size_t c = 0; c < nc; ++c) {
    s.classes[c].name = classes[c].name;
    s.classes[c].attainment_target = classes[c].slo.attainment_target;
  }
  for (size_t i = 0; i < log.size(); ++i) {
    uint32_t c = log.class_id(i);
    auto& cs = s.classes[c];
    ++cs.requests;
    if (log.status(i) == RequestStatus::rejected) ++cs.rejected;
    Outcome o = outcome(log, i, classes[c], client_latency);
    if (!o.finished) continue;
    ++cs.completed;
    cs.input_tokens += log.input_tokens(i);
    cs.output_tokens += log.output_tokens(i);
    budgets[c].add(latency_parts(log, i, client_latency), log.output_tokens(i));
    ttft[c].push_back(o.ttft);
    e2e[c].push_back(o.e2e);
    if (log.output_tokens(i) > 1) {
      tpot[c].push_back(o.tpot);
      tbt[c].push_back(o.tbt);
    }
    if (o.met_slo) ++met[c];
    if (o.useful) {
      cs.useful_tokens += log.output_tokens(i);
      cs.weighted_useful_tokens += classes[c].value * static_cast<double>(log.output_tokens(i));
    }
  }
  int64_t met_all = 0;
  for (size_t c = 0; c < nc; ++c) {
    auto& cs = s.classes[c];
    cs.slo_attainment = cs.requests ? static_cast<double>(met[c]) / static_cast<double>(cs.requests) : 0.0;
    all_ttft.insert(all_ttft.end(), ttft[c].begin(), ttft[c].end());
    all_tpot.insert(all_tpot.end(), tpot[c].begin(), tpot[c].end());
    all_e2e.insert(all_e2e.end(), e2e[c].begin(), e2e[c].end());
    all_tbt.insert(all_tbt.end(), tbt[c].begin(), tbt[c].end());
    cs.tbt = distribution(tbt[c]);
    cs.ttft = distribution(ttft[c]);
    cs.tpot = distribution(tpot[c]);
    cs.e2e = distribution(e2e[c]);
    cs.latency_budget = budgets[c].finish(classes[c].slo, cs.ttft.p50, cs.tpot.p50);
    s.requests += cs.requests;
    s.completed += cs.completed;
    s.rejected += cs.rejected;
    s.input_tokens += cs.input_tokens;
    s.output_tokens += cs.output_tokens;
    s.useful_tokens += cs.useful_tokens;
    s.weighted_useful_tokens += cs.weighted_useful_tokens;
    met_all += met[c];
  }
  s.slo_attainment = s.requests ? static_cast<double>(met_all) / static_cast<double>(s.requests) : 0.0;
  s.ttft = distribution(all_ttft);
  s.tpot = distribution(all_tpot);
  s.e2e = distribution(all_e2e);
  s.tbt = distribution(all_tbt);
  return s;
}

}  // namespace tf::metrics
