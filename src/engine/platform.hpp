#pragma once
// A topology lowered to a SimGrid platform, in code (docs/topologies.md, "Lowering to SimGrid").
//
// Endpoints (an accelerator, or an instance's accelerators) become hosts. A host's split-duplex link to the
// centre of its zone stands for its accelerators' NICs together. Zones: one star zone per leaf group that has
// endpoints, under one top star zone whose centre is the top plane (never deeper: SimGrid 3.32 drops links from
// routes at three levels). A leaf group's route to the centre is its uplink (2 tiers), its uplink then its pod's
// (3 tiers), or no link at all (ideal: the one switch is the centre). Two leaf groups of one pod meet in the pod,
// through a bypass route of their two uplinks. The frontend is a host in a zone of its own; so is the prefix store,
// reached from the centre with no link of its own (every fetch crosses the spine: an approximation of a store
// spread over the cluster's servers). Only the scale-out fabric is lowered: scale-up traffic is priced
// analytically by perf/.

#include <simgrid/forward.h>

#include <string>
#include <vector>

#include "topology/topology.hpp"

namespace tf::engine {

struct Endpoint {
  std::string name;                   // the SimGrid host's name; unique
  std::vector<int64_t> accelerators;  // accelerator ids; at least one; the first one's leaf group decides the zone
};

struct Platform {
  std::vector<simgrid::s4u::Host*> hosts;  // by endpoint index
  simgrid::s4u::Host* frontend = nullptr;  // the user gateway, attached to the top plane
  simgrid::s4u::Host* store = nullptr;     // the cluster-scope prefix store, at the top plane with no link
  simgrid::s4u::NetZone* top = nullptr;
  size_t zones = 0;  // leaf-group zones created (groups with at least one endpoint)
};

// Builds the platform. Call it once, after the sg4::Engine exists and the network model is configured, before
// anything else creates zones. Link and zone names follow docs/topologies.md; edges_of() reads them back.
Platform lower(const topology::Topology& t, const std::vector<Endpoint>& endpoints);

// One endpoint per accelerator, named "<pool>-<index in pool>".
std::vector<Endpoint> accelerator_endpoints(const topology::Topology& t);

// The graph edges a SimGrid link of lower()'s platform stands for (its name with or without the _UP/_DOWN
// suffix of split-duplex links): an endpoint's link, the NIC edges of its accelerators; a leaf group's or pod's
// uplink, its leaf_up or pod_up edge; the frontend's link, the frontend edge. Empty for any other name.
std::vector<topology::EdgeId> edges_of(const topology::Topology& t, const std::vector<Endpoint>& endpoints,
                                       const std::string& link_name);

// `tokenfactory topology --lower` (tools/bench-platform): starts a SimGrid engine with the simulation's
// datacentre network settings, lowers t with one host per accelerator, and times route lookups between random
// accelerators in different domains. Once per process (DESIGN.md §4).
struct LowerReport {
  size_t hosts = 0;
  size_t zones = 0;
  double lower_seconds = 0;       // wall time of accelerator_endpoints() + lower()
  double route_microseconds = 0;  // mean wall time of one Host::route_to
};
LowerReport lower_and_time(const topology::Topology& t);

}  // namespace tf::engine
