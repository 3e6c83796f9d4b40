#pragma once
// Which accelerators each instance gets (cluster.topology.placement), and what an instance's collectives see
// of the network: the scale-up and scale-out figures perf/ turns into collective costs (docs/topologies.md).

#include <cstdint>
#include <string>
#include <vector>

#include "topology/topology.hpp"

namespace tf::topology {

// One pool's instances, in the order of Topology::pools.
struct PoolInstances {
  int64_t accelerators_per_instance = 1;
  int64_t instances = 0;  // accelerators_per_instance * instances <= the pool's count
};

struct InstancePlacement {
  int32_t pool = 0;
  int64_t index = 0;                   // within its pool
  std::vector<VertexId> accelerators;  // in id order
  std::vector<int32_t> domains;        // the scale-up domains it spans, in id order
  int32_t group = 0;                   // leaf group of its first accelerator
};

// Instances pool after pool, each pool's in index order.
//   contiguous: instance k of a pool takes the pool's accelerators [k n, (k + 1) n), filling domain after domain
//   spread:     the same slots of n accelerators, dealt round-robin over the pool's leaf groups (instance 0 in the
//               first group, instance 1 in the second, ...): more traffic crosses leaves; for what-ifs
// An instance that straddles scale-up domains (it spans more than one but not whole ones) is a BuildError on
// topology.allow_split when allow_split is false. An unknown policy is a BuildError on topology.placement.
std::vector<InstancePlacement> place(const Topology& t, const std::vector<PoolInstances>& pools,
                                     const std::string& policy, bool allow_split);

// What one instance's collectives see.
struct InstanceSpan {
  int64_t accelerators = 0;
  int64_t domains = 0;                // scale-up domains spanned
  int64_t max_per_domain = 0;         // most of its accelerators in one domain
  BytesPerSecond scale_up_bandwidth;  // per accelerator, per direction
  Seconds scale_up_latency;           // accelerator to accelerator through the domain's switch plane
  BytesPerSecond nic_bandwidth;       // per accelerator, per direction
  // Between its two farthest domains (0 when it sits in one domain): one-way latency NIC to NIC, and graph edges
  // on the path (2: through one leaf group; 4: across the spine; 6: across pods).
  Seconds scale_out_latency;
  int scale_out_hops = 0;
  // Share of NIC bandwidth the fabric can carry on that path when every NIC sends at once: 1 / the highest
  // oversubscription it crosses (1 when it stays in one leaf group or crosses no oversubscribed tier).
  double fabric_share = 1.0;
};

InstanceSpan span(const Topology& t, const InstancePlacement& instance);

}  // namespace tf::topology
