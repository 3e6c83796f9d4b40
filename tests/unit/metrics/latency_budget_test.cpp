#include <catch2/catch.hpp>

#include <cmath>
#include <optional>
#include <random>

#include "catalog/catalog.hpp"
#include "metrics/latency_budget.hpp"
#include "metrics/summary.hpp"
#include "serving/instance.hpp"

using namespace tf;
using metrics::BudgetPart;

namespace {

const catalog::Catalog& cat() {
  static catalog::Catalog c(TF_SOURCE_ROOT);
  return c;
}

perf::PerfModel llama8b_on_h100(int tp) {
  perf::InstanceShape shape;
  shape.accelerator = &cat().accelerator("h100-sxm");
  shape.model = &cat().llm("llama-3.1-8b");
  shape.tp = tp;
  return perf::PerfModel(shape);
}

config::ClassConfig agent_class(std::optional<double> ttft, std::optional<double> tpot) {
  config::ClassConfig c;
  c.name.assign({'a', 'g', 'e', 'n', 't'});  // (not from a literal: sidesteps a GCC 12 -Wrestrict false positive)
  c.model.assign(1, 'm');
  if (ttft) c.slo.ttft = Seconds(*ttft);
  if (tpot) c.slo.tpot = Seconds(*tpot);
  return c;
}

double sum_of_parts(const metrics::LatencyParts& p) {
  return p.network + p.queue + p.prefill + p.kv_transfer + p.decode;
}

// A request's parts add up to its E2E, the parts before its first token to its TTFT, and the parts after it, per
// output token, to its TPOT.
void check_parts_add_up(const metrics::RequestLog& log, size_t i, Seconds client_latency) {
  auto o = metrics::outcome(log, i, agent_class(std::nullopt, std::nullopt), client_latency);
  REQUIRE(o.finished);
  auto p = metrics::latency_parts(log, i, client_latency);
  INFO("request " << i);
  CHECK(p.unmeasured == 0.0);  // every part was measured
  CHECK(sum_of_parts(p) == Approx(o.e2e).epsilon(1e-9));
  CHECK(p.network + p.queue_before + p.prefill + p.kv_transfer == Approx(o.ttft).epsilon(1e-9));
  if (log.output_tokens(i) > 1)
    CHECK((p.queue - p.queue_before + p.decode) / double(log.output_tokens(i) - 1) ==
          Approx(o.tpot).epsilon(1e-9).margin(1e-15));
  CHECK(p.collectives <= p.prefill + p.decode);
  CHECK(p.queue >= 0);
}

}  // namespace

TEST_CASE("a colocated request's latency parts add up to its E2E") {
  auto perf = llama8b_on_h100(2);
  const Seconds client(0.005);
  for (auto preemption : {serving::Preemption::recompute, serving::Preemption::swap}) {
    metrics::RequestLog log;
    serving::SchedulerParams params;
    params.policy = serving::BatchPolicy::chunked;
    params.max_batched_tokens = 2048;
    params.preemption = preemption;
    // A KV cache small enough that decodes outgrow it and preempt.
    serving::Instance inst(0, serving::Role::colocated, perf, params, 60'000, true, log);
    std::mt19937_64 g(11);
    std::vector<std::pair<double, serving::SeqRequest>> arrivals;
    double t = 0;
    for (uint64_t i = 0; i < 300; ++i) {
      t += -std::log(1.0 - static_cast<double>(g() >> 11) * 0x1.0p-53) / 8.0;
      arrivals.push_back({t, {i, 1 + int64_t(g() % 3000), 1 + int64_t(g() % 600), 0, nullptr}});
    }
    // The engine's order: a request sent at `sent` reaches the instance a client latency later.
    std::optional<Seconds> wake;
    size_t next = 0;
    while (next < arrivals.size() || wake) {
      if (next < arrivals.size() && (!wake || arrivals[next].first < wake->value())) {
        const auto& [at, r] = arrivals[next++];
        log.arrived(r.id, Seconds(at) - client, r.input_tokens, r.output_tokens, 0);
        log.routed(r.id, 0);
        wake = inst.on_arrival(r, Seconds(at));
      } else {
        wake = inst.on_wake(*wake);
      }
    }
    REQUIRE(inst.usage().preemptions > 0);
    REQUIRE(log.settled() == 300);
    bool queued_after_first_token = false;
    for (size_t i = 0; i < log.size(); ++i) {
      check_parts_add_up(log, i, client);
      CHECK(log.kv_transfer(i) == 0.0);
      CHECK(metrics::latency_parts(log, i, client).network == 2 * client.value());
      queued_after_first_token |= log.queue_after(i) > 0;
    }
    CHECK(queued_after_first_token);  // the preempted requests
  }
}

TEST_CASE("a disaggregated request's latency parts include its KV transfer") {
  auto perf = llama8b_on_h100(1);
  const Seconds client(0.02);
  metrics::RequestLog log;
  serving::Instance prefill(0, serving::Role::prefill, perf, {}, 1'000'000, true, log);
  serving::Instance decode(1, serving::Role::decode, perf, {}, 1'000'000, true, log);
  // Two requests reach the prefill instance together; each KV hand-off takes 0.25 s over the fabric.
  const double transfer = 0.25;
  for (uint64_t id : {0, 1}) {
    log.arrived(id, Seconds(1.0) - client, 3000, 300, 0);
    log.routed(id, 0);
  }
  std::optional<Seconds> pw = prefill.on_arrival({0, 3000, 300, 0, nullptr}, Seconds(1.0));
  pw = prefill.on_arrival({1, 3000, 300, 0, nullptr}, Seconds(1.0));
  std::vector<std::pair<double, serving::Instance::Handoff>> in_flight;  // arrival time at the decode side
  std::optional<Seconds> dw;
  while (pw || dw || !in_flight.empty()) {
    double next_transfer = in_flight.empty() ? INFINITY : in_flight.front().first;
    double p = pw ? pw->value() : INFINITY, d = dw ? dw->value() : INFINITY;
    if (p <= d && p <= next_transfer) {
      pw = prefill.on_wake(*pw);
      for (auto& h : prefill.take_handoffs())
        in_flight.push_back({p + transfer, h});
    } else if (next_transfer <= d) {
      auto [at, h] = in_flight.front();
      in_flight.erase(in_flight.begin());
      log.kv_transfer(h.request.id, Seconds(at - transfer), Seconds(at));
      dw = decode.on_handoff(h.request, Seconds(at));
      pw = prefill.on_released(h.request.id, Seconds(at));
    } else {
      dw = decode.on_wake(*dw);
    }
  }
  REQUIRE(log.settled() == 2);
  for (size_t i = 0; i < 2; ++i) {
    check_parts_add_up(log, i, client);
    CHECK(log.kv_transfer(i) == Approx(transfer).epsilon(1e-12));
    CHECK(log.instance(i) == 1);
  }
  // The first prompt starts at once; the second arrives during its iteration and queues until it ends. On the
  // decode side the first is admitted at once, the second lands during the first's decode run and waits.
  CHECK(log.queue_before(0) == 0.0);
  CHECK(log.queue_before(1) == Approx(log.prefill(0)).epsilon(1e-12));
  CHECK(log.queue_after(0) == 0.0);
  CHECK(log.queue_after(1) > 0);
  CHECK(log.collectives_before(0) == 0.0);  // tp 1: no collectives

  // Fabric time of the request's own message counts as network (and moves its arrival at the cluster as much).
  log.add_network(0, Seconds(0.001));
  log.add_network(0, Seconds(0.002));
  CHECK(metrics::latency_parts(log, 0, client).network == Approx(2 * client.value() + 0.003).epsilon(1e-12));
}

TEST_CASE("time no instance reported, such as a retry after a failure, counts as queueing before the first token") {
  metrics::RequestLog log;
  using Gaps = serving::RequestSink::Gaps;
  using Phases = serving::RequestSink::Phases;
  // At its first instance at 1.0 s, prefilled by 1.3 s; that instance fails, and the request is retried on
  // another at 2.0 s, where it waits 0.1 s, prefills in 0.3 s and decodes its 11 tokens by 2.9 s.
  log.arrived(0, Seconds(0.9), 100, 11, 0);
  log.routed(0, 0);
  log.prefill_phases(0, Phases{Seconds(0.0), Seconds(0.3), Seconds(0.0)});
  log.retried(0);
  log.routed(0, 1);
  log.prefill_phases(0, Phases{Seconds(0.1), Seconds(0.3), Seconds(0.0)});
  log.first_token(0, 1, Seconds(2.4));
  log.decode_phases(0, Phases{Seconds(0.0), Seconds(0.5), Seconds(0.0)});
  log.finished(0, 1, Seconds(2.9), Gaps{Seconds(0.05), Seconds(0.05)});
  const Seconds client(0.1);
  auto p = metrics::latency_parts(log, 0, client);
  auto o = metrics::outcome(log, 0, agent_class(std::nullopt, std::nullopt), client);
  // Both prefills count as prefill; the 0.7 s between the first one and the retry's arrival is queueing.
  CHECK(p.prefill == Approx(0.6));
  CHECK(p.unmeasured == Approx(0.7));
  CHECK(p.queue_before == Approx(0.8));
  CHECK(sum_of_parts(p) == Approx(o.e2e).epsilon(1e-12));
  CHECK(p.network + p.queue_before + p.prefill + p.kv_transfer == Approx(o.ttft).epsilon(1e-12));
}

TEST_CASE("a class's budget shares add up to its mean TTFT and TPOT over the budgets") {
  metrics::LatencyBudgetBuilder b;
  // Two requests: (network, queue, of which before, prefill, kv, decode, collectives, of which before).
  b.add({0.01, 0.05, 0.04, 0.2, 0.1, 0.9, 0.3, 0.05}, 101);
  b.add({0.01, 0.15, 0.10, 0.4, 0.3, 1.9, 0.5, 0.1}, 201);
  auto cls = agent_class(2.0, 0.01);
  auto budget = b.finish(cls.slo, 0.6, 0.0095);
  double ttft_mean = (0.01 + 0.04 + 0.2 + 0.1 + 0.01 + 0.10 + 0.4 + 0.3) / 2;
  double tpot_mean = ((0.01 + 0.9) / 100 + (0.05 + 1.9) / 200) / 2;
  double ttft_shares = 0, tpot_shares = 0;
  for (auto part : {BudgetPart::network, BudgetPart::queueing, BudgetPart::prefill, BudgetPart::kv_transfer})
    ttft_shares += *budget[part].ttft_share;
  for (auto part : {BudgetPart::queueing, BudgetPart::decode})
    tpot_shares += *budget[part].tpot_share;
  CHECK(ttft_shares == Approx(ttft_mean / 2.0));
  CHECK(tpot_shares == Approx(tpot_mean / 0.01));
  CHECK(*budget[BudgetPart::collectives].ttft_share == Approx(0.075 / 2.0));
  CHECK(*budget[BudgetPart::collectives].tpot_share == Approx((0.25 / 100 + 0.4 / 200) / 2 / 0.01));
  CHECK(budget[BudgetPart::queueing].mean == Approx(0.10));
  CHECK(budget[BudgetPart::decode].p99 == Approx(0.9 + 0.99 * 1.0));
  CHECK(budget[BudgetPart::decode].count == 2);
  // Parts on the other side of the first token have no share of that budget.
  CHECK_FALSE(budget[BudgetPart::decode].ttft_share);
  CHECK_FALSE(budget[BudgetPart::network].tpot_share);
  CHECK_FALSE(budget[BudgetPart::prefill].tpot_share);
  CHECK_FALSE(budget[BudgetPart::kv_transfer].tpot_share);
  // Medians within both budgets: nothing breaks them.
  CHECK_FALSE(budget.ttft_breaker);
  CHECK_FALSE(budget.tpot_breaker);
}

TEST_CASE("a class without budgets has no shares") {
  metrics::LatencyBudgetBuilder b;
  b.add({0.01, 0.05, 0.04, 0.2, 0.1, 0.9, 0.3, 0.05}, 101);
  auto budget = b.finish(agent_class(std::nullopt, std::nullopt).slo, 10.0, 10.0);
  for (auto part : metrics::kBudgetParts) {
    CHECK_FALSE(budget[part].ttft_share);
    CHECK_FALSE(budget[part].tpot_share);
  }
  CHECK_FALSE(budget.ttft_breaker);
  CHECK_FALSE(budget.tpot_breaker);
  metrics::LatencyBudgetBuilder none;
  auto empty = none.finish(agent_class(1.0, 0.01).slo, 0.0, 0.0);
  CHECK(empty[BudgetPart::decode].count == 0);
  CHECK_FALSE(empty[BudgetPart::decode].tpot_share);
}

TEST_CASE("a class whose median request misses a 10 ms TPOT budget names the part that breaks it") {
  auto slo = agent_class(2.0, 0.010).slo;
  auto breaker = [&](double queue_after, double decode, double collectives_after) {
    metrics::LatencyBudgetBuilder b;
    // 101 tokens: TPOT = (queue after + decode) / 100.
    b.add({0.01, 0.02 + queue_after, 0.02, 0.2, 0.0, decode, 0.01 + collectives_after, 0.01}, 101);
    double tpot = (queue_after + decode) / 100;
    return b.finish(slo, 0.23, tpot).tpot_breaker;
  };
  // 12 ms per token of decode compute, 2 of them collectives.
  CHECK(breaker(0.0, 1.2, 0.2) == BudgetPart::decode);
  // Collectives take most of the decode time: 8 of 12 ms per token.
  CHECK(breaker(0.0, 1.2, 0.8) == BudgetPart::collectives);
  // Preempted for 0.8 s after its first token, with 7 ms per token of compute.
  CHECK(breaker(0.8, 0.7, 0.1) == BudgetPart::queueing);
  // Within the budget: 9 ms per token.
  CHECK_FALSE(breaker(0.0, 0.9, 0.5));
}

TEST_CASE("a class whose median request misses its TTFT budget names the part that breaks it") {
  auto slo = agent_class(0.5, std::nullopt).slo;
  metrics::LatencyBudgetBuilder b;
  b.add({0.04, 0.1, 0.1, 0.2, 0.35, 1.0, 0.05, 0.01}, 10);
  auto budget = b.finish(slo, 0.69, 0.0);
  CHECK(budget.ttft_breaker == BudgetPart::kv_transfer);
  CHECK_FALSE(budget.tpot_breaker);
}

TEST_CASE("summarize gives each class its latency budget") {
  metrics::RequestLog log;
  using Gaps = serving::RequestSink::Gaps;
  using Phases = serving::RequestSink::Phases;
  // Sent at 0.9 s, at the instance at 1.0 s, queued 0.1 s, prefilled 0.2 s, first token at 1.3 s; then 10
  // tokens in 0.3 s, of which 0.05 s waiting for admission.
  log.arrived(0, Seconds(0.9), 100, 11, 0);
  log.routed(0, 0);
  log.prefill_phases(0, Phases{Seconds(0.1), Seconds(0.2), Seconds(0.02)});
  log.first_token(0, 0, Seconds(1.3));
  log.decode_phases(0, Phases{Seconds(0.05), Seconds(0.25), Seconds(0.03)});
  log.finished(0, 0, Seconds(1.6), Gaps{Seconds(0.04), Seconds(0.04)});
  log.arrived(1, Seconds(1.0), 100, 11, 0);
  log.rejected(1, Seconds(1.1));
  auto s = metrics::summarize(log, {agent_class(1.0, 0.02)}, Seconds(0.1));
  const auto& b = s.classes[0].latency_budget;
  CHECK(b[BudgetPart::network].count == 1);  // completed requests only
  CHECK(b[BudgetPart::network].mean == Approx(0.2));
  CHECK(b[BudgetPart::queueing].mean == Approx(0.15));
  CHECK(b[BudgetPart::queueing].ttft_share == Approx(0.1));
  CHECK(b[BudgetPart::queueing].tpot_share == Approx(0.005 / 0.02));
  CHECK(b[BudgetPart::decode].tpot_share == Approx(0.025 / 0.02));
  CHECK(b[BudgetPart::collectives].mean == Approx(0.05));
  CHECK(s.classes[0].ttft.mean == Approx(0.5));
  CHECK(b.tpot_breaker == BudgetPart::decode);  // TPOT 30 ms over a 20 ms budget
  CHECK_FALSE(b.ttft_breaker);
}
