#pragma once
// The factory a scenario describes, resolved against the catalog and checked: each pool's accelerator,
// model and perf model, how many instances it holds, which model group (the pools serving one model)
// it belongs to, and the prices. Building it runs every check that needs the catalog, so `tokenfactory
// validate` and `run` reject the same scenarios with the same messages. No SimGrid here.

#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/scenario.hpp"
#include "perf/perf_model.hpp"
#include "serving/instance.hpp"
#include "serving/router.hpp"

namespace tf::engine {

struct PoolPlan {
  const config::PoolConfig* config = nullptr;
  const catalog::Accelerator* accelerator = nullptr;
  const catalog::LlmArchitecture* model = nullptr;
  std::unique_ptr<perf::PerfModel> perf;
  perf::MemoryFit fit;
  serving::SchedulerParams scheduler;
  int64_t accelerators_per_instance = 1;
  int64_t instances = 0;
  uint32_t first_instance = 0;  // global id of the pool's first instance
  uint32_t model_group = 0;
};

struct FactoryPlan {
  std::vector<PoolPlan> pools;
  std::vector<std::string> model_groups;               // group index -> scenario model key
  std::vector<config::ClassConfig> classes;            // by class id (Scenario::class_names order)
  std::vector<uint32_t> class_group;                   // class id -> model group
  std::vector<std::vector<uint32_t>> group_instances;  // model group -> global instance ids
  const serving::RouterInfo* router = nullptr;
  catalog::PriceBook prices;
  uint32_t instances = 0;
  int64_t accelerators = 0;
};

// Throws tf::ConfigError naming the scenario file and JSON path for every problem it finds: unknown
// accelerator, model, router or scheduler; a dtype the accelerator lacks; a count that does not divide
// into instances; weights that do not fit.
FactoryPlan plan_factory(const config::Scenario& scenario, const catalog::Catalog& catalog);

}  // namespace tf::engine
