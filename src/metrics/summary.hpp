#pragma once
// Per-request outcomes and their aggregation (DESIGN.md §2): TTFT, TPOT, E2E, SLO attainment, useful and
// value-weighted useful tokens, per class and overall.

#include <cstdint>
#include <string>
#include <vector>

#include "config/scenario.hpp"
#include "metrics/latency_budget.hpp"
#include "metrics/request_log.hpp"

namespace tf::metrics {

struct Distribution {
  size_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Percentiles by linear interpolation between order statistics (numpy's default). Reorders `values`.
Distribution distribution(std::vector<double>& values);

// What one request experienced, as the user sees it (client latency included both ways).
struct Outcome {
  bool finished = false;
  double ttft = 0;     // s; first token at the user - arrival
  double tpot = 0;     // s; (last token - first token) / (output tokens - 1); 0 for one-token answers
  double e2e = 0;      // s; last token at the user - arrival
  double max_gap = 0;  // s; longest interval between consecutive tokens
  double tbt = 0;      // s; Mooncake TBT: mean of the longest 10 % of the intervals
  bool met_slo = false;
  bool useful = false;  // finished and met every budget of its class's SLO
};

Outcome outcome(const RequestLog& log, size_t i, const config::ClassConfig& cls, Seconds client_latency);

struct ClassSummary {
  std::string name;
  int64_t requests = 0;
  int64_t completed = 0;
  int64_t rejected = 0;
  int64_t input_tokens = 0;   // of completed requests
  int64_t output_tokens = 0;  // produced (completed requests)
  int64_t useful_tokens = 0;
  double weighted_useful_tokens = 0;
  double slo_attainment = 0;  // met_slo / requests (rejected and unfinished count as misses)
  double attainment_target = 0;
  Distribution ttft, tpot, e2e, tbt;  // over completed requests (tpot, tbt: answers of 2+ tokens)
  LatencyBudget latency_budget;       // over completed requests
};

struct Summary {
  int64_t requests = 0;
  int64_t completed = 0;
  int64_t rejected = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t useful_tokens = 0;
  double weighted_useful_tokens = 0;
  double slo_attainment = 0;
  Distribution ttft, tpot, e2e, tbt;
  std::vector<ClassSummary> classes;  // in class-id order
};

// classes[c] is the class with id c.
Summary summarize(const RequestLog& log, const std::vector<config::ClassConfig>& classes, Seconds client_latency);

}  // namespace tf::metrics
