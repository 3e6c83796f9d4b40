#pragma once
// Routers: which instance gets a request (and, in a disaggregated factory, which decode instance takes a
// prefilled one). Registered by name with a description (DESIGN.md §3); each router sees only the
// instances that serve the request's model. Routers that rank by load keep an index updated through
// load_changed() where they can, and otherwise scan the model's instances.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "serving/instance.hpp"

namespace tf::serving {

// What a router may look at: every instance by global id, and the clock.
class ClusterView {
 public:
  virtual ~ClusterView() = default;
  virtual const Instance& instance(uint32_t id) const = 0;
  virtual Seconds now() const = 0;
};

struct RouteRequest {
  int64_t input_tokens = 0;
  const std::vector<uint64_t>* prefix_blocks = nullptr;  // may be null
};

class Router {
 public:
  virtual ~Router() = default;
  // Picks an instance of `group` (the instances serving one model in one role; never empty).
  virtual uint32_t pick(uint32_t group, const RouteRequest& request) = 0;
  // Instance `id`'s load changed (a request arrived, finished or was handed off).
  virtual void load_changed(uint32_t id) = 0;
};

struct RouterParams {
  double queue_weight = 1.0;  // prefix-affinity: weight of queued prompt tokens against cached tokens
  // Relative speed of each instance by global id (its throughput at a reference batch, from the perf
  // model): load-ranking routers compare load / speed, so a mixed fleet fills its fast instances faster.
  // Empty: every instance equal.
  std::vector<double> speed;
};

struct RouterInfo {
  std::string name;
  std::string description;
  // groups[g] lists the instance ids of group g.
  std::function<std::unique_ptr<Router>(const std::vector<std::vector<uint32_t>>& groups, const ClusterView& view,
                                        const RouterParams& params)>
      make;
};

// All registered routers, in name order.
const std::vector<RouterInfo>& routers();
// The router named `name`; throws tf::ConfigError(file, where, ...) listing the valid names when unknown.
const RouterInfo& find_router(const std::string& name, const std::string& file, const std::string& where);

}  // namespace tf::serving
