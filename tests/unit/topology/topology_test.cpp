#include <catch2/catch.hpp>

#include "catalog/catalog.hpp"
#include "unit/topology/shapes.hpp"

using namespace tf;
using namespace tf::topology;
using tf::test::fabric;
using tf::test::pool;

namespace {

int64_t edges_of_kind(const Topology& t, EdgeKind k) {
  int64_t n = 0;
  for (auto [e, end] = boost::edges(t.graph); e != end; ++e)
    if (t.graph[*e].kind == k) ++n;
  return n;
}

// The BuildError's field when building throws, "" when it does not.
std::string error_field(const config::TopologyConfig& c, const std::vector<PoolSpec>& pools) {
  try {
    build(c, pools);
  } catch (const BuildError& e) {
    return e.field();
  }
  return "";
}

std::string error_message(const config::TopologyConfig& c, const std::vector<PoolSpec>& pools) {
  try {
    build(c, pools);
  } catch (const BuildError& e) {
    return e.message();
  }
  return "";
}

}  // namespace

TEST_CASE("an ideal fabric puts every domain in one leaf group with no uplinks") {
  auto t = build(fabric("ideal"), {pool(test::h100(), 40)});
  CHECK(t.accelerators() == 40);
  CHECK(t.domains.size() == 5);
  REQUIRE(t.groups.size() == 1);
  CHECK(t.groups[0].domains == 5);
  CHECK(t.groups[0].uplinks == 0);
  CHECK_FALSE(t.groups[0].uplink);
  CHECK_FALSE(t.spine);
  CHECK(t.tiers == 1);
  CHECK(edges_of_kind(t, EdgeKind::scale_up) == 40);
  CHECK(edges_of_kind(t, EdgeKind::nic) == 40);
  CHECK(edges_of_kind(t, EdgeKind::leaf_up) == 0);
  // The frontend hangs off the one switch.
  CHECK(boost::target(t.frontend_edge, t.graph) == t.groups[0].vertex);
  CHECK(boost::source(t.frontend_edge, t.graph) == t.frontend);
}

TEST_CASE("accelerators are the first vertices, numbered pool after pool") {
  auto t = build(fabric("ideal"), {pool(test::ascend(), 96), pool(test::h100(), 16)});
  REQUIRE(t.accelerators() == 112);
  for (int64_t a = 0; a < t.accelerators(); ++a) {
    CHECK(t.graph[t.accelerator_vertex(a)].kind == VertexKind::accelerator);
    CHECK(t.graph[t.accelerator_vertex(a)].index == a);
  }
  CHECK(t.pools[1].first_accelerator == 96);
  CHECK(t.sites[96].pool == 1);
  CHECK(t.sites[95].pool == 0);
}

TEST_CASE("a NIC edge carries the accelerator's NIC bandwidth and half its NIC-to-NIC latency") {
  auto t = build(fabric("clos", 2, 16), {pool(test::h100(), 16)});
  const auto& nic = t.graph[t.sites[3].nic];
  CHECK(nic.kind == EdgeKind::nic);
  CHECK(nic.bandwidth.value() == 50e9);
  CHECK(nic.latency.value() == Approx(2.5e-6));
  const auto& up = t.graph[t.sites[3].scale_up];
  CHECK(up.kind == EdgeKind::scale_up);
  CHECK(up.bandwidth.value() == 450e9);
  CHECK(up.latency.value() == Approx(2.5e-6));
  CHECK(boost::target(t.sites[3].scale_up, t.graph) == t.domains[0].switch_vertex);
}

TEST_CASE("scale-up domains come from the accelerator unless the pool names one") {
  auto nvl = build(fabric("ideal"), {pool(test::gb200(), 144)});
  CHECK(nvl.pools[0].scale_up == "nvl72");
  CHECK(nvl.pools[0].server_size == 4);
  CHECK(nvl.domains.size() == 2);
  auto ub = build(fabric("ideal"), {pool(test::ascend(), 768)});
  CHECK(ub.pools[0].scale_up == "ub-supernode");
  CHECK(ub.pools[0].server_size == 8);
  CHECK(ub.domains.size() == 2);
  auto node = build(fabric("ideal"), {pool(test::h100(), 16)});
  CHECK(node.pools[0].scale_up == "nvlink-node");
  // A what-if: H100s in NVL72-sized domains.
  auto what_if = build(fabric("ideal"), {pool(test::h100(), 144, "nvl72")});
  CHECK(what_if.pools[0].scale_up == "nvl72");
  CHECK(what_if.domains.size() == 2);
  // A size with no name is a domain of that size.
  auto odd = test::make_accelerator("odd", 16, 50e9, 100e9);
  auto custom = build(fabric("ideal"), {pool(odd, 64)});
  CHECK(custom.pools[0].scale_up == "domain-16");
  CHECK(custom.domains.size() == 4);
}

TEST_CASE("a pool smaller than one domain occupies a partial domain; a larger one must fill whole domains") {
  auto t = build(fabric("ideal"), {pool(test::ascend(), 96)});
  REQUIRE(t.domains.size() == 1);
  CHECK(t.domains[0].accelerators == 96);
  CHECK(error_field(fabric("ideal"), {pool(test::h100(), 16), pool(test::h100(), 12)}) == "pools.1.count");
  CHECK_THAT(error_message(fabric("ideal"), {pool(test::h100(), 12)}),
             Catch::Contains("multiple of 8") && Catch::Contains("fewer than 8"));
  CHECK(error_field(fabric("ideal"), {pool(test::h100(), 12, "nvl72")}) == "");
  CHECK(error_field(fabric("ideal"), {pool(test::h100(), 8, "torus")}) == "pools.0.scale_up");
}

TEST_CASE("a clos leaf holds as many whole domains as its NIC ports allow") {
  // Radix 64 at 1:1: 32 NIC ports and 32 uplinks per leaf, so four 8-GPU nodes per leaf.
  auto t = build(fabric("clos", 2, 64), {pool(test::h100(), 200)});
  CHECK(t.leaf_down == 32);
  CHECK(t.leaf_up == 32);
  REQUIRE(t.groups.size() == 7);  // 25 nodes: 6 leaves of 4 and one of 1
  CHECK(t.groups[0].domains == 4);
  CHECK(t.groups[6].domains == 1);
  CHECK(t.groups[0].switches == 1);
  CHECK(t.groups[0].uplinks == 32);
  CHECK(t.groups[0].uplink_bandwidth.value() == 32 * 50e9);
  CHECK(t.graph[*t.groups[0].uplink].cables == 32);
  CHECK(t.graph[*t.groups[0].uplink].latency == t.hop_latency);
  CHECK(boost::target(*t.groups[0].uplink, t.graph) == *t.spine);
  CHECK(t.spine_switches == 4);  // 7 x 32 uplinks over 64-port spines
}

TEST_CASE("a domain larger than a leaf's NIC ports sits alone on several leaves") {
  auto t = build(fabric("clos", 2, 64), {pool(test::ascend(), 768)});
  REQUIRE(t.groups.size() == 2);
  CHECK(t.groups[0].switches == 12);  // 384 NICs over 32-port leaves
  CHECK(t.groups[0].uplinks == 12 * 32);
  CHECK(t.groups[0].accelerators == 384);
}

TEST_CASE("leaf oversubscription splits a switch's ports down:up") {
  auto t = build(fabric("clos", 2, 64, {3}), {pool(test::h100(), 48)});
  CHECK(t.leaf_down == 48);
  CHECK(t.leaf_up == 16);
  REQUIRE(t.groups.size() == 1);
  CHECK(t.groups[0].domains == 6);
  CHECK(t.groups[0].uplinks == 16);
}

TEST_CASE("a rail group takes one NIC of radix/2 servers on each of the server's rails") {
  auto t = build(fabric("rail", 2, 64), {pool(test::h100(), 1024)});
  REQUIRE(t.groups.size() == 4);  // 128 servers, 32 per rail group
  CHECK(t.groups[0].accelerators == 256);
  CHECK(t.groups[0].switches == 8);  // 8 rails
  CHECK(t.groups[0].uplinks == 8 * 32);
  auto nvl = build(fabric("rail", 2, 64), {pool(test::gb200(), 216)});
  REQUIRE(nvl.groups.size() == 3);  // 18 trays of 4 per rack: one rack per rail group of 32 trays
  CHECK(nvl.groups[0].switches == 4);
}

TEST_CASE("3-tier pods hold radix/2 leaves and reach the spine through their aggregation switches") {
  auto t = build(fabric("clos", 3, 16), {pool(test::h100(), 1024)});
  // 8 NIC ports per leaf: one node per leaf; pods of 8 leaves.
  CHECK(t.groups.size() == 128);
  REQUIRE(t.pods.size() == 16);
  CHECK(t.pods[0].groups == 8);
  CHECK(t.pods[0].switches == 8);  // every leaf's 8 uplinks, one to each aggregation switch
  CHECK(t.pods[0].uplinks == 64);
  CHECK(t.groups[9].pod == 1);
  CHECK(boost::target(*t.groups[9].uplink, t.graph) == t.pods[1].vertex);
  CHECK(boost::target(t.pods[1].uplink, t.graph) == *t.spine);
  CHECK(t.spine_switches == 64);  // 16 x 64 pod uplinks over 16-port spines
}

TEST_CASE("pools do not share leaf groups on clos and rail fabrics") {
  auto t = build(fabric("clos", 2, 64), {pool(test::ascend(), 96), pool(test::h100(), 112)});
  REQUIRE(t.groups.size() == 1 + 4);
  CHECK(t.pools[0].groups == 1);
  CHECK(t.pools[1].first_group == 1);
  CHECK(t.pools[1].groups == 4);
  CHECK(t.groups[0].switches == 3);  // the partial supernode's 96 NICs need three 32-port leaves
}

TEST_CASE("the switch-to-switch link defaults to the fastest NIC in the cluster") {
  auto t = build(fabric("clos", 2, 64), {pool(test::h100(), 8), pool(test::gb200(), 72)});
  CHECK(t.link_bandwidth.value() == 100e9);
  auto c = fabric("clos", 2, 64);
  c.link_bandwidth = BytesPerSecond(25e9);
  CHECK(build(c, {pool(test::h100(), 8)}).link_bandwidth.value() == 25e9);
  auto ideal = build(fabric("ideal"), {pool(test::h100(), 8)});
  CHECK(ideal.graph[ideal.frontend_edge].bandwidth.value() == 16 * 50e9);
}

TEST_CASE("too many NICs for the fabric is an error on topology.radix that says what to raise") {
  auto two = fabric("clos", 2, 16);
  std::vector<PoolSpec> big = {pool(test::h100(), 1024)};
  CHECK(error_field(two, big) == "topology.radix");
  auto msg = error_message(two, big);
  CHECK_THAT(msg, Catch::Contains("128 first-tier switches") && Catch::Contains("at most 16"));
  CHECK_THAT(msg,
             Catch::Contains("raise topology.radix to 48 or more") && Catch::Contains("or set topology.tiers to 3"));
  auto three = fabric("clos", 3, 8);
  CHECK(error_field(three, big) == "topology.radix");
  CHECK_THAT(error_message(three, big), Catch::Contains("pods") && Catch::Contains("raise topology.radix"));
  // A supernode that does not fit in one pod.
  CHECK_THAT(error_message(fabric("clos", 3, 32), {pool(test::ascend(), 384)}),
             Catch::Contains("one scale-up domain's NICs need 24 first-tier switches"));
  // The standard bounds hold exactly: 2 tiers of radix k at 1:1 connect k x k/2 NICs, 3 tiers k x k/2 x k/2.
  auto gpu1 = test::make_accelerator("gpu1", 1, 50e9, 0);
  CHECK(error_field(fabric("clos", 2, 16), {pool(gpu1, 128)}) == "");
  CHECK(error_field(fabric("clos", 2, 16), {pool(gpu1, 129)}) == "topology.radix");
  CHECK(error_field(fabric("clos", 3, 8), {pool(gpu1, 128)}) == "");
  CHECK(error_field(fabric("clos", 3, 8), {pool(gpu1, 129)}) == "topology.radix");
}

TEST_CASE("impossible fabric settings are errors naming their field") {
  std::vector<PoolSpec> p = {pool(test::h100(), 16)};
  CHECK(error_field(fabric("torus"), p) == "topology.kind");
  CHECK(error_field(fabric("clos", 4, 64), p) == "topology.tiers");
  CHECK(error_field(fabric("rail", 1, 64), p) == "topology.tiers");
  CHECK(error_field(fabric("clos", 2, 3), p) == "topology.radix");
  CHECK(error_field(fabric("clos", 2, 64, {0.5}), p) == "topology.oversubscription.0");
  CHECK(error_field(fabric("clos", 3, 64, {1, 0.9}), p) == "topology.oversubscription.1");
  CHECK(error_field(fabric("clos", 2, 64, {2, 2}), p) == "topology.oversubscription");
  auto zero_link = fabric("clos", 2, 64);
  zero_link.link_bandwidth = BytesPerSecond(0);
  CHECK(error_field(zero_link, p) == "topology.link_bandwidth");
  auto no_nic = test::make_accelerator("no-nic", 8, 0, 450e9);
  CHECK(error_field(fabric("ideal"), {pool(test::h100(), 8), pool(no_nic, 8)}) == "pools.1.accelerator");
  auto no_nvlink = test::make_accelerator("no-nvlink", 8, 50e9, 0);
  CHECK(error_field(fabric("ideal"), {pool(no_nvlink, 8)}) == "pools.0.accelerator");
  CHECK(error_field(fabric("ideal"), {pool(test::h100(), 0)}) == "pools.0.count");
}

TEST_CASE("every small shape builds") {
  for (const auto& s : test::small_shapes()) {
    INFO(s.name);
    CHECK_NOTHROW(test::build(s));
  }
}

TEST_CASE("the catalog's accelerators build 100,000-accelerator fabrics") {
  catalog::Catalog cat(TF_SOURCE_ROOT);
  config::ClusterConfig cluster;
  cluster.pools.push_back({});
  cluster.pools[0].name = "h100";
  cluster.pools[0].accelerator = "h100-sxm";
  cluster.pools[0].count = 100000;
  cluster.topology = fabric("clos", 3, 128);
  auto t = build(cluster, cat);
  CHECK(t.accelerators() == 100000);
  CHECK(t.groups.size() == 1563);  // 12,500 nodes, 8 per 64-port leaf
  CHECK(t.pods.size() == 25);      // 64 leaves per pod
  cluster.pools[0].accelerator = "ascend-910c";
  cluster.pools[0].count = 260 * 384;
  t = build(cluster, cat);
  CHECK(t.domains.size() == 260);
  CHECK(t.groups[0].switches == 6);
  CHECK(t.pods.size() == 26);  // 10 supernodes of 6 leaves per 64-leaf pod
}
