#include "cli/factory_loader.hpp"

#include "report/expect.hpp"

#ifndef TF_SOURCE_ROOT
#define TF_SOURCE_ROOT "."
#endif

namespace tf::cli {

LoadedFactory load_factory(const std::string& file, const std::vector<std::string>& sets) {
  LoadedFactory l;
  auto root = config::find_data_root(file, TF_SOURCE_ROOT);
  l.scenario = config::load_scenario(file, sets, root);
  l.catalog = std::make_unique<catalog::Catalog>(root);
  l.plan = engine::plan_factory(l.scenario.scenario, *l.catalog);
  report::check_expectations(l.scenario.scenario, l.plan);
  return l;
}

void validate_with(const std::string& file, const std::vector<std::string>& sets, const catalog::Catalog& catalog) {
  auto root = config::find_data_root(file, TF_SOURCE_ROOT);
  auto loaded = config::load_scenario(file, sets, root);
  auto plan = engine::plan_factory(loaded.scenario, catalog);
  report::check_expectations(loaded.scenario, plan);
}

}  // namespace tf::cli
