#include <catch2/catch.hpp>

#include <optional>

#include "catalog/catalog.hpp"
#include "metrics/timeseries.hpp"
#include "serving/instance.hpp"

using namespace tf;

namespace {

const catalog::Catalog& cat() {
  static catalog::Catalog c(TF_SOURCE_ROOT);
  return c;
}

perf::PerfModel llama8b_on_h100() {
  perf::InstanceShape shape;
  shape.accelerator = &cat().accelerator("h100-sxm");
  shape.model = &cat().llm("llama-3.1-8b");
  return perf::PerfModel(shape);
}

config::ClassConfig chat_class() {
  config::ClassConfig c;
  c.name.assign({'c', 'h', 'a', 't'});  // (not from a literal: sidesteps a GCC 12 -Wrestrict false positive)
  c.model.assign(1, 'm');
  c.slo.ttft = Seconds(1.0);
  return c;
}

}  // namespace

TEST_CASE("the recorder's busy time per interval adds up to the instance's busy time, split at the boundaries") {
  auto perf = llama8b_on_h100();
  metrics::RequestLog log;
  std::vector<serving::Instance> instances;
  instances.emplace_back(0, serving::Role::colocated, perf, serving::SchedulerParams{}, 1'000'000, true, log);
  metrics::TimeSeriesRecorder rec(Seconds(0.25), {{0, 1}}, instances);

  // A minimal engine: two arrivals, then the instance's wake-ups; the recorder sees every clock jump before the
  // event at the new time runs, as SimGrid's on_time_advance signal delivers it.
  std::vector<std::pair<double, serving::SeqRequest>> arrivals = {{0.1, {0, 2000, 300, 0, nullptr}},
                                                                  {0.6, {1, 4000, 200, 0, nullptr}}};
  std::optional<Seconds> wake;
  size_t next = 0;
  int64_t outstanding_seen_after_first_arrival = -1;
  double end = 0;  // the last event
  while (next < arrivals.size() || wake) {
    bool arrival = next < arrivals.size() && (!wake || arrivals[next].first < wake->value());
    double t = arrival ? arrivals[next].first : wake->value();
    rec.advance(Seconds(t));
    end = t;
    if (arrival) {
      const auto& [at, r] = arrivals[next++];
      log.arrived(r.id, Seconds(at), r.input_tokens, r.output_tokens, 0);
      log.routed(r.id, 0);
      wake = instances[0].on_arrival(r, Seconds(at));
      if (next == 1) outstanding_seen_after_first_arrival = instances[0].outstanding();
    } else {
      wake = instances[0].on_wake(*wake);
    }
  }
  auto series = rec.finish(Seconds(end));

  REQUIRE(outstanding_seen_after_first_arrival == 1);
  size_t expected_rows = static_cast<size_t>(std::ceil(end / 0.25));
  REQUIRE(series.ends.size() == expected_rows);
  CHECK(series.ends.back() == Approx(end));
  double busy = 0;
  for (size_t k = 0; k < series.ends.size(); ++k) {
    double width = series.ends[k] - (k == 0 ? 0.0 : series.ends[k - 1]);
    CHECK(series.pools[k][0].busy_s <= width + 1e-12);
    busy += series.pools[k][0].busy_s;
  }
  CHECK(busy == Approx(instances[0].usage().busy.value()).epsilon(1e-12));
  // Before the first arrival nothing is outstanding and nothing is busy; at 0.5 s the first request is running.
  CHECK(series.pools[0][0].busy_s == Approx(0.25 - 0.1));
  CHECK(series.pools[1][0].outstanding == 1);
  CHECK(series.pools.back()[0].outstanding == 0);
  CHECK(series.kv_capacity_tokens == std::vector<int64_t>{instances[0].kv_capacity_tokens()});
}

TEST_CASE("after finish the recorder ignores further clock jumps") {
  auto perf = llama8b_on_h100();
  metrics::RequestLog log;
  std::vector<serving::Instance> instances;
  instances.emplace_back(0, serving::Role::colocated, perf, serving::SchedulerParams{}, 1'000'000, true, log);
  metrics::TimeSeriesRecorder rec(Seconds(1.0), {{0, 1}}, instances);
  rec.advance(Seconds(2.5));
  auto series = rec.finish(Seconds(2.5));
  CHECK(series.ends == std::vector<double>{1.0, 2.0, 2.5});
  rec.advance(Seconds(10.0));  // detached: must not touch the instances or record anything
  CHECK(rec.finish(Seconds(10.0)).ends.empty());
}

TEST_CASE("tabulate counts arrivals, completions and SLO misses in the interval where they happen") {
  metrics::RequestLog log;
  using Gaps = serving::RequestSink::Gaps;
  // Client latency 0.1 s: request 0 reaches the cluster at 0.9 + 0.1 = 1.0 s (second interval) and its first
  // token reaches the user 0.4 s after it was sent.
  log.arrived(0, Seconds(0.9), 100, 10, 0);
  log.routed(0, 0);
  log.first_token(0, 0, Seconds(1.2));
  log.finished(0, 0, Seconds(1.5), Gaps{Seconds(0.01), Seconds(0.01)});
  // Request 1 misses its 1 s TTFT budget: its first token reaches the user 3.0 s after it was sent.
  log.arrived(1, Seconds(0.1), 100, 10, 0);
  log.routed(1, 1);
  log.first_token(1, 1, Seconds(3.0));
  log.finished(1, 1, Seconds(3.5), Gaps{Seconds(0.01), Seconds(0.01)});
  // Request 2 is rejected at 0.7 s.
  log.arrived(2, Seconds(0.2), 100, 10, 0);
  log.rejected(2, Seconds(0.7));

  metrics::PoolSeries series;
  series.interval = Seconds(1.0);
  series.ends = {1.0, 2.0, 3.0, 3.5};
  series.kv_capacity_tokens = {1000};
  for (double busy : {0.5, 1.0, 2.0, 0.5})
    series.pools.push_back({metrics::PoolInterval{busy, 1, 0, 250}});
  auto rows = metrics::tabulate(series, {"p"}, {{0, 2}}, log, {chat_class()}, Seconds(0.1));
  REQUIRE(rows.size() == 4 * 3);  // (all, chat, p) per interval
  auto row = [&](size_t k, size_t r) { return rows[k * 3 + r]; };
  CHECK(row(0, 0).scope == "all");
  CHECK(row(0, 1).name == "chat");
  CHECK(row(0, 2).name == "p");
  CHECK(row(0, 0).arrivals == 2);  // requests 1 and 2 reach the cluster at 0.2 s and 0.3 s
  CHECK(row(0, 0).rejected == 1);
  CHECK(row(1, 0).arrivals == 1);
  CHECK(row(1, 0).completed == 1);
  CHECK(row(1, 0).met_slo == 1);
  CHECK(row(1, 0).useful_tokens == 10);
  CHECK(row(3, 0).completed == 1);
  CHECK(row(3, 0).met_slo == 0);
  CHECK(row(3, 0).useful_tokens == 0);
  CHECK(row(3, 0).output_tokens == 10);
  // The rejected request has no instance, so the pool row does not count it.
  CHECK(row(0, 2).rejected == 0);
  CHECK(row(0, 2).arrivals == 1);
  // Utilisation: busy instance-seconds over (2 instances x width); the last interval is half as wide.
  CHECK(row(2, 2).utilization == Approx(2.0 / 2.0));
  CHECK(row(3, 2).utilization == Approx(0.5 / (2 * 0.5)));
  CHECK(row(3, 2).kv_used_fraction == Approx(0.25));
  CHECK_FALSE(row(0, 1).has_pool_state);
}
