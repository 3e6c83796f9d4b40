#include "engine/platform.hpp"

#include <fmt/format.h>
#include <simgrid/kernel/routing/NetZoneImpl.hpp>
#include <simgrid/s4u.hpp>

#include <xbt/log.h>

#include <charconv>
#include <chrono>
#include <optional>
#include <random>
#include <unordered_set>

#include "core/error.hpp"

namespace tf::engine {

namespace sg4 = simgrid::s4u;
using simgrid::kernel::routing::NetPoint;

namespace {

constexpr const char* kNicPrefix = "nic/";
constexpr const char* kLeafUpPrefix = "leaf_up/";
constexpr const char* kPodUpPrefix = "pod_up/";
constexpr const char* kFrontendLink = "frontend-link";

// A zone with one router: the gateway its parent routes through. Star zones give every member an empty route to
// the centre unless told otherwise, so the router reaches every host of the zone through the host's own link.
struct Zone {
  sg4::NetZone* zone = nullptr;
  NetPoint* gateway = nullptr;
};

Zone make_zone(const std::string& name, sg4::NetZone* parent) {
  Zone z;
  z.zone = sg4::create_star_zone(name);
  z.zone->set_parent(parent);
  z.gateway = z.zone->create_router(name + "/gw");
  return z;
}

// A zone not yet attached to its parent, with the parent's models so that it can hold hosts and links.
// SimGrid 3.32 checks every new host's and link's name against every zone reachable from the root, one zone at a
// time: filling thousands of attached zones is quadratic (minutes at 100,000 hosts), filling detached ones is not.
// NetZone::set_parent() must follow before anything is routed or sealed.
Zone make_detached_zone(const std::string& name, sg4::NetZone* parent) {
  Zone z;
  z.zone = sg4::create_star_zone(name);
  auto* impl = z.zone->get_impl();
  const auto* from = parent->get_impl();
  impl->set_network_model(from->get_network_model());
  impl->set_cpu_pm_model(from->get_cpu_pm_model());
  impl->set_cpu_vm_model(from->get_cpu_vm_model());
  impl->set_disk_model(from->get_disk_model());
  impl->set_host_model(from->get_host_model());
  z.gateway = z.zone->create_router(name + "/gw");
  return z;
}

sg4::SplitDuplexLink* make_link(sg4::NetZone* zone, const std::string& name, BytesPerSecond bw, Seconds latency) {
  auto* link = zone->create_split_duplex_link(name, bw.value());
  link->set_latency(latency.value());
  link->seal();
  return link;
}

std::vector<sg4::LinkInRoute> up(const sg4::Link* link) {
  return {sg4::LinkInRoute(link, sg4::LinkInRoute::Direction::UP)};
}

std::optional<size_t> index_after(const std::string& name, const std::string& prefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  size_t value = 0;
  const char* begin = name.data() + prefix.size();
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return value;
}

}  // namespace

std::vector<Endpoint> accelerator_endpoints(const topology::Topology& t) {
  std::vector<Endpoint> out;
  out.reserve(static_cast<size_t>(t.accelerators()));
  for (const auto& p : t.pools)
    for (int64_t k = 0; k < p.count; ++k)
      out.push_back({fmt::format("{}-{}", p.name, k), {p.first_accelerator + k}});
  return out;
}

Platform lower(const topology::Topology& t, const std::vector<Endpoint>& endpoints) {
  Platform pf;
  const auto& g = t.graph;
  pf.top = sg4::create_star_zone("fabric");

  // Endpoints by the leaf group of their first accelerator.
  std::vector<std::vector<size_t>> by_group(t.groups.size());
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const auto& e = endpoints[i];
    TF_ASSERT(!e.accelerators.empty(), "an endpoint without accelerators");
    for (int64_t a : e.accelerators)
      TF_ASSERT(a >= 0 && a < t.accelerators(), fmt::format("endpoint {}: no accelerator {}", e.name, a));
    by_group[static_cast<size_t>(t.sites[static_cast<size_t>(e.accelerators.front())].group)].push_back(i);
  }

  // The fabric's own links, in the top zone while it has no sub-zone (so that their names are checked quickly).
  // A group's route to the centre (the spine; an ideal fabric's one switch) is its uplink, then, with 3 tiers,
  // its pod's uplink.
  auto link_of = [&](const std::string& name, topology::EdgeId e) {
    return make_link(pf.top, name, g[e].bandwidth, g[e].latency);
  };
  std::vector<sg4::Link*> pod_links(t.pods.size(), nullptr);
  std::vector<std::vector<sg4::LinkInRoute>> to_centre(t.groups.size());
  for (size_t k = 0; k < t.groups.size(); ++k) {
    const auto& lg = t.groups[k];
    if (by_group[k].empty() || !lg.uplink) continue;  // ideal: the group is the centre, reached with no link
    to_centre[k] = up(link_of(fmt::format("{}{}", kLeafUpPrefix, k), *lg.uplink));
    if (lg.pod >= 0) {
      auto& pod_link = pod_links[static_cast<size_t>(lg.pod)];
      if (!pod_link)
        pod_link = link_of(fmt::format("{}{}", kPodUpPrefix, lg.pod), t.pods[static_cast<size_t>(lg.pod)].uplink);
      to_centre[k].emplace_back(pod_link, sg4::LinkInRoute::Direction::UP);
    }
  }
  auto* front_link = link_of(kFrontendLink, t.frontend_edge);

  // One star zone per leaf group that has endpoints; a host's link to the centre is its accelerators' NICs.
  pf.hosts.assign(endpoints.size(), nullptr);
  std::unordered_set<std::string> names{"frontend", "store"};
  std::vector<Zone> group_zones(t.groups.size());
  for (size_t k = 0; k < t.groups.size(); ++k) {
    if (by_group[k].empty()) continue;
    Zone z = make_detached_zone(fmt::format("group/{}", k), pf.top);
    for (size_t i : by_group[k]) {
      const auto& e = endpoints[i];
      TF_ASSERT(names.insert(e.name).second, fmt::format("two endpoints named {}", e.name));
      BytesPerSecond bw;
      for (int64_t a : e.accelerators)
        bw += g[t.sites[static_cast<size_t>(a)].nic].bandwidth;
      Seconds latency = g[t.sites[static_cast<size_t>(e.accelerators.front())].nic].latency;
      auto* host = z.zone->create_host(e.name, 1.0);
      auto* link = make_link(z.zone, fmt::format("{}{}", kNicPrefix, i), bw, latency);
      z.zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr, up(link), true);
      pf.hosts[i] = host;
    }
    group_zones[k] = z;
    ++pf.zones;
  }

  // The user gateway: a host in a zone of its own, so that every member of the top zone is a zone.
  Zone front = make_zone("frontend-zone", pf.top);
  pf.frontend = front.zone->create_host("frontend", 1.0);
  pf.top->add_route(front.zone->get_netpoint(), nullptr, front.gateway, nullptr, up(front_link), true);
  front.zone->seal();

  // The prefix store (Mooncake Store): a host at the top plane, in a zone of its own like the frontend. The real
  // store pools DRAM and SSD across the cluster's servers, so a block is almost always on another server; putting
  // it at the top plane approximates that by making every fetch cross the spine, down the fetching instance's
  // group uplink (and pod uplink) and NIC. Its route to the centre has no link: the store's bandwidth is spread
  // over every server's NICs, so no single link stands for it; the engine caps a fetch at its tiers' bandwidth.
  Zone store = make_zone("store-zone", pf.top);
  pf.store = store.zone->create_host("store", 1.0);
  pf.top->add_route(store.zone->get_netpoint(), nullptr, store.gateway, nullptr, {}, true);
  store.zone->seal();

  // Attach and seal the groups one at a time: sealing a zone scans the hosts of every zone attached so far, so
  // this costs half of sealing them all at the end.
  for (size_t k = 0; k < t.groups.size(); ++k) {
    const auto& z = group_zones[k];
    if (!z.zone) continue;
    z.zone->set_parent(pf.top);
    pf.top->add_route(z.zone->get_netpoint(), nullptr, z.gateway, nullptr, to_centre[k], true);
    z.zone->seal();
  }

  // 3 tiers: two groups of one pod meet in the pod, not at the spine. A star zone would route them through
  // their pod's uplink twice, so each such pair gets a bypass route of their two group uplinks.
  for (const auto& pod : t.pods)
    for (int32_t a = pod.first_group; a < pod.first_group + pod.groups; ++a)
      for (int32_t b = pod.first_group; b < pod.first_group + pod.groups; ++b) {
        const auto& za = group_zones[static_cast<size_t>(a)];
        const auto& zb = group_zones[static_cast<size_t>(b)];
        if (a == b || !za.zone || !zb.zone) continue;
        pf.top->add_bypass_route(za.zone->get_netpoint(), zb.zone->get_netpoint(), za.gateway, zb.gateway,
                                 {to_centre[static_cast<size_t>(a)].front(),
                                  sg4::LinkInRoute(to_centre[static_cast<size_t>(b)].front().get_link(),
                                                   sg4::LinkInRoute::Direction::DOWN)});
      }
  pf.top->seal();
  return pf;
}

std::vector<topology::EdgeId> edges_of(const topology::Topology& t, const std::vector<Endpoint>& endpoints,
                                       const std::string& link_name) {
  std::string name = link_name;
  for (const char* suffix : {"_UP", "_DOWN"}) {
    std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      name.resize(name.size() - s.size());
      break;
    }
  }
  std::vector<topology::EdgeId> out;
  if (auto i = index_after(name, kNicPrefix); i && *i < endpoints.size()) {
    for (int64_t a : endpoints[*i].accelerators)
      out.push_back(t.sites[static_cast<size_t>(a)].nic);
  } else if (auto k = index_after(name, kLeafUpPrefix); k && *k < t.groups.size() && t.groups[*k].uplink) {
    out.push_back(*t.groups[*k].uplink);
  } else if (auto p = index_after(name, kPodUpPrefix); p && *p < t.pods.size()) {
    out.push_back(t.pods[*p].uplink);
  } else if (name == kFrontendLink) {
    out.push_back(t.frontend_edge);
  }
  return out;
}

LowerReport lower_and_time(const topology::Topology& t) {
  using clock = std::chrono::steady_clock;
  xbt_log_control_set("root.thres:critical");
  sg4::Engine engine("tokenfactory");
  // The same settings as a simulation (engine/simulation.cpp, SIMGRID-NOTES.md).
  sg4::Engine::set_config("network/model:CM02");
  sg4::Engine::set_config("network/TCP-gamma:1e12");
  sg4::Engine::set_config("network/crosstraffic:0");
  LowerReport r;
  auto t0 = clock::now();
  auto endpoints = accelerator_endpoints(t);
  auto pf = lower(t, endpoints);
  r.lower_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  r.hosts = pf.hosts.size() + 2;  // and the frontend and the store
  r.zones = pf.zones;
  if (t.domains.size() >= 2) {
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<int64_t> pick(0, t.accelerators() - 1);
    std::vector<std::pair<size_t, size_t>> pairs;
    while (pairs.size() < 10000) {
      int64_t a = pick(rng), b = pick(rng);
      if (t.sites[static_cast<size_t>(a)].domain != t.sites[static_cast<size_t>(b)].domain)
        pairs.emplace_back(static_cast<size_t>(a), static_cast<size_t>(b));
    }
    std::vector<sg4::Link*> links;
    double latency = 0;
    auto t1 = clock::now();
    for (auto [a, b] : pairs) {
      links.clear();
      latency = 0;
      pf.hosts[a]->route_to(pf.hosts[b], links, &latency);
      TF_ASSERT(!links.empty(), "a cross-domain route without links");
    }
    r.route_microseconds =
        std::chrono::duration<double>(clock::now() - t1).count() * 1e6 / static_cast<double>(pairs.size());
  }
  return r;
}

}  // namespace tf::engine
