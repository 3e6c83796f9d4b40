#include "cli/topology_command.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <chrono>
#include <iostream>

#include "cli/factory_loader.hpp"
#include "engine/platform.hpp"
#include "topology/analysis.hpp"
#include "topology/placement.hpp"

namespace tf::cli {

namespace {

using topology::EdgeKind;
using topology::FabricKind;

std::string bandwidth(BytesPerSecond b) {
  if (b.value() >= 1e15) return fmt::format("{:.2f} PB/s", b.value() / 1e15);
  if (b.value() >= 1e12) return fmt::format("{:.2f} TB/s", b.value() / 1e12);
  return fmt::format("{:.1f} GB/s", b.value() / 1e9);
}

std::string micros(Seconds s) {
  return fmt::format("{:.2f} us", s.value() * 1e6);
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

// What one pool's instances span; the farthest-flung instance stands for the pool.
struct PoolSpan {
  int64_t accelerators_per_instance = 0;
  int64_t instances = 0;
  int64_t multi_domain = 0;  // instances over more than one scale-up domain
  topology::InstanceSpan worst;
};

std::vector<PoolSpan> pool_spans(const topology::Topology& t, const std::vector<topology::PoolInstances>& counts,
                                 const std::vector<topology::InstancePlacement>& placements) {
  std::vector<PoolSpan> out(t.pools.size());
  for (size_t p = 0; p < out.size(); ++p) {
    out[p].accelerators_per_instance = counts[p].accelerators_per_instance;
    out[p].instances = counts[p].instances;
  }
  std::vector<bool> seen(t.pools.size(), false);
  for (const auto& inst : placements) {
    auto& ps = out[static_cast<size_t>(inst.pool)];
    auto s = topology::span(t, inst);
    if (s.domains > 1) ++ps.multi_domain;
    bool worse = s.scale_out_latency > ps.worst.scale_out_latency ||
                 (s.scale_out_latency == ps.worst.scale_out_latency && s.fabric_share < ps.worst.fabric_share);
    if (!seen[static_cast<size_t>(inst.pool)] || worse) ps.worst = s;
    seen[static_cast<size_t>(inst.pool)] = true;
  }
  return out;
}

std::string fabric_line(const topology::Topology& t) {
  if (t.kind == FabricKind::ideal)
    return fmt::format("ideal: one non-blocking switch; frontend link {}",
                       bandwidth(t.graph[t.frontend_edge].bandwidth));
  std::string s = fmt::format("{}, {} tiers, radix {}: first tier {} NIC ports : {} uplinks", to_string(t.kind),
                              t.tiers, t.radix, t.leaf_down, t.leaf_up);
  if (t.tiers == 3) s += fmt::format(", aggregation {} down : {} up", t.pod_down, t.pod_up);
  s += fmt::format("; cables of {}, {} per switch hop", bandwidth(t.link_bandwidth), micros(t.hop_latency));
  return s;
}

nlohmann::ordered_json to_json(const std::string& file, const config::Scenario& s, const topology::Topology& t,
                               const topology::Analysis& a, const std::vector<PoolSpan>& spans) {
  nlohmann::ordered_json j;
  j["scenario"] = s.name;
  j["file"] = file;
  j["kind"] = to_string(t.kind);
  j["tiers"] = t.tiers;
  if (t.kind != FabricKind::ideal) {
    j["radix"] = t.radix;
    j["oversubscription"] = t.oversubscription;
    j["ports"] = {{"leaf_down", t.leaf_down}, {"leaf_up", t.leaf_up}};
    if (t.tiers == 3) {
      j["ports"]["aggregation_down"] = t.pod_down;
      j["ports"]["aggregation_up"] = t.pod_up;
    }
  }
  j["link_bandwidth_Bps"] = t.link_bandwidth.value();
  j["hop_latency_s"] = t.hop_latency.value();
  auto pools = nlohmann::ordered_json::array();
  for (size_t p = 0; p < t.pools.size(); ++p) {
    const auto& pl = t.pools[p];
    const auto& sp = spans[p];
    pools.push_back({{"name", pl.name},
                     {"accelerator", pl.accelerator->name},
                     {"count", pl.count},
                     {"scale_up", pl.scale_up},
                     {"domain_size", pl.domain_size},
                     {"domains", pl.domains},
                     {"leaf_groups", pl.groups},
                     {"accelerators_per_instance", sp.accelerators_per_instance},
                     {"instances", sp.instances},
                     {"instances_over_several_domains", sp.multi_domain},
                     {"widest_instance",
                      {{"domains", sp.worst.domains},
                       {"max_per_domain", sp.worst.max_per_domain},
                       {"scale_up_Bps", sp.worst.scale_up_bandwidth.value()},
                       {"scale_up_latency_s", sp.worst.scale_up_latency.value()},
                       {"nic_Bps", sp.worst.nic_bandwidth.value()},
                       {"scale_out_hops", sp.worst.scale_out_hops},
                       {"scale_out_latency_s", sp.worst.scale_out_latency.value()},
                       {"fabric_share", sp.worst.fabric_share}}}});
  }
  j["pools"] = pools;
  j["accelerators"] = a.accelerators;
  j["domains"] = a.domains;
  j["leaf_groups"] = a.leaf_groups;
  j["pods"] = a.pods;
  j["switches"] = {
      {"first_tier", a.leaf_switches}, {"aggregation", a.aggregation_switches}, {"spine", a.spine_switches}};
  auto links = nlohmann::ordered_json::object();
  for (const auto& l : a.links)
    links[topology::to_string(l.kind)] = {
        {"edges", l.edges}, {"cables", l.cables}, {"bandwidth_Bps", l.bandwidth.value()}};
  j["links"] = links;
  j["cables"] = a.cables;
  j["diameter_hops"] = a.diameter_hops;
  j["bisection_Bps"] = a.bisection.value();
  auto over = nlohmann::ordered_json::array();
  for (const auto& o : a.oversubscription)
    over.push_back({{"tier", o.tier}, {"configured", o.configured}, {"effective", o.effective}});
  j["tier_oversubscription"] = over;
  auto lat = nlohmann::ordered_json::array();
  for (const auto& p : a.latencies)
    lat.push_back(
        {{"pair", p.pair}, {"from", p.from}, {"to", p.to}, {"hops", p.hops}, {"latency_s", p.latency.value()}});
  j["latencies"] = lat;
  return j;
}

void print_table(std::ostream& o, const std::string& file, const config::Scenario& s, const topology::Topology& t,
                 const topology::Analysis& a, const std::vector<PoolSpan>& spans) {
  auto dash = [](int64_t n) { return n > 0 ? fmt::format("{}", n) : std::string("-"); };
  o << fmt::format("topology of {} ({})\n", s.name, file);
  o << fmt::format("  fabric       {}\n", fabric_line(t));
  o << "  pools\n";
  for (size_t p = 0; p < t.pools.size(); ++p) {
    const auto& pl = t.pools[p];
    o << fmt::format("    {:<14} {} x {}: {} {} domain{} of {}, {} leaf group{}; {} instances of {}\n", pl.name,
                     pl.count, pl.accelerator->name, pl.domains, pl.scale_up, pl.domains == 1 ? "" : "s",
                     pl.domain_size, pl.groups, pl.groups == 1 ? "" : "s", spans[p].instances,
                     spans[p].accelerators_per_instance);
  }
  o << fmt::format("  size         {} accelerators, {} scale-up domain{}, {} leaf group{}, {} pod{}\n", a.accelerators,
                   a.domains, a.domains == 1 ? "" : "s", a.leaf_groups, a.leaf_groups == 1 ? "" : "s", a.pods,
                   a.pods == 1 ? "" : "s");
  o << fmt::format("  switches     first tier {}, aggregation {}, spine {} (physical, by formula)\n", a.leaf_switches,
                   dash(a.aggregation_switches), dash(a.spine_switches));
  o << fmt::format("  links        {:<10} {:>8} {:>9} {:>14}\n", "kind", "edges", "cables", "per direction");
  for (const auto& l : a.links)
    if (l.edges > 0)
      o << fmt::format("               {:<10} {:>8} {:>9} {:>14}\n", topology::to_string(l.kind), l.edges, l.cables,
                       bandwidth(l.bandwidth));
  o << fmt::format("  diameter     {} hops between accelerators (graph edges)\n", a.diameter_hops);
  o << fmt::format("  bisection    {} over NICs and fabric between the halves (split at the middle scale-up domain)\n",
                   bandwidth(a.bisection));
  if (!a.oversubscription.empty()) {
    o << fmt::format("  oversubscription {:<8} {:>10} {:>10}\n", "tier", "configured", "effective");
    for (const auto& v : a.oversubscription)
      o << fmt::format("                   {:<8} {:>10.3g} {:>10.3g}\n", v.tier, v.configured, v.effective);
  }
  if (!a.latencies.empty()) {
    o << fmt::format("  latency      {:<18} {:>5} {:>10}\n", "pair", "hops", "one way");
    for (const auto& p : a.latencies)
      o << fmt::format("               {:<18} {:>5} {:>10}\n", p.pair, p.hops, micros(p.latency));
  }
  o << fmt::format("  instances    {:<14} {:>8} {:>8} {:>10} {:>6} {:>10} {:>7}\n", "pool (widest)", "accel.",
                   "domains", "per domain", "hops", "scale-out", "share");
  for (size_t p = 0; p < t.pools.size(); ++p) {
    const auto& w = spans[p].worst;
    o << fmt::format("               {:<14} {:>8} {:>8} {:>10} {:>6} {:>10} {:>7.3g}\n", t.pools[p].name,
                     w.accelerators, w.domains, w.max_per_domain, w.scale_out_hops,
                     w.scale_out_hops > 0 ? micros(w.scale_out_latency) : std::string("-"), w.fabric_share);
  }
}

}  // namespace

CLI::App* add_topology_command(CLI::App& app, TopologyOptions& o) {
  auto* c = app.add_subcommand("topology",
                               "build the scenario's network (cluster.topology and the pools' scale-up domains) and "
                               "print its size, switches, diameter, bisection, oversubscription and latencies");
  c->add_option("scenario", o.scenario, "scenario JSON file")->required();
  c->add_option("--set", o.sets, "override a scenario value: path=value (e.g. cluster.topology.radix=128)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c->add_flag("--json", o.json, "print one JSON document instead of the table");
  c->add_flag("--lower", o.lower,
              "also lower the topology to SimGrid with one host per accelerator; print one JSON line of timings")
      ->group("");  // hidden: for tools/bench-platform
  return c;
}

int run_topology(const TopologyOptions& o) {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto loaded = load_factory(o.scenario, o.sets);
  const auto& s = loaded.scenario.scenario;
  auto t1 = clock::now();
  auto placed = engine::place_topology(s, *loaded.catalog, loaded.plan);
  const topology::Topology& t = *placed.topology;
  const auto& placements = placed.placements;
  std::vector<topology::PoolInstances> counts;
  for (const auto& p : loaded.plan.pools)
    counts.push_back({p.accelerators_per_instance, p.instances});
  auto t2 = clock::now();

  if (o.lower) {
    auto r = engine::lower_and_time(t);
    nlohmann::ordered_json j;
    j["scenario"] = s.name;
    j["kind"] = to_string(t.kind);
    j["tiers"] = t.tiers;
    j["radix"] = t.radix;
    j["accelerators"] = t.accelerators();
    j["leaf_groups"] = t.groups.size();
    j["pods"] = t.pods.size();
    j["hosts"] = r.hosts;
    j["zones"] = r.zones;
    j["load_s"] = std::chrono::duration<double>(t1 - t0).count();
    j["build_s"] = std::chrono::duration<double>(t2 - t1).count();
    j["lower_s"] = r.lower_seconds;
    j["route_us"] = r.route_microseconds;
    j["wall_s"] = std::chrono::duration<double>(clock::now() - t0).count();
    j["peak_rss_mb"] = peak_rss_mb();
    std::cout << j.dump() << "\n";
    return 0;
  }

  auto analysis = topology::analyse(t);
  auto spans = pool_spans(t, counts, placements);
  if (o.json)
    std::cout << to_json(o.scenario, s, t, analysis, spans).dump(2) << "\n";
  else
    print_table(std::cout, o.scenario, s, t, analysis, spans);
  return 0;
}

}  // namespace tf::cli
