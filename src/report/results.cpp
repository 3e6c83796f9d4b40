#include "report/results.hpp"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <cmath>
#include <iterator>
#include <optional>
#include <set>

#include "core/error.hpp"

namespace tf::report {

namespace {

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

double per_mtok(double usd, double tokens) {
  return tokens > 0 ? usd / tokens * 1e6 : NAN;
}

nlohmann::json dist_json(const metrics::Distribution& d) {
  if (d.count == 0)
    return {{"count", 0}, {"mean", nullptr}, {"p50", nullptr}, {"p90", nullptr}, {"p99", nullptr}, {"max", nullptr}};
  return {{"count", d.count}, {"mean", d.mean}, {"p50", d.p50}, {"p90", d.p90}, {"p99", d.p99}, {"max", d.max}};
}

nlohmann::json optional_json(const std::optional<double>& v) {
  return v ? number_or_null(*v) : nlohmann::json(nullptr);
}

// Per part: mean and p99 in seconds, shares of the class's budgets; then the parts that break them.
nlohmann::json latency_budget_json(const metrics::LatencyBudget& b) {
  nlohmann::json j = nlohmann::json::object();
  for (auto part : metrics::kBudgetParts) {
    const auto& p = b[part];
    j[std::string(metrics::budget_part_name(part))] = {
        {"mean_s", p.count ? nlohmann::json(p.mean) : nlohmann::json(nullptr)},
        {"p99_s", p.count ? nlohmann::json(p.p99) : nlohmann::json(nullptr)},
        {"ttft_share", optional_json(p.ttft_share)},
        {"tpot_share", optional_json(p.tpot_share)}};
  }
  auto breaker = [](const std::optional<metrics::BudgetPart>& p) {
    return p ? nlohmann::json(std::string(metrics::budget_part_name(*p))) : nlohmann::json(nullptr);
  };
  j["ttft_breaker"] = breaker(b.ttft_breaker);
  j["tpot_breaker"] = breaker(b.tpot_breaker);
  return j;
}

void add_usage(serving::InstanceUsage& sum, const serving::InstanceUsage& u) {
  sum.busy += u.busy;
  sum.prefill_busy += u.prefill_busy;
  sum.iterations += u.iterations;
  sum.prefill_tokens += u.prefill_tokens;
  sum.decode_tokens += u.decode_tokens;
  sum.preemptions += u.preemptions;
  sum.swapped += u.swapped;
  sum.cached_tokens += u.cached_tokens;
  sum.prefix_lookup_blocks += u.prefix_lookup_blocks;
  if (sum.prefix_hit_blocks.size() < u.prefix_hit_blocks.size())
    sum.prefix_hit_blocks.resize(u.prefix_hit_blocks.size());
  for (size_t t = 0; t < u.prefix_hit_blocks.size(); ++t)
    sum.prefix_hit_blocks[t] += u.prefix_hit_blocks[t];
}

double ratio(int64_t a, int64_t b) {
  return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
}

// Prefix-cache and serving figures of a set of instances. The prefill time saved is an estimate: the cached
// tokens at the pool's measured average prefill time per computed token.
nlohmann::json serving_json(const serving::InstanceUsage& u, const std::vector<serving::CacheTier>& tiers) {
  nlohmann::json j{{"iterations", u.iterations},
                   {"prefill_tokens_computed", u.prefill_tokens},
                   {"preemptions", u.preemptions},
                   {"swapped_gb", u.swapped.value() / 1e9},
                   {"prefill_busy_s", u.prefill_busy.value()}};
  if (!tiers.empty()) {
    int64_t hits = 0;
    nlohmann::json per_tier = nlohmann::json::object();
    for (size_t t = 0; t < tiers.size() && t < u.prefix_hit_blocks.size(); ++t) {
      hits += u.prefix_hit_blocks[t];
      per_tier[tiers[t].name] = ratio(u.prefix_hit_blocks[t], u.prefix_lookup_blocks);
    }
    double per_token = u.prefill_tokens ? u.prefill_busy.value() / static_cast<double>(u.prefill_tokens) : 0.0;
    j["prefix_cache"] = {{"lookup_blocks", u.prefix_lookup_blocks},
                         {"hit_blocks", hits},
                         {"hit_rate", ratio(hits, u.prefix_lookup_blocks)},
                         {"hit_rate_by_tier", per_tier},
                         {"cached_tokens", u.cached_tokens},
                         {"prefill_time_saved_s_estimate", per_token * static_cast<double>(u.cached_tokens)}};
  }
  return j;
}

// Flows of one kind: how many, how much, and how long they took.
nlohmann::json transfers_json(const engine::TransferStats& t) {
  return {{"count", t.count},
          {"gb", t.bytes.value() / 1e9},
          {"mean_s", t.count ? t.time.value() / static_cast<double>(t.count) : 0.0},
          {"max_s", t.max.value()}};
}

nlohmann::json cost_json(const cost::CostBreakdown& c) {
  return {{"hardware_usd", c.hardware.value()},
          {"energy_usd", c.energy.value()},
          {"network_usd", c.network.value()},
          {"opex_usd", c.opex.value()},
          {"total_usd", c.total().value()}};
}

}  // namespace

const engine::PoolPlan& pool_plan(const RunResults& r, const std::string& name) {
  for (const auto& p : r.plan->pools)
    if (p.config->name == name) return p;
  TF_ASSERT(false, "no pool named " + name);
  return r.plan->pools.front();
}

RunResults assemble(const config::Scenario& s, const engine::FactoryPlan& plan, const engine::RunOutput& run) {
  RunResults r;
  r.scenario = &s;
  r.plan = &plan;
  r.run = &run;
  r.summary = metrics::summarize(run.log, plan.classes, s.workload.client_latency);
  Seconds interval = run.simulated;
  std::vector<double> group_cost(plan.model_groups.size(), 0.0);
  for (const auto& pool : plan.pools) {
    PoolResult pr;
    pr.name = pool.config->name;
    pr.accelerator = pool.accelerator->name;
    pr.model = pool.config->instance.model;
    pr.accelerators = pool.config->count;
    pr.instances = pool.instances;
    pr.kv_capacity_tokens = pool.fit.kv_capacity_tokens;
    cost::PoolActivity act;
    act.accelerator = pool.accelerator;
    act.accelerators = pool.config->count;
    act.accelerators_per_instance = pool.accelerators_per_instance;
    act.instances = pool.instances;
    pr.role = pool.role == serving::Role::prefill  ? "prefill"
              : pool.role == serving::Role::decode ? "decode"
                                                   : "colocated";
    pr.usage.prefix_hit_blocks.assign(pool.cache_tiers.size(), 0);
    for (int64_t k = 0; k < pool.instances; ++k) {
      const auto& u = run.instances[pool.first_instance + static_cast<size_t>(k)];
      act.busy += u.busy;
      act.prefill_busy += u.prefill_busy;
      add_usage(pr.usage, u);
    }
    double capacity = interval.value() * static_cast<double>(pool.instances);
    pr.utilization = capacity > 0 ? act.busy.value() / capacity : 0.0;
    pr.spares = pool.config->spares;
    if (pr.spares > 0) {
      // Spares are bought and kept powered (idle): the pool's cost with them, less its cost without.
      double without = cost::pool_cost(act, interval, plan.prices).total().value();
      act.accelerators += pr.spares;
      pr.cost = cost::pool_cost(act, interval, plan.prices);
      pr.spares_cost_usd = pr.cost.total().value() - without;
    } else {
      pr.cost = cost::pool_cost(act, interval, plan.prices);
    }
    if (size_t p = r.pools.size(); p < run.failures.size()) {
      const auto& f = run.failures[p];
      pr.failures = f.failures;
      pr.spare_swaps = f.spare_swaps;
      pr.availability = capacity > 0 ? 1.0 - f.down_seconds / capacity : 1.0;
    }
    r.cost.hardware += pr.cost.hardware;
    r.cost.energy += pr.cost.energy;
    r.cost.network += pr.cost.network;
    r.cost.opex += pr.cost.opex;
    r.cost.energy_used += pr.cost.energy_used;
    group_cost[pool.model_group] += pr.cost.total().value();
    r.pools.push_back(pr);
  }
  // What each pool served: requests are attributed to the pool of the instance that ran them.
  std::vector<size_t> pool_of(plan.instances);
  for (size_t p = 0; p < plan.pools.size(); ++p)
    for (int64_t k = 0; k < plan.pools[p].instances; ++k)
      pool_of[plan.pools[p].first_instance + static_cast<size_t>(k)] = p;
  const auto& log = run.log;
  for (size_t i = 0; i < log.size(); ++i) {
    if (log.instance(i) == metrics::RequestLog::kNoInstance) continue;
    // A request counts for every pool that served it (prefill and decode pools of a disaggregated model);
    // its tokens count for the pool that produced them.
    size_t entry = pool_of[log.entry_instance(i)];
    size_t last = pool_of[log.instance(i)];
    ++r.pools[entry].requests;
    if (last != entry) ++r.pools[last].requests;
    auto& pr = r.pools[last];
    const auto& cls = plan.classes[log.class_id(i)];
    auto o = metrics::outcome(log, i, cls, s.workload.client_latency);
    if (log.retries(i) > 0 && !o.useful) r.useful_tokens_lost_to_failures += log.output_tokens(i);
    if (!o.finished) continue;
    pr.output_tokens += log.output_tokens(i);
    if (o.useful) {
      pr.useful_tokens += log.output_tokens(i);
      pr.weighted_useful_tokens += cls.value * static_cast<double>(log.output_tokens(i));
    }
  }
  // Split each model's cost over its classes by processed tokens.
  std::vector<double> group_tokens(plan.model_groups.size(), 0.0);
  for (size_t c = 0; c < plan.classes.size(); ++c) {
    const auto& cs = r.summary.classes[c];
    group_tokens[plan.class_group[c]] += static_cast<double>(cs.input_tokens + cs.output_tokens);
  }
  r.class_cost_usd.resize(plan.classes.size(), 0.0);
  for (size_t c = 0; c < plan.classes.size(); ++c) {
    const auto& cs = r.summary.classes[c];
    uint32_t g = plan.class_group[c];
    double tokens = static_cast<double>(cs.input_tokens + cs.output_tokens);
    r.class_cost_usd[c] = group_tokens[g] > 0 ? group_cost[g] * tokens / group_tokens[g] : 0.0;
  }
  return r;
}

nlohmann::json results_json(const RunResults& r) {
  using nlohmann::json;
  const auto& s = *r.scenario;
  const auto& sum = r.summary;
  double interval = r.run->simulated.value();
  double total = r.cost.total().value();
  json j;
  j["schema_version"] = kSchemaVersion;
  j["scenario"] = s.name;
  j["seed"] = s.seed;
  j["simulated_seconds"] = interval;
  j["summary"] = {
      {"requests", sum.requests},
      {"completed", sum.completed},
      {"rejected", sum.rejected},
      {"input_tokens", sum.input_tokens},
      {"output_tokens", sum.output_tokens},
      {"useful_tokens", sum.useful_tokens},
      {"weighted_useful_tokens", sum.weighted_useful_tokens},
      {"cost_usd", total},
      {"cost_per_mtok_usd", number_or_null(per_mtok(total, static_cast<double>(sum.output_tokens)))},
      {"cost_per_useful_mtok_usd", number_or_null(per_mtok(total, sum.weighted_useful_tokens))},
      {"slo_attainment", sum.slo_attainment},
      {"energy_kwh", kwh(r.cost.energy_used)},
      {"output_tokens_per_s", interval > 0 ? static_cast<double>(sum.output_tokens) / interval : 0.0},
      {"ttft_s", dist_json(sum.ttft)},
      {"tpot_s", dist_json(sum.tpot)},
      {"e2e_s", dist_json(sum.e2e)},
      {"tbt_s", dist_json(sum.tbt)},
      {"accelerators", r.plan->accelerators},
      {"instances", r.plan->instances},
  };
  j["cost"] = cost_json(r.cost);
  j["cost"]["pricing"] = r.plan->prices.pricing == catalog::Pricing::rental ? "rental" : "capex";
  json classes = json::object();
  for (size_t c = 0; c < sum.classes.size(); ++c) {
    const auto& cs = sum.classes[c];
    const auto& cfg = r.plan->classes[c];
    classes[cs.name] = {
        {"requests", cs.requests},
        {"completed", cs.completed},
        {"rejected", cs.rejected},
        {"slo_attainment", cs.slo_attainment},
        {"attainment_target", cs.attainment_target},
        {"meets_target", cs.slo_attainment >= cs.attainment_target},
        {"ttft_s", dist_json(cs.ttft)},
        {"tpot_s", dist_json(cs.tpot)},
        {"e2e_s", dist_json(cs.e2e)},
        {"tbt_s", dist_json(cs.tbt)},
        {"latency_budget", latency_budget_json(cs.latency_budget)},
        {"output_tokens", cs.output_tokens},
        {"useful_tokens", cs.useful_tokens},
        {"weighted_useful_tokens", cs.weighted_useful_tokens},
        {"value", cfg.value},
        {"model", cfg.model},
        {"cost_usd", r.class_cost_usd[c]},
        {"cost_per_useful_mtok_usd", number_or_null(per_mtok(r.class_cost_usd[c], cs.weighted_useful_tokens))},
    };
  }
  j["classes"] = classes;
  json pools = json::object();
  for (const auto& p : r.pools) {
    pools[p.name] = {
        {"accelerator", p.accelerator},
        {"model", p.model},
        {"accelerators", p.accelerators},
        {"instances", p.instances},
        {"utilization", p.utilization},
        {"kv_capacity_tokens_per_instance", p.kv_capacity_tokens},
        {"requests", p.requests},
        {"output_tokens", p.output_tokens},
        {"useful_tokens", p.useful_tokens},
        {"weighted_useful_tokens", p.weighted_useful_tokens},
        {"cost_per_useful_mtok_usd", number_or_null(per_mtok(p.cost.total().value(), p.weighted_useful_tokens))},
        {"energy_kwh", kwh(p.cost.energy_used)},
        {"cost_usd", p.cost.total().value()},
        {"cost", cost_json(p.cost)},
        {"role", p.role},
        {"serving", serving_json(p.usage, pool_plan(r, p.name).cache_tiers)},
        {"spares", p.spares},
        {"spares_cost_usd", p.spares_cost_usd},
        {"availability", p.availability},
        {"failures", p.failures},
        {"spare_swaps", p.spare_swaps}};
  }
  j["pools"] = pools;
  j["summary"]["requests_retried"] = r.run->requests_retried;
  j["summary"]["useful_tokens_lost_to_failures"] = r.useful_tokens_lost_to_failures;
  if (!r.run->failures.empty()) {
    json rates = json::array();
    std::set<std::string> types;
    for (const auto& pool : r.plan->pools)
      types.insert(pool.config->accelerator);
    for (const auto& t : types) {
      auto rate = engine::accelerator_failure_rate(s.failures, t);
      rates.push_back({{"part", t},
                       {"per_year", rate.per_second * 365 * 24 * 3600},
                       {"repair_s", rate.repair_s},
                       {"source", rate.source}});
    }
    for (const std::string kind : {"nic", "scale_up"}) {
      auto rate = engine::link_failure_rate(s.failures, kind);
      rates.push_back({{"part", kind},
                       {"per_year", rate.per_second * 365 * 24 * 3600},
                       {"repair_s", rate.repair_s},
                       {"source", rate.source}});
    }
    j["failures"] = {{"enabled", s.failures.enabled},
                     {"blast_radius", s.failures.blast_radius},
                     {"scripted", s.failures.scripted.size()},
                     {"rates", rates}};
  }
  json supply = json::array();
  for (const auto& line : r.plan->supply) {
    json o{{"accelerator", line.accelerator}, {"demand", line.demand}};
    o["available"] = line.available ? json(*line.available) : json(nullptr);
    if (line.lead_time) o["lead_time_s"] = line.lead_time->value();
    o["oversubscribed"] = line.available && line.demand > *line.available;
    supply.push_back(o);
  }
  j["supply"] = supply;
  // How each pool's perf model timed each operator: measured, roofline, measured+extrapolated.
  json perf = json::object();
  for (const auto& pool : r.plan->pools) {
    json ops = json::object();
    for (const auto& [op, mode] : pool.perf->modes())
      ops[op] = mode;
    perf[pool.config->name] = ops;
  }
  j["perf"] = perf;
  j["serving"] = {{"rejected_admission", r.run->rejected_admission},
                  {"rejected_too_large", r.run->rejected_too_large},
                  {"kv_transfers", transfers_json(r.run->kv_transfers)}};
  if (r.plan->fabric) {
    // A clos or rail fabric: what was lowered, and what travelled over it besides the KV hand-offs.
    const auto& t = *r.plan->fabric;
    j["fabric"] = {{"kind", topology::to_string(t.kind)},
                   {"tiers", t.tiers},
                   {"radix", t.radix},
                   {"oversubscription", t.oversubscription},
                   {"leaf_groups", t.groups.size()},
                   {"pods", t.pods.size()},
                   {"request_messages", transfers_json(r.run->request_messages)},
                   {"prefix_fetches", transfers_json(r.run->prefix_fetches)},
                   {"responses", transfers_json(r.run->responses)}};
  }
  j["engine"] = {{"events", r.run->events}, {"leap", s.engine.leap}};
  return j;
}

void write_requests_csv(std::ostream& out, const RunResults& r) {
  const auto& log = r.run->log;
  const auto& plan = *r.plan;
  // Instance names, "pool-k", by global id.
  std::vector<std::string> names(plan.instances);
  for (const auto& pool : plan.pools)
    for (int64_t k = 0; k < pool.instances; ++k)
      names[pool.first_instance + static_cast<size_t>(k)] = fmt::format("{}-{}", pool.config->name, k);
  out << "id,class,arrival_s,input_tokens,output_tokens,instance,status,ttft_s,tpot_s,e2e_s,max_gap_s,tbt_s,met_slo,"
         "useful,network_s,queue_s,prefill_s,kv_transfer_s,decode_s,collectives_s\n";
  // A million rows: formats compiled ahead (no format-string parsing per row) into one buffer that goes to
  // the stream in large writes. Numbers print as with fmt::format("{}"): shortest round-trip form.
  fmt::memory_buffer buf;
  constexpr size_t kFlushBytes = 1 << 20;
  auto flush = [&] {
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    buf.clear();
  };
  for (size_t i = 0; i < log.size(); ++i) {
    uint32_t c = log.class_id(i);
    auto o = metrics::outcome(log, i, plan.classes[c], r.scenario->workload.client_latency);
    std::string_view status = log.status(i) == metrics::RequestStatus::finished   ? "finished"
                              : log.status(i) == metrics::RequestStatus::rejected ? "rejected"
                                                                                  : "unfinished";
    // Both branches views: a ternary of "" and a std::string would copy the name into a temporary that dies
    // before the view is read (it printed garbage once the name outgrew the small-string buffer).
    const std::string_view inst = log.instance(i) == metrics::RequestLog::kNoInstance
                                      ? std::string_view()
                                      : std::string_view(names[log.instance(i)]);
    auto it = fmt::format_to(fmt::appender(buf), FMT_COMPILE("{},{},{},{},{},{},{},"), i, plan.classes[c].name,
                             log.arrival(i), log.input_tokens(i), log.output_tokens(i), inst, status);
    if (o.finished) {
      auto p = metrics::latency_parts(log, i, r.scenario->workload.client_latency);
      fmt::format_to(it, FMT_COMPILE("{},{},{},{},{},{},{},{},{},{},{},{},{}\n"), o.ttft, o.tpot, o.e2e, o.max_gap,
                     o.tbt, o.met_slo ? 1 : 0, o.useful ? 1 : 0, p.network, p.queue, p.prefill, p.kv_transfer, p.decode,
                     p.collectives);
    } else {
      fmt::format_to(it, FMT_COMPILE(",,,,,0,0,,,,,,\n"));
    }
    if (buf.size() >= kFlushBytes) flush();
  }
  flush();
}

namespace {
std::string ms(double s) {
  return fmt::format("{:.1f}", s * 1e3);
}
std::string money(double usd) {
  return std::isfinite(usd) ? fmt::format("${:.4f}", usd) : std::string("n/a");
}
std::string percent(const std::optional<double>& share) {
  return share ? fmt::format("{:.1f}%", *share * 100) : std::string();
}

// Where each class's latency goes: the mean of each part, then its shares of the TTFT and TPOT budgets (rows
// only for the budgets the class has), and the part that breaks a budget its median request misses.
void write_latency_budget(std::back_insert_iterator<std::string> out, const metrics::Summary& sum) {
  fmt::format_to(out, "\n  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}   {}\n", "where it goes", "network", "queueing",
                 "prefill", "KV xfer", "decode", "collectives", "breaks the budget");
  fmt::format_to(out, "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}\n", "(mean)", "ms", "ms", "ms", "ms", "ms", "ms");
  using metrics::BudgetPart;
  for (const auto& cs : sum.classes) {
    const auto& b = cs.latency_budget;
    fmt::format_to(out, "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}\n", cs.name, ms(b[BudgetPart::network].mean),
                   ms(b[BudgetPart::queueing].mean), ms(b[BudgetPart::prefill].mean),
                   ms(b[BudgetPart::kv_transfer].mean), ms(b[BudgetPart::decode].mean),
                   ms(b[BudgetPart::collectives].mean));
    auto breaker = [](const std::optional<BudgetPart>& p) {
      return p ? std::string(metrics::budget_part_name(*p)) : std::string("-");
    };
    if (b[BudgetPart::network].ttft_share)
      fmt::format_to(out, "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}   {}\n", "  % of TTFT",
                     percent(b[BudgetPart::network].ttft_share), percent(b[BudgetPart::queueing].ttft_share),
                     percent(b[BudgetPart::prefill].ttft_share), percent(b[BudgetPart::kv_transfer].ttft_share), "",
                     percent(b[BudgetPart::collectives].ttft_share), breaker(b.ttft_breaker));
    if (b[BudgetPart::decode].tpot_share)
      fmt::format_to(out, "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}   {}\n", "  % of TPOT", "",
                     percent(b[BudgetPart::queueing].tpot_share), "", "", percent(b[BudgetPart::decode].tpot_share),
                     percent(b[BudgetPart::collectives].tpot_share), breaker(b.tpot_breaker));
  }
}
}  // namespace

std::string terminal_summary(const RunResults& r) {
  const auto& sum = r.summary;
  const auto& s = *r.scenario;
  double interval = r.run->simulated.value();
  double total = r.cost.total().value();
  std::string o;
  auto out = std::back_inserter(o);
  fmt::format_to(out, "\n{}  ({} accelerators, {} instances, {:.0f} s simulated)\n", s.name, r.plan->accelerators,
                 r.plan->instances, interval);
  fmt::format_to(out, "  requests {}  completed {}  rejected {}  output tokens {}  ({:.0f} tok/s)\n", sum.requests,
                 sum.completed, sum.rejected, sum.output_tokens,
                 interval > 0 ? static_cast<double>(sum.output_tokens) / interval : 0.0);
  fmt::format_to(out, "\n  {:<14} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12} {:>14}\n", "class", "requests",
                 "SLO met", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "E2E p99", "useful tok", "$/M useful");
  fmt::format_to(out, "  {:<14} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12} {:>14}\n", "", "", "", "ms", "ms",
                 "ms", "ms", "ms", "", "");
  for (size_t c = 0; c < sum.classes.size(); ++c) {
    const auto& cs = sum.classes[c];
    fmt::format_to(out, "  {:<14} {:>8} {:>8.1f}% {:>9} {:>9} {:>9} {:>9} {:>9} {:>12} {:>14}\n", cs.name, cs.requests,
                   cs.slo_attainment * 100, ms(cs.ttft.p50), ms(cs.ttft.p99), ms(cs.tpot.p50), ms(cs.tpot.p99),
                   ms(cs.e2e.p99), cs.useful_tokens, money(per_mtok(r.class_cost_usd[c], cs.weighted_useful_tokens)));
  }
  write_latency_budget(out, sum);
  fmt::format_to(out, "\n  {:<14} {:<14} {:>6} {:>9} {:>6} {:>9} {:>12} {:>10} {:>14}\n", "pool", "accelerator",
                 "count", "instances", "util", "requests", "cost", "energy", "$/M useful");
  for (const auto& p : r.pools)
    fmt::format_to(out, "  {:<14} {:<14} {:>6} {:>9} {:>5.1f}% {:>9} {:>12} {:>6.1f} kWh {:>14}\n", p.name,
                   p.accelerator, p.accelerators, p.instances, p.utilization * 100, p.requests,
                   money(p.cost.total().value()), kwh(p.cost.energy_used),
                   money(per_mtok(p.cost.total().value(), p.weighted_useful_tokens)));
  fmt::format_to(out, "\n  cost {} (hardware {}, energy {}, network {}, opex {})  energy {:.1f} kWh\n", money(total),
                 money(r.cost.hardware.value()), money(r.cost.energy.value()), money(r.cost.network.value()),
                 money(r.cost.opex.value()), kwh(r.cost.energy_used));
  fmt::format_to(out, "  SLO attainment {:.1f}%   cost per M tokens {}   cost per M useful tokens {}\n",
                 sum.slo_attainment * 100, money(per_mtok(total, static_cast<double>(sum.output_tokens))),
                 money(per_mtok(total, sum.weighted_useful_tokens)));
  return o;
}

}  // namespace tf::report
