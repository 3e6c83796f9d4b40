#pragma once
// The cluster's network as a Boost.Graph: every accelerator, one switch vertex per scale-up domain, the
// scale-out fabric's switch planes, and the user gateway (docs/topologies.md has the model, a diagram per
// builder and the parameter table). No SimGrid here: engine/platform.hpp lowers a Topology to a platform.
//
// Vertices and edges stand for planes, not single switches: a leaf group is the set of first-tier switches
// one set of scale-up domains' NICs land on, a pod the aggregation switches of a 3-tier Clos pod, the spine
// every top-tier switch. Under ECMP a fluid network model cannot tell equal switches apart, so one vertex per
// plane loses nothing and keeps the graph (and the SimGrid platform) small; the physical switch counts are
// kept beside the graph, by formula.

#include <boost/graph/adjacency_list.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "catalog/accelerator.hpp"
#include "catalog/catalog.hpp"
#include "config/scenario.hpp"
#include "core/units.hpp"

namespace tf::topology {

// A topology that cannot be built from the scenario. The scenario loader turns it into a tf::ConfigError.
class BuildError : public std::runtime_error {
 public:
  // field: JSON path below `cluster`, with dots ("topology.radix", "pools.1.count", "pools.0.scale_up")
  BuildError(std::string field, const std::string& message);

  const std::string& field() const { return field_; }
  const std::string& message() const { return message_; }

 private:
  std::string field_;
  std::string message_;
};

enum class VertexKind {
  accelerator,
  scale_up_switch,  // one per scale-up domain: its NVSwitch / NVLink switch / UB switch plane
  leaf_group,       // the first-tier switches a set of domains' NICs land on (ToR leaves or a rail group)
  pod,              // 3 tiers: a pod's aggregation plane
  spine,            // the top plane
  frontend,         // the user gateway, attached to the top plane
};

enum class EdgeKind {
  scale_up,  // accelerator - its domain's switch plane
  nic,       // accelerator - its leaf group
  leaf_up,   // leaf group - pod (3 tiers) or spine (2 tiers): all the group's uplinks
  pod_up,    // pod - spine: all the pod's uplinks
  frontend,  // frontend - top plane
};

std::string to_string(VertexKind k);
std::string to_string(EdgeKind k);

struct Vertex {
  VertexKind kind = VertexKind::accelerator;
  int64_t index = 0;  // accelerator id, domain id, leaf group id or pod id; 0 for the spine and the frontend
};

struct Edge {
  BytesPerSecond bandwidth;  // per direction, all its cables together
  Seconds latency;           // one way
  int64_t cables = 1;        // physical links it stands for
  EdgeKind kind = EdgeKind::nic;
};

// Edges in a vector (not the default list): one allocation for all of them. Descriptors point into it, so a
// Topology is never copied, and build() takes them only once the graph is complete.
using Graph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, Vertex, Edge, boost::no_property, boost::vecS>;
using VertexId = Graph::vertex_descriptor;
using EdgeId = Graph::edge_descriptor;

enum class FabricKind { ideal, clos, rail };
std::string to_string(FabricKind k);

// One pool as the builder needs it.
struct PoolSpec {
  std::string name;
  const catalog::Accelerator* accelerator = nullptr;  // not owned; outlives the Topology
  int64_t count = 0;                                  // accelerators
  std::string scale_up;  // nvlink-node | nvl72 | ub-supernode; "": from the accelerator's scale_up_domain_size
};

struct PoolLayout {
  std::string name;
  const catalog::Accelerator* accelerator = nullptr;
  std::string scale_up;     // nvlink-node | nvl72 | ub-supernode | domain-<size>
  int64_t domain_size = 0;  // accelerators in a full domain
  int64_t server_size = 0;  // accelerators per server (rail: NICs of one server go to this many rails)
  int64_t first_accelerator = 0;
  int64_t count = 0;
  int32_t first_domain = 0;
  int32_t domains = 0;
  int32_t first_group = 0;  // ideal: every pool shares group 0
  int32_t groups = 0;
};

struct Domain {
  int32_t pool = 0;
  int64_t first_accelerator = 0;
  int64_t accelerators = 0;  // < the pool's domain_size only for a pool smaller than one domain
  int32_t group = 0;
  VertexId switch_vertex = 0;
};

struct LeafGroup {
  VertexId vertex = 0;
  int32_t first_domain = 0;  // domains [first_domain, first_domain + domains)
  int32_t domains = 0;
  int64_t accelerators = 0;
  int64_t switches = 0;          // physical first-tier switches: leaves, or rails x leaves per rail
  int64_t uplinks = 0;           // cables to the next tier (0: ideal)
  BytesPerSecond nic_bandwidth;  // all the NICs that land on it
  BytesPerSecond uplink_bandwidth;
  std::optional<EdgeId> uplink;  // its leaf_up edge (absent: ideal)
  int32_t pod = -1;              // 3 tiers
};

struct Pod {
  VertexId vertex = 0;
  int32_t first_group = 0;  // groups [first_group, first_group + groups)
  int32_t groups = 0;
  int64_t leaves = 0;             // first-tier switches below it
  int64_t switches = 0;           // aggregation switches
  int64_t uplinks = 0;            // cables to the spine
  BytesPerSecond down_bandwidth;  // its leaf groups' uplinks together
  BytesPerSecond uplink_bandwidth;
  EdgeId uplink;
};

// Where one accelerator sits.
struct Site {
  int32_t pool = 0;
  int32_t domain = 0;
  int32_t group = 0;
  EdgeId nic;
  EdgeId scale_up;
};

// A built topology. Accelerators are vertices 0..accelerators()-1, numbered pool after pool in the order of
// cluster.pools, domain after domain. Read-only once build() returns.
struct Topology {
  Graph graph;
  FabricKind kind = FabricKind::ideal;
  int tiers = 1;                         // switch tiers between NICs: 1 (ideal), 2 or 3
  int radix = 0;                         // ports per switch (clos, rail)
  std::vector<double> oversubscription;  // per tier boundary with uplinks, bottom up (tiers - 1 entries)
  BytesPerSecond link_bandwidth;         // one switch-to-switch cable
  Seconds hop_latency;                   // one switch-to-switch edge
  int64_t leaf_down = 0, leaf_up = 0;    // ports of a first-tier switch: to NICs, to the next tier
  int64_t pod_down = 0, pod_up = 0;      // ports of an aggregation switch (3 tiers)
  int64_t spine_switches = 0;            // physical top-tier switches
  std::vector<PoolLayout> pools;
  std::vector<Domain> domains;
  std::vector<LeafGroup> groups;
  std::vector<Pod> pods;
  std::vector<Site> sites;        // by accelerator id
  std::optional<VertexId> spine;  // absent: ideal (the one leaf group is the top plane)
  VertexId frontend = 0;
  EdgeId frontend_edge;

  int64_t accelerators() const { return static_cast<int64_t>(sites.size()); }
  VertexId accelerator_vertex(int64_t id) const { return static_cast<VertexId>(id); }
  const Edge& edge(EdgeId e) const { return graph[e]; }
  // The vertex the frontend hangs off: the spine, or the one leaf group of an ideal fabric.
  VertexId top() const { return spine ? *spine : groups.front().vertex; }
};

// Throws BuildError for a configuration that cannot be built (the message says what to change).
Topology build(const config::TopologyConfig& config, const std::vector<PoolSpec>& pools);

// The cluster's pools with their accelerators from the catalog (an unknown accelerator is the catalog's
// ConfigError), then build().
Topology build(const config::ClusterConfig& cluster, const catalog::Catalog& catalog);

// The scale-up domain kinds: nvlink-node (8), nvl72 (72), ub-supernode (384).
std::vector<std::string> scale_up_kinds();

}  // namespace tf::topology
