#pragma once
// Routers: which instance gets a request. Registered by name (DESIGN.md §3); each router sees only the
// instances that serve the request's model. Routers are told when an instance's load changes so that
// they can keep an index instead of scanning every instance per request.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tf::serving {

class Router {
 public:
  virtual ~Router() = default;
  // Picks an instance of `model_group` (the instances serving one model; never empty) for a request.
  virtual uint32_t pick(uint32_t model_group) = 0;
  // Instance i's outstanding count changed to `outstanding`.
  virtual void load_changed(uint32_t instance, int64_t outstanding) = 0;
};

struct RouterInfo {
  std::string name;
  std::string description;
  // groups[g] lists the instance ids serving model group g.
  std::function<std::unique_ptr<Router>(const std::vector<std::vector<uint32_t>>& groups, uint32_t instances)> make;
};

// All registered routers, in name order.
const std::vector<RouterInfo>& routers();
// The router named `name`; throws tf::ConfigError(file, where, ...) listing the valid names when unknown.
const RouterInfo& find_router(const std::string& name, const std::string& file, const std::string& where);

}  // namespace tf::serving
