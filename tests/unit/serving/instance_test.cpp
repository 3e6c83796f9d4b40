#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>

#include "catalog/catalog.hpp"
#include "serving/instance.hpp"

using namespace tf;

namespace {

struct Record {
  double first = -1, finish = -1, max_gap = -1;
  uint32_t instance = 0;
};

class Sink final : public serving::RequestSink {
 public:
  std::map<uint64_t, Record> records;
  void first_token(uint64_t r, uint32_t i, Seconds t) override {
    records[r].first = t.value();
    records[r].instance = i;
  }
  void finished(uint64_t r, uint32_t, Seconds t, Seconds gap) override {
    records[r].finish = t.value();
    records[r].max_gap = gap.value();
  }
  void rejected(uint64_t, Seconds) override {}
};

struct Arrival {
  double time;
  serving::SeqRequest req;
};

// A minimal engine: arrivals in order, one pending wake-up, the earlier first (a wake-up wins a tie).
void drive(serving::Instance& inst, const std::vector<Arrival>& arrivals) {
  std::optional<Seconds> wake;
  size_t next = 0;
  while (next < arrivals.size() || wake) {
    if (next < arrivals.size() && (!wake || arrivals[next].time < wake->value())) {
      wake = inst.on_arrival(arrivals[next].req, Seconds(arrivals[next].time));
      ++next;
    } else {
      wake = inst.on_wake(*wake);
    }
  }
}

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

std::vector<Arrival> random_arrivals(uint64_t seed, int n, double rate) {
  std::mt19937_64 g(seed);
  std::vector<Arrival> out;
  double t = 0;
  for (int i = 0; i < n; ++i) {
    t += -std::log(1.0 - static_cast<double>(g() >> 11) * 0x1.0p-53) / rate;
    int64_t in = 1 + static_cast<int64_t>(g() % 3000);
    int64_t out_tokens = 1 + static_cast<int64_t>(g() % 600);
    out.push_back({t, {static_cast<uint64_t>(i), in, out_tokens, 0}});
  }
  return out;
}

}  // namespace

TEST_CASE("a lone request's first token comes at the end of the iteration that runs its prompt") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, perf, {}, 1'000'000, true, sink);
  drive(inst, {{1.0, {7, 500, 1, 0}}});
  perf::Batch b;
  b.prefills.push_back({500, 0});
  CHECK(sink.records[7].first == Approx(1.0 + perf.iteration_time(b).value()).epsilon(1e-12));
  CHECK(sink.records[7].finish == sink.records[7].first);  // a one-token answer ends with its first token
}

TEST_CASE("decode iterations follow the perf model's linear decode time") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, perf, {}, 1'000'000, true, sink);
  drive(inst, {{0.0, {0, 100, 4, 0}}});
  perf::Batch b;
  b.prefills.push_back({100, 0});
  double t = perf.iteration_time(b).value();
  auto lin = perf.decode_linear(1);
  for (int64_t ctx = 101; ctx <= 103; ++ctx)
    t += lin.base.value() + lin.per_context_token.value() * double(ctx);
  CHECK(sink.records[0].finish == Approx(t).epsilon(1e-12));
}

TEST_CASE("a prompt larger than the token budget is prefilled in chunks over several iterations") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::SchedulerParams p;
  p.max_batched_tokens = 1000;
  serving::Instance inst(0, perf, p, 1'000'000, true, sink);
  drive(inst, {{0.0, {0, 2500, 1, 0}}});
  perf::Batch a, b, c;
  a.prefills.push_back({1000, 0});
  b.prefills.push_back({1000, 1000});
  c.prefills.push_back({500, 2000});
  double expect = perf.iteration_time(a).value() + perf.iteration_time(b).value() + perf.iteration_time(c).value();
  CHECK(sink.records[0].first == Approx(expect).epsilon(1e-12));
}

TEST_CASE("a waiting request that does not fit in the KV cache waits for a running one to finish") {
  auto perf = llama8b_on_h100();
  Sink sink;
  // Room for one request of 1000 + 100 tokens at a time.
  serving::Instance inst(0, perf, {}, 1200, true, sink);
  drive(inst, {{0.0, {0, 1000, 100, 0}}, {0.001, {1, 1000, 100, 0}}});
  CHECK(sink.records[1].first > sink.records[0].finish);
}

TEST_CASE("higher-priority waiting requests are admitted first") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, perf, {}, 1200, true, sink);
  drive(inst, {{0.0, {0, 1000, 50, 0}}, {0.001, {1, 1000, 50, 0}}, {0.002, {2, 1000, 50, 5}}});
  CHECK(sink.records[2].first < sink.records[1].first);
}

TEST_CASE("leaping gives the same per-request times as stepping one iteration at a time") {
  auto perf = llama8b_on_h100();
  for (uint64_t seed : {1, 2, 3}) {
    auto arrivals = random_arrivals(seed, 400, 8.0);
    Sink leap_sink, step_sink;
    serving::SchedulerParams p;
    p.max_num_seqs = 64;
    serving::Instance leap(0, perf, p, 400'000, true, leap_sink);
    serving::Instance step(0, perf, p, 400'000, false, step_sink);
    drive(leap, arrivals);
    drive(step, arrivals);
    REQUIRE(leap_sink.records.size() == arrivals.size());
    REQUIRE(step_sink.records.size() == arrivals.size());
    CHECK(leap.usage().iterations == step.usage().iterations);
    for (const auto& [id, r] : leap_sink.records) {
      const auto& s = step_sink.records.at(id);
      CHECK(r.first == Approx(s.first).epsilon(1e-9));
      CHECK(r.finish == Approx(s.finish).epsilon(1e-9));
      CHECK(r.max_gap == Approx(s.max_gap).epsilon(1e-9));
    }
  }
}
