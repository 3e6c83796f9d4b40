#include "metrics/latency_budget.hpp"

#include "metrics/summary.hpp"

namespace tf::metrics {

LatencyParts latency_parts(const RequestLog& log, size_t i, Seconds client_latency) {
  LatencyParts p;
  p.network = 2.0 * client_latency.value() + log.extra_network(i);
  p.queue_before = log.queue_before(i);
  p.queue = p.queue_before + log.queue_after(i);
  p.prefill = log.prefill(i);
  p.kv_transfer = log.kv_transfer(i);
  p.decode = log.decode(i);
  p.collectives_before = log.collectives_before(i);
  p.collectives = p.collectives_before + log.collectives_after(i);
  double e2e = log.finish_time(i) + client_latency.value() - log.arrival(i);
  double gap = e2e - (p.network + p.queue + p.prefill + p.kv_transfer + p.decode);
  if (gap > 1e-9 * e2e) {
    p.unmeasured = gap;
    p.queue_before += gap;
    p.queue += gap;
  }
  return p;
}

std::string_view budget_part_name(BudgetPart p) {
  switch (p) {
    case BudgetPart::network:
      return "network";
    case BudgetPart::queueing:
      return "queueing";
    case BudgetPart::prefill:
      return "prefill";
    case BudgetPart::kv_transfer:
      return "kv_transfer";
    case BudgetPart::decode:
      return "decode";
    case BudgetPart::collectives:
      return "collectives";
  }
  return "";
}

void LatencyBudgetBuilder::add(const LatencyParts& p, int64_t output_tokens) {
  auto at = [&](BudgetPart part) -> std::vector<double>& { return values_[static_cast<size_t>(part)]; };
  at(BudgetPart::network).push_back(p.network);
  at(BudgetPart::queueing).push_back(p.queue);
  at(BudgetPart::prefill).push_back(p.prefill);
  at(BudgetPart::kv_transfer).push_back(p.kv_transfer);
  at(BudgetPart::decode).push_back(p.decode);
  at(BudgetPart::collectives).push_back(p.collectives);
  queue_before_sum_ += p.queue_before;
  collectives_before_sum_ += p.collectives_before;
  if (output_tokens > 1) {
    double gaps = static_cast<double>(output_tokens - 1);
    ++multi_token_;
    queue_after_per_token_ += (p.queue - p.queue_before) / gaps;
    decode_per_token_ += p.decode / gaps;
    collectives_after_per_token_ += (p.collectives - p.collectives_before) / gaps;
  }
}

namespace {

// The part with the largest share among `candidates` (the first on a tie).
std::optional<BudgetPart> largest(const std::vector<std::pair<BudgetPart, double>>& candidates) {
  std::optional<BudgetPart> best;
  double top = 0;
  for (const auto& [part, share] : candidates)
    if (!best || share > top) {
      best = part;
      top = share;
    }
  return best;
}

}  // namespace

LatencyBudget LatencyBudgetBuilder::finish(const config::SloConfig& slo, double ttft_p50, double tpot_p50) {
  LatencyBudget b;
  size_t n = values_[0].size();
  for (size_t k = 0; k < kBudgetParts.size(); ++k) {
    Distribution d = distribution(values_[k]);
    b.parts[k].count = d.count;
    b.parts[k].mean = d.mean;
    b.parts[k].p99 = d.p99;
  }
  auto part = [&](BudgetPart p) -> PartSummary& { return b.parts[static_cast<size_t>(p)]; };
  if (slo.ttft && n > 0) {
    double budget = slo.ttft->value();
    double count = static_cast<double>(n);
    part(BudgetPart::network).ttft_share = part(BudgetPart::network).mean / budget;
    part(BudgetPart::queueing).ttft_share = queue_before_sum_ / count / budget;
    part(BudgetPart::prefill).ttft_share = part(BudgetPart::prefill).mean / budget;
    part(BudgetPart::kv_transfer).ttft_share = part(BudgetPart::kv_transfer).mean / budget;
    part(BudgetPart::collectives).ttft_share = collectives_before_sum_ / count / budget;
    if (ttft_p50 > budget) {
      double coll = *part(BudgetPart::collectives).ttft_share;
      b.ttft_breaker = largest({{BudgetPart::network, *part(BudgetPart::network).ttft_share},
                                {BudgetPart::queueing, *part(BudgetPart::queueing).ttft_share},
                                {BudgetPart::prefill, *part(BudgetPart::prefill).ttft_share - coll},
                                {BudgetPart::kv_transfer, *part(BudgetPart::kv_transfer).ttft_share},
                                {BudgetPart::collectives, coll}});
    }
  }
  if (slo.tpot && multi_token_ > 0) {
    double budget = slo.tpot->value();
    double m = static_cast<double>(multi_token_);
    part(BudgetPart::queueing).tpot_share = queue_after_per_token_ / m / budget;
    part(BudgetPart::decode).tpot_share = decode_per_token_ / m / budget;
    part(BudgetPart::collectives).tpot_share = collectives_after_per_token_ / m / budget;
    if (tpot_p50 > budget) {
      double coll = *part(BudgetPart::collectives).tpot_share;
      b.tpot_breaker = largest({{BudgetPart::queueing, *part(BudgetPart::queueing).tpot_share},
                                {BudgetPart::decode, *part(BudgetPart::decode).tpot_share - coll},
                                {BudgetPart::collectives, coll}});
    }
  }
  return b;
}

}  // namespace tf::metrics
