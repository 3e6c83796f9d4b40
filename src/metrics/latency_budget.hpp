#pragma once
// Where a request's latency goes (docs/concepts.md, "Latency budget"): client network, queueing, prefill
// compute, KV transfer and decode compute, which add up to its E2E; and collectives, the part of prefill and
// decode compute spent in TP all-reduce, EP all-to-all and pipeline sends. Per class: each part's mean and p99,
// its share of the class's TTFT and TPOT budgets, and the part that breaks a budget the class misses.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "config/scenario.hpp"
#include "metrics/request_log.hpp"

namespace tf::metrics {

// One request's parts (s). network + queue + prefill + kv_transfer + decode = E2E;
// network + queue_before + prefill + kv_transfer = TTFT; (queue - queue_before + decode) / (output tokens - 1)
// = TPOT. Collectives lie inside prefill (collectives_before) and decode.
struct LatencyParts {
  double network = 0;             // client latency both ways, plus any fabric time of the request's messages
  double queue = 0;               // waiting for admission (both sides) and preempted, `unmeasured` included
  double queue_before = 0;        // of which before the first token (`unmeasured` included)
  double prefill = 0;             // first chunk scheduled to prompt done, less preempted time
  double kv_transfer = 0;         // prompt done to KV arrived at the decode instance (disaggregated)
  double decode = 0;              // first token to last, less decode-side queueing
  double collectives = 0;         // inside prefill and decode
  double collectives_before = 0;  // of which inside prefill
  // Time before the first token that no instance or transfer reported: a retry after its instance failed (the
  // work lost there and the wait for a live instance), a hand-off held while every decode instance was down.
  // It counts as queueing. 0 in a run without failures (rounding below 1e-9 of E2E is left out).
  double unmeasured = 0;
};

// Of a finished request.
LatencyParts latency_parts(const RequestLog& log, size_t i, Seconds client_latency);

enum class BudgetPart { network, queueing, prefill, kv_transfer, decode, collectives };
inline constexpr std::array<BudgetPart, 6> kBudgetParts = {BudgetPart::network, BudgetPart::queueing,
                                                           BudgetPart::prefill, BudgetPart::kv_transfer,
                                                           BudgetPart::decode,  BudgetPart::collectives};
std::string_view budget_part_name(BudgetPart p);  // "network", "queueing", "prefill", "kv_transfer", ...

struct PartSummary {
  size_t count = 0;  // completed requests it is taken over (mean and p99 are 0 when none)
  double mean = 0;   // s
  double p99 = 0;    // s
  // Mean of the part before the first token / the class's TTFT budget; absent without a TTFT budget, and for
  // decode, which comes after the first token.
  std::optional<double> ttft_share;
  // Mean over answers of 2+ tokens of the part after the first token per output token (divided by output
  // tokens - 1, as TPOT is) / the class's TPOT budget; for queueing, decode and collectives only, and absent
  // without a TPOT budget.
  std::optional<double> tpot_share;
};

// A class's latency budget: parts in kBudgetParts order. A breaker is named when the class's median request
// misses that budget (TTFT or TPOT p50 above it): the part with the largest share of the budget among parts
// that do not overlap (prefill and decode count without their collectives, which compete on their own).
struct LatencyBudget {
  std::array<PartSummary, 6> parts;
  std::optional<BudgetPart> ttft_breaker;
  std::optional<BudgetPart> tpot_breaker;
  const PartSummary& operator[](BudgetPart p) const { return parts[static_cast<size_t>(p)]; }
};

// Accumulates one class's requests, then summarises them.
class LatencyBudgetBuilder {
 public:
  // `parts` of a completed request with `output_tokens` answer tokens.
  void add(const LatencyParts& parts, int64_t output_tokens);
  // `ttft_p50`, `tpot_p50`: the class's medians (s), to decide whether a budget is broken.
  LatencyBudget finish(const config::SloConfig& slo, double ttft_p50, double tpot_p50);

 private:
  std::array<std::vector<double>, 6> values_;  // by part, every completed request
  double queue_before_sum_ = 0;
  double collectives_before_sum_ = 0;
  // Per output token, over answers of 2+ tokens.
  size_t multi_token_ = 0;
  double queue_after_per_token_ = 0;
  double decode_per_token_ = 0;
  double collectives_after_per_token_ = 0;
};

}  // namespace tf::metrics
