#include <catch2/catch.hpp>

#include "topology/analysis.hpp"
#include "unit/topology/shapes.hpp"

using namespace tf;
using namespace tf::topology;
using tf::test::fabric;
using tf::test::pool;

namespace {

const PairLatency* find_pair(const Analysis& a, const std::string& name) {
  for (const auto& p : a.latencies)
    if (p.pair == name) return &p;
  return nullptr;
}

}  // namespace

TEST_CASE("the bisection formula equals Boost.Graph's max-flow on a small instance of every builder") {
  for (const auto& s : test::small_shapes()) {
    INFO(s.name);
    auto t = test::build(s);
    double formula = bisection_bandwidth(t).value();
    double flow = bisection_maxflow(t);
    CHECK(formula > 0);
    CHECK(flow == Approx(formula).epsilon(1e-12));
  }
}

TEST_CASE("the bisection of full fabrics matches the textbook closed forms") {
  // Ideal: half the NICs.
  auto ideal = build(fabric("ideal"), {pool(test::h100(), 64)});
  CHECK(bisection_bandwidth(ideal).value() == 32 * 50e9);
  // 2-tier Clos at 1:1 is non-blocking; at 3:1 a third of the half's NICs.
  auto full = build(fabric("clos", 2, 16), {pool(test::h100(), 128)});
  CHECK(bisection_bandwidth(full).value() == 64 * 50e9);
  auto over = build(fabric("clos", 2, 64, {3}), {pool(test::h100(), 576)});  // 12 leaves of 6 nodes
  CHECK(bisection_bandwidth(over).value() == Approx(288 * 50e9 / 3));
  // 3 tiers at 1:1 and 2:1 at the aggregation tier.
  auto three = build(fabric("clos", 3, 8), {pool(test::h100(), 128)});
  CHECK(bisection_bandwidth(three).value() == 64 * 50e9);
  // Radix 12 at 1:1 and 2:1: 6 NICs per leaf, pods of 8 leaves with 24 uplinks for their 48 leaf uplinks.
  auto gpu1 = test::make_accelerator("gpu1", 1, 50e9, 0);
  auto three_over = build(fabric("clos", 3, 12, {1, 2}), {pool(gpu1, 384)});
  REQUIRE(three_over.pods.size() == 8);
  CHECK(three_over.pods[0].uplinks == 24);
  CHECK(bisection_bandwidth(three_over).value() == Approx(192 * 50e9 / 2));
}

TEST_CASE("the bisection splits at the middle domain, or halves a single domain") {
  auto t = build(fabric("ideal"), {pool(test::h100(), 40)});
  CHECK(bisection_split(t) == 16);  // domains 0, 1 | 2, 3, 4
  CHECK(bisection_bandwidth(t).value() == 16 * 50e9);
  auto one = build(fabric("ideal"), {pool(test::ascend(), 96)});
  CHECK(bisection_split(one) == 48);
  CHECK(bisection_maxflow(one) == 48 * 50e9);
}

TEST_CASE("analysis counts switches per tier, links and cables by formula") {
  auto t = build(fabric("clos", 3, 16), {pool(test::h100(), 1024)});
  auto a = analyse(t);
  CHECK(a.accelerators == 1024);
  CHECK(a.domains == 128);
  CHECK(a.leaf_groups == 128);
  CHECK(a.pods == 16);
  CHECK(a.leaf_switches == 128);
  CHECK(a.aggregation_switches == 16 * 8);
  CHECK(a.spine_switches == 64);  // k-ary fat tree, k = 16: k^2/4 core switches
  const auto& nic = a.links[static_cast<size_t>(EdgeKind::nic)];
  CHECK(nic.edges == 1024);
  CHECK(nic.cables == 1024);
  const auto& leaf_up = a.links[static_cast<size_t>(EdgeKind::leaf_up)];
  CHECK(leaf_up.edges == 128);
  CHECK(leaf_up.cables == 1024);
  const auto& pod_up = a.links[static_cast<size_t>(EdgeKind::pod_up)];
  CHECK(pod_up.edges == 16);
  CHECK(pod_up.cables == 1024);
  CHECK(a.cables == 1024 + 1024 + 1024 + 1024 + 16);  // scale-up, NIC, leaf up, pod up, frontend
}

TEST_CASE("the diameter between accelerators grows by two hops per tier") {
  CHECK(analyse(build(fabric("ideal"), {pool(test::h100(), 16)})).diameter_hops == 2);
  CHECK(analyse(build(fabric("clos", 2, 16), {pool(test::h100(), 64)})).diameter_hops == 4);
  CHECK(analyse(build(fabric("clos", 3, 8), {pool(test::h100(), 128)})).diameter_hops == 6);
  CHECK(analyse(build(fabric("rail", 3, 32), {pool(test::h100(), 640)})).diameter_hops == 6);
  auto gpu1 = test::make_accelerator("gpu1", 1, 50e9, 0);
  CHECK(analyse(build(fabric("ideal"), {pool(gpu1, 1)})).diameter_hops == 0);
  // Within one scale-up domain on one leaf: two hops either way.
  CHECK(analyse(build(fabric("clos", 2, 64), {pool(test::h100(), 8)})).diameter_hops == 2);
}

TEST_CASE("representative pairs take their latency from the graph's shortest paths") {
  auto c = fabric("clos", 3, 8);
  c.hop_latency = Seconds(1e-6);
  auto t = build(c, {pool(test::h100(), 128)});  // 2 leaves per node, 2 nodes per pod
  auto a = analyse(t);
  const auto* same = find_pair(a, "same domain");
  REQUIRE(same);
  CHECK(same->hops == 2);
  CHECK(same->latency.value() == Approx(5e-6));       // the catalog's scale-up hop
  CHECK(find_pair(a, "same leaf group") == nullptr);  // a node alone on its leaves
  const auto* pod = find_pair(a, "same pod");
  REQUIRE(pod);
  CHECK(pod->hops == 4);
  CHECK(pod->latency.value() == Approx(5e-6 + 2e-6));
  const auto* pods = find_pair(a, "across pods");
  REQUIRE(pods);
  CHECK(pods->hops == 6);
  CHECK(pods->latency.value() == Approx(5e-6 + 4e-6));

  auto two = analyse(build(fabric("clos", 2, 64), {pool(test::h100(), 64)}));
  const auto* leaf = find_pair(two, "same leaf group");
  REQUIRE(leaf);
  CHECK(leaf->hops == 2);
  CHECK(leaf->latency.value() == Approx(5e-6));  // NIC to NIC through one switch
  const auto* spine = find_pair(two, "across the spine");
  REQUIRE(spine);
  CHECK(spine->latency.value() == Approx(5e-6 + 2e-6));
}

TEST_CASE("effective oversubscription is the worst ratio of a tier") {
  // 3:1 configured, but 48 NIC ports hold six 8-GPU nodes only when the pool has them: the last leaf is light.
  auto a = analyse(build(fabric("clos", 2, 64, {3}), {pool(test::h100(), 64)}));
  REQUIRE(a.oversubscription.size() == 1);
  CHECK(a.oversubscription[0].tier == "leaf");
  CHECK(a.oversubscription[0].configured == 3);
  CHECK(a.oversubscription[0].effective == Approx(3.0));
  // Faster NICs than the fabric's cables raise it.
  auto c = fabric("clos", 3, 16, {1, 2});
  c.link_bandwidth = BytesPerSecond(25e9);
  auto b = analyse(build(c, {pool(test::h100(), 1024)}));
  REQUIRE(b.oversubscription.size() == 2);
  CHECK(b.oversubscription[0].effective == Approx(2.0));
  CHECK(b.oversubscription[1].tier == "pod");
  CHECK(b.oversubscription[1].effective == Approx(10.0 / 6));
  CHECK(analyse(build(fabric("ideal"), {pool(test::h100(), 16)})).oversubscription.empty());
}
