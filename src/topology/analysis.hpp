#pragma once
// What a topology gives: sizes, switch and cable counts, diameter, bisection bandwidth, oversubscription per
// tier and latency between representative pairs of accelerators (`tokenfactory topology`, docs/topologies.md).

#include <cstdint>
#include <string>
#include <vector>

#include "topology/topology.hpp"

namespace tf::topology {

struct LinkCount {
  EdgeKind kind = EdgeKind::nic;
  int64_t edges = 0;         // graph edges
  int64_t cables = 0;        // physical links
  BytesPerSecond bandwidth;  // all of them together, per direction
};

struct TierOversubscription {
  std::string tier;       // "leaf" (first tier's NIC ports : uplinks) or "pod" (aggregation down : up)
  double configured = 1;  // topology.oversubscription
  double effective = 1;   // worst over the tier: bandwidth coming in from below / bandwidth going up
};

struct PairLatency {
  std::string pair;  // "same domain", "same leaf group", "across the spine", "same pod", "across pods"
  int64_t from = 0;  // accelerator ids
  int64_t to = 0;
  int hops = 0;     // graph edges on the lowest-latency path
  Seconds latency;  // one way, on that path
};

struct Analysis {
  FabricKind kind = FabricKind::ideal;
  int tiers = 1;
  int radix = 0;
  int64_t accelerators = 0;
  int64_t domains = 0;
  int64_t leaf_groups = 0;
  int64_t pods = 0;
  // Physical switches per tier, by formula (docs/topologies.md): first tier (leaves or rail switches),
  // aggregation (3 tiers), spine. An ideal fabric is one switch.
  int64_t leaf_switches = 0;
  int64_t aggregation_switches = 0;
  int64_t spine_switches = 0;
  std::vector<LinkCount> links;  // by kind, scale_up first
  int64_t cables = 0;            // all kinds
  int diameter_hops = 0;         // graph edges on the longest shortest path between two accelerators
  // Scale-out bisection: the bandwidth one half of the accelerators can send to the other at once over NICs and
  // fabric (not scale-up links), halves split at the middle domain in id order; by formula.
  BytesPerSecond bisection;
  std::vector<TierOversubscription> oversubscription;  // bottom up; empty for ideal
  std::vector<PairLatency> latencies;                  // the pairs this topology has
};

Analysis analyse(const Topology& t);

// Accelerators [0, split) form the first half of the bisection: the first floor(D / 2) of D domains, or, with
// a single domain, the first half of its accelerators.
int64_t bisection_split(const Topology& t);

// The scale-out bisection by formula: matched locally first at every switch plane, bottom up (see
// docs/topologies.md), in B/s per direction.
BytesPerSecond bisection_bandwidth(const Topology& t);

// The same cut computed as a maximum flow (Boost.Graph boykov_kolmogorov_max_flow) on a directed copy of the
// graph without its scale-up edges, from a super source on the first half's accelerators to a super sink on the
// second half's, in B/s (capacities rounded to whole bytes per second). Tests check it against the formula.
double bisection_maxflow(const Topology& t);

}  // namespace tf::topology
