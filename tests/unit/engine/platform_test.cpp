// The SimGrid platform a topology lowers to routes exactly along the topology graph's shortest paths. Each test
// case runs in its own process (catch_discover_tests), and so gets its own SimGrid engine.

#include <fmt/format.h>
#include <xbt/log.h>
#include <catch2/catch.hpp>
#include <simgrid/s4u.hpp>

#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/property_map/transform_value_property_map.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>

#include "engine/platform.hpp"
#include "topology/placement.hpp"
#include "unit/topology/shapes.hpp"

namespace sg4 = simgrid::s4u;
using namespace tf;
using tf::topology::EdgeId;
using tf::topology::Topology;
using tf::topology::VertexId;

namespace {

std::unique_ptr<sg4::Engine> start_engine() {
  xbt_log_control_set("root.thres:critical");
  auto e = std::make_unique<sg4::Engine>("platform-test");
  sg4::Engine::set_config("network/model:CM02");
  sg4::Engine::set_config("network/TCP-gamma:1e12");
  sg4::Engine::set_config("network/crosstraffic:0");
  return e;
}

test::Shape shape(const std::string& name) {
  for (auto& s : test::small_shapes())
    if (s.name == name) return s;
  FAIL("no shape " << name);
  return {};
}

struct GraphPath {
  std::vector<EdgeId> edges;  // from source to target
  double latency = 0;
  double count = 0;  // shortest paths of that latency
};

// Lowest-latency path on the topology graph, and how many paths share that latency.
GraphPath graph_path(const Topology& t, VertexId from, VertexId to) {
  const auto& g = t.graph;
  const size_t n = boost::num_vertices(g);
  std::vector<VertexId> pred(n);
  std::vector<double> dist(n);
  auto index = boost::get(boost::vertex_index, g);
  boost::dijkstra_shortest_paths(
      g, from,
      boost::predecessor_map(boost::make_iterator_property_map(pred.begin(), index))
          .distance_map(boost::make_iterator_property_map(dist.begin(), index))
          .weight_map(boost::make_transform_value_property_map(
              [](const topology::Edge& e) { return e.latency.value(); }, boost::get(boost::edge_bundle, g))));
  // Count shortest paths: vertices in order of distance, each adds its count to the neighbours it is tight for.
  std::vector<VertexId> order(n);
  for (size_t v = 0; v < n; ++v)
    order[v] = v;
  std::sort(order.begin(), order.end(), [&](VertexId a, VertexId b) { return dist[a] < dist[b]; });
  std::vector<double> count(n, 0.0);
  count[from] = 1;
  for (VertexId v : order) {
    if (v == from || dist[v] == std::numeric_limits<double>::max()) continue;
    for (auto [e, end] = boost::out_edges(v, g); e != end; ++e) {
      VertexId u = boost::target(*e, g);
      if (dist[u] < dist[v] && std::abs(dist[u] + g[*e].latency.value() - dist[v]) <= 1e-12 * dist[v])
        count[v] += count[u];
    }
  }
  GraphPath p;
  p.latency = dist[to];
  p.count = count[to];
  for (VertexId v = to; v != from; v = pred[v])
    p.edges.push_back(boost::edge(pred[v], v, g).first);
  std::reverse(p.edges.begin(), p.edges.end());
  return p;
}

// The graph edges SimGrid's route from `a` to `b` crosses, one per link.
std::vector<EdgeId> route_edges(const Topology& t, const std::vector<engine::Endpoint>& endpoints, const sg4::Host* a,
                                const sg4::Host* b, double* latency) {
  std::vector<sg4::Link*> links;
  *latency = 0;
  a->route_to(b, links, latency);
  std::vector<EdgeId> out;
  for (const auto* l : links) {
    auto e = engine::edges_of(t, endpoints, l->get_name());
    INFO(l->get_name());
    REQUIRE(e.size() == 1);
    out.push_back(e.front());
  }
  return out;
}

std::string describe(const Topology& t, const std::vector<EdgeId>& edges) {
  std::string s;
  for (auto e : edges)
    s += fmt::format("{}({}-{}) ", topology::to_string(t.graph[e].kind), boost::source(e, t.graph),
                     boost::target(e, t.graph));
  return s;
}

// Pairs of accelerators in different domains: the first two domains of every leaf group that has two, the first
// domain of every group against the first of group 0 (across the spine or a pod), and seeded random pairs.
std::vector<std::pair<int64_t, int64_t>> sample_pairs(const Topology& t) {
  std::vector<std::pair<int64_t, int64_t>> pairs;
  auto first_of = [&](int32_t d) { return t.domains[static_cast<size_t>(d)].first_accelerator; };
  for (const auto& lg : t.groups) {
    if (lg.domains >= 2) pairs.emplace_back(first_of(lg.first_domain), first_of(lg.first_domain + 1) + 1);
    pairs.emplace_back(first_of(t.groups[0].first_domain), first_of(lg.first_domain + lg.domains - 1));
  }
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> pick(0, t.accelerators() - 1);
  for (int i = 0; i < 60;) {
    int64_t a = pick(rng), b = pick(rng);
    if (t.sites[static_cast<size_t>(a)].domain == t.sites[static_cast<size_t>(b)].domain) continue;
    pairs.emplace_back(a, b);
    ++i;
  }
  // Scale-up traffic is not lowered: keep cross-domain pairs only.
  std::erase_if(pairs, [&](const auto& p) {
    return t.sites[static_cast<size_t>(p.first)].domain == t.sites[static_cast<size_t>(p.second)].domain;
  });
  return pairs;
}

void check_routes_follow_graph(const std::string& name) {
  auto engine = start_engine();
  auto t = test::build(shape(name));
  auto endpoints = engine::accelerator_endpoints(t);
  auto pf = engine::lower(t, endpoints);
  REQUIRE(pf.hosts.size() == static_cast<size_t>(t.accelerators()));
  CHECK(pf.zones == t.groups.size());
  int checked = 0;
  for (auto [a, b] : sample_pairs(t)) {
    INFO(fmt::format("{}: accelerator {} -> {}", name, a, b));
    auto path = graph_path(t, t.accelerator_vertex(a), t.accelerator_vertex(b));
    CHECK(path.count == 1);  // unique, so there is one right answer
    double latency = 0;
    auto route =
        route_edges(t, endpoints, pf.hosts[static_cast<size_t>(a)], pf.hosts[static_cast<size_t>(b)], &latency);
    INFO("graph:   " << describe(t, path.edges));
    INFO("simgrid: " << describe(t, route));
    CHECK(route == path.edges);
    CHECK(latency == Approx(path.latency).epsilon(1e-12));
    ++checked;
  }
  CHECK(checked >= 60);
}

}  // namespace

TEST_CASE("routes follow the graph: ideal fabric") {
  check_routes_follow_graph("ideal, 5 nodes");
}

TEST_CASE("routes follow the graph: ideal fabric with a partial supernode and nodes") {
  check_routes_follow_graph("ideal, partial supernode and nodes");
}

TEST_CASE("routes follow the graph: 2-tier clos") {
  check_routes_follow_graph("clos 2 tiers");
}

TEST_CASE("routes follow the graph: 2-tier clos at 3:1") {
  check_routes_follow_graph("clos 2 tiers oversubscribed 3:1");
}

TEST_CASE("routes follow the graph: 3-tier clos") {
  check_routes_follow_graph("clos 3 tiers");
}

TEST_CASE("routes follow the graph: 3-tier clos with a partial pod") {
  check_routes_follow_graph("clos 3 tiers oversubscribed 2:1 and 3:1, partial pod");
}

TEST_CASE("routes follow the graph: 2-tier rail") {
  check_routes_follow_graph("rail 2 tiers");
}

TEST_CASE("routes follow the graph: 3-tier rail") {
  check_routes_follow_graph("rail 3 tiers");
}

TEST_CASE("routes follow the graph: rail with nvl72 trays") {
  check_routes_follow_graph("rail 2 tiers, nvl72 trays of 4");
}

TEST_CASE("routes follow the graph: 2-tier clos of nvl72 racks") {
  check_routes_follow_graph("clos 2 tiers, nvl72");
}

TEST_CASE("routes follow the graph: 3-tier clos of ub-supernodes") {
  check_routes_follow_graph("clos 3 tiers, ub-supernode");
}

TEST_CASE("routes follow the graph: a partial supernode beside nodes") {
  check_routes_follow_graph("clos 2 tiers, partial supernode beside nodes");
}

TEST_CASE("the frontend reaches every host along the graph, both ways") {
  auto engine = start_engine();
  auto t = test::build(shape("clos 3 tiers oversubscribed 2:1 and 3:1, partial pod"));
  auto endpoints = engine::accelerator_endpoints(t);
  auto pf = engine::lower(t, endpoints);
  REQUIRE(pf.frontend != nullptr);
  for (int64_t a = 0; a < t.accelerators(); a += 7) {
    INFO("accelerator " << a);
    auto path = graph_path(t, t.frontend, t.accelerator_vertex(a));
    double latency = 0;
    auto route = route_edges(t, endpoints, pf.frontend, pf.hosts[static_cast<size_t>(a)], &latency);
    CHECK(route == path.edges);
    CHECK(latency == Approx(path.latency).epsilon(1e-12));
    auto back = route_edges(t, endpoints, pf.hosts[static_cast<size_t>(a)], pf.frontend, &latency);
    std::reverse(back.begin(), back.end());
    CHECK(back == path.edges);
  }
}

TEST_CASE("the store routes like the frontend, without the frontend's own link") {
  auto engine = start_engine();
  auto t = test::build(shape("clos 3 tiers oversubscribed 2:1 and 3:1, partial pod"));
  auto endpoints = engine::accelerator_endpoints(t);
  auto pf = engine::lower(t, endpoints);
  REQUIRE(pf.store != nullptr);
  const double frontend_latency = t.graph[t.frontend_edge].latency.value();
  for (int64_t a = 0; a < t.accelerators(); a += 7) {
    INFO("accelerator " << a);
    double front_latency = 0, latency = 0;
    auto front = route_edges(t, endpoints, pf.frontend, pf.hosts[static_cast<size_t>(a)], &front_latency);
    REQUIRE(!front.empty());
    REQUIRE(front.front() == t.frontend_edge);
    front.erase(front.begin());
    // Every fetch crosses the spine: the host's group uplink (and pod uplink) and NIC, as a request does.
    auto route = route_edges(t, endpoints, pf.store, pf.hosts[static_cast<size_t>(a)], &latency);
    CHECK(route == front);
    CHECK(latency == Approx(front_latency - frontend_latency).epsilon(1e-12));
    auto back = route_edges(t, endpoints, pf.hosts[static_cast<size_t>(a)], pf.store, &latency);
    std::reverse(back.begin(), back.end());
    CHECK(back == front);
  }
}

TEST_CASE("the frontend of an ideal fabric hangs off its one switch") {
  auto engine = start_engine();
  auto t = test::build(shape("ideal, 5 nodes"));
  auto endpoints = engine::accelerator_endpoints(t);
  auto pf = engine::lower(t, endpoints);
  double latency = 0;
  auto route = route_edges(t, endpoints, pf.frontend, pf.hosts[9], &latency);
  REQUIRE(route.size() == 2);
  CHECK(t.graph[route[0]].kind == topology::EdgeKind::frontend);
  CHECK(t.graph[route[1]].kind == topology::EdgeKind::nic);
  CHECK(latency == Approx(t.hop_latency.value() + 2.5e-6));
}

TEST_CASE("an instance endpoint's link carries all its accelerators' NICs") {
  auto engine = start_engine();
  auto t = test::build(shape("clos 2 tiers"));
  auto placements = topology::place(t, {{16, 4}}, "contiguous", true);
  std::vector<engine::Endpoint> endpoints;
  for (const auto& p : placements) {
    engine::Endpoint e{fmt::format("instance-{}", p.index), {}};
    for (auto v : p.accelerators)
      e.accelerators.push_back(t.graph[v].index);
    endpoints.push_back(e);
  }
  auto pf = engine::lower(t, endpoints);
  REQUIRE(pf.hosts.size() == 4);
  std::vector<sg4::Link*> links;
  double latency = 0;
  pf.hosts[0]->route_to(pf.hosts[3], links, &latency);
  REQUIRE(links.size() == 4);  // NICs, leaf up, leaf down, NICs
  CHECK(links.front()->get_bandwidth() == Approx(16 * 50e9));
  CHECK(engine::edges_of(t, endpoints, links.front()->get_name()).size() == 16);
  CHECK(latency == Approx(5e-6 + 2 * t.hop_latency.value()));
}

TEST_CASE("a transfer across pods takes latency plus size over the narrowest link") {
  auto engine = start_engine();
  auto t = test::build(shape("clos 3 tiers"));
  auto endpoints = engine::accelerator_endpoints(t);
  auto pf = engine::lower(t, endpoints);
  auto* from = pf.hosts[0];
  auto* to = pf.hosts[static_cast<size_t>(t.accelerators() - 1)];
  double latency = 0;
  std::vector<sg4::Link*> links;
  from->route_to(to, links, &latency);
  REQUIRE(links.size() == 6);
  double done = -1;
  auto comm = sg4::Comm::sendto_init(from, to);
  comm->set_payload_size(1'000'000'000);
  sg4::Activity::on_completion_cb([&](const sg4::Activity&) { done = sg4::Engine::get_clock(); });
  comm->start();
  engine->run();
  CHECK(done == Approx(latency + 1e9 / 50e9).epsilon(1e-6));
}
