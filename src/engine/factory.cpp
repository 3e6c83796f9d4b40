#include "engine/factory.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "cost/cost_model.hpp"
#include "serving/scheduler.hpp"

namespace tf::engine {

namespace {

std::string pool_path(size_t i, const std::string& rest) {
  return fmt::format("/cluster/pools/{}{}", i, rest);
}

// Re-raises a catalog error (which names the catalog file) against the scenario key that led to it.
template <class F>
auto from_catalog(const config::Scenario& s, const std::string& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ConfigError& e) {
    std::string msg = e.message();
    if (!e.file().empty() && e.file() != s.file)
      msg += fmt::format(" (in {}{}{})", e.file(), e.where().empty() ? "" : " at ", e.where());
    throw ConfigError(s.file, where, msg);
  }
}

double gb(Bytes b) {
  return b.value() / 1e9;
}

}  // namespace

FactoryPlan plan_factory(const config::Scenario& s, const catalog::Catalog& catalog) {
  FactoryPlan plan;
  plan.router = &serving::find_router(s.cluster.router.kind, s.file, "/cluster/router/kind");

  // Model groups: one per scenario model that some pool serves, in the order of the models map.
  for (const auto& entry : s.models) {
    bool served = false;
    for (const auto& p : s.cluster.pools)
      served = served || p.instance.model == entry.first;
    if (served) plan.model_groups.push_back(entry.first);
  }
  plan.group_instances.resize(plan.model_groups.size());

  uint32_t next_instance = 0;
  for (size_t i = 0; i < s.cluster.pools.size(); ++i) {
    const auto& pc = s.cluster.pools[i];
    const auto& ic = pc.instance;
    PoolPlan pp;
    pp.config = &pc;
    pp.accelerator = &from_catalog(s, pool_path(i, "/accelerator"), [&]() -> const catalog::Accelerator& {
      return catalog.accelerator(pc.accelerator);
    });
    pp.model = &from_catalog(s, fmt::format("/models/{}", ic.model), [&]() -> const catalog::LlmArchitecture& {
      const std::string& ref = s.models.at(ic.model);
      bool is_path = ref.find('/') != std::string::npos || ref.ends_with(".json");
      return catalog.llm(is_path ? s.resolve(ref) : ref);
    });
    serving::find_scheduler(ic.scheduler.kind, s.file, pool_path(i, "/instance/scheduler/kind"));
    pp.scheduler.max_batched_tokens = ic.scheduler.max_batched_tokens;
    pp.scheduler.max_num_seqs = ic.scheduler.max_num_seqs;

    auto dtype = catalog::parse_dtype(ic.dtype);
    auto kv_dtype = catalog::parse_dtype(ic.kv_dtype);
    TF_ASSERT(dtype && kv_dtype, "config accepted an unknown dtype");
    if (!pp.accelerator->supports(*dtype))
      throw ConfigError(
          s.file, pool_path(i, "/instance/dtype"),
          fmt::format("{} has no {} compute (it supports: {})", pp.accelerator->display_name, ic.dtype, [&] {
            std::string out;
            for (const auto& [d, f] : pp.accelerator->peak_compute)
              out += (out.empty() ? "" : ", ") + catalog::to_string(d);
            return out;
          }()));
    if (ic.ep > 1 && !pp.model->is_moe())
      throw ConfigError(s.file, pool_path(i, "/instance/ep"),
                        fmt::format("ep {} needs a mixture-of-experts model; {} is dense", ic.ep, pp.model->name));

    perf::InstanceShape shape;
    shape.accelerator = pp.accelerator;
    shape.model = pp.model;
    shape.tp = ic.tp;
    shape.pp = ic.pp;
    shape.ep = ic.ep;
    shape.weight_dtype = *dtype;
    shape.kv_dtype = *kv_dtype;
    shape.memory_fraction = ic.memory_fraction;
    pp.accelerators_per_instance = shape.accelerators();
    if (pc.count % pp.accelerators_per_instance != 0)
      throw ConfigError(
          s.file, pool_path(i, "/count"),
          fmt::format("{} accelerators do not divide into instances of {} (tp {} x pp {}{}): use a "
                      "multiple of {}",
                      pc.count, pp.accelerators_per_instance, ic.tp, ic.pp,
                      ic.ep > 1 ? fmt::format(", ep {}", ic.ep) : std::string(), pp.accelerators_per_instance));
    pp.perf = std::make_unique<perf::PerfModel>(shape);
    pp.fit = pp.perf->memory_fit();
    if (!pp.fit.fits())
      throw ConfigError(
          s.file, pool_path(i, "/instance"),
          fmt::format("{} in {} needs {:.1f} GB of weights per accelerator at tp {}, pp {}, ep {}, leaving no room for "
                      "KV cache in the {:.1f} GB usable on a {} (memory_fraction {}): raise tp, pp or ep, or use a "
                      "smaller dtype",
                      pp.model->name, ic.dtype, gb(pp.fit.weights_per_accelerator), ic.tp, ic.pp, ic.ep,
                      gb(pp.fit.usable_per_accelerator), pp.accelerator->display_name, ic.memory_fraction));
    pp.instances = pc.count / pp.accelerators_per_instance;
    pp.first_instance = next_instance;
    for (size_t g = 0; g < plan.model_groups.size(); ++g)
      if (plan.model_groups[g] == ic.model) pp.model_group = static_cast<uint32_t>(g);
    for (int64_t k = 0; k < pp.instances; ++k)
      plan.group_instances[pp.model_group].push_back(next_instance++);
    plan.accelerators += pc.count;
    plan.pools.push_back(std::move(pp));
  }
  plan.instances = next_instance;

  for (const auto& name : s.class_names()) {
    const auto& c = s.workload.classes.at(name);
    plan.classes.push_back(c);
    uint32_t group = 0;
    for (size_t g = 0; g < plan.model_groups.size(); ++g)
      if (plan.model_groups[g] == c.model) group = static_cast<uint32_t>(g);
    plan.class_group.push_back(group);
  }

  plan.prices = from_catalog(s, "/cost/price_book", [&] { return catalog.price_book(s.resolve(s.cost.price_book)); });
  cost::PriceOverrides o;
  if (s.cost.pricing) o.pricing = *s.cost.pricing == "rental" ? catalog::Pricing::rental : catalog::Pricing::capex;
  o.electricity = s.cost.electricity;
  o.pue = s.cost.pue;
  o.amortization = s.cost.amortization;
  plan.prices = cost::apply_overrides(plan.prices, o);
  return plan;
}

}  // namespace tf::engine
