#include "topology/topology.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace tf::topology {

BuildError::BuildError(std::string field, const std::string& message)
    : std::runtime_error(field + ": " + message), field_(std::move(field)), message_(message) {}

std::string to_string(VertexKind k) {
  switch (k) {
    case VertexKind::accelerator:
      return "accelerator";
    case VertexKind::scale_up_switch:
      return "scale_up_switch";
    case VertexKind::leaf_group:
      return "leaf_group";
    case VertexKind::pod:
      return "pod";
    case VertexKind::spine:
      return "spine";
    case VertexKind::frontend:
      return "frontend";
  }
  return "?";
}

std::string to_string(EdgeKind k) {
  switch (k) {
    case EdgeKind::scale_up:
      return "scale_up";
    case EdgeKind::nic:
      return "nic";
    case EdgeKind::leaf_up:
      return "leaf_up";
    case EdgeKind::pod_up:
      return "pod_up";
    case EdgeKind::frontend:
      return "frontend";
  }
  return "?";
}

std::string to_string(FabricKind k) {
  switch (k) {
    case FabricKind::ideal:
      return "ideal";
    case FabricKind::clos:
      return "clos";
    case FabricKind::rail:
      return "rail";
  }
  return "?";
}

std::vector<std::string> scale_up_kinds() {
  return {"nvlink-node", "nvl72", "ub-supernode"};
}

namespace {

// The frontend's link to the top plane, in cables of link_bandwidth: an estimate of a gateway tier's capacity.
constexpr int64_t kFrontendCables = 16;

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

struct DomainShape {
  std::string kind;
  int64_t size = 0;
  int64_t server = 0;
};

DomainShape shape_of(const std::string& kind, int64_t size) {
  if (kind == "nvlink-node") return {kind, 8, 8};
  if (kind == "nvl72") return {kind, 72, 4};          // 18 compute trays of 4 GPUs
  if (kind == "ub-supernode") return {kind, 384, 8};  // 48 servers of 8 NPUs
  int64_t server = size % 8 == 0 ? 8 : size % 4 == 0 ? 4 : size;
  return {fmt::format("domain-{}", size), size, server};
}

// Ports of a switch with `radix` ports at oversubscription o (down:up): floor(radix * o / (1 + o)) down, the
// rest up. radix >= 4 and o >= 1 leave at least one port each way.
int64_t down_ports(int radix, double o) {
  return static_cast<int64_t>(std::floor(static_cast<double>(radix) * o / (1.0 + o)));
}

// A leaf group before the graph exists.
struct GroupSketch {
  int32_t pool = -1;  // -1: ideal, every pool
  int32_t first_domain = 0;
  int32_t domains = 0;
  int64_t switches = 0;
};

struct Layout {
  std::vector<GroupSketch> groups;
  std::vector<std::pair<int32_t, int32_t>> pods;  // first group, groups
  int64_t leaves = 0;
};

// Groups domains into leaf groups for first-tier switches with `leaf_down` NIC ports each (clos, rail).
std::vector<GroupSketch> sketch_groups(const std::vector<PoolLayout>& pools, const std::vector<Domain>& domains,
                                       FabricKind kind, int64_t leaf_down) {
  std::vector<GroupSketch> out;
  for (size_t p = 0; p < pools.size(); ++p) {
    const auto& pool = pools[p];
    int64_t a = domains[static_cast<size_t>(pool.first_domain)].accelerators;  // NICs of one domain
    int64_t per_group = 1;                                                     // domains per group
    int64_t switches = 1;
    if (kind == FabricKind::clos) {
      if (a <= leaf_down)
        per_group = leaf_down / a;
      else
        switches = ceil_div(a, leaf_down);
    } else {  // rail: NIC k of every server on rail k; a rail switch takes one NIC of leaf_down servers
      int64_t servers = ceil_div(a, pool.server_size);
      int64_t rails = std::min(pool.server_size, a);
      if (servers <= leaf_down)
        per_group = leaf_down / servers;
      else
        switches = ceil_div(servers, leaf_down);
      switches *= rails;
    }
    for (int32_t d = 0; d < pool.domains; d += static_cast<int32_t>(per_group)) {
      GroupSketch g;
      g.pool = static_cast<int32_t>(p);
      g.first_domain = pool.first_domain + d;
      g.domains = static_cast<int32_t>(std::min<int64_t>(per_group, pool.domains - d));
      g.switches = switches;
      out.push_back(g);
    }
  }
  return out;
}

// Packs leaf groups into pods of `pod_leaves` first-tier switches, in order; nullopt when one group alone is too big
// for a pod.
std::optional<std::vector<std::pair<int32_t, int32_t>>> sketch_pods(const std::vector<GroupSketch>& groups,
                                                                    int64_t pod_leaves) {
  std::vector<std::pair<int32_t, int32_t>> pods;
  int64_t used = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].switches > pod_leaves) return std::nullopt;
    if (pods.empty() || used + groups[g].switches > pod_leaves) {
      pods.emplace_back(static_cast<int32_t>(g), 0);
      used = 0;
    }
    ++pods.back().second;
    used += groups[g].switches;
  }
  return pods;
}

struct Ports {
  int64_t leaf_down = 0, leaf_up = 0, pod_down = 0, pod_up = 0;
};

Ports ports_for(int radix, const std::vector<double>& o) {
  Ports p;
  p.leaf_down = down_ports(radix, o.empty() ? 1.0 : o[0]);
  p.leaf_up = radix - p.leaf_down;
  double o2 = o.size() > 1 ? o[1] : 1.0;
  p.pod_down = down_ports(radix, o2);
  p.pod_up = radix - p.pod_down;
  return p;
}

// Whether the pools fit a fabric of this radix; the layout when they do.
std::optional<Layout> fit(const std::vector<PoolLayout>& pools, const std::vector<Domain>& domains, FabricKind kind,
                          int tiers, int radix, const std::vector<double>& o) {
  Ports ports = ports_for(radix, o);
  Layout l;
  l.groups = sketch_groups(pools, domains, kind, ports.leaf_down);
  for (const auto& g : l.groups)
    l.leaves += g.switches;
  if (tiers == 2) {
    // Every leaf has a cable to every spine switch, and a spine switch has `radix` ports.
    if (l.leaves > radix) return std::nullopt;
    return l;
  }
  // 3 tiers: a pod's aggregation switches each reach all its pod_down leaves; every pod reaches every spine.
  auto pods = sketch_pods(l.groups, ports.pod_down);
  if (!pods || static_cast<int64_t>(pods->size()) > radix) return std::nullopt;
  l.pods = std::move(*pods);
  return l;
}

std::string capacity_message(const std::vector<PoolLayout>& pools, const std::vector<Domain>& domains, FabricKind kind,
                             int tiers, int radix, const std::vector<double>& o) {
  int64_t nics = 0;
  for (const auto& p : pools)
    nics += p.count;
  Ports ports = ports_for(radix, o);
  std::string what;
  auto groups = sketch_groups(pools, domains, kind, ports.leaf_down);
  int64_t leaves = 0;
  for (const auto& g : groups)
    leaves += g.switches;
  if (tiers == 2) {
    what = fmt::format(
        "{} NICs need {} first-tier switches ({} NIC ports each), but a 2-tier {} of radix {} connects at most {} "
        "(one cable from every leaf to every spine switch)",
        nics, leaves, ports.leaf_down, to_string(kind), radix, radix);
  } else {
    int64_t biggest = 0;
    for (const auto& g : groups)
      biggest = std::max(biggest, g.switches);
    if (biggest > ports.pod_down)
      what = fmt::format(
          "one scale-up domain's NICs need {} first-tier switches but a pod of radix {} holds {} (its aggregation "
          "switches' down ports)",
          biggest, radix, ports.pod_down);
    else
      what =
          fmt::format("{} NICs need {} pods of {} first-tier switches, but a 3-tier {} of radix {} connects at most {}",
                      nics, sketch_pods(groups, ports.pod_down)->size(), ports.pod_down, to_string(kind), radix, radix);
  }
  // Suggest a radix switches are sold in: a multiple of 8.
  auto min_radix = [&](int t) {
    for (int r = (radix / 8 + 1) * 8; r <= 4096; r += 8)
      if (fit(pools, domains, kind, t, r, o)) return r;
    return 0;
  };
  std::string fix;
  int need = min_radix(tiers);
  fix = need > 0 ? fmt::format("raise topology.radix to {} or more", need) : std::string("raise topology.radix");
  if (tiers == 2) {
    if (fit(pools, domains, kind, 3, radix, o))
      fix += ", or set topology.tiers to 3";
    else if (int need3 = min_radix(3); need3 > 0 && (need == 0 || need3 < need))
      fix += fmt::format(", or set topology.tiers to 3 with a radix of {} or more", need3);
  } else {
    fix += ", or oversubscribe the tiers more (topology.oversubscription) to give each switch more down ports";
  }
  return what + ": " + fix;
}

void check_config(const config::TopologyConfig& c, FabricKind kind) {
  if (kind == FabricKind::ideal) {
    if (c.link_bandwidth && c.link_bandwidth->value() <= 0)
      throw BuildError("topology.link_bandwidth", "expected a positive bandwidth, e.g. \"400Gb/s\"");
    return;
  }
  if (c.tiers != 2 && c.tiers != 3)
    throw BuildError("topology.tiers", fmt::format("expected 2 or 3 switch tiers, got {}", c.tiers));
  if (c.radix < 4)
    throw BuildError("topology.radix", fmt::format("expected at least 4 ports per switch, got {}", c.radix));
  for (size_t i = 0; i < c.oversubscription.size(); ++i)
    if (!(c.oversubscription[i] >= 1.0))
      throw BuildError(fmt::format("topology.oversubscription.{}", i),
                       fmt::format("expected a down:up ratio of at least 1, got {}", c.oversubscription[i]));
  if (static_cast<int>(c.oversubscription.size()) > c.tiers - 1)
    throw BuildError(
        "topology.oversubscription",
        fmt::format("a {}-tier fabric has {} tier boundar{} with uplinks; give {} ratio{}, bottom up", c.tiers,
                    c.tiers - 1, c.tiers == 2 ? "y" : "ies", c.tiers - 1, c.tiers == 2 ? "" : "s"));
  if (c.link_bandwidth && c.link_bandwidth->value() <= 0)
    throw BuildError("topology.link_bandwidth", "expected a positive bandwidth, e.g. \"400Gb/s\"");
}

}  // namespace

Topology build(const config::TopologyConfig& c, const std::vector<PoolSpec>& specs) {
  Topology t;
  if (c.kind == "ideal")
    t.kind = FabricKind::ideal;
  else if (c.kind == "clos")
    t.kind = FabricKind::clos;
  else if (c.kind == "rail")
    t.kind = FabricKind::rail;
  else
    throw BuildError("topology.kind",
                     fmt::format("unknown topology kind \"{}\" (expected ideal, clos or rail)", c.kind));
  check_config(c, t.kind);
  if (c.hop_latency.value() < 0) throw BuildError("topology.hop_latency", "expected a non-negative duration");
  if (specs.empty()) throw BuildError("pools", "expected at least one pool");

  // Pools and their scale-up domains.
  int64_t next_accelerator = 0;
  BytesPerSecond fastest_nic;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    TF_ASSERT(s.accelerator != nullptr, "a pool without an accelerator");
    const auto& acc = *s.accelerator;
    DomainShape shape;
    if (s.scale_up.empty()) {
      if (acc.scale_up_domain_size < 1)
        throw BuildError(fmt::format("pools.{}.accelerator", i),
                         fmt::format("accelerator {} has no scale-up domain size in the catalog", acc.name));
      int64_t n = acc.scale_up_domain_size;
      shape = shape_of(n == 8 ? "nvlink-node" : n == 72 ? "nvl72" : n == 384 ? "ub-supernode" : "", n);
    } else {
      auto kinds = scale_up_kinds();
      if (std::find(kinds.begin(), kinds.end(), s.scale_up) == kinds.end())
        throw BuildError(
            fmt::format("pools.{}.scale_up", i),
            fmt::format("unknown scale-up domain \"{}\" (expected nvlink-node, nvl72 or ub-supernode)", s.scale_up));
      shape = shape_of(s.scale_up, 0);
    }
    if (s.count < 1)
      throw BuildError(fmt::format("pools.{}.count", i),
                       fmt::format("expected at least 1 accelerator, got {}", s.count));
    if (s.count > shape.size && s.count % shape.size != 0)
      throw BuildError(fmt::format("pools.{}.count", i),
                       fmt::format("{} accelerators do not fill whole {} domains of {}: use a multiple of {} (e.g. {} "
                                   "or {}), or fewer than {} for one partial domain",
                                   s.count, shape.kind, shape.size, shape.size, s.count / shape.size * shape.size,
                                   (s.count / shape.size + 1) * shape.size, shape.size));
    if (!(acc.scale_out_bandwidth.value() > 0))
      throw BuildError(fmt::format("pools.{}.accelerator", i),
                       fmt::format("accelerator {} has no scale-out (NIC) bandwidth in the catalog", acc.name));
    if (std::min(s.count, shape.size) > 1 && !(acc.scale_up_bandwidth.value() > 0))
      throw BuildError(fmt::format("pools.{}.accelerator", i),
                       fmt::format("accelerator {} has no scale-up bandwidth in the catalog", acc.name));
    fastest_nic = std::max(fastest_nic, acc.scale_out_bandwidth);

    PoolLayout p;
    p.name = s.name;
    p.accelerator = s.accelerator;
    p.scale_up = shape.kind;
    p.domain_size = shape.size;
    p.server_size = shape.server;
    p.first_accelerator = next_accelerator;
    p.count = s.count;
    p.first_domain = static_cast<int32_t>(t.domains.size());
    for (int64_t a = 0; a < s.count; a += shape.size) {
      Domain d;
      d.pool = static_cast<int32_t>(i);
      d.first_accelerator = next_accelerator + a;
      d.accelerators = std::min(shape.size, s.count - a);
      t.domains.push_back(d);
    }
    p.domains = static_cast<int32_t>(t.domains.size()) - p.first_domain;
    next_accelerator += s.count;
    t.pools.push_back(p);
  }
  t.link_bandwidth = c.link_bandwidth ? *c.link_bandwidth : fastest_nic;
  t.hop_latency = c.hop_latency;

  // Leaf groups and pods.
  Layout layout;
  if (t.kind == FabricKind::ideal) {
    t.tiers = 1;
    layout.groups.push_back({-1, 0, static_cast<int32_t>(t.domains.size()), 1});
    layout.leaves = 1;
  } else {
    t.tiers = c.tiers;
    t.radix = c.radix;
    t.oversubscription = c.oversubscription;
    t.oversubscription.resize(static_cast<size_t>(t.tiers - 1), 1.0);
    Ports ports = ports_for(t.radix, t.oversubscription);
    t.leaf_down = ports.leaf_down;
    t.leaf_up = ports.leaf_up;
    if (t.tiers == 3) {
      t.pod_down = ports.pod_down;
      t.pod_up = ports.pod_up;
    }
    auto l = fit(t.pools, t.domains, t.kind, t.tiers, t.radix, t.oversubscription);
    if (!l)
      throw BuildError("topology.radix",
                       capacity_message(t.pools, t.domains, t.kind, t.tiers, t.radix, t.oversubscription));
    layout = std::move(*l);
  }

  // Vertices: accelerators first (vertex id = accelerator id), then domain switches, groups, pods, spine, frontend.
  const int64_t n = next_accelerator;
  auto& g = t.graph;
  g = Graph(static_cast<size_t>(n));
  // Room for every vertex and edge up front (Boost has no interface for it; its vectors are public members): at
  // 100,000 accelerators, growing them step by step touched twice the memory, page by page, and was most of the
  // build's time.
  const size_t pods = layout.pods.size();
  g.m_vertices.reserve(static_cast<size_t>(n) + t.domains.size() + layout.groups.size() + pods + 2);
  g.m_edges.reserve(2 * static_cast<size_t>(n) + layout.groups.size() + pods + 1);
  for (int64_t a = 0; a < n; ++a)
    g[static_cast<VertexId>(a)] = Vertex{VertexKind::accelerator, a};
  for (size_t d = 0; d < t.domains.size(); ++d)
    t.domains[d].switch_vertex = boost::add_vertex(Vertex{VertexKind::scale_up_switch, static_cast<int64_t>(d)}, g);
  for (size_t k = 0; k < layout.groups.size(); ++k) {
    const auto& s = layout.groups[k];
    LeafGroup lg;
    lg.vertex = boost::add_vertex(Vertex{VertexKind::leaf_group, static_cast<int64_t>(k)}, g);
    lg.first_domain = s.first_domain;
    lg.domains = s.domains;
    lg.switches = s.switches;
    lg.uplinks = t.kind == FabricKind::ideal ? 0 : s.switches * t.leaf_up;
    lg.uplink_bandwidth = t.link_bandwidth * static_cast<double>(lg.uplinks);
    for (int32_t d = s.first_domain; d < s.first_domain + s.domains; ++d) {
      t.domains[static_cast<size_t>(d)].group = static_cast<int32_t>(k);
      lg.accelerators += t.domains[static_cast<size_t>(d)].accelerators;
    }
    t.groups.push_back(lg);
  }
  for (const auto& [first, count] : layout.pods) {
    Pod pod;
    pod.vertex = boost::add_vertex(Vertex{VertexKind::pod, static_cast<int64_t>(t.pods.size())}, g);
    pod.first_group = first;
    pod.groups = count;
    int64_t leaf_uplinks = 0;
    for (int32_t k = first; k < first + count; ++k) {
      auto& lg = t.groups[static_cast<size_t>(k)];
      lg.pod = static_cast<int32_t>(t.pods.size());
      pod.leaves += lg.switches;
      leaf_uplinks += lg.uplinks;
      pod.down_bandwidth += lg.uplink_bandwidth;
    }
    pod.switches = ceil_div(leaf_uplinks, t.pod_down);
    pod.uplinks = pod.switches * t.pod_up;
    pod.uplink_bandwidth = t.link_bandwidth * static_cast<double>(pod.uplinks);
    t.pods.push_back(pod);
  }
  if (t.kind != FabricKind::ideal) t.spine = boost::add_vertex(Vertex{VertexKind::spine, 0}, g);
  t.frontend = boost::add_vertex(Vertex{VertexKind::frontend, 0}, g);

  // Edges. The edge list is a vector, which moves its edges as it grows, so descriptors are taken only once
  // every edge is in (below). Out-edge lists are sized once: at 100,000 accelerators, allocating edges and
  // growing the lists one edge at a time was most of the build's cost.
  t.sites.resize(static_cast<size_t>(n));
  for (int64_t a = 0; a < n; ++a)
    g.out_edge_list(t.accelerator_vertex(a)).reserve(2);
  for (const auto& dom : t.domains)
    g.out_edge_list(dom.switch_vertex).reserve(static_cast<size_t>(dom.accelerators));
  for (const auto& lg : t.groups)
    g.out_edge_list(lg.vertex).reserve(static_cast<size_t>(lg.accelerators) + 2);
  for (size_t d = 0; d < t.domains.size(); ++d) {
    const auto& dom = t.domains[d];
    const auto& acc = *t.pools[static_cast<size_t>(dom.pool)].accelerator;
    auto& lg = t.groups[static_cast<size_t>(dom.group)];
    for (int64_t a = dom.first_accelerator; a < dom.first_accelerator + dom.accelerators; ++a) {
      auto& site = t.sites[static_cast<size_t>(a)];
      site.pool = dom.pool;
      site.domain = static_cast<int32_t>(d);
      site.group = dom.group;
      VertexId v = t.accelerator_vertex(a);
      // Half the catalog's latency on each side of a switch: accelerator -> switch -> accelerator is the figure
      // the catalog gives (one scale-up hop; NIC to NIC through one switch).
      boost::add_edge(v, dom.switch_vertex,
                      Edge{acc.scale_up_bandwidth, acc.scale_up_latency * 0.5, 1, EdgeKind::scale_up}, g);
      boost::add_edge(v, lg.vertex, Edge{acc.scale_out_bandwidth, acc.scale_out_latency * 0.5, 1, EdgeKind::nic}, g);
      lg.nic_bandwidth += acc.scale_out_bandwidth;
    }
  }
  if (t.kind != FabricKind::ideal) {
    for (auto& lg : t.groups) {
      VertexId up = lg.pod >= 0 ? t.pods[static_cast<size_t>(lg.pod)].vertex : *t.spine;
      boost::add_edge(lg.vertex, up, Edge{lg.uplink_bandwidth, t.hop_latency, lg.uplinks, EdgeKind::leaf_up}, g);
    }
    int64_t top_down = 0;  // cables into the spine
    for (auto& pod : t.pods) {
      boost::add_edge(pod.vertex, *t.spine, Edge{pod.uplink_bandwidth, t.hop_latency, pod.uplinks, EdgeKind::pod_up},
                      g);
      top_down += pod.uplinks;
    }
    if (t.pods.empty())
      for (const auto& lg : t.groups)
        top_down += lg.uplinks;
    t.spine_switches = ceil_div(top_down, t.radix);
  }
  boost::add_edge(
      t.frontend, t.top(),
      Edge{t.link_bandwidth * static_cast<double>(kFrontendCables), t.hop_latency, kFrontendCables, EdgeKind::frontend},
      g);

  // Every edge is in: take the descriptors, each from its lower end as added.
  auto edge_from = [&](VertexId v, EdgeKind kind) {
    for (auto [e, end] = boost::out_edges(v, g); e != end; ++e)
      if (g[*e].kind == kind) return *e;
    throw std::logic_error("topology: an edge the builder added is missing");
  };
  for (int64_t a = 0; a < n; ++a) {
    auto& site = t.sites[static_cast<size_t>(a)];
    site.scale_up = edge_from(t.accelerator_vertex(a), EdgeKind::scale_up);
    site.nic = edge_from(t.accelerator_vertex(a), EdgeKind::nic);
  }
  if (t.kind != FabricKind::ideal) {
    for (auto& lg : t.groups)
      lg.uplink = edge_from(lg.vertex, EdgeKind::leaf_up);
    for (auto& pod : t.pods)
      pod.uplink = edge_from(pod.vertex, EdgeKind::pod_up);
  }
  t.frontend_edge = edge_from(t.frontend, EdgeKind::frontend);
  for (auto& p : t.pools) {
    p.first_group = t.domains[static_cast<size_t>(p.first_domain)].group;
    p.groups = t.domains[static_cast<size_t>(p.first_domain + p.domains - 1)].group - p.first_group + 1;
  }
  return t;
}

Topology build(const config::ClusterConfig& cluster, const catalog::Catalog& catalog) {
  std::vector<PoolSpec> specs;
  for (const auto& p : cluster.pools)
    specs.push_back({p.name, &catalog.accelerator(p.accelerator), p.count, p.scale_up});
  return build(cluster.topology, specs);
}

}  // namespace tf::topology
