#pragma once
// Loading a scenario the way `run` does (schema, overrides, catalog, factory plan) plus its `expect` block, for
// the commands that check scenarios before starting runs of them (sweep, check).

#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/scenario_load.hpp"
#include "engine/factory.hpp"

namespace tf::cli {

struct LoadedFactory {
  config::LoadedScenario scenario;
  std::unique_ptr<catalog::Catalog> catalog;  // the plan points into it
  engine::FactoryPlan plan;
};

// Throws tf::ConfigError (exit code 2) for anything `tokenfactory validate` rejects, and for an expectation on a
// path that is not a metric of results.json.
LoadedFactory load_factory(const std::string& file, const std::vector<std::string>& sets);

// The same checks against an already loaded catalog (many points of one sweep).
void validate_with(const std::string& file, const std::vector<std::string>& sets, const catalog::Catalog& catalog);

}  // namespace tf::cli
