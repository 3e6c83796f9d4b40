#pragma once
// The factory a scenario describes, resolved against the catalog and checked: each pool's accelerator,
// model, perf model, role and prefix cache, how many instances it holds, which model group (the pools
// serving one model) it belongs to, and the prices. Building it runs every check that needs the catalog, so
// `tokenfactory validate` and `run` reject the same scenarios with the same messages. No SimGrid here.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/scenario.hpp"
#include "perf/perf_model.hpp"
#include "serving/instance.hpp"
#include "serving/prefix_cache.hpp"
#include "serving/router.hpp"
#include "topology/placement.hpp"
#include "topology/topology.hpp"

namespace tf::engine {

struct PoolPlan {
  const config::PoolConfig* config = nullptr;
  const catalog::Accelerator* accelerator = nullptr;
  const catalog::LlmArchitecture* model = nullptr;
  perf::InstanceShape shape;              // what `perf` was built from
  std::unique_ptr<perf::PerfModel> perf;  // instance 0's (and every instance's, unless span_perf says otherwise)
  // On a clos or rail fabric, instances whose collectives cross other links than instance 0's (they straddle
  // scale-up domains or leaf groups differently): their perf models, and per instance an index into them, 0
  // meaning `perf`. Both empty when every instance is alike.
  std::vector<std::unique_ptr<perf::PerfModel>> span_perf;
  std::vector<uint16_t> perf_index;
  perf::MemoryFit fit;
  serving::Role role = serving::Role::colocated;
  serving::SchedulerParams scheduler;
  int64_t kv_capacity_tokens = 0;  // per instance, for running sequences (after any HBM prefix-cache tier)
  Bytes kv_bytes_per_token;        // the whole model's KV for one token, in the instance's KV dtype
  BytesPerSecond network;          // the instance's scale-out bandwidth (its accelerators' NICs together)
  Seconds network_latency;         // one hop through the scale-out fabric
  // Prefix cache: tiers fastest first (empty: none); capacities in 512-token blocks.
  std::vector<serving::CacheTier> cache_tiers;
  bool cache_cluster_scope = false;  // one cache shared by every instance of the model with this scope
  int64_t accelerators_per_instance = 1;
  int64_t instances = 0;
  uint32_t first_instance = 0;  // global id of the pool's first instance
  uint32_t model_group = 0;

  // The perf model of the pool's instance k.
  const perf::PerfModel& perf_of(int64_t k) const {
    uint16_t i = perf_index.empty() ? 0 : perf_index[static_cast<size_t>(k)];
    return i == 0 ? *perf : *span_perf[i - 1];
  }
};

// One accelerator type's demand against its supply (cluster.supply), for results.json.
struct SupplyLine {
  std::string accelerator;
  int64_t demand = 0;                // accelerators in pools plus spares
  std::optional<int64_t> available;  // absent: no cap given
  std::optional<Seconds> lead_time;
};

struct FactoryPlan {
  std::vector<PoolPlan> pools;
  std::vector<std::string> model_groups;                // group index -> scenario model key
  std::vector<config::ClassConfig> classes;             // by class id (Scenario::class_names order)
  std::vector<uint32_t> class_group;                    // class id -> model group
  std::vector<std::vector<uint32_t>> group_instances;   // model group -> instances taking requests (colocated, prefill)
  std::vector<std::vector<uint32_t>> decode_instances;  // model group -> decode instances (disaggregated)
  const serving::RouterInfo* router = nullptr;
  const serving::RouterInfo* decode_router = nullptr;
  serving::RouterParams router_params;
  serving::RouterParams decode_router_params;
  bool admission_predicted_ttft = false;
  catalog::PriceBook prices;
  uint32_t instances = 0;
  int64_t accelerators = 0;
  std::vector<SupplyLine> supply;  // one line per accelerator type used or listed in cluster.supply
  // The scale-out fabric of a clos or rail topology (docs/topologies.md), lowered by the engine so that KV
  // hand-offs and request messages are flows over it; and per instance id the accelerators it sits on. Null
  // and empty for an ideal fabric: the engine then gives each instance a NIC link to one non-blocking switch.
  std::shared_ptr<const topology::Topology> fabric;
  std::vector<std::vector<int64_t>> instance_accelerators;
};

// Throws tf::ConfigError naming the scenario file and JSON path for every problem it finds: unknown
// accelerator, model, router or scheduler; a dtype the accelerator lacks; a count that does not divide
// into instances; weights that do not fit; a prefill pool without a decode pool (or the reverse); a prefix
// cache on traffic without prefix hashes; a cache tier that leaves no room for KV; a topology that cannot be
// built or a placement it forbids (the error names the cluster.topology or pool key to change).
FactoryPlan plan_factory(const config::Scenario& scenario, const catalog::Catalog& catalog);

// cluster.topology built, and the plan's instances placed on it (in instance-id order). A fabric that cannot be
// built, or a placement the scenario forbids, is a tf::ConfigError naming the cluster key to change.
struct PlacedTopology {
  // On the heap and never copied: a Topology's Site edges point into its graph's storage, and Boost's
  // adjacency_list copies where a move is asked for.
  std::unique_ptr<topology::Topology> topology;
  std::vector<topology::InstancePlacement> placements;
};
PlacedTopology place_topology(const config::Scenario& scenario, const catalog::Catalog& catalog,
                              const FactoryPlan& plan);

}  // namespace tf::engine
