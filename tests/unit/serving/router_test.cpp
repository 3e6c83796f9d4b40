#include <catch2/catch.hpp>

#include <deque>
#include <optional>
#include <random>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "serving/router.hpp"

using namespace tf;

namespace {

class NullSink final : public serving::RequestSink {
 public:
  void first_token(uint64_t, uint32_t, Seconds) override {}
  void finished(uint64_t, uint32_t, Seconds, Gaps) override {}
  void rejected(uint64_t, Seconds) override {}
};

// A few idle instances of Llama-3.1-8B on H100 that tests load by hand.
struct Cluster final : serving::ClusterView {
  catalog::Catalog cat{TF_SOURCE_ROOT};
  perf::PerfModel perf{[this] {
    perf::InstanceShape s;
    s.accelerator = &cat.accelerator("h100-sxm");
    s.model = &cat.llm("llama-3.1-8b");
    return s;
  }()};
  NullSink sink;
  std::deque<serving::PrefixCache> caches;
  std::vector<serving::Instance> instances;
  explicit Cluster(int n) {
    for (int i = 0; i < n; ++i) {
      caches.emplace_back(std::vector<serving::CacheTier>{{"hbm", -1, BytesPerSecond(0)}});
      instances.emplace_back(static_cast<uint32_t>(i), serving::Role::colocated, perf, serving::SchedulerParams{},
                             1'000'000, true, sink,
                             serving::PrefixCacheUse{&caches.back(), false, BytesPerSecond(50e9), Bytes(1e6)});
    }
  }
  const serving::Instance& instance(uint32_t id) const override { return instances[id]; }
  Seconds now() const override { return Seconds(0); }
  void load(uint32_t i, int64_t requests, int64_t tokens) {
    for (int64_t k = 0; k < requests; ++k)
      instances[i].on_arrival({static_cast<uint64_t>(1000 + k), tokens, 10, 0, nullptr}, Seconds(0));
  }
};

std::unique_ptr<serving::Router> make(const std::string& name, const std::vector<std::vector<uint32_t>>& groups,
                                      const serving::ClusterView& v, std::vector<double> speed = {}) {
  serving::RouterParams params;
  params.speed = std::move(speed);
  return serving::find_router(name, "s.json", "/cluster/router/kind").make(groups, v, params);
}

// Two instances of Llama-3.1-8B on H100 under a steady Poisson stream of prompt-heavy requests (2,000 prompt
// tokens, 8 output tokens), driven by a small event loop. Instance k runs `pace[k]` times as fast as the perf
// model says: its clock is the loop's time x pace[k], so its every iteration takes 1 / pace[k] as long.
struct SteadyLoad final : serving::ClusterView {
  struct Counting final : serving::RequestSink {
    void first_token(uint64_t, uint32_t, Seconds) override {}
    void finished(uint64_t, uint32_t, Seconds, Gaps) override { ++done; }
    void rejected(uint64_t, Seconds) override {}
    int64_t done = 0;
  };
  catalog::Catalog cat{TF_SOURCE_ROOT};
  perf::PerfModel perf{[this] {
    perf::InstanceShape s;
    s.accelerator = &cat.accelerator("h100-sxm");
    s.model = &cat.llm("llama-3.1-8b");
    return s;
  }()};
  Counting sink;
  std::vector<serving::Instance> instances;
  std::vector<double> pace;
  double clock = 0;

  explicit SteadyLoad(std::vector<double> pace_) : pace(std::move(pace_)) {
    for (size_t i = 0; i < pace.size(); ++i)
      instances.emplace_back(static_cast<uint32_t>(i), serving::Role::colocated, perf, serving::SchedulerParams{},
                             1'000'000, true, sink);
  }
  const serving::Instance& instance(uint32_t id) const override { return instances[id]; }
  Seconds now() const override { return Seconds(clock); }

  // Routes `n` requests arriving at `rate` per second; returns the instance each went to, in arrival order.
  std::vector<uint32_t> run(serving::Router& router, int n, double rate) {
    std::mt19937_64 rng(42);
    std::exponential_distribution<double> gap(rate);
    std::vector<std::optional<double>> wake(instances.size());
    auto set_wake = [&](uint32_t k, std::optional<Seconds> local) {
      wake[k] = local ? std::optional<double>(local->value() / pace[k]) : std::nullopt;
      router.load_changed(k);
    };
    std::vector<uint32_t> picks;
    double next_arrival = gap(rng);
    while (static_cast<int>(picks.size()) < n || sink.done < n) {
      std::optional<uint32_t> due;
      for (uint32_t k = 0; k < wake.size(); ++k)
        if (wake[k] && (!due || *wake[k] < *wake[*due])) due = k;
      bool arrival = static_cast<int>(picks.size()) < n && (!due || next_arrival < *wake[*due]);
      if (arrival) {
        clock = next_arrival;
        uint32_t k = router.pick(0, {2000, nullptr});
        serving::SeqRequest req{picks.size(), 2000, 8, 0, nullptr};
        set_wake(k, instances[k].on_arrival(req, Seconds(clock * pace[k])));
        picks.push_back(k);
        next_arrival += gap(rng);
      } else {
        if (!due) FAIL("no event left while requests are outstanding");
        clock = *wake[*due];
        set_wake(*due, instances[*due].on_wake(Seconds(clock * pace[*due])));
      }
    }
    return picks;
  }
};

double share_ratio(const std::vector<uint32_t>& picks) {
  double fast = 0, slow = 0;
  for (uint32_t k : picks)
    (k == 0 ? fast : slow) += 1;
  return fast / slow;
}

}  // namespace

TEST_CASE("least-outstanding picks the least loaded instance of the request's model, lowest id on ties") {
  Cluster c(4);
  auto r = make("least-outstanding", {{0, 1, 2}, {3}}, c);
  CHECK(r->pick(0, {}) == 0);
  c.load(0, 2, 100);
  r->load_changed(0);
  c.load(1, 1, 100);
  r->load_changed(1);
  CHECK(r->pick(0, {}) == 2);
  c.load(2, 3, 100);
  r->load_changed(2);
  CHECK(r->pick(0, {}) == 1);
  CHECK(r->pick(1, {}) == 3);  // only instance 3 serves the second model
}

TEST_CASE("round-robin cycles through a model's instances") {
  Cluster c(7);
  auto r = make("round-robin", {{4, 5, 6}}, c);
  CHECK(r->pick(0, {}) == 4);
  CHECK(r->pick(0, {}) == 5);
  CHECK(r->pick(0, {}) == 6);
  CHECK(r->pick(0, {}) == 4);
}

TEST_CASE("least-kv-load picks the instance whose KV cache is least committed") {
  Cluster c(2);
  c.load(0, 1, 50'000);
  c.load(1, 1, 5'000);
  CHECK(make("least-kv-load", {{0, 1}}, c)->pick(0, {}) == 1);
}

TEST_CASE("prefix-affinity prefers the instance holding the prompt's prefix unless its queue outweighs it") {
  Cluster c(2);
  std::vector<uint64_t> blocks = {7, 8, 9};
  c.caches[1].insert(blocks);
  auto r = make("prefix-affinity", {{0, 1}}, c);
  CHECK(r->pick(0, {2000, &blocks}) == 1);
  c.load(1, 4, 2000);  // 8,000 queued prompt tokens outweigh 1,536 cached ones
  CHECK(r->pick(0, {2000, &blocks}) == 0);
}

TEST_CASE("slo-aware picks the instance predicted to finish the prompt first") {
  Cluster c(3);
  c.load(0, 3, 4000);
  c.load(1, 1, 4000);
  c.load(2, 2, 4000);
  CHECK(make("slo-aware", {{0, 1, 2}}, c)->pick(0, {1000, nullptr}) == 1);
}

TEST_CASE("least-outstanding fills instances in proportion to their speed, faster first on ties") {
  Cluster c(3);
  auto r = make("least-outstanding", {{0, 1, 2}}, c, {1.0, 2.0, 1.0});
  std::vector<uint32_t> picks;
  for (int k = 0; k < 8; ++k) {
    uint32_t i = r->pick(0, {});
    picks.push_back(i);
    c.load(i, 1, 100);
    r->load_changed(i);
  }
  // Load per speed after each pick: the idle fast instance first, then 1/2 (fast) against 0 (slow), ...
  CHECK(picks == std::vector<uint32_t>{1, 0, 2, 1, 1, 0, 2, 1});
}

TEST_CASE("least-kv-load compares KV load per unit of speed") {
  Cluster c(2);
  c.load(0, 1, 5'000);
  c.load(1, 1, 8'000);
  CHECK(make("least-kv-load", {{0, 1}}, c)->pick(0, {}) == 0);
  CHECK(make("least-kv-load", {{0, 1}}, c, {1.0, 2.0})->pick(0, {}) == 1);  // 8,000 / 2 < 5,000 / 1
  Cluster idle(2);
  CHECK(make("least-kv-load", {{0, 1}}, idle, {1.0, 2.0})->pick(0, {}) == 1);  // a tie goes to the faster
}

TEST_CASE("a 2x faster instance receives about twice the requests under steady load") {
  // 50 prompts a second is about 80 % of what the two instances can take: both keep a queue. A continuous-batching
  // instance that is twice as fast also drains twice as fast, so ranking by the count alone already sends it
  // nearly twice the requests; dividing by the speed brings its share to about twice.
  SteadyLoad with_speed({2.0, 1.0});
  auto r = make("least-outstanding", {{0, 1}}, with_speed, {2.0, 1.0});
  double ratio = share_ratio(with_speed.run(*r, 4000, 50.0));
  SteadyLoad without_speed({2.0, 1.0});
  auto blind = make("least-outstanding", {{0, 1}}, without_speed);
  double blind_ratio = share_ratio(without_speed.run(*blind, 4000, 50.0));
  INFO("fast/slow requests: " << ratio << " with speeds, " << blind_ratio << " without");
  CHECK(ratio > 1.9);
  CHECK(ratio < 2.4);
  CHECK(blind_ratio < ratio);
}

TEST_CASE("uniform speeds give the same picks as no speeds") {
  for (const char* name : {"least-outstanding", "least-kv-load"}) {
    INFO(name);
    SteadyLoad a({1.0, 1.0}), b({1.0, 1.0});
    auto plain = make(name, {{0, 1}}, a);
    auto uniform = make(name, {{0, 1}}, b, {3.5, 3.5});
    auto picks = a.run(*plain, 1000, 40.0);
    CHECK(picks == b.run(*uniform, 1000, 40.0));
    CHECK(share_ratio(picks) > 0.8);  // both instances took part
  }
}

TEST_CASE("an unknown router name lists the valid ones") {
  CHECK_THROWS_WITH(serving::find_router("fastest", "s.json", "/cluster/router/kind"),
                    "s.json: /cluster/router/kind: unknown router \"fastest\" (valid: least-kv-load, "
                    "least-outstanding, prefix-affinity, round-robin, slo-aware)");
}
