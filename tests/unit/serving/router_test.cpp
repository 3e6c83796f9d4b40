#include <catch2/catch.hpp>

#include <deque>

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
                                      const serving::ClusterView& v) {
  return serving::find_router(name, "s.json", "/cluster/router/kind").make(groups, v, {});
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

TEST_CASE("an unknown router name lists the valid ones") {
  CHECK_THROWS_WITH(serving::find_router("fastest", "s.json", "/cluster/router/kind"),
                    "s.json: /cluster/router/kind: unknown router \"fastest\" (valid: least-kv-load, "
                    "least-outstanding, prefix-affinity, round-robin, slo-aware)");
}
