#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "catalog/catalog.hpp"
#include "serving/instance.hpp"

using namespace tf;
using serving::Role;

namespace {

struct Record {
  double first = -1, finish = -1, max_gap = -1, tbt = -1;
  uint32_t instance = 0;
  serving::RequestSink::Phases prefill, decode;  // latency budget
  int prefill_reports = 0, decode_reports = 0;
};

struct FetchCall {
  uint32_t instance = 0;
  uint64_t request = 0;
  Bytes bytes;
  BytesPerSecond rate_cap;
};

class Sink final : public serving::RequestSink {
 public:
  std::map<uint64_t, Record> records;
  std::vector<FetchCall> fetches;  // in call order
  void fetch(uint32_t i, uint64_t r, Bytes b, BytesPerSecond cap) override { fetches.push_back({i, r, b, cap}); }
  void first_token(uint64_t r, uint32_t i, Seconds t) override {
    records[r].first = t.value();
    records[r].instance = i;
  }
  void finished(uint64_t r, uint32_t, Seconds t, Gaps g) override {
    records[r].finish = t.value();
    records[r].max_gap = g.max.value();
    records[r].tbt = g.tbt.value();
  }
  void rejected(uint64_t, Seconds) override {}
  void prefill_phases(uint64_t r, Phases p) override {
    records[r].prefill = p;
    ++records[r].prefill_reports;
  }
  void decode_phases(uint64_t r, Phases p) override {
    records[r].decode = p;
    ++records[r].decode_reports;
  }
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

// drive(), with prefix fetches as an engine would move them: each completes bytes / rate_cap after the call that
// asked for it. Ties: a wake-up first, then a fetch completion, then an arrival. Returns each request's time
// spent fetching.
std::map<uint64_t, double> drive_fetching(serving::Instance& inst, Sink& sink, const std::vector<Arrival>& arrivals) {
  std::map<uint64_t, double> fetching;
  std::optional<Seconds> wake;
  std::multimap<double, uint64_t> done;  // completion time -> request
  size_t next = 0, asked = 0;
  auto after = [&](std::optional<Seconds> w, double now) {
    wake = w;
    for (; asked < sink.fetches.size(); ++asked) {
      const auto& f = sink.fetches[asked];
      done.emplace(now + (f.bytes / f.rate_cap).value(), f.request);
      fetching[f.request] += (f.bytes / f.rate_cap).value();
    }
  };
  while (next < arrivals.size() || wake || !done.empty()) {
    double t_wake = wake ? wake->value() : INFINITY;
    double t_done = done.empty() ? INFINITY : done.begin()->first;
    double t_arrival = next < arrivals.size() ? arrivals[next].time : INFINITY;
    if (wake && t_wake <= t_done && t_wake <= t_arrival) {
      after(inst.on_wake(*wake), t_wake);
    } else if (!done.empty() && t_done <= t_arrival) {
      uint64_t r = done.begin()->second;
      done.erase(done.begin());
      after(inst.on_fetched(r, Seconds(t_done)), t_done);
    } else {
      after(inst.on_arrival(arrivals[next].req, Seconds(t_arrival)), t_arrival);
      ++next;
    }
  }
  return fetching;
}

const catalog::Catalog& cat() {
  static catalog::Catalog c(TF_SOURCE_ROOT);
  return c;
}

perf::PerfModel llama8b_on_h100(int tp = 1) {
  perf::InstanceShape shape;
  shape.accelerator = &cat().accelerator("h100-sxm");
  shape.model = &cat().llm("llama-3.1-8b");
  shape.tp = tp;
  return perf::PerfModel(shape);
}

// Collective time of one iteration of `b`, from the perf model's operator breakdown.
double collectives_of(const perf::PerfModel& perf, const perf::Batch& b) {
  double t = 0;
  for (const auto& op : perf.breakdown(b))
    if (op.name == "tp.all_reduce" || op.name == "ep.dispatch" || op.name == "ep.combine" || op.name == "pp.send")
      t += op.time.value();
  return t;
}

// Random prompts; when `shared` is set, every prompt starts with one of four common 512-token prefixes.
std::vector<Arrival> random_arrivals(uint64_t seed, int n, double rate,
                                     std::vector<std::vector<uint64_t>>* blocks = nullptr) {
  std::mt19937_64 g(seed);
  std::vector<Arrival> out;
  if (blocks) blocks->resize(static_cast<size_t>(n));
  double t = 0;
  for (int i = 0; i < n; ++i) {
    t += -std::log(1.0 - static_cast<double>(g() >> 11) * 0x1.0p-53) / rate;
    int64_t in = 1 + static_cast<int64_t>(g() % 3000);
    int64_t out_tokens = 1 + static_cast<int64_t>(g() % 600);
    serving::SeqRequest r{static_cast<uint64_t>(i), in, out_tokens, 0, nullptr};
    if (blocks) {
      auto& b = (*blocks)[static_cast<size_t>(i)];
      b.push_back(g() % 4);
      for (int64_t k = 1; k < (in + 511) / 512; ++k)
        b.push_back(1000 + static_cast<uint64_t>(i) * 16 + static_cast<uint64_t>(k));
      r.prefix_blocks = &b;
    }
    out.push_back({t, r});
  }
  return out;
}

serving::SeqRequest req(uint64_t id, int64_t in, int64_t out, int prio = 0) {
  return {id, in, out, prio, nullptr};
}

void expect_same_times(const Sink& a, const Sink& b, size_t n) {
  REQUIRE(a.records.size() == n);
  REQUIRE(b.records.size() == n);
  for (const auto& [id, r] : a.records) {
    const auto& s = b.records.at(id);
    CHECK(r.first == Approx(s.first).epsilon(1e-9));
    CHECK(r.finish == Approx(s.finish).epsilon(1e-9));
    CHECK(r.max_gap == Approx(s.max_gap).epsilon(1e-9));
    CHECK(r.tbt == Approx(s.tbt).epsilon(1e-9));
  }
}

}  // namespace

TEST_CASE("a lone request's first token comes at the end of the iteration that runs its prompt") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, Role::colocated, perf, {}, 1'000'000, true, sink);
  drive(inst, {{1.0, req(7, 500, 1)}});
  perf::Batch b;
  b.prefills.push_back({500, 0});
  CHECK(sink.records[7].first == Approx(1.0 + perf.iteration_time(b).value()).epsilon(1e-12));
  CHECK(sink.records[7].finish == sink.records[7].first);  // a one-token answer ends with its first token
}

TEST_CASE("decode iterations follow the perf model's linear decode time") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, Role::colocated, perf, {}, 1'000'000, true, sink);
  drive(inst, {{0.0, req(0, 100, 4)}});
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
  serving::Instance inst(0, Role::colocated, perf, p, 1'000'000, true, sink);
  drive(inst, {{0.0, req(0, 2500, 1)}});
  perf::Batch a, b, c;
  a.prefills.push_back({1000, 0});
  b.prefills.push_back({1000, 1000});
  c.prefills.push_back({500, 2000});
  double expect = perf.iteration_time(a).value() + perf.iteration_time(b).value() + perf.iteration_time(c).value();
  CHECK(sink.records[0].first == Approx(expect).epsilon(1e-12));
}

TEST_CASE("continuous batching pauses decodes for a new prompt; chunked batching keeps them running") {
  auto perf = llama8b_on_h100();
  std::vector<Arrival> arrivals = {{0.0, req(0, 100, 200)}, {0.5, req(1, 8000, 1)}};
  Sink cont, chunk;
  serving::Instance a(0, Role::colocated, perf, {}, 1'000'000, true, cont);
  serving::SchedulerParams p;
  p.policy = serving::BatchPolicy::chunked;
  p.max_batched_tokens = 1024;
  serving::Instance b(0, Role::colocated, perf, p, 1'000'000, true, chunk);
  drive(a, arrivals);
  drive(b, arrivals);
  // Under continuous batching request 0 waits out the whole 8,000-token prefill between two tokens.
  perf::Batch big;
  big.prefills.push_back({8000, 0});
  CHECK(cont.records[0].max_gap >= perf.iteration_time(big).value());
  CHECK(chunk.records[0].max_gap < cont.records[0].max_gap / 2);
}

TEST_CASE("TBT is the mean of the longest tenth of a request's inter-token gaps") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, Role::colocated, perf, {}, 1'000'000, true, sink);
  // 11 tokens: 10 gaps, so the TBT is the single longest one.
  drive(inst, {{0.0, req(0, 100, 11)}, {0.05, req(1, 4000, 1)}});
  CHECK(sink.records[0].tbt == Approx(sink.records[0].max_gap));
  CHECK(sink.records[0].tbt > 0);
}

TEST_CASE("a waiting request that does not fit in the KV cache waits for a running one to finish") {
  auto perf = llama8b_on_h100();
  Sink sink;
  // Room for one request of 1000 + 100 tokens at a time.
  serving::Instance inst(0, Role::colocated, perf, {}, 1200, true, sink);
  drive(inst, {{0.0, req(0, 1000, 100)}, {0.001, req(1, 1000, 100)}});
  CHECK(sink.records[1].first > sink.records[0].finish);
}

TEST_CASE("higher-priority waiting requests are admitted first") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, Role::colocated, perf, {}, 1200, true, sink);
  drive(inst, {{0.0, req(0, 1000, 50)}, {0.001, req(1, 1000, 50)}, {0.002, req(2, 1000, 50, 5)}});
  CHECK(sink.records[2].first < sink.records[1].first);
}

TEST_CASE("when decodes outgrow the KV cache the newest sequence is preempted and still finishes") {
  auto perf = llama8b_on_h100();
  for (auto kind : {serving::Preemption::recompute, serving::Preemption::swap}) {
    Sink sink;
    serving::SchedulerParams p;
    p.preemption = kind;
    // Two prompts of 600 fit (2 x 38 blocks of 16), their answers of 400 do not.
    serving::Instance inst(0, Role::colocated, perf, p, 1600, true, sink);
    drive(inst, {{0.0, req(0, 600, 400)}, {0.0, req(1, 600, 400)}});
    CHECK(inst.usage().preemptions >= 1);
    REQUIRE(sink.records.size() == 2);
    CHECK(sink.records[0].finish > 0);
    CHECK(sink.records[1].finish > sink.records[0].finish);  // the newer one was preempted
    if (kind == serving::Preemption::swap) CHECK(inst.usage().swapped.value() > 0);
  }
}

TEST_CASE("a cached prefix is not computed again") {
  auto perf = llama8b_on_h100();
  serving::PrefixCache cache({{"hbm", -1, BytesPerSecond(0)}});
  serving::PrefixCacheUse use{&cache, false, BytesPerSecond(50e9), Bytes(512 * 131072.0)};
  Sink sink;
  serving::Instance inst(0, Role::colocated, perf, {}, 1'000'000, true, sink, use);
  std::vector<uint64_t> a = {1, 2, 3, 4}, b = {1, 2, 3, 9};
  drive(inst, {{0.0, {0, 2000, 1, 0, &a}}, {10.0, {1, 2000, 1, 0, &b}}});
  CHECK(inst.usage().cached_tokens == 1536);  // three shared 512-token blocks
  CHECK(inst.usage().prefill_tokens == 2000 + 2000 - 1536);
  CHECK(inst.usage().prefix_lookup_blocks == 8);
  CHECK(inst.usage().prefix_hit_blocks[0] == 3);
  CHECK(sink.records[1].first - 10.0 < sink.records[0].first);
}

TEST_CASE("with fetch flows, a cached prefix waits for on_fetched before it is computed") {
  auto perf = llama8b_on_h100();
  serving::PrefixCache cache({{"dram", -1, BytesPerSecond(20e9)}, {"ssd", -1, BytesPerSecond(5e9)}});
  Bytes block(512 * 131072.0);
  serving::PrefixCacheUse use{&cache, true, BytesPerSecond(50e9), block, true};
  Sink sink;
  serving::Instance inst(0, Role::colocated, perf, {}, 1'000'000, true, sink, use);
  std::vector<uint64_t> a = {1, 2, 3, 4}, b = {1, 2, 3, 9};
  drive(inst, {{0.0, {0, 2000, 1, 0, &a}}});
  REQUIRE(sink.fetches.empty());  // nothing cached yet
  int64_t computed = inst.usage().prefill_tokens;
  int64_t kv_before = inst.kv_used_tokens();

  // The second prompt shares three blocks: admitted, it asks for them and is not scheduled.
  auto wake = inst.on_arrival({1, 2000, 1, 0, &b}, Seconds(10.0));
  CHECK(!wake);
  REQUIRE(sink.fetches.size() == 1);
  CHECK(sink.fetches[0].request == 1);
  CHECK(sink.fetches[0].bytes.value() == Approx(3 * block.value()));
  CHECK(sink.fetches[0].rate_cap.value() == Approx(20e9));  // every block is in DRAM: read at its bandwidth
  CHECK(inst.outstanding() == 1);
  CHECK(inst.kv_used_tokens() > kv_before);  // it holds its blocks while it waits
  CHECK(inst.usage().prefill_tokens == computed);
  CHECK(sink.records.count(1) == 0);

  // The blocks arrive: it runs its uncached tokens at once.
  wake = inst.on_fetched(1, Seconds(10.5));
  REQUIRE(wake);
  CHECK(wake->value() > 10.5);
  while (wake)
    wake = inst.on_wake(*wake);
  CHECK(inst.usage().prefill_tokens == computed + 2000 - 1536);
  CHECK(inst.usage().cached_tokens == 1536);
  const auto& r = sink.records.at(1);
  CHECK(r.first > 10.5);
  // The fetch is left out of the prefill phase: the sink counts it as KV transfer.
  CHECK(r.prefill.queue.value() + r.prefill.compute.value() + 0.5 == Approx(r.first - 10.0).epsilon(1e-12));
  CHECK(r.prefill.queue.value() == Approx(0.0).margin(1e-12));
}

TEST_CASE("with fetch flows, leaping gives the same per-request times and budgets as stepping") {
  auto perf = llama8b_on_h100(2);
  for (auto policy : {serving::BatchPolicy::continuous, serving::BatchPolicy::chunked})
    for (auto preemption : {serving::Preemption::recompute, serving::Preemption::swap}) {
      std::vector<std::vector<uint64_t>> blocks;
      auto arrivals = random_arrivals(7, 300, 8.0, &blocks);
      auto tiers = std::vector<serving::CacheTier>{{"dram", 8, BytesPerSecond(20e9)}, {"ssd", 64, BytesPerSecond(3e9)}};
      serving::PrefixCache c1(tiers), c2(tiers);
      Bytes block(512 * 131072.0);
      Sink leap_sink, step_sink;
      serving::SchedulerParams p;
      p.policy = policy;
      p.preemption = preemption;
      p.max_num_seqs = 64;
      p.max_batched_tokens = 2048;
      serving::Instance leap(0, Role::colocated, perf, p, 60'000, true, leap_sink, {&c1, true, {}, block, true});
      serving::Instance step(0, Role::colocated, perf, p, 60'000, false, step_sink, {&c2, true, {}, block, true});
      auto fetch_time = drive_fetching(leap, leap_sink, arrivals);
      drive_fetching(step, step_sink, arrivals);
      INFO("policy " << int(policy) << " preemption " << int(preemption));
      CHECK(leap.usage().preemptions > 0);
      CHECK(leap.usage().cached_tokens > 0);
      CHECK(leap.usage().cached_tokens == step.usage().cached_tokens);
      CHECK(leap.usage().iterations == step.usage().iterations);
      REQUIRE(leap_sink.fetches.size() == step_sink.fetches.size());
      CHECK(!leap_sink.fetches.empty());
      expect_same_times(leap_sink, step_sink, arrivals.size());
      double worst = 0;
      for (const auto& a : arrivals) {
        const auto& x = leap_sink.records.at(a.req.id);
        const auto& y = step_sink.records.at(a.req.id);
        // The prefill phase and the fetch make up the time to the first token.
        double f = fetch_time.count(a.req.id) ? fetch_time.at(a.req.id) : 0.0;
        CHECK(x.prefill.queue.value() + x.prefill.compute.value() + f == Approx(x.first - a.time).epsilon(1e-9));
        CHECK(x.prefill.compute.value() > 0);
        double scale = y.finish - a.time;
        for (auto [u, v] : {std::pair{x.prefill.queue, y.prefill.queue},
                            {x.prefill.compute, y.prefill.compute},
                            {x.decode.queue, y.decode.queue},
                            {x.decode.compute, y.decode.compute}})
          worst = std::max(worst, std::abs(u.value() - v.value()) / scale);
      }
      INFO("worst difference relative to the request's time " << worst);
      CHECK(worst <= 1e-9);
    }
}

TEST_CASE("a prefill instance hands the sequence off and holds its KV until released") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, Role::prefill, perf, {}, 1'000'000, true, sink);
  auto wake = inst.on_arrival(req(3, 1000, 50), Seconds(0));
  REQUIRE(wake);
  CHECK(!inst.on_wake(*wake));
  auto h = inst.take_handoffs();
  REQUIRE(h.size() == 1);
  CHECK(h[0].kv_tokens == 1000);
  CHECK(sink.records[3].first < 0);  // the first token comes from the decode side
  CHECK(sink.records[3].prefill_reports == 1);
  CHECK(inst.kv_used_tokens() > 0);
  inst.on_released(3, *wake);
  CHECK(inst.kv_used_tokens() == 0);
}

TEST_CASE("a decode instance produces the first token when the KV arrives, then decodes the rest") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, Role::decode, perf, {}, 1'000'000, true, sink);
  auto wake = inst.on_handoff(req(4, 1000, 3), Seconds(2.0));
  CHECK(sink.records[4].first == 2.0);
  while (wake)
    wake = inst.on_wake(*wake);
  auto lin = perf.decode_linear(1);
  double t = 2.0 + 2 * lin.base.value() + lin.per_context_token.value() * (1001 + 1002);
  CHECK(sink.records[4].finish == Approx(t).epsilon(1e-12));
}

TEST_CASE("leaping gives the same per-request times as stepping one iteration at a time") {
  auto perf = llama8b_on_h100();
  for (auto policy : {serving::BatchPolicy::continuous, serving::BatchPolicy::chunked})
    for (auto preemption : {serving::Preemption::recompute, serving::Preemption::swap})
      for (uint64_t seed : {1, 2}) {
        std::vector<std::vector<uint64_t>> blocks;
        auto arrivals = random_arrivals(seed, 300, 8.0, &blocks);
        serving::PrefixCache c1({{"hbm", 8, BytesPerSecond(0)}, {"dram", 64, BytesPerSecond(20e9)}});
        serving::PrefixCache c2({{"hbm", 8, BytesPerSecond(0)}, {"dram", 64, BytesPerSecond(20e9)}});
        Bytes block(512 * 131072.0);
        Sink leap_sink, step_sink;
        serving::SchedulerParams p;
        p.policy = policy;
        p.preemption = preemption;
        p.max_num_seqs = 64;
        p.max_batched_tokens = 2048;
        // A KV cache small enough that decodes outgrow it and preempt.
        serving::Instance leap(0, Role::colocated, perf, p, 60'000, true, leap_sink, {&c1, false, {}, block});
        serving::Instance step(0, Role::colocated, perf, p, 60'000, false, step_sink, {&c2, false, {}, block});
        drive(leap, arrivals);
        drive(step, arrivals);
        INFO("policy " << int(policy) << " preemption " << int(preemption) << " seed " << seed);
        CHECK(leap.usage().iterations == step.usage().iterations);
        CHECK(leap.usage().preemptions == step.usage().preemptions);
        CHECK(leap.usage().preemptions > 0);
        CHECK(leap.usage().cached_tokens == step.usage().cached_tokens);
        expect_same_times(leap_sink, step_sink, arrivals.size());
      }
}

TEST_CASE("a request's queueing, compute and collectives add up to its time in the instance") {
  auto perf = llama8b_on_h100(2);
  for (auto policy : {serving::BatchPolicy::continuous, serving::BatchPolicy::chunked}) {
    Sink sink;
    serving::SchedulerParams p;
    p.policy = policy;
    p.max_num_seqs = 64;
    p.max_batched_tokens = 2048;
    serving::Instance inst(0, Role::colocated, perf, p, 60'000, true, sink);
    auto arrivals = random_arrivals(3, 300, 8.0);
    drive(inst, arrivals);
    INFO("policy " << int(policy));
    REQUIRE(sink.records.size() == arrivals.size());
    for (const auto& a : arrivals) {
      const auto& r = sink.records.at(a.req.id);
      REQUIRE(r.prefill_reports == 1);
      REQUIRE(r.decode_reports == 1);
      double before = r.prefill.queue.value() + r.prefill.compute.value();
      double after = r.decode.queue.value() + r.decode.compute.value();
      CHECK(before == Approx(r.first - a.time).epsilon(1e-9));
      CHECK(after == Approx(r.finish - r.first).epsilon(1e-9).margin(1e-12));
      CHECK(r.prefill.compute.value() > 0);
      CHECK(r.prefill.queue.value() >= 0);
      CHECK(r.decode.queue.value() >= 0);
      // Collectives are a part of compute, never beside it.
      CHECK(r.prefill.collectives.value() > 0);
      CHECK(r.prefill.collectives.value() < r.prefill.compute.value());
      CHECK(r.decode.collectives.value() <= r.decode.compute.value() + 1e-12);
    }
  }
}

TEST_CASE("a request that arrives during an iteration queues until the next one starts") {
  auto perf = llama8b_on_h100();
  Sink sink;
  serving::Instance inst(0, Role::colocated, perf, {}, 1'000'000, true, sink);
  drive(inst, {{0.0, req(0, 4000, 1)}, {0.01, req(1, 100, 1)}});
  perf::Batch b;
  b.prefills.push_back({4000, 0});
  double first_end = perf.iteration_time(b).value();
  REQUIRE(first_end > 0.01);
  CHECK(sink.records[0].prefill.queue.value() == 0.0);
  CHECK(sink.records[1].prefill.queue.value() == Approx(first_end - 0.01).epsilon(1e-12));
  CHECK(sink.records[1].first - 0.01 ==
        Approx(sink.records[1].prefill.queue.value() + sink.records[1].prefill.compute.value()).epsilon(1e-12));
}

TEST_CASE("a lone request's collectives are the collective operators of the iterations it ran in") {
  auto perf = llama8b_on_h100(2);
  Sink sink;
  serving::Instance inst(0, Role::colocated, perf, {}, 1'000'000, true, sink);
  drive(inst, {{0.0, req(0, 500, 11)}});
  perf::Batch prefill;
  prefill.prefills.push_back({500, 0});
  perf::Batch decode;
  decode.decode_seqs = 1;
  decode.decode_context_sum = 501;
  const auto& r = sink.records[0];
  // Prompts of more than 64 tokens are interpolated on the instance's grid of token counts; one decode is exact.
  CHECK(r.prefill.collectives.value() == Approx(collectives_of(perf, prefill)).epsilon(0.01));
  CHECK(r.decode.collectives.value() == Approx(10 * collectives_of(perf, decode)).epsilon(1e-12));
  CHECK(r.decode.collectives.value() > 0);
  CHECK(r.prefill.queue.value() == 0.0);
  CHECK(r.decode.queue.value() == 0.0);
  // Without tensor parallelism there is nothing to all-reduce.
  auto tp1 = llama8b_on_h100();
  Sink alone;
  serving::Instance one(0, Role::colocated, tp1, {}, 1'000'000, true, alone);
  drive(one, {{0.0, req(0, 500, 11)}});
  CHECK(alone.records[0].prefill.collectives.value() == 0.0);
  CHECK(alone.records[0].decode.collectives.value() == 0.0);
}

TEST_CASE("the collective grid gives the perf model's collective time within 1 % at any token count") {
  struct Shape {
    const char* accelerator;
    const char* model;
    int tp, ep;
  };
  for (auto sh : {Shape{"h100-sxm", "llama-3.1-70b", 2, 1}, Shape{"h100-sxm", "llama-3.1-70b", 8, 1},
                  Shape{"h100-sxm", "qwen3-30b-a3b", 1, 8}, Shape{"h800", "deepseek-v3", 1, 32},
                  Shape{"h800", "deepseek-v3", 1, 144}}) {
    perf::InstanceShape shape;
    shape.accelerator = &cat().accelerator(sh.accelerator);
    shape.model = &cat().llm(sh.model);
    shape.tp = sh.tp;
    shape.ep = sh.ep;
    shape.weight_dtype = shape.accelerator->supports(catalog::Dtype::fp8) ? catalog::Dtype::fp8 : catalog::Dtype::bf16;
    perf::PerfModel perf(shape, std::filesystem::path(TF_SOURCE_ROOT) / "models" / "profiles");
    serving::PerfMemo grid(perf);
    double worst = 0;
    int64_t counts = 0;
    for (int64_t t = 1; t < 70'000; t += 1 + t / 97, ++counts) {
      perf::Batch b;
      b.prefills.push_back({t, 0});
      double exact = collectives_of(perf, b);
      double got = grid.collectives(t);
      if (t <= 64) CHECK(got == exact);
      worst = std::max(worst, std::abs(got - exact) / exact);
    }
    INFO(sh.model << " tp " << sh.tp << " ep " << sh.ep << ": worst relative error " << worst << " over " << counts
                  << " token counts");
    CHECK(worst < 0.01);
  }
}

TEST_CASE("instances that share a perf memo report what they would with their own") {
  auto perf = llama8b_on_h100(2);
  serving::PerfMemo grid(perf);
  auto arrivals = random_arrivals(9, 200, 8.0);
  Sink own, shared_a, shared_b;
  serving::Instance a(0, Role::colocated, perf, {}, 1'000'000, true, own);
  serving::Instance b(0, Role::colocated, perf, {}, 1'000'000, true, shared_a, {}, &grid);
  serving::Instance c(1, Role::colocated, perf, {}, 1'000'000, false, shared_b, {}, &grid);
  drive(a, arrivals);
  drive(b, arrivals);
  drive(c, arrivals);
  for (const auto& r : arrivals) {
    const auto& x = own.records.at(r.req.id);
    for (const Sink* other : {&shared_a, &shared_b}) {
      const auto& y = other->records.at(r.req.id);
      CHECK(x.prefill.collectives.value() == Approx(y.prefill.collectives.value()).epsilon(1e-12));
      CHECK(x.decode.collectives.value() == Approx(y.decode.collectives.value()).epsilon(1e-9));
    }
  }
}

TEST_CASE("a preempted request's queueing includes the time it waited to be rescheduled") {
  auto perf = llama8b_on_h100();
  auto lin = perf.decode_linear(1);
  perf::Batch longest;
  longest.prefills.push_back({1000, 0});
  for (auto kind : {serving::Preemption::recompute, serving::Preemption::swap}) {
    INFO("preemption " << int(kind));
    Sink sink;
    serving::SchedulerParams p;
    p.preemption = kind;
    serving::Instance inst(0, Role::colocated, perf, p, 1600, true, sink);
    drive(inst, {{0.0, req(0, 600, 400)}, {0.0, req(1, 600, 400)}});
    REQUIRE(inst.usage().preemptions >= 1);
    const auto& kept = sink.records[0];
    const auto& victim = sink.records[1];
    CHECK(kept.decode.queue.value() == 0.0);
    // The victim waited from its preemption until the other finished; its longest gap is that wait plus the
    // one iteration (a recompute prefill or, after a swap-in, a decode) that produced its next token.
    double wait = victim.decode.queue.value();
    CHECK(wait > 50 * lin.base.value());
    CHECK(wait < victim.max_gap);
    CHECK(victim.max_gap - wait <= perf.iteration_time(longest).value() + 1e-9);
    CHECK(victim.decode.queue.value() + victim.decode.compute.value() ==
          Approx(victim.finish - victim.first).epsilon(1e-12));
  }
}

TEST_CASE("a prefill instance reports the prefill phase; the decode instance reports its wait for admission") {
  auto perf = llama8b_on_h100();
  Sink pre;
  serving::Instance prefill(0, Role::prefill, perf, {}, 1'000'000, true, pre);
  auto wake = prefill.on_arrival(req(3, 1000, 50), Seconds(1.0));
  REQUIRE(wake);
  prefill.on_wake(*wake);
  REQUIRE(pre.records[3].prefill_reports == 1);
  CHECK(pre.records[3].prefill.queue.value() == 0.0);
  CHECK(pre.records[3].prefill.compute.value() == Approx(wake->value() - 1.0).epsilon(1e-12));
  CHECK(pre.records[3].decode_reports == 0);

  // On the decode side, a hand-off that arrives in the middle of a decode run waits for its boundary.
  Sink dec;
  serving::Instance decode(1, Role::decode, perf, {}, 1'000'000, true, dec);
  auto w = decode.on_handoff(req(0, 1000, 200), Seconds(0.0));
  REQUIRE(w);
  w = decode.on_handoff(req(1, 1000, 20), Seconds(0.5 * w->value()));
  while (w)
    w = decode.on_wake(*w);
  CHECK(dec.records[0].decode.queue.value() == 0.0);
  CHECK(dec.records[1].decode.queue.value() > 0);
  CHECK(dec.records[1].prefill_reports == 0);
  for (uint64_t id : {0, 1}) {
    const auto& r = dec.records[id];
    CHECK(r.decode.queue.value() + r.decode.compute.value() == Approx(r.finish - r.first).epsilon(1e-12));
  }
}

TEST_CASE("leaping and stepping give the same latency breakdown of every request") {
  auto perf = llama8b_on_h100(2);
  for (auto policy : {serving::BatchPolicy::continuous, serving::BatchPolicy::chunked})
    for (auto preemption : {serving::Preemption::recompute, serving::Preemption::swap}) {
      auto arrivals = random_arrivals(5, 300, 8.0);
      Sink leap_sink, step_sink;
      serving::SchedulerParams p;
      p.policy = policy;
      p.preemption = preemption;
      p.max_num_seqs = 64;
      p.max_batched_tokens = 2048;
      serving::Instance leap(0, Role::colocated, perf, p, 60'000, true, leap_sink);
      serving::Instance step(0, Role::colocated, perf, p, 60'000, false, step_sink);
      drive(leap, arrivals);
      drive(step, arrivals);
      INFO("policy " << int(policy) << " preemption " << int(preemption));
      CHECK(leap.usage().preemptions > 0);
      expect_same_times(leap_sink, step_sink, arrivals.size());
      double worst = 0;
      for (const auto& a : arrivals) {
        const auto& x = leap_sink.records.at(a.req.id);
        const auto& y = step_sink.records.at(a.req.id);
        // Parts may be near zero: compare them relative to the request's time in the instance.
        double scale = y.finish - a.time;
        for (auto [u, v] : {std::pair{x.prefill.queue, y.prefill.queue},
                            {x.prefill.compute, y.prefill.compute},
                            {x.prefill.collectives, y.prefill.collectives},
                            {x.decode.queue, y.decode.queue},
                            {x.decode.compute, y.decode.compute},
                            {x.decode.collectives, y.decode.collectives}})
          worst = std::max(worst, std::abs(u.value() - v.value()) / scale);
      }
      INFO("worst difference relative to the request's time " << worst);
      CHECK(worst <= 1e-9);
    }
}

TEST_CASE("an iteration's collective time depends only on how many new tokens it computes") {
  // The instance caches collective times by token count and multiplies them over decode leaps: it relies on this.
  struct Shape {
    const char* accelerator;
    const char* model;
    int tp, ep, pp;
  };
  for (auto sh : {Shape{"h100-sxm", "llama-3.1-8b", 2, 1, 1}, Shape{"h100-sxm", "llama-3.1-70b", 4, 1, 2},
                  Shape{"h100-sxm", "qwen3-30b-a3b", 1, 8, 1}, Shape{"h800", "deepseek-v3", 1, 32, 1}}) {
    perf::InstanceShape shape;
    shape.accelerator = &cat().accelerator(sh.accelerator);
    shape.model = &cat().llm(sh.model);
    shape.tp = sh.tp;
    shape.ep = sh.ep;
    shape.pp = sh.pp;
    shape.weight_dtype = shape.accelerator->supports(catalog::Dtype::fp8) ? catalog::Dtype::fp8 : catalog::Dtype::bf16;
    perf::PerfModel perf(shape, std::filesystem::path(TF_SOURCE_ROOT) / "models" / "profiles");
    INFO(sh.model << " tp " << sh.tp << " ep " << sh.ep << " pp " << sh.pp);
    for (int64_t decodes : {0, 1, 37}) {
      perf::Batch mixed;
      mixed.prefills.push_back({700, 0});
      mixed.prefills.push_back({1300, 4096});
      mixed.decode_seqs = decodes;
      mixed.decode_context_sum = decodes * 3000;
      perf::Batch decode_only;
      decode_only.decode_seqs = 2000 + decodes;
      decode_only.decode_context_sum = 17;
      double a = collectives_of(perf, mixed), b = collectives_of(perf, decode_only);
      CHECK(a > 0);
      CHECK(a == Approx(b).epsilon(1e-12));
    }
  }
}
