#include <catch2/catch.hpp>

#include "topology/placement.hpp"
#include "unit/topology/shapes.hpp"

using namespace tf;
using namespace tf::topology;
using tf::test::fabric;
using tf::test::pool;

namespace {

std::vector<int64_t> ids(const Topology& t, const InstancePlacement& p) {
  std::vector<int64_t> out;
  for (auto v : p.accelerators)
    out.push_back(t.graph[v].index);
  return out;
}

}  // namespace

TEST_CASE("contiguous placement fills domain after domain") {
  auto t = build(fabric("clos", 2, 64), {pool(test::h100(), 64)});
  auto p = place(t, {{4, 16}}, "contiguous", true);
  REQUIRE(p.size() == 16);
  CHECK(ids(t, p[0]) == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(ids(t, p[1]) == std::vector<int64_t>{4, 5, 6, 7});
  CHECK(p[1].domains == std::vector<int32_t>{0});
  CHECK(p[2].domains == std::vector<int32_t>{1});
  CHECK(p[15].index == 15);
  CHECK(p[15].group == 1);  // nodes 4..7 on the second leaf
}

TEST_CASE("spread placement deals instances round-robin over the pool's leaf groups") {
  auto t = build(fabric("clos", 2, 64), {pool(test::h100(), 96)});  // 12 nodes: 3 leaves of 4
  REQUIRE(t.groups.size() == 3);
  auto p = place(t, {{8, 12}}, "spread", true);
  REQUIRE(p.size() == 12);
  CHECK(p[0].group == 0);
  CHECK(p[1].group == 1);
  CHECK(p[2].group == 2);
  CHECK(p[3].group == 0);
  CHECK(p[3].domains == std::vector<int32_t>{1});
  // Every slot is used once.
  std::vector<int> used(12, 0);
  for (const auto& i : p)
    ++used[static_cast<size_t>(i.domains.front())];
  CHECK(used == std::vector<int>(12, 1));
}

TEST_CASE("several pools are placed pool after pool") {
  auto t = build(fabric("ideal"), {pool(test::h100(), 16), pool(test::gb200(), 72)});
  auto p = place(t, {{8, 2}, {72, 1}}, "contiguous", false);
  REQUIRE(p.size() == 3);
  CHECK(p[2].pool == 1);
  CHECK(p[2].index == 0);
  CHECK(t.graph[p[2].accelerators.front()].index == 16);
  CHECK(p[2].domains == std::vector<int32_t>{2});
}

TEST_CASE("an instance that straddles scale-up domains is an error when allow_split is false") {
  auto t = build(fabric("ideal"), {pool(test::h100(), 24)});
  CHECK_NOTHROW(place(t, {{3, 8}}, "contiguous", true));
  try {
    place(t, {{3, 8}}, "contiguous", false);
    FAIL("expected a BuildError");
  } catch (const BuildError& e) {
    CHECK(e.field() == "topology.allow_split");
    CHECK_THAT(e.message(),
               Catch::Contains("instance of 3 accelerators") && Catch::Contains("nvlink-node domains of 8"));
  }
  // Whole domains are not a split, and neither is a divisor of the domain.
  CHECK_NOTHROW(place(t, {{24, 1}}, "contiguous", false));
  CHECK_NOTHROW(place(t, {{16, 1}}, "contiguous", false));
  CHECK_NOTHROW(place(t, {{4, 6}}, "spread", false));
  CHECK_THROWS_AS(place(t, {{12, 2}}, "contiguous", false), BuildError);
}

TEST_CASE("an unknown placement policy or too many instances is an error") {
  auto t = build(fabric("ideal"), {pool(test::h100(), 16)});
  try {
    place(t, {{8, 2}}, "random", true);
    FAIL("expected a BuildError");
  } catch (const BuildError& e) {
    CHECK(e.field() == "topology.placement");
  }
  try {
    place(t, {{8, 3}}, "contiguous", true);
    FAIL("expected a BuildError");
  } catch (const BuildError& e) {
    CHECK(e.field() == "pools.0.count");
  }
}

TEST_CASE("an instance in one domain sees only scale-up") {
  auto t = build(fabric("clos", 2, 64), {pool(test::h100(), 64)});
  auto p = place(t, {{8, 8}}, "contiguous", true);
  auto s = span(t, p[3]);
  CHECK(s.accelerators == 8);
  CHECK(s.domains == 1);
  CHECK(s.max_per_domain == 8);
  CHECK(s.scale_up_bandwidth.value() == 450e9);
  CHECK(s.scale_up_latency.value() == Approx(5e-6));
  CHECK(s.nic_bandwidth.value() == 50e9);
  CHECK(s.scale_out_hops == 0);
  CHECK(s.scale_out_latency.value() == 0);
  CHECK(s.fabric_share == 1.0);
}

TEST_CASE("an instance across leaves pays the spine's hops and its leaves' oversubscription") {
  // 3:1 at the leaf: 48 NIC ports, 16 uplinks; six nodes per leaf.
  auto t = build(fabric("clos", 2, 64, {3}), {pool(test::h100(), 96)});
  auto inside = span(t, place(t, {{48, 2}}, "contiguous", true)[0]);
  CHECK(inside.domains == 6);
  CHECK(inside.scale_out_hops == 2);  // NIC, leaf, NIC
  CHECK(inside.scale_out_latency.value() == Approx(5e-6));
  CHECK(inside.fabric_share == 1.0);
  auto across = span(t, place(t, {{96, 1}}, "contiguous", true)[0]);
  CHECK(across.domains == 12);
  CHECK(across.max_per_domain == 8);
  CHECK(across.scale_out_hops == 4);  // NIC, leaf, spine, leaf, NIC
  CHECK(across.scale_out_latency.value() == Approx(5e-6 + 2e-6));
  CHECK(across.fabric_share == Approx(1.0 / 3));
}

TEST_CASE("an instance across pods pays both tiers") {
  auto t = build(fabric("clos", 3, 16, {1, 2}), {pool(test::h100(), 1024)});
  // 8 NIC ports per leaf (one node), pods of 10 leaves (aggregation 10 down : 6 up).
  REQUIRE(t.pods[0].groups == 10);
  auto s = span(t, place(t, {{128, 8}}, "contiguous", true)[0]);  // 16 nodes: pods 0 and 1
  CHECK(s.domains == 16);
  CHECK(s.scale_out_hops == 6);
  CHECK(s.scale_out_latency.value() == Approx(5e-6 + 4e-6));
  CHECK(s.fabric_share == Approx(6.0 / 10));
}
