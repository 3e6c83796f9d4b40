#include "topology/placement.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"

namespace tf::topology {

namespace {

// Checks that slot [start, start + n) either stays in one domain or is made of whole domains.
void check_split(const Topology& t, const PoolLayout& pool, int64_t start, int64_t n, bool allow_split) {
  if (allow_split) return;
  const auto& first = t.domains[static_cast<size_t>(t.sites[static_cast<size_t>(start)].domain)];
  const auto& last = t.domains[static_cast<size_t>(t.sites[static_cast<size_t>(start + n - 1)].domain)];
  if (&first == &last) return;
  bool whole = first.first_accelerator == start && last.first_accelerator + last.accelerators == start + n;
  if (whole) return;
  throw BuildError(
      "topology.allow_split",
      fmt::format("pool {}: an instance of {} accelerators would straddle {} domains of {} (instance at "
                  "accelerator {} of the pool); make the instance size divide {} or be a multiple of it, "
                  "or set topology.allow_split to true",
                  pool.name, n, pool.scale_up, pool.domain_size, start - pool.first_accelerator, pool.domain_size));
}

InstancePlacement make_instance(const Topology& t, int32_t pool, int64_t index, int64_t start, int64_t n) {
  InstancePlacement p;
  p.pool = pool;
  p.index = index;
  p.accelerators.reserve(static_cast<size_t>(n));
  for (int64_t a = start; a < start + n; ++a) {
    p.accelerators.push_back(t.accelerator_vertex(a));
    int32_t d = t.sites[static_cast<size_t>(a)].domain;
    if (p.domains.empty() || p.domains.back() != d) p.domains.push_back(d);
  }
  p.group = t.sites[static_cast<size_t>(start)].group;
  return p;
}

}  // namespace

std::vector<InstancePlacement> place(const Topology& t, const std::vector<PoolInstances>& pools,
                                     const std::string& policy, bool allow_split) {
  if (policy != "contiguous" && policy != "spread")
    throw BuildError("topology.placement",
                     fmt::format("unknown placement \"{}\" (expected contiguous or spread)", policy));
  TF_ASSERT(pools.size() == t.pools.size(), "one PoolInstances per pool of the topology");
  std::vector<InstancePlacement> out;
  for (size_t p = 0; p < pools.size(); ++p) {
    const auto& layout = t.pools[p];
    const int64_t n = pools[p].accelerators_per_instance;
    const int64_t k = pools[p].instances;
    TF_ASSERT(n >= 1 && k >= 0, "instances of at least one accelerator");
    if (n * k > layout.count)
      throw BuildError(
          fmt::format("pools.{}.count", p),
          fmt::format("{} instances of {} accelerators need {}, but the pool has {}", k, n, n * k, layout.count));
    // Slot j is the pool's accelerators [j n, (j + 1) n); placement only decides which instance gets which slot.
    const int64_t slots = layout.count / n;
    std::vector<int64_t> order;  // slot of instance i
    order.reserve(static_cast<size_t>(k));
    if (policy == "contiguous") {
      for (int64_t i = 0; i < k; ++i)
        order.push_back(i);
    } else {
      std::vector<std::vector<int64_t>> by_group;  // slots by the leaf group of their first accelerator
      int32_t last_group = -1;
      for (int64_t j = 0; j < slots; ++j) {
        int32_t g = t.sites[static_cast<size_t>(layout.first_accelerator + j * n)].group;
        if (g != last_group) by_group.emplace_back();
        last_group = g;
        by_group.back().push_back(j);
      }
      for (size_t round = 0; static_cast<int64_t>(order.size()) < k; ++round)
        for (const auto& slots_of_group : by_group)
          if (round < slots_of_group.size() && static_cast<int64_t>(order.size()) < k)
            order.push_back(slots_of_group[round]);
    }
    for (int64_t i = 0; i < k; ++i) {
      int64_t start = layout.first_accelerator + order[static_cast<size_t>(i)] * n;
      check_split(t, layout, start, n, allow_split);
      out.push_back(make_instance(t, static_cast<int32_t>(p), i, start, n));
    }
  }
  return out;
}

InstanceSpan span(const Topology& t, const InstancePlacement& instance) {
  TF_ASSERT(!instance.accelerators.empty(), "an instance without accelerators");
  const auto& g = t.graph;
  InstanceSpan s;
  s.accelerators = static_cast<int64_t>(instance.accelerators.size());
  s.domains = static_cast<int64_t>(instance.domains.size());
  // Accelerators per domain, and the first one in each.
  std::vector<int64_t> per_domain(instance.domains.size(), 0);
  std::vector<int64_t> first_in(instance.domains.size(), -1);
  for (VertexId v : instance.accelerators) {
    int64_t a = g[v].index;
    int32_t d = t.sites[static_cast<size_t>(a)].domain;
    auto it = std::lower_bound(instance.domains.begin(), instance.domains.end(), d);
    auto k = static_cast<size_t>(it - instance.domains.begin());
    ++per_domain[k];
    if (first_in[k] < 0) first_in[k] = a;
  }
  s.max_per_domain = *std::max_element(per_domain.begin(), per_domain.end());
  const auto& first = t.sites[static_cast<size_t>(g[instance.accelerators.front()].index)];
  s.scale_up_bandwidth = g[first.scale_up].bandwidth;
  s.scale_up_latency = g[first.scale_up].latency * 2.0;
  s.nic_bandwidth = g[first.nic].bandwidth;
  if (instance.domains.size() < 2) return s;

  // The farthest pair of domains: across pods, else across leaf groups, else within one leaf group.
  auto group_of = [&](size_t k) { return t.domains[static_cast<size_t>(instance.domains[k])].group; };
  auto pod_of = [&](size_t k) { return t.groups[static_cast<size_t>(group_of(k))].pod; };
  size_t other = 1;
  for (size_t k = 1; k < instance.domains.size(); ++k)
    if (pod_of(k) != pod_of(0)) {
      other = k;
      break;
    }
  if (pod_of(other) == pod_of(0))
    for (size_t k = 1; k < instance.domains.size(); ++k)
      if (group_of(k) != group_of(0)) {
        other = k;
        break;
      }
  std::vector<EdgeId> path;
  path.push_back(t.sites[static_cast<size_t>(first_in[0])].nic);
  const auto& g1 = t.groups[static_cast<size_t>(group_of(0))];
  const auto& g2 = t.groups[static_cast<size_t>(group_of(other))];
  auto share = [](BytesPerSecond up, BytesPerSecond down) { return std::min(1.0, up / down); };
  if (&g1 != &g2) {
    path.push_back(*g1.uplink);
    s.fabric_share = std::min(
        {s.fabric_share, share(g1.uplink_bandwidth, g1.nic_bandwidth), share(g2.uplink_bandwidth, g2.nic_bandwidth)});
    if (g1.pod != g2.pod) {
      const auto& p1 = t.pods[static_cast<size_t>(g1.pod)];
      const auto& p2 = t.pods[static_cast<size_t>(g2.pod)];
      path.push_back(p1.uplink);
      path.push_back(p2.uplink);
      s.fabric_share = std::min({s.fabric_share, share(p1.uplink_bandwidth, p1.down_bandwidth),
                                 share(p2.uplink_bandwidth, p2.down_bandwidth)});
    }
    path.push_back(*g2.uplink);
  }
  path.push_back(t.sites[static_cast<size_t>(first_in[other])].nic);
  for (EdgeId e : path)
    s.scale_out_latency += g[e].latency;
  s.scale_out_hops = static_cast<int>(path.size());
  return s;
}

}  // namespace tf::topology
