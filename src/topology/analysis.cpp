#include "topology/analysis.hpp"

#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/property_map/transform_value_property_map.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"

namespace tf::topology {

namespace {

// Hop distances from `source` to every vertex.
std::vector<int> hops_from(const Graph& g, VertexId source) {
  std::vector<int> dist(boost::num_vertices(g), -1);
  std::vector<VertexId> queue{source};
  dist[source] = 0;
  for (size_t head = 0; head < queue.size(); ++head) {
    VertexId u = queue[head];
    for (auto [e, end] = boost::out_edges(u, g); e != end; ++e) {
      VertexId v = boost::target(*e, g);
      if (dist[v] < 0) {
        dist[v] = dist[u] + 1;
        queue.push_back(v);
      }
    }
  }
  return dist;
}

// The lowest-latency path from `from` to `to` (accelerator ids).
PairLatency path_latency(const Topology& t, const std::string& name, int64_t from, int64_t to) {
  const auto& g = t.graph;
  size_t n = boost::num_vertices(g);
  std::vector<VertexId> pred(n);
  std::vector<double> dist(n);
  VertexId s = t.accelerator_vertex(from);
  boost::dijkstra_shortest_paths(
      g, s,
      boost::predecessor_map(boost::make_iterator_property_map(pred.begin(), boost::get(boost::vertex_index, g)))
          .distance_map(boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, g)))
          .weight_map(boost::make_transform_value_property_map([](const Edge& e) { return e.latency.value(); },
                                                               boost::get(boost::edge_bundle, g))));
  PairLatency p;
  p.pair = name;
  p.from = from;
  p.to = to;
  VertexId v = t.accelerator_vertex(to);
  p.latency = Seconds(dist[v]);
  while (v != s) {
    TF_ASSERT(pred[v] != v, "accelerators not connected");
    v = pred[v];
    ++p.hops;
  }
  return p;
}

}  // namespace

int64_t bisection_split(const Topology& t) {
  if (t.domains.size() >= 2) return t.domains[t.domains.size() / 2].first_accelerator;
  return t.accelerators() / 2;
}

BytesPerSecond bisection_bandwidth(const Topology& t) {
  const int64_t split = bisection_split(t);
  // NIC bandwidth of each half per leaf group.
  std::vector<double> a(t.groups.size(), 0.0), b(t.groups.size(), 0.0);
  for (int64_t id = 0; id < t.accelerators(); ++id) {
    const auto& site = t.sites[static_cast<size_t>(id)];
    double bw = t.graph[site.nic].bandwidth.value();
    (id < split ? a : b)[static_cast<size_t>(site.group)] += bw;
  }
  // In a tree, flow between two leaves of one subtree never needs the subtree's uplink, so matching the halves
  // as low as possible is optimal: match inside each plane, send what is left up, capped by the uplink.
  double total = 0;
  std::vector<double> up_a(t.pods.size() + 1, 0.0), up_b(t.pods.size() + 1, 0.0);  // by pod; last: no pod
  for (size_t g = 0; g < t.groups.size(); ++g) {
    double m = std::min(a[g], b[g]);
    total += m;
    double cap = t.groups[g].uplink_bandwidth.value();
    size_t pod = t.groups[g].pod >= 0 ? static_cast<size_t>(t.groups[g].pod) : t.pods.size();
    up_a[pod] += std::min(a[g] - m, cap);
    up_b[pod] += std::min(b[g] - m, cap);
  }
  double top_a = up_a.back(), top_b = up_b.back();
  for (size_t p = 0; p < t.pods.size(); ++p) {
    double m = std::min(up_a[p], up_b[p]);
    total += m;
    double cap = t.pods[p].uplink_bandwidth.value();
    top_a += std::min(up_a[p] - m, cap);
    top_b += std::min(up_b[p] - m, cap);
  }
  if (t.spine) total += std::min(top_a, top_b);
  return BytesPerSecond(total);
}

Analysis analyse(const Topology& t) {
  const auto& g = t.graph;
  Analysis a;
  a.kind = t.kind;
  a.tiers = t.tiers;
  a.radix = t.radix;
  a.accelerators = t.accelerators();
  a.domains = static_cast<int64_t>(t.domains.size());
  a.leaf_groups = static_cast<int64_t>(t.groups.size());
  a.pods = static_cast<int64_t>(t.pods.size());
  for (const auto& lg : t.groups)
    a.leaf_switches += lg.switches;
  for (const auto& p : t.pods)
    a.aggregation_switches += p.switches;
  a.spine_switches = t.spine_switches;

  for (EdgeKind k : {EdgeKind::scale_up, EdgeKind::nic, EdgeKind::leaf_up, EdgeKind::pod_up, EdgeKind::frontend})
    a.links.push_back(LinkCount{k, 0, 0, BytesPerSecond(0)});
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    auto& l = a.links[static_cast<size_t>(g[*e].kind)];
    ++l.edges;
    l.cables += g[*e].cables;
    l.bandwidth += g[*e].bandwidth;
    a.cables += g[*e].cables;
  }

  // Every accelerator has the same eccentricity in these trees of planes; the first of each pool and the last
  // accelerator stand for all.
  std::vector<int64_t> sources;
  for (const auto& p : t.pools)
    sources.push_back(p.first_accelerator);
  sources.push_back(t.accelerators() - 1);
  for (int64_t s : sources) {
    auto dist = hops_from(g, t.accelerator_vertex(s));
    for (int64_t id = 0; id < t.accelerators(); ++id)
      a.diameter_hops = std::max(a.diameter_hops, dist[static_cast<size_t>(id)]);
  }

  a.bisection = bisection_bandwidth(t);

  if (t.kind != FabricKind::ideal) {
    TierOversubscription leaf{"leaf", t.oversubscription[0], 0};
    for (const auto& lg : t.groups)
      leaf.effective = std::max(leaf.effective, lg.nic_bandwidth / lg.uplink_bandwidth);
    a.oversubscription.push_back(leaf);
    if (t.tiers == 3) {
      TierOversubscription pod{"pod", t.oversubscription[1], 0};
      for (const auto& p : t.pods)
        pod.effective = std::max(pod.effective, p.down_bandwidth / p.uplink_bandwidth);
      a.oversubscription.push_back(pod);
    }
  }

  // Representative pairs, lowest first.
  for (const auto& d : t.domains)
    if (d.accelerators >= 2) {
      a.latencies.push_back(path_latency(t, "same domain", d.first_accelerator, d.first_accelerator + 1));
      break;
    }
  auto first_of_domain = [&](int32_t d) { return t.domains[static_cast<size_t>(d)].first_accelerator; };
  auto first_of_group = [&](size_t k) { return first_of_domain(t.groups[k].first_domain); };
  for (const auto& lg : t.groups)
    if (lg.domains >= 2) {
      a.latencies.push_back(
          path_latency(t, "same leaf group", first_of_domain(lg.first_domain), first_of_domain(lg.first_domain + 1)));
      break;
    }
  if (t.pods.empty()) {
    if (t.groups.size() >= 2)
      a.latencies.push_back(path_latency(t, "across the spine", first_of_group(0), first_of_group(1)));
  } else {
    for (const auto& p : t.pods)
      if (p.groups >= 2) {
        a.latencies.push_back(path_latency(t, "same pod", first_of_group(static_cast<size_t>(p.first_group)),
                                           first_of_group(static_cast<size_t>(p.first_group) + 1)));
        break;
      }
    if (t.pods.size() >= 2)
      a.latencies.push_back(path_latency(t, "across pods", first_of_group(static_cast<size_t>(t.pods[0].first_group)),
                                         first_of_group(static_cast<size_t>(t.pods[1].first_group))));
  }
  return a;
}

}  // namespace tf::topology
