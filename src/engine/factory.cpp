#include "engine/factory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "core/error.hpp"
#include "core/json_reader.hpp"
#include "cost/cost_model.hpp"
#include "serving/scheduler.hpp"
#include "topology/placement.hpp"

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

constexpr double kPrefixBlockTokens = 512;  // Mooncake hash_ids cover 512-token blocks

// Trace formats whose requests carry prefix-block hashes.
bool has_prefix_hashes(const std::string& format) {
  return format == "mooncake";
}

// Converts the pool's prefix-cache tiers to blocks, carves a local HBM tier out of the KV cache, and checks
// that the traffic it will see carries prefix hashes.
void plan_prefix_cache(const config::Scenario& s, size_t i, PoolPlan& pp) {
  const auto& pc = pp.config->instance.prefix_cache;
  std::string where = pool_path(i, "/instance/prefix_cache");
  Bytes block = pp.kv_bytes_per_token * kPrefixBlockTokens;
  pp.cache_cluster_scope = pc.scope == "cluster";
  for (size_t t = 0; t < pc.tiers.size(); ++t) {
    const auto& tc = pc.tiers[t];
    serving::CacheTier tier;
    tier.name = tc.tier;
    tier.bandwidth = tc.bandwidth;
    if (tc.capacity) {
      tier.capacity_blocks = static_cast<int64_t>(tc.capacity->value() / block.value());
      if (tier.capacity_blocks < 1)
        throw ConfigError(s.file, fmt::format("{}/tiers/{}/capacity", where, t),
                          fmt::format("{:.3g} GB holds no 512-token block of {} KV ({:.3g} MB each): raise it",
                                      gb(*tc.capacity), pp.model->name, block.value() / 1e6));
    }
    if (tc.tier == "hbm" && !pp.cache_cluster_scope) {
      if (!tc.capacity)
        throw ConfigError(s.file, fmt::format("{}/tiers/{}/capacity", where, t),
                          "a per-instance hbm tier needs a size: it is carved out of the instance's KV cache");
      int64_t tokens = static_cast<int64_t>(tc.capacity->value() / pp.kv_bytes_per_token.value());
      if (tokens >= pp.kv_capacity_tokens)
        throw ConfigError(
            s.file, fmt::format("{}/tiers/{}/capacity", where, t),
            fmt::format("{:.3g} GB of hbm cache leaves no KV cache for running requests (the instance has {:.3g} GB "
                        "of KV cache): lower it",
                        gb(*tc.capacity), gb(pp.kv_bytes_per_token * static_cast<double>(pp.kv_capacity_tokens))));
      pp.kv_capacity_tokens -= tokens;
    }
    pp.cache_tiers.push_back(tier);
  }
  if (pc.on_missing_hashes == "ignore") return;
  // Every source that feeds a class of this model must carry prefix hashes.
  const std::string& model = pp.config->instance.model;
  auto uses_model = [&](const std::string& name, const std::map<std::string, double>& mix) {
    if (!name.empty() && s.workload.classes.at(name).model == model) return true;
    for (const auto& [c, f] : mix)
      if (f > 0 && s.workload.classes.at(c).model == model) return true;
    return false;
  };
  for (size_t t = 0; t < s.workload.traces.size(); ++t) {
    const auto& tr = s.workload.traces[t];
    if (uses_model(tr.class_name, tr.class_mix) && !has_prefix_hashes(tr.format))
      throw ConfigError(s.file, where,
                        fmt::format("a prefix cache needs prefix-block hashes, and trace {} (format \"{}\", "
                                    "/workload/traces/{}) has none: use a trace that has them (mooncake), or set "
                                    "\"on_missing_hashes\": \"ignore\" to run without reuse for those requests",
                                    tr.path, tr.format, t));
  }
  for (size_t g = 0; g < s.workload.synthetic.size(); ++g) {
    const auto& sy = s.workload.synthetic[g];
    if (uses_model(sy.class_name, sy.class_mix))
      throw ConfigError(s.file, where,
                        fmt::format("a prefix cache needs prefix-block hashes, and synthetic source "
                                    "/workload/synthetic/{} has none: set \"on_missing_hashes\": \"ignore\" to run "
                                    "without reuse for those requests",
                                    g));
  }
}

// A model served by prefill pools needs decode pools, and the reverse; cluster-scope caches of one model
// must agree on their tiers.
void check_roles(const config::Scenario& s, const FactoryPlan& plan) {
  for (size_t i = 0; i < plan.pools.size(); ++i) {
    const auto& p = plan.pools[i];
    uint32_t g = p.model_group;
    if (p.role == serving::Role::prefill && plan.decode_instances[g].empty())
      throw ConfigError(s.file, pool_path(i, "/instance/role"),
                        fmt::format("pool \"{}\" prefills {} but no pool has role \"decode\" for that model: add a "
                                    "decode pool, or make this pool \"colocated\"",
                                    p.config->name, p.config->instance.model));
    bool has_prefill = false;
    for (const auto& q : plan.pools)
      has_prefill = has_prefill || (q.model_group == g && q.role == serving::Role::prefill);
    if (p.role == serving::Role::decode && !has_prefill)
      throw ConfigError(s.file, pool_path(i, "/instance/role"),
                        fmt::format("pool \"{}\" decodes {} but no pool has role \"prefill\" for that model: add a "
                                    "prefill pool, or make this pool \"colocated\"",
                                    p.config->name, p.config->instance.model));
    if (p.role == serving::Role::decode && p.config->instance.prefix_cache.enabled)
      throw ConfigError(s.file, pool_path(i, "/instance/prefix_cache"),
                        "a decode instance computes no prompts: put the prefix cache on the prefill pool");
    if (!p.cache_cluster_scope) continue;
    for (size_t k = 0; k < i; ++k) {
      const auto& q = plan.pools[k];
      if (!q.cache_cluster_scope || q.model_group != g) continue;
      bool same = q.cache_tiers.size() == p.cache_tiers.size();
      for (size_t t = 0; same && t < p.cache_tiers.size(); ++t)
        same = q.cache_tiers[t].name == p.cache_tiers[t].name &&
               q.cache_tiers[t].capacity_blocks == p.cache_tiers[t].capacity_blocks &&
               q.cache_tiers[t].bandwidth == p.cache_tiers[t].bandwidth;
      if (!same)
        throw ConfigError(s.file, pool_path(i, "/instance/prefix_cache/tiers"),
                          fmt::format("pools \"{}\" and \"{}\" share one cluster-scope cache for {} but list different "
                                      "tiers: make them equal",
                                      q.config->name, p.config->name, p.config->instance.model));
    }
  }
}

// What an instance's collectives see of the fabric, in the perf model's terms: the NIC bandwidth the path's
// most oversubscribed tier leaves when every NIC sends at once.
perf::CollectiveSpan collective_span(const topology::InstanceSpan& s) {
  perf::CollectiveSpan c;
  c.ranks = static_cast<int>(s.accelerators);
  c.ranks_per_domain = static_cast<int>(s.max_per_domain);
  c.scale_up_bandwidth = s.scale_up_bandwidth;
  c.scale_up_latency = s.scale_up_latency;
  c.scale_out_bandwidth = s.nic_bandwidth * s.fabric_share;
  c.scale_out_latency = s.scale_out_latency;
  return c;
}

bool same_links(const perf::CollectiveSpan& a, const perf::CollectiveSpan& b) {
  return a.ranks == b.ranks && a.ranks_per_domain == b.ranks_per_domain &&
         a.scale_up_bandwidth.value() == b.scale_up_bandwidth.value() &&
         a.scale_up_latency.value() == b.scale_up_latency.value() &&
         a.scale_out_bandwidth.value() == b.scale_out_bandwidth.value() &&
         a.scale_out_latency.value() == b.scale_out_latency.value();
}

// Builds cluster.topology and places the instances on it. Every fabric is checked (a count that does not fill
// its domains, a radix too small, a forbidden split are errors naming the key); a clos or rail fabric is kept
// for the engine, and each instance's collectives are priced over the links its placement spans. An ideal
// fabric keeps today's rule (one domain up to its size, the catalog's scale-out figures beyond), so its runs
// do not change.
void plan_fabric(const config::Scenario& s, const catalog::Catalog& catalog, FactoryPlan& plan) {
  auto [t, placements] = place_topology(s, catalog, plan);
  if (t->kind == topology::FabricKind::ideal) return;

  plan.instance_accelerators.reserve(placements.size());
  size_t next = 0;
  for (auto& pool : plan.pools) {
    std::vector<perf::CollectiveSpan> spans;  // spans[0]: instance 0's
    std::vector<uint16_t> index;
    for (int64_t k = 0; k < pool.instances; ++k, ++next) {
      const auto& placed = placements[next];
      std::vector<int64_t> accelerators;
      for (auto v : placed.accelerators)
        accelerators.push_back(t->graph[v].index);
      plan.instance_accelerators.push_back(std::move(accelerators));
      auto span = collective_span(topology::span(*t, placed));
      size_t i = 0;
      while (i < spans.size() && !same_links(spans[i], span))
        ++i;
      if (i == spans.size()) spans.push_back(span);
      index.push_back(static_cast<uint16_t>(i));
    }
    pool.shape.span = spans[0];
    pool.perf = std::make_unique<perf::PerfModel>(pool.shape, catalog.root() / "models/profiles");
    for (size_t i = 1; i < spans.size(); ++i) {
      perf::InstanceShape shape = pool.shape;
      shape.span = spans[i];
      pool.span_perf.push_back(std::make_unique<perf::PerfModel>(shape, catalog.root() / "models/profiles"));
    }
    if (spans.size() > 1) pool.perf_index = std::move(index);
  }
  plan.fabric = std::move(t);
}

// Mixed fleets: where the instances a router chooses among differ in accelerator or shape, give the router
// each instance's speed (tokens per second at a reference batch: a 2,048-token prompt for prefill, 32
// sequences at 2,048 tokens of context for decode), so it weighs load by capacity. Uniform groups keep no
// speeds, and route exactly as before.
void plan_speeds(FactoryPlan& plan) {
  auto speed = [](const PoolPlan& p) {
    perf::Batch b;
    if (p.role == serving::Role::prefill) {
      b.prefills.push_back({2048, 0});
      return 2048.0 / p.perf->iteration_time(b).value();
    }
    b.decode_seqs = 32;
    b.decode_context_sum = 32 * 2048;
    return 32.0 / p.perf->iteration_time(b).value();
  };
  auto fill = [&](bool decode, std::vector<double>& out) {
    for (size_t g = 0; g < plan.model_groups.size(); ++g) {
      std::vector<const PoolPlan*> members;
      for (const auto& p : plan.pools)
        if (p.model_group == g && (p.role == serving::Role::decode) == decode) members.push_back(&p);
      bool mixed = false;
      for (const auto* p : members)
        mixed = mixed || speed(*p) != speed(*members.front());
      if (!mixed) continue;
      out.resize(plan.instances, 1.0);
      for (const auto* p : members)
        for (int64_t k = 0; k < p->instances; ++k)
          out[p->first_instance + static_cast<uint32_t>(k)] = speed(*p);
    }
  };
  fill(false, plan.router_params.speed);
  fill(true, plan.decode_router_params.speed);
}

// Demand per accelerator type against cluster.supply; too much demand is an error unless the scenario
// allows oversubscription. Also checks the accelerator keys of supply, failures and plan against the catalog.
void plan_supply(const config::Scenario& s, const catalog::Catalog& catalog, FactoryPlan& plan) {
  auto known = [&](const std::string& name, const std::string& where) {
    from_catalog(s, where, [&]() -> const catalog::Accelerator& { return catalog.accelerator(name); });
  };
  for (const auto& [name, su] : s.cluster.supply)
    known(name, fmt::format("/cluster/supply/{}", json_pointer_escape(name)));
  for (const auto& [name, r] : s.failures.accelerators)
    known(name, fmt::format("/failures/accelerators/{}", json_pointer_escape(name)));
  if (s.plan)
    for (size_t i = 0; i < s.plan->pools.size(); ++i)
      for (size_t c = 0; c < s.plan->pools[i].candidates.size(); ++c)
        known(s.plan->pools[i].candidates[c].accelerator, fmt::format("/plan/pools/{}/candidates/{}", i, c));

  std::map<std::string, int64_t> demand;
  for (const auto& p : s.cluster.pools)
    demand[p.accelerator] += p.count + p.spares;
  for (const auto& [name, su] : s.cluster.supply)
    demand.emplace(name, 0);
  for (const auto& [name, d] : demand) {
    SupplyLine line{name, d, std::nullopt, std::nullopt};
    if (auto it = s.cluster.supply.find(name); it != s.cluster.supply.end()) {
      line.available = it->second.available;
      line.lead_time = it->second.lead_time;
      if (it->second.unit_price) plan.prices.unit_price[name] = *it->second.unit_price;
      if (line.available && d > *line.available && !s.cluster.allow_oversubscribe) {
        std::string parts;
        for (const auto& p : s.cluster.pools)
          if (p.accelerator == name)
            parts += fmt::format("{}{} \"{}\": {}{}", parts.empty() ? "" : ", ", "pool", p.name, p.count,
                                 p.spares > 0 ? fmt::format(" + {} spares", p.spares) : std::string());
        throw ConfigError(s.file, fmt::format("/cluster/supply/{}/available", json_pointer_escape(name)),
                          fmt::format("the cluster needs {} {} ({}) but only {} can be bought: {} too many; shrink the "
                                      "pools, or set cluster.allow_oversubscribe to run it anyway",
                                      d, name, parts, *line.available, d - *line.available));
      }
    }
    plan.supply.push_back(line);
  }
}

}  // namespace

PlacedTopology place_topology(const config::Scenario& s, const catalog::Catalog& catalog, const FactoryPlan& plan) {
  auto errors = [&](auto&& f) {
    try {
      return f();
    } catch (const topology::BuildError& e) {
      std::string where = "/cluster/" + e.field();  // "topology.radix" -> "/cluster/topology/radix"
      std::replace(where.begin(), where.end(), '.', '/');
      throw ConfigError(s.file, where, e.message());
    }
  };
  PlacedTopology out;
  out.topology.reset(new topology::Topology(errors([&] { return topology::build(s.cluster, catalog); })));
  std::vector<topology::PoolInstances> counts;
  for (const auto& p : plan.pools)
    counts.push_back({p.accelerators_per_instance, p.instances});
  const auto& tc = s.cluster.topology;
  out.placements = errors([&] { return topology::place(*out.topology, counts, tc.placement, tc.allow_split); });
  return out;
}

FactoryPlan plan_factory(const config::Scenario& s, const catalog::Catalog& catalog) {
  FactoryPlan plan;
  plan.router = &serving::find_router(s.cluster.router.kind, s.file, "/cluster/router/kind");
  plan.decode_router = &serving::find_router(s.cluster.decode_router.kind, s.file, "/cluster/decode_router/kind");
  plan.router_params.queue_weight = s.cluster.router.queue_weight;
  plan.decode_router_params.queue_weight = s.cluster.decode_router.queue_weight;
  plan.admission_predicted_ttft = s.cluster.admission.kind == "predicted-ttft";

  // Model groups: one per scenario model that some pool serves, in the order of the models map.
  for (const auto& entry : s.models) {
    bool served = false;
    for (const auto& p : s.cluster.pools)
      served = served || p.instance.model == entry.first;
    if (served) plan.model_groups.push_back(entry.first);
  }
  plan.group_instances.resize(plan.model_groups.size());
  plan.decode_instances.resize(plan.model_groups.size());

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
    pp.scheduler.policy =
        ic.scheduler.kind == "chunked" ? serving::BatchPolicy::chunked : serving::BatchPolicy::continuous;
    pp.scheduler.max_batched_tokens = ic.scheduler.max_batched_tokens;
    pp.scheduler.max_num_seqs = ic.scheduler.max_num_seqs;
    pp.scheduler.chunk_size = ic.scheduler.chunk_size;
    pp.scheduler.kv_block_tokens = ic.scheduler.block_size;
    pp.scheduler.preemption =
        ic.scheduler.preemption.kind == "swap" ? serving::Preemption::swap : serving::Preemption::recompute;
    pp.role = ic.role == "prefill"  ? serving::Role::prefill
              : ic.role == "decode" ? serving::Role::decode
                                    : serving::Role::colocated;

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
    // Host time of the serving software per iteration (perf/serving_stack.hpp); "modern" by default.
    shape.stack = from_catalog(s, pool_path(i, "/instance/stack"), [&] {
      const bool is_path = ic.stack.find('/') != std::string::npos || ic.stack.ends_with(".json");
      return perf::find_serving_stack(catalog.root() / "models/stacks", is_path ? s.resolve(ic.stack) : ic.stack);
    });
    pp.accelerators_per_instance = shape.accelerators();
    if (pc.count % pp.accelerators_per_instance != 0)
      throw ConfigError(
          s.file, pool_path(i, "/count"),
          fmt::format("{} accelerators do not divide into instances of {} (tp {} x pp {}{}): use a "
                      "multiple of {}",
                      pc.count, pp.accelerators_per_instance, ic.tp, ic.pp,
                      ic.ep > 1 ? fmt::format(", ep {}", ic.ep) : std::string(), pp.accelerators_per_instance));
    // Measured kernel tables where models/profiles/<accelerator>/ has them, the fitted roofline elsewhere.
    pp.shape = shape;
    pp.perf = std::make_unique<perf::PerfModel>(shape, catalog.root() / "models/profiles");
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
    double per = static_cast<double>(pp.accelerators_per_instance);
    pp.scheduler.swap_bandwidth = ic.scheduler.preemption.bandwidth * per;
    pp.kv_bytes_per_token = pp.model->kv_bytes_per_token(*kv_dtype);
    pp.network = pp.accelerator->scale_out_bandwidth * per;
    pp.network_latency = pp.accelerator->scale_out_latency;
    pp.kv_capacity_tokens = pp.fit.kv_capacity_tokens;
    if (ic.prefix_cache.enabled) plan_prefix_cache(s, i, pp);
    pp.first_instance = next_instance;
    for (size_t g = 0; g < plan.model_groups.size(); ++g)
      if (plan.model_groups[g] == ic.model) pp.model_group = static_cast<uint32_t>(g);
    auto& members = pp.role == serving::Role::decode ? plan.decode_instances : plan.group_instances;
    for (int64_t k = 0; k < pp.instances; ++k)
      members[pp.model_group].push_back(next_instance++);
    plan.accelerators += pc.count;
    plan.pools.push_back(std::move(pp));
  }
  plan.instances = next_instance;
  check_roles(s, plan);
  plan_fabric(s, catalog, plan);
  plan_speeds(plan);
  for (size_t k = 0; k < s.failures.scripted.size(); ++k) {
    const auto& f = s.failures.scripted[k];
    for (const auto& p : plan.pools)
      if (p.config->name == f.pool && f.instance >= p.instances)
        throw ConfigError(s.file, f.where + "/instance",
                          fmt::format("pool \"{}\" has {} instances (0 to {}); instance {} does not exist", f.pool,
                                      p.instances, p.instances - 1, f.instance));
  }

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
  plan_supply(s, catalog, plan);
  return plan;
}

}  // namespace tf::engine
