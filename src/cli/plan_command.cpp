#include "cli/plan_command.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

#include "cli/atomic_file.hpp"
#include "cli/child_process.hpp"
#include "cli/factory_loader.hpp"
#include "cli/sweep_plan.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "perf/perf_model.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace tf::cli {

namespace {

// The search's fixed settings (docs/planning.md, "How the search works").
constexpr double kPruneMargin = 1.10;   // a type is dropped once it needs this much more capex than a plan that works
constexpr double kSaturation = 0.005;   // a doubling that raises attainment by less than this: size does not help
constexpr int64_t kGrowthLimit = 64;    // without a supply, budget or max_count cap: at most 64x the starting size
constexpr int64_t kPrecision = 32;      // bisection stops once the bracket is 1 instance or 1/32 of the count
constexpr size_t kOptionsPerModel = 4;  // the best configurations per model that the final step combines
constexpr double kFineStep = 1.0 / 16;  // first step of a search that starts from a known size (one pool alone)

struct Interrupted {};
struct RunFailed {
  std::string message;
};

// ---------------------------------------------------------------------------------------------------------------
// The problem: what may vary, and the constraints that need no simulation.

struct Candidate {
  std::string accelerator;
  std::optional<int> tp, ep;  // overrides of the pool's instance shape (absent: the pool's)
  std::string dtype;          // "": the pool's
  int64_t size = 1;           // accelerators per instance
  int64_t domain = 1;         // accelerators per scale-up domain (an 8-GPU server, a 384-NPU supernode)
  double price = 0;           // unit price, $ (price book with cluster.supply overrides)
  std::string label;          // "h20", "h20 tp4 fp8"
  std::string slug;           // the same for directory names: "h20-tp4-fp8"
};

// The fewest instances, at least `instances`, whose accelerators fill whole scale-up domains: a pool smaller than
// one domain may leave it partly empty, a larger one buys whole domains (as `tokenfactory topology` requires).
int64_t whole_domains(const Candidate& c, int64_t instances) {
  int64_t n = std::max<int64_t>(1, instances);
  if (n * c.size <= c.domain) return n;
  int64_t unit = std::lcm(c.size, c.domain);  // accelerators
  return (n * c.size + unit - 1) / unit * unit / c.size;
}

struct PlannedPool {
  size_t index = 0;  // in cluster.pools
  std::string name;
  std::string model;
  int64_t spares = 0;
  int64_t min_count = 0;
  std::optional<int64_t> max_count;
  int64_t scenario_count = 0;
  double scenario_price = 0;  // unit price of the scenario's own accelerator for this pool
  std::vector<Candidate> candidates;
  size_t group = 0;
};

// The planned pools that serve one model. Its classes' attainment depends on these pools only (pools of other
// models share no queue, instance or KV cache with them), so each model is searched on its own and several
// models' probes share one simulation.
struct Group {
  std::string model;
  std::vector<size_t> pools;         // planned-pool indices
  std::vector<std::string> classes;  // classes of this model
};

struct Choice {
  size_t cand = 0;
  int64_t instances = 0;
};
using Assignment = std::vector<Choice>;  // by planned pool

struct Violation {
  std::string constraint;  // supply | budget | max_count
  std::string detail;      // "the plan needs 5 h100-sxm but 4 are available"
  std::string limit;       // the constraint as the subject of "caps": "the 4 h100-sxm available"
  std::string where;       // its JSON path in the scenario
};

struct Problem {
  std::string file;
  std::vector<std::string> sets;
  std::string name;
  std::vector<PlannedPool> pools;
  std::vector<Group> groups;
  std::vector<std::string> classes;                // every class, sorted
  std::map<std::string, std::string> class_model;  // class -> model
  std::map<std::string, double> targets;           // class -> attainment to reach
  std::vector<std::string> fixed_classes;          // classes of models no planned pool serves
  std::map<std::string, int64_t> fixed_use;        // accelerator -> units in pools not planned (count + spares)
  double fixed_capex = 0;                          // of the pools not planned
  std::map<std::string, int64_t> available;        // cluster.supply caps
  std::optional<double> budget;                    // $
  std::optional<double> attainment;                // plan.attainment
  int max_runs = 40;

  int64_t count(size_t pool, const Choice& c) const { return c.instances * pools[pool].candidates[c.cand].size; }
  double pool_capex(size_t pool, const Choice& c) const {
    return static_cast<double>(count(pool, c) + pools[pool].spares) * pools[pool].candidates[c.cand].price;
  }
  double capex(const Assignment& a) const {
    double total = fixed_capex;
    for (size_t i = 0; i < a.size(); ++i)
      total += pool_capex(i, a[i]);
    return total;
  }
};

std::string group_digits(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

std::string money(double usd) {
  if (usd >= 1e9) return fmt::format("${:.2f}B", usd / 1e9);
  if (usd >= 1e6) return fmt::format("${:.1f}M", usd / 1e6);
  if (usd >= 1e3) return fmt::format("${:.1f}k", usd / 1e3);
  return fmt::format("${:.0f}", usd);
}

std::string percent(double f) {
  return fmt::format("{:.1f} %", 100.0 * f);
}

// The first constraint `a` breaks, in the order max_count, supply, budget.
std::optional<Violation> violation(const Problem& p, const Assignment& a) {
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& pool = p.pools[i];
    if (pool.max_count && p.count(i, a[i]) > *pool.max_count)
      return Violation{"max_count",
                       fmt::format("pool {} would have {} accelerators, over its max_count of {}", pool.name,
                                   group_digits(p.count(i, a[i])), group_digits(*pool.max_count)),
                       fmt::format("the max_count of {}", group_digits(*pool.max_count)), "/plan/pools"};
  }
  std::map<std::string, int64_t> use = p.fixed_use;
  for (size_t i = 0; i < a.size(); ++i)
    use[p.pools[i].candidates[a[i].cand].accelerator] += p.count(i, a[i]) + p.pools[i].spares;
  for (const auto& [acc, n] : use) {
    auto it = p.available.find(acc);
    if (it != p.available.end() && n > it->second) {
      int64_t fixed = p.fixed_use.count(acc) ? p.fixed_use.at(acc) : 0;
      std::string in_fixed =
          fixed ? fmt::format(", {} of them taken by pools not planned", group_digits(fixed)) : std::string();
      return Violation{"supply",
                       fmt::format("the plan needs {} {} but {} are available{}", group_digits(n), acc,
                                   group_digits(it->second), in_fixed),
                       fmt::format("the supply of {} {}{}", group_digits(it->second), acc, in_fixed),
                       "/cluster/supply/" + acc + "/available"};
    }
  }
  if (p.budget) {
    double c = p.capex(a);
    if (c > *p.budget)
      return Violation{"budget", fmt::format("capex {} exceeds the budget of {}", money(c), money(*p.budget)),
                       fmt::format("the budget of {}", money(*p.budget)), "/plan/budget"};
  }
  return std::nullopt;
}

std::string pool_part(const Problem& p, size_t pool, const Choice& c) {
  return fmt::format("{} {} x {}", p.pools[pool].name, group_digits(p.count(pool, c)),
                     p.pools[pool].candidates[c.cand].label);
}

std::string describe(const Problem& p, const Assignment& a) {
  std::string out;
  for (size_t i = 0; i < a.size(); ++i)
    out += (i ? " | " : "") + pool_part(p, i, a[i]);
  return out;
}

// A plan's identity: the same string for the same plan, whatever the search path.
std::string plan_key(const Problem& p, const Assignment& a) {
  std::string out;
  for (size_t i = 0; i < a.size(); ++i)
    out += fmt::format("{}{}={}x{}", i ? "," : "", p.pools[i].name, p.pools[i].candidates[a[i].cand].slug,
                       p.count(i, a[i]));
  return out;
}

std::string dir_name(const std::string& key) {
  std::string out;
  for (char ch : key) {
    bool ok = std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.';
    out += ch == '=' ? '-' : ch == ',' ? '_' : ok ? ch : '_';
  }
  return out;
}

std::vector<std::string> plan_sets(const Problem& p, const Assignment& a) {
  std::vector<std::string> sets;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& pool = p.pools[i];
    const auto& c = pool.candidates[a[i].cand];
    std::string base = fmt::format("cluster.pools.{}.", pool.index);
    sets.push_back(set_argument(base + "accelerator", c.accelerator));
    sets.push_back(set_argument(base + "count", p.count(i, a[i])));
    if (c.tp) sets.push_back(set_argument(base + "instance.tp", *c.tp));
    if (c.ep) sets.push_back(set_argument(base + "instance.ep", *c.ep));
    if (!c.dtype.empty()) sets.push_back(set_argument(base + "instance.dtype", c.dtype));
  }
  return sets;
}

Problem build_problem(const std::string& file, const std::vector<std::string>& sets, const LoadedFactory& base) {
  const auto& s = base.scenario.scenario;
  Problem p;
  p.file = file;
  p.sets = sets;
  p.name = s.name;
  const auto& plan = *s.plan;
  p.budget = plan.budget ? std::optional<double>(plan.budget->value()) : std::nullopt;
  p.attainment = plan.attainment;
  p.max_runs = plan.max_runs;
  for (const auto& [acc, su] : s.cluster.supply)
    if (su.available) p.available[acc] = *su.available;
  std::set<size_t> planned;
  for (size_t k = 0; k < plan.pools.size(); ++k) {
    const auto& pc = plan.pools[k];
    size_t index = 0;
    while (s.cluster.pools[index].name != pc.pool)
      ++index;  // the loader checked that the pool exists
    planned.insert(index);
    const auto& sp = s.cluster.pools[index];
    const auto& pp = base.plan.pools[index];
    PlannedPool out;
    out.index = index;
    out.name = sp.name;
    out.model = sp.instance.model;
    out.spares = sp.spares;
    out.min_count = pc.min_count;
    out.max_count = pc.max_count;
    out.scenario_count = sp.count;
    out.scenario_price = base.plan.prices.unit_price_of(*pp.accelerator).value();
    std::vector<config::PlanCandidate> specs = pc.candidates;
    if (specs.empty()) specs.push_back({sp.accelerator, std::nullopt, std::nullopt, ""});
    for (const auto& spec : specs) {
      Candidate c;
      c.accelerator = spec.accelerator;
      c.tp = spec.tp;
      c.ep = spec.ep;
      c.dtype = spec.dtype;
      const auto& acc = base.catalog->accelerator(spec.accelerator);  // plan_factory checked the name
      perf::InstanceShape shape;
      shape.accelerator = &acc;
      shape.model = pp.model;
      shape.tp = spec.tp.value_or(sp.instance.tp);
      shape.pp = sp.instance.pp;
      shape.ep = spec.ep.value_or(sp.instance.ep);
      c.size = shape.accelerators();
      static const std::map<std::string, int64_t> kDomains = {{"nvlink-node", 8}, {"nvl72", 72}, {"ub-supernode", 384}};
      c.domain = sp.scale_up.empty() ? std::max<int64_t>(1, acc.scale_up_domain_size) : kDomains.at(sp.scale_up);
      c.price = base.plan.prices.unit_price_of(acc).value();
      c.label = spec.accelerator;
      c.slug = spec.accelerator;
      if (spec.tp) c.label += fmt::format(" tp{}", *spec.tp), c.slug += fmt::format("-tp{}", *spec.tp);
      if (spec.ep) c.label += fmt::format(" ep{}", *spec.ep), c.slug += fmt::format("-ep{}", *spec.ep);
      if (!spec.dtype.empty()) c.label += " " + spec.dtype, c.slug += "-" + spec.dtype;
      out.candidates.push_back(c);
    }
    for (size_t g = 0; g <= p.groups.size(); ++g) {
      if (g == p.groups.size()) p.groups.push_back({out.model, {}, {}});
      if (p.groups[g].model == out.model) {
        out.group = g;
        p.groups[g].pools.push_back(p.pools.size());
        break;
      }
    }
    p.pools.push_back(out);
  }
  for (size_t i = 0; i < s.cluster.pools.size(); ++i) {
    if (planned.count(i)) continue;
    const auto& sp = s.cluster.pools[i];
    p.fixed_use[sp.accelerator] += sp.count + sp.spares;
    p.fixed_capex += static_cast<double>(sp.count + sp.spares) *
                     base.plan.prices.unit_price_of(*base.plan.pools[i].accelerator).value();
  }
  p.classes = s.class_names();
  for (const auto& name : p.classes) {
    const auto& c = s.workload.classes.at(name);
    p.class_model[name] = c.model;
    p.targets[name] = plan.attainment.value_or(c.slo.attainment_target);
    bool grouped = false;
    for (auto& g : p.groups)
      if (g.model == c.model) {
        g.classes.push_back(name);
        grouped = true;
      }
    if (!grouped) p.fixed_classes.push_back(name);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// What a run says, per class and per model.

struct ClassOutcome {
  int64_t requests = 0;
  double attainment = 0;
  double target = 0;
  double weighted_useful = 0;
  bool meets() const { return requests == 0 || attainment >= target; }
};

struct RunEval {
  std::string key;
  Assignment plan;
  size_t number = 0;  // 1-based, in the order the search asked for it
  bool reused = false;
  std::map<std::string, ClassOutcome> classes;
  std::optional<double> cost_per_useful_mtok;
  double cost_usd = 0;
  double capex = 0;
  std::string dir;                                               // relative to the plan directory
  std::vector<std::optional<double>> pool_cost_per_useful_mtok;  // by planned pool (results.json pools.<p>)

  bool feasible() const {
    return std::all_of(classes.begin(), classes.end(), [](const auto& c) { return c.second.meets(); });
  }
  double min_attainment() const {
    double m = 1.0;
    for (const auto& [name, c] : classes)
      if (c.requests > 0) m = std::min(m, c.attainment);
    return m;
  }
};

// One model's configuration as one run saw it.
struct GroupObs {
  bool meets = false;
  std::map<std::string, ClassOutcome> classes;
  double useful = 0;  // weighted useful tokens of the model's classes
  double capex = 0;   // of the model's planned pools
  std::vector<Choice> config;
  std::string run_key;
  // Capex per weighted useful token: how the search ranks one model's configurations. Energy is left out (a
  // few per cent of the cost); the final choice among whole plans uses the simulated cost per useful token.
  double score() const { return useful > 0 ? capex / useful : std::numeric_limits<double>::infinity(); }
  // The class furthest below its target (or the lowest margin when all meet).
  std::pair<std::string, ClassOutcome> worst() const {
    std::pair<std::string, ClassOutcome> w;
    double margin = std::numeric_limits<double>::infinity();
    for (const auto& [name, c] : classes)
      if (c.requests > 0 && c.attainment - c.target < margin) {
        margin = c.attainment - c.target;
        w = {name, c};
      }
    return w;
  }
};

// ---------------------------------------------------------------------------------------------------------------
// A bisection task: one model, one choice of accelerator per planned pool, the pools in `scaled` growing
// together with x (instances = max(1, ceil(x * ratio))), the others held. Finds the smallest x meeting the
// model's classes' targets, within [x_min, x_max].

enum class TaskState { active, found, capped, saturated, pruned, stopped };

struct Task {
  size_t group = 0;
  std::vector<size_t> cands;     // per pool of the group
  std::vector<int64_t> held;     // per pool of the group: instances when not scaled
  std::vector<double> ratio;     // per pool of the group: > 0 when scaled
  std::string what;              // "pool llama on h20"
  int64_t x_min = 1, x_max = 1;  // the range the constraints allow
  std::optional<Violation> cap;  // what x_max + 1 would break (none: the search limit)
  int64_t lo = 0, hi = 0;        // largest x known to miss (x_min - 1 at first), smallest known to meet (0: none)
  int64_t next = 1;              // next x to look at
  std::vector<std::pair<int64_t, double>> misses;  // every x seen to miss, in order, and its worst attainment
  // Before the first miss (going down) or the first hit (going up), the search steps by this fraction of x,
  // doubling each time up to 1/2 (down) or 1 (up): 1/2 for a search from a guess, 1/16 from a known size.
  double step = 1.0;
  bool grown = false;  // a cap stopped it and it handed its pools to searches of one pool each
  TaskState state = TaskState::active;
  std::string note;  // how it ended

  std::vector<const Candidate*> shape;  // per pool of the group: its candidate

  std::vector<Choice> config(int64_t x) const {
    std::vector<Choice> out;
    for (size_t k = 0; k < cands.size(); ++k)
      out.push_back({cands[k], ratio[k] > 0 ? whole_domains(*shape[k], static_cast<int64_t>(std::ceil(
                                                                           static_cast<double>(x) * ratio[k] - 1e-9)))
                                            : held[k]});
    return out;
  }
};

// The smallest x in [lo, limit] with pred(x) true, for pred monotone (false then true); nullopt when none.
std::optional<int64_t> first_true(int64_t lo, int64_t limit, const std::function<bool(int64_t)>& pred) {
  if (lo > limit) return std::nullopt;
  if (pred(lo)) return lo;
  int64_t step = 1, bad = lo, good = -1;
  while (true) {
    int64_t x = std::min(limit, bad + step);
    if (pred(x)) {
      good = x;
      break;
    }
    if (x == limit) return std::nullopt;
    bad = x;
    step *= 2;
  }
  while (good - bad > 1) {
    int64_t mid = bad + (good - bad) / 2;
    (pred(mid) ? good : bad) = mid;
  }
  return good;
}

// ---------------------------------------------------------------------------------------------------------------

class Planner {
 public:
  Planner(const Problem& p, fs::path dir, int parallel, int max_runs, bool quiet)
      : p_(p), dir_(std::move(dir)), parallel_(parallel), max_runs_(max_runs), quiet_(quiet) {
    phase_.assign(p_.groups.size(), Phase::waves);
    pool_turn_.assign(p_.groups.size(), 0);
    best_wave_key_.assign(p_.groups.size(), "");
    started_.assign(p_.groups.size(), false);
  }

  // Checks that each model has a configuration the constraints admit, before anything runs.
  void check_admissible();
  void search();
  // The final step: the best configuration of each model combined within the shared constraints, simulated.
  void combine();
  int report();

 private:
  enum class Phase { waves, per_pool, done };

  std::vector<Choice> minimal_config(size_t g) const;
  Assignment with_group(Assignment a, size_t g, const std::vector<Choice>& config) const;
  Assignment minimal_assignment() const;
  std::string group_key(size_t g, const std::vector<Choice>& config) const;
  double group_capex(size_t g, const std::vector<Choice>& config) const;
  std::string sizes(size_t g, const std::vector<Choice>& config) const;
  std::string at_sizes(const Task& t, int64_t x) const;
  Task make_task(size_t g, const std::vector<size_t>& cands, const std::vector<int64_t>& start,
                 const std::vector<bool>& scaled, std::string what) const;
  const GroupObs* observed(size_t g, const std::vector<Choice>& config) const;
  const GroupObs* best_obs(size_t g) const;
  const GroupObs* closest_obs(size_t g) const;
  std::vector<const GroupObs*> options(size_t g) const;
  void resolve(Task& t);
  void observe(Task& t, int64_t x, const GroupObs& o);
  void advance_group(size_t g);
  bool spawn_growth(size_t task);
  Assignment filler_plan(const std::vector<std::pair<size_t, std::vector<Choice>>>& probes) const;
  std::vector<const RunEval*> run_batch(const std::vector<Assignment>& plans);
  void record(RunEval& e, const json& results);
  void print_run(const RunEval& e) const;
  void print_task_end(const Task& t) const;
  std::string binding(std::vector<std::string>& reasons, const RunEval& best) const;
  std::vector<std::string> infeasible_parts() const;
  std::vector<const RunEval*> tried() const;  // every run, by number
  void write_outputs(const RunEval* best, const std::string& binding_kind, const std::vector<std::string>& reasons);

  const Problem& p_;
  fs::path dir_;
  int parallel_;
  int max_runs_;
  bool quiet_;

  std::vector<Task> tasks_;
  std::vector<Phase> phase_;
  std::vector<size_t> pool_turn_;
  std::vector<bool> started_;
  std::vector<std::string> best_wave_key_;  // per group: the best assignment when its last wave started
  std::set<std::string> tried_;             // "g|cands" assignments given a wave task
  std::map<std::string, RunEval> runs_;     // plan key -> result
  std::vector<std::string> order_;          // plan keys by run number
  std::map<std::string, GroupObs> obs_;     // "g|group key" -> the first run's view of it
  std::string stopped_ = "converged";
  std::optional<std::string> combine_binding_;  // a shared constraint that kept the best configurations apart
  std::string combine_detail_;
};

std::string Planner::group_key(size_t g, const std::vector<Choice>& config) const {
  std::string out = std::to_string(g) + "|";
  const auto& pools = p_.groups[g].pools;
  for (size_t k = 0; k < pools.size(); ++k)
    out += fmt::format("{}{}x{}", k ? "," : "", config[k].cand, config[k].instances);
  return out;
}

std::string Planner::sizes(size_t g, const std::vector<Choice>& config) const {
  std::string out;
  for (size_t k = 0; k < config.size(); ++k)
    out += (k ? ", " : "") + pool_part(p_, p_.groups[g].pools[k], config[k]);
  return out;
}

// The task's pools at x: "pool decode at 16 x h100-sxm" (the pools it scales, joined by "and"), then the pools it
// holds: " (pool prefill held at 8 x h100-sxm)".
std::string Planner::at_sizes(const Task& t, int64_t x) const {
  auto config = t.config(x);
  std::string scaled, held;
  for (size_t k = 0; k < config.size(); ++k) {
    size_t i = p_.groups[t.group].pools[k];
    std::string& out = t.ratio[k] > 0 ? scaled : held;
    out += fmt::format("{}pool {}{} {} x {}", out.empty() ? "" : " and ", p_.pools[i].name,
                       t.ratio[k] > 0 ? " at" : " held at", group_digits(p_.count(i, config[k])),
                       p_.pools[i].candidates[config[k].cand].label);
  }
  return held.empty() ? scaled : fmt::format("{} ({})", scaled, held);
}

double Planner::group_capex(size_t g, const std::vector<Choice>& config) const {
  double c = 0;
  const auto& pools = p_.groups[g].pools;
  for (size_t k = 0; k < pools.size(); ++k)
    c += p_.pool_capex(pools[k], config[k]);
  return c;
}

// Per pool of the group, the candidate whose smallest allowed size costs least (ties: the first listed).
std::vector<Choice> Planner::minimal_config(size_t g) const {
  std::vector<Choice> out;
  for (size_t i : p_.groups[g].pools) {
    const auto& pool = p_.pools[i];
    Choice best;
    double best_capex = std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < pool.candidates.size(); ++c) {
      int64_t size = pool.candidates[c].size;
      Choice ch{c, whole_domains(pool.candidates[c], (pool.min_count + size - 1) / size)};
      double capex = p_.pool_capex(i, ch);
      if (capex < best_capex) {
        best_capex = capex;
        best = ch;
      }
    }
    out.push_back(best);
  }
  return out;
}

Assignment Planner::with_group(Assignment a, size_t g, const std::vector<Choice>& config) const {
  const auto& pools = p_.groups[g].pools;
  for (size_t k = 0; k < pools.size(); ++k)
    a[pools[k]] = config[k];
  return a;
}

Assignment Planner::minimal_assignment() const {
  Assignment a(p_.pools.size());
  for (size_t g = 0; g < p_.groups.size(); ++g)
    a = with_group(a, g, minimal_config(g));
  return a;
}

Task Planner::make_task(size_t g, const std::vector<size_t>& cands, const std::vector<int64_t>& start,
                        const std::vector<bool>& scaled, std::string what) const {
  Task t;
  t.group = g;
  t.cands = cands;
  t.what = std::move(what);
  const auto& pools = p_.groups[g].pools;
  size_t ref = 0;
  while (!scaled[ref])
    ++ref;
  for (size_t k = 0; k < pools.size(); ++k) {
    t.shape.push_back(&p_.pools[pools[k]].candidates[cands[k]]);
    t.held.push_back(whole_domains(*t.shape[k], start[k]));
    t.ratio.push_back(scaled[k] ? static_cast<double>(start[k]) / static_cast<double>(start[ref]) : 0.0);
  }
  Assignment others = minimal_assignment();
  auto min_ok = [&](int64_t x) {
    auto config = t.config(x);
    for (size_t k = 0; k < pools.size(); ++k) {
      const auto& pool = p_.pools[pools[k]];
      if (p_.count(pools[k], config[k]) < pool.min_count) return false;
    }
    return true;
  };
  t.x_min = first_true(1, 10'000'000, min_ok).value_or(1);
  int64_t x0 = std::max<int64_t>(start[ref], t.x_min);
  int64_t limit = std::max(t.x_min, x0 * kGrowthLimit);
  auto breaks = [&](int64_t x) { return violation(p_, with_group(others, g, t.config(x))).has_value(); };
  auto first_bad = first_true(t.x_min, limit, breaks);
  if (first_bad) {
    t.x_max = *first_bad - 1;
    t.cap = violation(p_, with_group(others, g, t.config(*first_bad)));
  } else {
    t.x_max = limit;
  }
  t.lo = t.x_min - 1;
  t.next = std::min(x0, t.x_max);
  if (t.x_max < t.x_min) {
    t.state = TaskState::capped;
    t.note = fmt::format("{}: {} does not allow even {} ({})", t.cap->constraint, t.cap->limit, at_sizes(t, t.x_min),
                         t.cap->detail);
  }
  return t;
}

const GroupObs* Planner::observed(size_t g, const std::vector<Choice>& config) const {
  auto it = obs_.find(group_key(g, config));
  return it == obs_.end() ? nullptr : &it->second;
}

// The model's configurations that met its targets, best score first (ties: the lower capex, then the key).
std::vector<const GroupObs*> Planner::options(size_t g) const {
  std::vector<const GroupObs*> out;
  std::string prefix = std::to_string(g) + "|";
  for (const auto& [key, o] : obs_)
    if (key.rfind(prefix, 0) == 0 && o.meets) out.push_back(&o);
  std::stable_sort(out.begin(), out.end(), [](const GroupObs* a, const GroupObs* b) {
    if (a->score() != b->score()) return a->score() < b->score();
    return a->capex < b->capex;
  });
  return out;
}

const GroupObs* Planner::best_obs(size_t g) const {
  auto o = options(g);
  return o.empty() ? nullptr : o.front();
}

// Of the model's configurations seen, the one whose worst class came closest to its target (ties: lower capex).
const GroupObs* Planner::closest_obs(size_t g) const {
  const GroupObs* out = nullptr;
  double margin = -std::numeric_limits<double>::infinity();
  std::string prefix = std::to_string(g) + "|";
  for (const auto& [key, o] : obs_) {
    if (key.rfind(prefix, 0) != 0) continue;
    auto w = o.worst();
    double m = w.second.attainment - w.second.target;
    if (!out || m > margin || (m == margin && o.capex < out->capex)) {
      out = &o;
      margin = m;
    }
  }
  return out;
}

void Planner::observe(Task& t, int64_t x, const GroupObs& o) {
  if (o.meets) {
    t.hi = x;
    return;
  }
  double worst = o.worst().second.attainment;
  // Size that does not help: twice as much (or more) raised the worst class by less than kSaturation.
  for (const auto& [m, a] : t.misses)
    if (t.hi == 0 && x >= 2 * m && worst - a < kSaturation) {
      t.state = TaskState::saturated;
      t.lo = x;
      auto w = o.worst();
      t.note = fmt::format("slo: {} reaches {} for class {} (target {}) at {}, and {} at {}: more of it does not help",
                           t.what, percent(w.second.attainment), w.first, percent(w.second.target),
                           sizes(t.group, t.config(x)), percent(a), sizes(t.group, t.config(m)));
      return;
    }
  t.lo = std::max(t.lo, x);
  t.misses.emplace_back(x, worst);
}

// Moves the task along while the configurations it asks for are known, and decides how it ends.
void Planner::resolve(Task& t) {
  while (t.state == TaskState::active) {
    // Branch and bound: a type whose smallest untried size already needs kPruneMargin x the capex of a
    // configuration that meets the targets cannot come out cheaper.
    int64_t limit = t.x_max;
    if (const GroupObs* best = best_obs(t.group)) {
      double bound = best->capex * kPruneMargin;
      auto over = [&](int64_t x) { return group_capex(t.group, t.config(x)) > bound; };
      if (over(t.lo + 1)) {
        t.state = TaskState::pruned;
        t.note = fmt::format(
            "pruned: {} would need more than {} capex, {} over a configuration that meets every "
            "target ({})",
            t.what, money(bound), percent(kPruneMargin - 1), sizes(t.group, best->config));
        break;
      }
      limit = std::min(limit, first_true(t.lo + 1, t.x_max, over).value_or(t.x_max + 1) - 1);
    }
    auto stride = [&](int64_t x, double cap) {
      int64_t d = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(x) * std::min(t.step, cap)));
      t.step = std::min(t.step * 2, cap);
      return d;
    };
    if (t.hi > 0) {
      if (t.hi - t.lo <= std::max<int64_t>(1, t.hi / kPrecision)) {
        t.state = TaskState::found;
        break;
      }
      if (t.lo < t.x_min && t.step < 0.5)  // no miss yet: step down from the size that meets
        t.next = std::max(t.x_min, t.hi - stride(t.hi, 0.5));
      else
        t.next = t.lo + (t.hi - t.lo) / 2;
    } else if (t.lo >= t.x_min) {  // stepping up from a miss
      if (t.lo >= t.x_max) {
        // Capped at the first look: one more, at half the size, gives the trend that tells whether the cap binds.
        int64_t half = std::max(t.x_min, t.x_max / 2);
        if (t.misses.size() == 1 && group_key(t.group, t.config(half)) != group_key(t.group, t.config(t.lo))) {
          t.next = half;
        } else {
          t.state = TaskState::capped;
          break;
        }
      } else {
        t.next = std::min(limit, t.lo + stride(t.lo, 1.0));
      }
    } else {  // the first look, where the search starts
      t.next = std::min(t.next, limit);
    }
    const GroupObs* o = observed(t.group, t.config(t.next));
    if (!o) break;  // needs a run
    observe(t, t.next, *o);
  }
  if (t.state == TaskState::found && t.note.empty())
    t.note =
        fmt::format("{}: the smallest meeting every target is {} (capex {}){}", t.what, sizes(t.group, t.config(t.hi)),
                    money(group_capex(t.group, t.config(t.hi))),
                    t.lo >= t.x_min ? fmt::format("; {} misses", sizes(t.group, t.config(t.lo))) : ", its minimum");
  if (t.state == TaskState::capped && t.note.empty()) {
    std::string reach;
    if (const GroupObs* o = observed(t.group, t.config(t.lo))) {
      auto w = o->worst();
      reach = fmt::format(", where it reaches {} attainment for class {} (target {})", percent(w.second.attainment),
                          w.first, percent(w.second.target));
    }
    t.note = t.cap ? fmt::format("{}: {} caps {}{}", t.cap->constraint, t.cap->limit, at_sizes(t, t.lo), reach)
                   : fmt::format("search limit: {} grows at most {}x from where it started, to {}{}", t.what,
                                 kGrowthLimit, sizes(t.group, t.config(t.lo)), reach);
  }
}

// A model's next step once its tasks have ended: coordinate descent over its pools' types, then (for models
// with several planned pools) resizing each pool alone.
void Planner::advance_group(size_t g) {
  const auto& pools = p_.groups[g].pools;
  auto start_of = [&](const std::vector<size_t>& cands, const GroupObs* from) {
    // Sizes to start from: the configuration `from` (or the scenario's counts), converted at equal capex for a
    // pool whose type changes.
    std::vector<int64_t> start;
    for (size_t k = 0; k < pools.size(); ++k) {
      const auto& pool = p_.pools[pools[k]];
      const auto& c = pool.candidates[cands[k]];
      double spend = from ? p_.pool_capex(pools[k], from->config[k]) -
                                static_cast<double>(pool.spares) * pool.candidates[from->config[k].cand].price
                          : static_cast<double>(pool.scenario_count) * pool.scenario_price;
      if (from && from->config[k].cand == cands[k]) {
        start.push_back(from->config[k].instances);
      } else {
        start.push_back(
            std::max<int64_t>(1, static_cast<int64_t>(std::llround(spend / c.price / static_cast<double>(c.size)))));
      }
    }
    return start;
  };
  auto cands_key = [&](const std::vector<size_t>& cands) {
    std::string k = std::to_string(g) + "|";
    for (size_t c : cands)
      k += std::to_string(c) + ",";
    return k;
  };
  auto label = [&](const std::vector<size_t>& cands) {
    std::string out;
    for (size_t k = 0; k < pools.size(); ++k)
      out += fmt::format("{}pool {} on {}", k ? ", " : "", p_.pools[pools[k]].name,
                         p_.pools[pools[k]].candidates[cands[k]].label);
    return out;
  };
  auto add_wave = [&](const std::vector<size_t>& center, const GroupObs* from) {
    std::vector<std::vector<size_t>> wave = {center};
    for (size_t k = 0; k < pools.size(); ++k)
      for (size_t c = 0; c < p_.pools[pools[k]].candidates.size(); ++c)
        if (c != center[k]) {
          auto n = center;
          n[k] = c;
          wave.push_back(n);
        }
    size_t added = 0;
    for (const auto& cands : wave) {
      if (!tried_.insert(cands_key(cands)).second) continue;
      tasks_.push_back(make_task(g, cands, start_of(cands, from), std::vector<bool>(pools.size(), true), label(cands)));
      ++added;
    }
    return added;
  };

  if (phase_[g] == Phase::waves) {
    const GroupObs* best = best_obs(g);
    if (!started_[g]) {
      started_[g] = true;
      add_wave(std::vector<size_t>(pools.size(), 0), nullptr);
      return;
    }
    if (best && pools.size() > 1) {
      std::vector<size_t> cands;
      for (const auto& c : best->config)
        cands.push_back(c.cand);
      if (cands_key(cands) != best_wave_key_[g]) {
        best_wave_key_[g] = cands_key(cands);
        if (add_wave(cands, best) > 0) return;
      }
    }
    phase_[g] = pools.size() > 1 ? Phase::per_pool : Phase::done;
  }
  if (phase_[g] == Phase::per_pool) {
    // Each pool alone, from the best configuration (or, when none met the targets, the one that came closest):
    // shrinks a pool the joint scaling left too large, or grows one when another is held by a cap.
    const GroupObs* from = best_obs(g);
    if (!from) from = closest_obs(g);
    if (pool_turn_[g] >= pools.size() || !from) {
      phase_[g] = Phase::done;
      return;
    }
    size_t k = pool_turn_[g]++;
    std::vector<size_t> cands;
    std::vector<int64_t> start;
    for (const auto& c : from->config) {
      cands.push_back(c.cand);
      start.push_back(c.instances);
    }
    std::vector<bool> scaled(pools.size(), false);
    scaled[k] = true;
    tasks_.push_back(make_task(
        g, cands, start, scaled,
        fmt::format("pool {} on {} alone", p_.pools[pools[k]].name, p_.pools[pools[k]].candidates[cands[k]].label)));
    tasks_.back().step = kFineStep;  // from a known size: small steps first
  }
}

// A joint search that a cap stopped may leave its other pools room to grow: each of its pools then grows alone,
// the others held where the cap stopped them. Returns whether it added searches.
bool Planner::spawn_growth(size_t index) {
  const Task t = tasks_[index];  // a copy: tasks_ grows below
  const auto& pools = p_.groups[t.group].pools;
  size_t scaled = static_cast<size_t>(std::count_if(t.ratio.begin(), t.ratio.end(), [](double r) { return r > 0; }));
  if (scaled < 2 || t.lo < t.x_min) return false;
  auto config = t.config(t.lo);
  std::vector<size_t> cands;
  std::vector<int64_t> start;
  for (const auto& c : config) {
    cands.push_back(c.cand);
    start.push_back(c.instances);
  }
  bool added = false;
  for (size_t k = 0; k < pools.size(); ++k) {
    if (!tried_.insert(fmt::format("grow|{}|{}", group_key(t.group, config), k)).second) continue;
    std::vector<bool> mask(pools.size(), false);
    mask[k] = true;
    tasks_.push_back(make_task(
        t.group, cands, start, mask,
        fmt::format("pool {} on {} alone", p_.pools[pools[k]].name, p_.pools[pools[k]].candidates[cands[k]].label)));
    tasks_.back().step = kFineStep;
    print_task_end(tasks_.back());
    added = true;
  }
  tasks_[index].grown = added;
  return added;
}

// The plan a run of `probes` (model -> configuration) uses: the probes, and for every other model the first the
// constraints admit of: its best configuration known, the sizes its active searches look at next, the
// configuration that came closest to its targets, its cheapest.
Assignment Planner::filler_plan(const std::vector<std::pair<size_t, std::vector<Choice>>>& probes) const {
  Assignment a = minimal_assignment();
  for (const auto& [g, config] : probes)
    a = with_group(a, g, config);
  for (size_t g = 0; g < p_.groups.size(); ++g) {
    if (std::any_of(probes.begin(), probes.end(), [&](const auto& pr) { return pr.first == g; })) continue;
    // A model held at a tiny configuration would queue the whole trace and slow the run down for nothing:
    // try the sizes its own search is looking at before falling back to the cheapest.
    std::vector<std::vector<Choice>> fallbacks;
    if (const GroupObs* b = best_obs(g)) fallbacks.push_back(b->config);
    for (const auto& t : tasks_)
      if (t.group == g && t.state == TaskState::active) fallbacks.push_back(t.config(t.next));
    if (const GroupObs* c = closest_obs(g)) fallbacks.push_back(c->config);
    for (const auto& config : fallbacks) {
      Assignment trial = with_group(a, g, config);
      if (!violation(p_, trial)) {
        a = trial;
        break;
      }
    }
  }
  return a;
}

void Planner::record(RunEval& e, const json& r) {
  const auto& classes = r.at("classes");
  for (const auto& name : p_.classes) {
    ClassOutcome c;
    c.target = p_.targets.at(name);
    if (classes.contains(name)) {
      const auto& cj = classes.at(name);
      c.requests = cj.value("requests", int64_t{0});
      c.attainment = cj.value("slo_attainment", 0.0);
      c.weighted_useful = cj.value("weighted_useful_tokens", 0.0);
    }
    e.classes[name] = c;
  }
  const auto& sum = r.at("summary");
  if (sum.contains("cost_per_useful_mtok_usd") && sum["cost_per_useful_mtok_usd"].is_number())
    e.cost_per_useful_mtok = sum["cost_per_useful_mtok_usd"].get<double>();
  e.cost_usd = sum.value("cost_usd", 0.0);
  e.capex = p_.capex(e.plan);
  for (const auto& pool : p_.pools) {
    std::optional<double> v;
    if (r.contains("pools") && r["pools"].contains(pool.name)) {
      const auto& pj = r["pools"][pool.name];
      if (pj.contains("cost_per_useful_mtok_usd") && pj["cost_per_useful_mtok_usd"].is_number())
        v = pj["cost_per_useful_mtok_usd"].get<double>();
    }
    e.pool_cost_per_useful_mtok.push_back(v);
  }
  for (size_t g = 0; g < p_.groups.size(); ++g) {
    std::vector<Choice> config;
    for (size_t i : p_.groups[g].pools)
      config.push_back(e.plan[i]);
    std::string key = group_key(g, config);
    if (obs_.count(key)) continue;
    GroupObs o;
    o.meets = true;
    for (const auto& name : p_.groups[g].classes) {
      const auto& c = e.classes.at(name);
      o.classes[name] = c;
      o.meets = o.meets && c.meets();
      o.useful += c.weighted_useful;
    }
    o.capex = group_capex(g, config);
    o.config = config;
    o.run_key = e.key;
    obs_[key] = o;
  }
}

std::vector<const RunEval*> Planner::run_batch(const std::vector<Assignment>& plans) {
  std::vector<ChildJob> jobs;
  std::vector<std::string> job_key;
  std::vector<std::string> keys;
  for (const auto& a : plans) {
    std::string key = plan_key(p_, a);
    keys.push_back(key);
    if (runs_.count(key)) continue;
    RunEval e;
    e.key = key;
    e.plan = a;
    e.number = order_.size() + 1;
    e.dir = (fs::path("runs") / dir_name(key)).string();
    fs::path out = dir_ / e.dir;
    e.reused = fs::exists(out / "results.json");
    order_.push_back(key);
    if (!e.reused) {
      std::vector<std::string> args = {"run", fs::absolute(p_.file).lexically_normal().string()};
      for (const auto& s : p_.sets) {
        args.push_back("--set");
        args.push_back(s);
      }
      for (const auto& s : plan_sets(p_, a)) {
        args.push_back("--set");
        args.push_back(s);
      }
      args.push_back("--out");
      args.push_back(out.string());
      args.push_back("-q");
      args.push_back("--results-only");  // the plan reads results.json alone
      jobs.push_back({args, out / "run.log"});
      job_key.push_back(key);
    }
    runs_[key] = e;
  }
  if (!jobs.empty()) {
    ProgressBar bar("runs", jobs.size(), 0);
    std::map<std::string, int> failed;
    auto run = run_children(
        self_executable(), jobs, parallel_,
        [&](size_t i, const ChildResult& r) {
          if (r.exit_code != 0) failed[job_key[i]] = r.exit_code;
        },
        [&](const ChildProgress& pr) {
          if (!quiet_) bar.update(pr);
        });
    bar.finish();
    if (run.interrupted) throw Interrupted{};
    for (const auto& [key, code] : failed) {
      fs::path log = dir_ / runs_[key].dir / "run.log";
      std::ifstream in(log);
      std::string line, last;
      while (std::getline(in, line))
        if (!line.empty()) last = line;
      throw RunFailed{fmt::format("the run of plan {} failed (exit code {}; {}): {}", describe(p_, runs_[key].plan),
                                  code, log.string(), last)};
    }
  }
  std::vector<const RunEval*> out;
  for (const auto& key : keys) {
    RunEval& e = runs_[key];
    if (e.classes.empty()) {
      fs::path run_dir = dir_ / e.dir;
      // The per-request files are large and the plan needs only results.json; the run's --set overrides
      // (scenario.resolved.json) reproduce them. Runs write none (--results-only); a run reused from an older
      // plan directory may have.
      std::error_code ec;
      fs::remove(run_dir / "requests.csv", ec);
      fs::remove(run_dir / "timeseries.csv", ec);
      record(e, load_json_file((run_dir / "results.json").string()));
      print_run(e);
    }
    out.push_back(&e);
  }
  return out;
}

void Planner::print_run(const RunEval& e) const {
  if (quiet_) return;
  std::string att;
  for (const auto& [name, c] : e.classes)
    if (c.requests > 0) att += fmt::format("{}{} {}", att.empty() ? "" : ", ", name, percent(c.attainment));
  std::string verdict;
  if (e.feasible()) {
    verdict = "meets every target";
  } else {
    for (const auto& [name, c] : e.classes)
      if (!c.meets())
        verdict += fmt::format("{}{} {} < {}", verdict.empty() ? "misses: " : ", ", name, percent(c.attainment),
                               percent(c.target));
  }
  std::cout << fmt::format("  #{:<3} {}  capex {}  attainment {}  {}/useful Mtok  {}{}\n", e.number,
                           describe(p_, e.plan), money(e.capex), att,
                           e.cost_per_useful_mtok ? fmt::format("${:.4f}", *e.cost_per_useful_mtok) : "-", verdict,
                           e.reused ? "  (reused)" : "")
            << std::flush;
}

void Planner::print_task_end(const Task& t) const {
  if (quiet_ || t.state == TaskState::active) return;
  std::cout << "    -> " << t.note << "\n" << std::flush;
}

void Planner::check_admissible() {
  for (size_t g = 0; g < p_.groups.size(); ++g)
    advance_group(g);
  for (size_t g = 0; g < p_.groups.size(); ++g) {
    bool any = false;
    std::vector<std::string> why;
    std::optional<Violation> first;
    for (const auto& t : tasks_)
      if (t.group == g) {
        if (t.state != TaskState::capped) {
          any = true;
        } else {
          why.push_back(t.note);
          if (!first) first = t.cap;
        }
      }
    if (any) continue;
    // What the other models hold meanwhile: a min_count elsewhere can be what leaves this model no room, so name
    // those pools, and which of them a min_count holds above one instance.
    const Assignment others = minimal_assignment();
    std::vector<std::string> held;
    for (size_t h = 0; h < p_.groups.size(); ++h)
      for (size_t i : p_.groups[h].pools) {
        if (h == g) continue;
        const auto& pool = p_.pools[i];
        held.push_back(fmt::format(
            "{} (capex {}{})", pool_part(p_, i, others[i]), money(p_.pool_capex(i, others[i])),
            pool.min_count > 0 ? fmt::format(", its min_count {}", group_digits(pool.min_count)) : std::string()));
      }
    throw ConfigError(
        p_.file, first->where,
        fmt::format("no candidate for model {} fits the constraints at its smallest size (one instance, or min_count), "
                    "with the other models at their cheapest{}: {}",
                    p_.groups[g].model, held.empty() ? "" : fmt::format(" ({})", fmt::join(held, ", ")),
                    fmt::join(why, "; ")));
  }
}

void Planner::search() {
  if (!quiet_) {
    std::vector<std::string> parts;
    for (const auto& pool : p_.pools) {
      std::vector<std::string> labels;
      for (const auto& c : pool.candidates)
        labels.push_back(c.label);
      parts.push_back(fmt::format("{} ({})", pool.name, fmt::join(labels, " | ")));
    }
    std::cout << fmt::format("plan {}: sizing {} with up to {} runs, {} at a time, into {}\n", p_.name,
                             fmt::join(parts, ", "), max_runs_, parallel_, dir_.string());
  }
  for (const auto& t : tasks_)
    print_task_end(t);  // searches the constraints ended before they began
  int round = 0;
  while (true) {
    // Let each model's search move as far as the known results take it.
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t k = 0; k < tasks_.size(); ++k)
        if (tasks_[k].state == TaskState::active) {
          resolve(tasks_[k]);
          if (tasks_[k].state != TaskState::active) print_task_end(tasks_[k]);
          if (tasks_[k].state == TaskState::capped) changed = spawn_growth(k) || changed;
        }
      for (size_t g = 0; g < p_.groups.size(); ++g) {
        bool active = std::any_of(tasks_.begin(), tasks_.end(),
                                  [&](const Task& t) { return t.group == g && t.state == TaskState::active; });
        if (!active && phase_[g] != Phase::done) {
          size_t before = tasks_.size();
          advance_group(g);
          changed = changed || tasks_.size() != before || phase_[g] == Phase::done;
          for (size_t k = before; k < tasks_.size(); ++k)
            if (tasks_[k].state != TaskState::active) print_task_end(tasks_[k]);
        }
      }
    }
    // A model whose searches all ended without meeting its targets makes every plan fail: stop.
    bool hopeless = false;
    for (size_t g = 0; g < p_.groups.size(); ++g)
      hopeless = hopeless || (phase_[g] == Phase::done && options(g).empty() &&
                              std::none_of(tasks_.begin(), tasks_.end(), [&](const Task& t) {
                                return t.group == g && t.state == TaskState::active;
                              }));
    if (hopeless) {
      stopped_ = "infeasible";
      break;
    }
    // One probe per active task; probes of different models share a run when the constraints allow.
    std::vector<std::vector<size_t>> per_group(p_.groups.size());
    for (size_t k = 0; k < tasks_.size(); ++k)
      if (tasks_[k].state == TaskState::active) per_group[tasks_[k].group].push_back(k);
    size_t width = 0;
    for (const auto& v : per_group)
      width = std::max(width, v.size());
    if (width == 0) break;
    std::vector<Assignment> plans;
    std::set<std::string> seen;
    auto add = [&](const Assignment& a) {
      if (seen.insert(plan_key(p_, a)).second) plans.push_back(a);
    };
    for (size_t j = 0; j < width; ++j) {
      std::vector<std::pair<size_t, std::vector<Choice>>> probes;
      for (size_t g = 0; g < per_group.size(); ++g)
        if (j < per_group[g].size()) {
          const Task& t = tasks_[per_group[g][j]];
          probes.emplace_back(g, t.config(t.next));
        }
      Assignment merged = filler_plan(probes);
      if (!violation(p_, merged)) {
        add(merged);
        continue;
      }
      for (const auto& pr : probes)
        add(filler_plan({pr}));
    }
    // Keep one run for the final combination.
    int left = max_runs_ - static_cast<int>(order_.size()) - (max_runs_ > 1 ? 1 : 0);
    if (left <= 0) {
      stopped_ = "max_runs";
      break;
    }
    size_t fresh = 0;
    std::vector<Assignment> batch;
    for (const auto& a : plans) {
      if (!runs_.count(plan_key(p_, a))) {
        if (static_cast<int>(fresh) >= left) continue;
        ++fresh;
      }
      batch.push_back(a);
    }
    if (!quiet_) std::cout << fmt::format("round {}: {} run{}\n", ++round, fresh, fresh == 1 ? "" : "s") << std::flush;
    run_batch(batch);
  }
  for (auto& t : tasks_)
    if (t.state == TaskState::active) {
      t.state = TaskState::stopped;
      t.note = stopped_ == "infeasible"
                   ? fmt::format("stopped: {} was not needed, another model meets its targets nowhere", t.what)
                   : fmt::format("max_runs: the runs allowed ran out before the search of {} ended", t.what);
    }
}

void Planner::combine() {
  std::vector<std::vector<const GroupObs*>> opts;
  for (size_t g = 0; g < p_.groups.size(); ++g) {
    auto o = options(g);
    if (o.size() > kOptionsPerModel) o.resize(kOptionsPerModel);
    if (o.empty()) return;  // some model met its targets nowhere
    opts.push_back(o);
  }
  struct Combo {
    Assignment plan;
    double score = 0;
    std::string key;
  };
  std::vector<Combo> combos;
  std::optional<Violation> unconstrained_breaks;
  std::vector<size_t> idx(opts.size(), 0);
  while (true) {
    Assignment a(p_.pools.size());
    double capex = p_.fixed_capex, useful = 0;
    for (size_t g = 0; g < opts.size(); ++g) {
      a = with_group(a, g, opts[g][idx[g]]->config);
      capex += opts[g][idx[g]]->capex;
      useful += opts[g][idx[g]]->useful;
    }
    auto v = violation(p_, a);
    bool first = std::all_of(idx.begin(), idx.end(), [](size_t i) { return i == 0; });
    if (first && v) unconstrained_breaks = v;
    if (!v)
      combos.push_back({a, useful > 0 ? capex / useful : std::numeric_limits<double>::infinity(), plan_key(p_, a)});
    size_t g = 0;
    while (g < idx.size() && ++idx[g] == opts[g].size())
      idx[g++] = 0;
    if (g == idx.size()) break;
  }
  std::stable_sort(combos.begin(), combos.end(), [](const Combo& x, const Combo& y) {
    if (x.score != y.score) return x.score < y.score;
    return x.key < y.key;
  });
  if (unconstrained_breaks) {
    combine_binding_ = unconstrained_breaks->constraint;
    combine_detail_ = fmt::format(
        "{}: the best configuration of each model, together, break it ({}), so a costlier combination was chosen",
        unconstrained_breaks->constraint, unconstrained_breaks->detail);
  }
  // Models were searched apart; the plan that puts their best configurations together is run whole (unless a
  // run had it already), in case they do affect each other.
  for (const auto& c : combos) {
    bool known = runs_.count(c.key) > 0;
    if (!known && static_cast<int>(order_.size()) >= max_runs_) return;
    if (!quiet_ && p_.groups.size() > 1)
      std::cout << fmt::format("together: {}{}\n", describe(p_, c.plan),
                               known ? fmt::format(" (run #{})", runs_.at(c.key).number) : std::string())
                << std::flush;
    if (!known) run_batch({c.plan});
    if (runs_.at(c.key).feasible()) return;
  }
}

// The binding constraint of a plan that meets every target (docs/planning.md, "The binding constraint"). A
// search stopped by a cap (supply, budget, max_count) binds when more of that type might have bought a cheaper
// configuration of its model than the one chosen: at the cap it costs less capex than the chosen one, and the
// size its last two misses point to (a straight line through their attainment, to the target) would too.
std::string Planner::binding(std::vector<std::string>& reasons, const RunEval& best) const {
  std::string kind;
  if (combine_binding_) {
    kind = *combine_binding_;
    reasons.push_back(combine_detail_);
  }
  // A larger pool capped: a pool of the plan uses all its type's supply (or its max_count), and a pool of the
  // same model on another type costs more per useful token.
  for (size_t i = 0; i < best.plan.size(); ++i) {
    Assignment more = best.plan;
    more[i].instances = whole_domains(p_.pools[i].candidates[more[i].cand], more[i].instances + 1);
    auto v = violation(p_, more);
    if (!v || v->constraint == "budget" || !best.pool_cost_per_useful_mtok[i]) continue;
    for (size_t j = 0; j < best.plan.size(); ++j) {
      if (j == i || p_.pools[j].group != p_.pools[i].group || !best.pool_cost_per_useful_mtok[j] ||
          *best.pool_cost_per_useful_mtok[j] <= *best.pool_cost_per_useful_mtok[i])
        continue;
      if (kind.empty()) kind = v->constraint;
      reasons.push_back(fmt::format(
          "{}: {} holds pool {} at {} x {} (${:.4f} per useful Mtok), while pool {} serves the same model at ${:.4f}: "
          "more {} would likely lower the cost",
          v->constraint, v->limit, p_.pools[i].name, group_digits(p_.count(i, best.plan[i])),
          p_.pools[i].candidates[best.plan[i].cand].label, *best.pool_cost_per_useful_mtok[i], p_.pools[j].name,
          *best.pool_cost_per_useful_mtok[j], p_.pools[i].candidates[best.plan[i].cand].accelerator));
      break;
    }
  }
  std::set<std::string> said;
  for (const auto& t : tasks_) {
    if (t.state != TaskState::capped || !t.cap || t.grown || !said.insert(t.note).second) continue;
    std::vector<Choice> chosen;
    for (size_t i : p_.groups[t.group].pools)
      chosen.push_back(best.plan[i]);
    double chosen_capex = group_capex(t.group, chosen);
    double capped_capex = group_capex(t.group, t.config(t.lo));
    const std::string& c = t.cap->constraint;
    if (capped_capex >= chosen_capex) {
      reasons.push_back(
          fmt::format("{}; at its cap it already costs {} capex, no less than the {} chosen for model "
                      "{}: does not bind",
                      t.note, money(capped_capex), money(chosen_capex), p_.groups[t.group].model));
      continue;
    }
    std::optional<int64_t> need;
    const GroupObs* at = observed(t.group, t.config(t.lo));
    int64_t prev = 0;
    for (const auto& [x, a] : t.misses)
      if (x < t.lo) prev = std::max(prev, x);
    const GroupObs* before = prev > 0 ? observed(t.group, t.config(prev)) : nullptr;
    if (at && before) {
      auto [name, a1] = at->worst();
      double a0 = before->classes.at(name).attainment;
      double slope = (a1.attainment - a0) / static_cast<double>(t.lo - prev);
      if (slope > 0) need = t.lo + static_cast<int64_t>(std::ceil((a1.target - a1.attainment) / slope));
    }
    if (need) {
      double need_capex = group_capex(t.group, t.config(*need));
      bool binds = need_capex < chosen_capex;
      if (binds && kind.empty()) kind = c;
      reasons.push_back(fmt::format(
          "{}; by the trend of its last two sizes it would need about {} ({} capex), {} than the {} chosen for model "
          "{}: {}",
          t.note, sizes(t.group, t.config(*need)), money(need_capex), binds ? "less" : "more", money(chosen_capex),
          p_.groups[t.group].model, binds ? fmt::format("more {} would likely lower the cost", c) : "does not bind"));
    } else {
      if (kind.empty()) kind = c;
      reasons.push_back(fmt::format(
          "{}; at its cap it costs {} capex, less than the {} chosen for model {}, and no trend tells how much more it "
          "needs: more {} might lower the cost",
          t.note, money(capped_capex), money(chosen_capex), p_.groups[t.group].model, c));
    }
  }
  if (kind.empty()) {
    kind = "slo";
    reasons.insert(reasons.begin(),
                   "slo: each planned pool is the smallest of its type meeting the targets (within 1/32 of its "
                   "count), and no type held back by supply, budget or max_count looks cheaper");
  }
  return kind;
}

// Why no plan met every target: per model that met its targets nowhere, how each of its searches ended, the
// constraints (supply, budget, max_count) first. Each part starts with its kind ("supply: ...").
std::vector<std::string> Planner::infeasible_parts() const {
  std::vector<std::string> parts, later;
  for (size_t g = 0; g < p_.groups.size(); ++g) {
    if (!options(g).empty()) continue;
    for (const auto& t : tasks_) {
      if (t.group != g || t.note.empty()) continue;
      bool constraint = t.state == TaskState::capped && t.cap;
      (constraint ? parts : later).push_back(t.note);
    }
  }
  parts.insert(parts.end(), later.begin(), later.end());
  if (parts.empty()) {
    // Every model met its targets somewhere; the whole plan did not (classes of pools not planned, or no run left).
    for (const auto& name : p_.fixed_classes)
      parts.push_back(
          fmt::format("slo: class {} is served by pools the plan does not size, and misses its target", name));
    if (static_cast<int>(order_.size()) >= max_runs_)
      parts.push_back(
          fmt::format("max_runs: the {} runs allowed ended before a whole plan met every target", max_runs_));
    if (parts.empty())
      parts.push_back("slo: no combination of the models' best configurations met every target together");
  }
  return parts;
}

std::vector<const RunEval*> Planner::tried() const {
  std::vector<const RunEval*> all;
  for (const auto& key : order_)
    all.push_back(&runs_.at(key));
  return all;
}

// Off the Pareto front of the plans tried (lower cost per useful token, higher lowest class attainment): another
// plan is at least as good on both and better on one. A plan without a cost per useful token is off it.
bool dominated(const RunEval& e, const std::vector<const RunEval*>& all) {
  if (!e.cost_per_useful_mtok) return true;
  for (const auto* o : all)
    if (o != &e && o->cost_per_useful_mtok && *o->cost_per_useful_mtok <= *e.cost_per_useful_mtok &&
        o->min_attainment() >= e.min_attainment() &&
        (*o->cost_per_useful_mtok < *e.cost_per_useful_mtok || o->min_attainment() > e.min_attainment()))
      return true;
  return false;
}

ojson assignment_json(const Problem& p, const Assignment& a) {
  ojson pools = ojson::array();
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& c = p.pools[i].candidates[a[i].cand];
    ojson o;
    o["pool"] = p.pools[i].name;
    o["accelerator"] = c.accelerator;
    if (c.tp) o["tp"] = *c.tp;
    if (c.ep) o["ep"] = *c.ep;
    if (!c.dtype.empty()) o["dtype"] = c.dtype;
    o["count"] = p.count(i, a[i]);
    o["instances"] = a[i].instances;
    o["capex_usd"] = p.pool_capex(i, a[i]);
    pools.push_back(o);
  }
  return pools;
}

void Planner::write_outputs(const RunEval* best, const std::string& binding_kind,
                            const std::vector<std::string>& reasons) {
  auto all = tried();
  ojson j;
  j["schema_version"] = 1;
  j["kind"] = "tokenfactory-plan";
  j["scenario"] = p_.name;
  j["scenario_file"] = p_.file;
  j["set"] = p_.sets;
  j["objective"] = "summary.cost_per_useful_mtok_usd, with every class at or above its attainment target";
  ojson constraints;
  constraints["budget_usd"] = p_.budget ? ojson(*p_.budget) : ojson(nullptr);
  ojson targets = ojson::object();
  for (const auto& [name, t] : p_.targets)
    targets[name] = t;
  constraints["attainment"] = targets;
  ojson supply = ojson::object();
  for (const auto& [acc, n] : p_.available)
    supply[acc] = {{"available", n}, {"in_pools_not_planned", p_.fixed_use.count(acc) ? p_.fixed_use.at(acc) : 0}};
  constraints["supply"] = supply;
  constraints["max_runs"] = max_runs_;
  j["constraints"] = constraints;
  j["runs"] = order_.size();
  j["stopped"] = stopped_;
  if (best) {
    ojson b;
    b["run"] = best->number;
    b["plan"] = best->key;
    b["pools"] = assignment_json(p_, best->plan);
    b["capex_usd"] = best->capex;
    b["cost_usd"] = best->cost_usd;
    b["cost_per_useful_mtok_usd"] = best->cost_per_useful_mtok ? ojson(*best->cost_per_useful_mtok) : ojson(nullptr);
    b["min_attainment"] = best->min_attainment();
    ojson classes = ojson::object();
    for (const auto& [name, c] : best->classes)
      classes[name] = {{"slo_attainment", c.attainment}, {"target", c.target}, {"meets", c.meets()}};
    b["classes"] = classes;
    b["set"] = plan_sets(p_, best->plan);
    b["results"] = (fs::path(best->dir) / "results.json").string();
    j["best"] = b;
  } else {
    j["best"] = nullptr;
  }
  j["binding"] = binding_kind;
  j["binding_reasons"] = reasons;
  ojson searches = ojson::array();
  for (const auto& t : tasks_) {
    const char* state = t.state == TaskState::found       ? "found"
                        : t.state == TaskState::capped    ? "capped"
                        : t.state == TaskState::saturated ? "saturated"
                        : t.state == TaskState::pruned    ? "pruned"
                        : t.state == TaskState::stopped   ? "stopped"
                                                          : "active";
    searches.push_back({{"model", p_.groups[t.group].model}, {"what", t.what}, {"end", state}, {"note", t.note}});
  }
  j["searches"] = searches;
  ojson frontier = ojson::array();
  for (const auto* e : all) {
    ojson o;
    o["run"] = e->number;
    o["plan"] = e->key;
    o["pools"] = assignment_json(p_, e->plan);
    o["capex_usd"] = e->capex;
    o["cost_per_useful_mtok_usd"] = e->cost_per_useful_mtok ? ojson(*e->cost_per_useful_mtok) : ojson(nullptr);
    o["min_attainment"] = e->min_attainment();
    ojson att = ojson::object();
    for (const auto& [name, c] : e->classes)
      att[name] = c.attainment;
    o["slo_attainment"] = att;
    o["feasible"] = e->feasible();
    o["pareto"] = !dominated(*e, all);
    o["results"] = (fs::path(e->dir) / "results.json").string();
    frontier.push_back(o);
  }
  j["frontier"] = frontier;
  write_file_atomically(dir_ / "plan.json", j.dump(2) + "\n");

  std::ostringstream csv;
  csv << "run,plan,feasible,pareto,capex_usd,cost_per_useful_mtok_usd,min_attainment";
  for (const auto& pool : p_.pools)
    csv << "," << pool.name << ".accelerator," << pool.name << ".count";
  for (const auto& name : p_.classes)
    csv << "," << name << ".slo_attainment";
  csv << "\n";
  for (const auto* e : all) {
    csv << e->number << "," << e->key << "," << (e->feasible() ? "true" : "false") << ","
        << (dominated(*e, all) ? "false" : "true") << "," << fmt::format("{}", e->capex) << ","
        << (e->cost_per_useful_mtok ? fmt::format("{}", *e->cost_per_useful_mtok) : std::string()) << ","
        << fmt::format("{}", e->min_attainment());
    for (size_t i = 0; i < e->plan.size(); ++i)
      csv << "," << p_.pools[i].candidates[e->plan[i].cand].slug << "," << p_.count(i, e->plan[i]);
    for (const auto& name : p_.classes)
      csv << "," << fmt::format("{}", e->classes.at(name).attainment);
    csv << "\n";
  }
  write_file_atomically(dir_ / "frontier.csv", csv.str());
}

int Planner::report() {
  const RunEval* best = nullptr;
  for (const auto& key : order_) {
    const RunEval& e = runs_.at(key);
    if (!e.feasible() || !e.cost_per_useful_mtok) continue;
    if (!best || *e.cost_per_useful_mtok < *best->cost_per_useful_mtok ||
        (*e.cost_per_useful_mtok == *best->cost_per_useful_mtok && e.capex < best->capex))
      best = &e;
  }
  std::vector<std::string> reasons;
  std::string kind;
  if (best) {
    kind = binding(reasons, *best);
  } else {
    reasons = infeasible_parts();
    kind = reasons.front().substr(0, reasons.front().find(':'));
  }
  write_outputs(best, kind, reasons);
  if (!best)
    throw ConfigError(p_.file, "/plan",
                      fmt::format("no plan meets every class's target within the constraints: {} (the plans tried are "
                                  "in {}/plan.json)",
                                  fmt::join(reasons, "; "), dir_.string()));
  if (quiet_) return 0;

  std::cout << fmt::format("\nbest plan (run #{}): ${:.4f} per useful Mtok, capex {}, every class meets its target\n",
                           best->number, *best->cost_per_useful_mtok, money(best->capex));
  std::cout << fmt::format("  {:<16} {:<22} {:>10} {:>10} {:>12}\n", "pool", "accelerator", "count", "instances",
                           "capex");
  for (size_t i = 0; i < best->plan.size(); ++i)
    std::cout << fmt::format("  {:<16} {:<22} {:>10} {:>10} {:>12}\n", p_.pools[i].name,
                             p_.pools[i].candidates[best->plan[i].cand].label, group_digits(p_.count(i, best->plan[i])),
                             group_digits(best->plan[i].instances), money(p_.pool_capex(i, best->plan[i])));
  std::cout << fmt::format("  {:<16} {:>10} {:>10}\n", "class", "attainment", "target");
  for (const auto& [name, c] : best->classes)
    std::cout << fmt::format("  {:<16} {:>10} {:>10}\n", name, c.requests ? percent(c.attainment) : "-",
                             percent(c.target));
  std::cout << fmt::format("binding constraint: {}\n", kind);
  for (const auto& r : reasons)
    std::cout << "  " << r << "\n";
  std::cout << "frontier (Pareto: cost per useful Mtok against the lowest class attainment):\n";
  auto all = tried();
  size_t width = 4;
  for (const auto* e : all)
    width = std::max(width, describe(p_, e->plan).size());
  std::cout << fmt::format("  {:>4}  {:<{}} {:>10} {:>14} {:>9}\n", "run", "plan", width, "capex", "$/useful Mtok",
                           "min att.");
  for (const auto* e : all)
    if (!dominated(*e, all))
      std::cout << fmt::format("  {:>4}  {:<{}} {:>10} {:>14} {:>9}{}\n", e->number, describe(p_, e->plan), width,
                               money(e->capex), fmt::format("${:.4f}", *e->cost_per_useful_mtok),
                               percent(e->min_attainment()), e->feasible() ? "" : "  (misses)");
  std::cout << fmt::format("wrote {}/plan.json and frontier.csv: {} runs ({})\n", dir_.string(), order_.size(),
                           stopped_ == "converged" ? "the search converged" : "stopped at --max-runs");
  return 0;
}

// plan-inputs.json: the scenario and overrides this directory's runs belong to. Runs are reused only for the
// same inputs.
void place_inputs(const fs::path& dir, const json& inputs) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw ConfigError(dir.string(), "", "cannot create output directory: " + ec.message());
  fs::path file = dir / "plan-inputs.json";
  if (fs::exists(file)) {
    json old = load_json_file(file.string());
    if (old != inputs)
      throw ConfigError(file.string(), "",
                        "this directory holds the runs of a different plan (its scenario or overrides differ): choose "
                        "another --out, or remove the directory to start again");
    return;
  }
  write_file_atomically(file, inputs.dump(2) + "\n");
}

}  // namespace

CLI::App* add_plan_command(CLI::App& app, PlanOptions& o) {
  auto* c = app.add_subcommand(
      "plan",
      "search pool sizes and accelerator types (the scenario's plan block) within supply and budget for the lowest "
      "cost per useful token meeting every class's SLO target; one run per plan tried; writes plan.json and "
      "frontier.csv");
  c->add_option("scenario", o.scenario, "scenario JSON file with a plan block")->required();
  c->add_option("--set", o.sets, "override a scenario value in every run: path=value")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c->add_option("--jobs,-j", o.jobs, "runs at once (default: every core)");
  c->add_option("--out", o.out, "output directory (default runs/<scenario name>-plan)");
  c->add_option("--max-runs", o.max_runs, "simulations the search may spend (default: plan.max_runs)")
      ->check(CLI::PositiveNumber);
  c->add_flag("--quiet,-q", o.quiet, "print nothing but errors");
  return c;
}

int run_plan(const PlanOptions& o) {
  // Load as `run` would, but with oversubscription allowed: the scenario's own pool sizes are only where the
  // search starts, and may exceed the supply the plan must respect.
  std::vector<std::string> load_sets = o.sets;
  load_sets.push_back("cluster.allow_oversubscribe=true");
  LoadedFactory base = load_factory(o.scenario, load_sets);
  const auto& s = base.scenario.scenario;
  if (!s.plan)
    throw ConfigError(o.scenario, "/plan",
                      "the scenario has no plan block: add \"plan\": {\"pools\": [{\"pool\": \"<name>\", "
                      "\"candidates\": [...]}]} to say which pools to size (docs/planning.md)");
  Problem problem = build_problem(o.scenario, o.sets, base);
  // Every candidate must make a valid factory (dtype support, weights fitting in memory) before anything runs.
  for (size_t i = 0; i < problem.pools.size(); ++i)
    for (size_t c = 0; c < problem.pools[i].candidates.size(); ++c) {
      const auto& pool = problem.pools[i];
      const auto& cand = pool.candidates[c];
      // One instance of the candidate, the other pools as the scenario has them.
      Assignment a(problem.pools.size());
      a[i] = {c, whole_domains(cand, 1)};
      std::vector<std::string> sets = load_sets;
      for (const auto& x : plan_sets(problem, a))
        if (x.rfind(fmt::format("cluster.pools.{}.", pool.index), 0) == 0) sets.push_back(x);
      try {
        validate_with(o.scenario, sets, *base.catalog);
      } catch (const ConfigError& e) {
        size_t plan_index = 0;
        while (s.plan->pools[plan_index].pool != pool.name)
          ++plan_index;
        throw ConfigError(o.scenario,
                          s.plan->pools[plan_index].candidates.empty()
                              ? fmt::format("/plan/pools/{}", plan_index)
                              : fmt::format("/plan/pools/{}/candidates/{}", plan_index, c),
                          fmt::format("candidate {} for pool {} does not make a valid factory: {}: {}", cand.label,
                                      pool.name, e.where(), e.message()));
      }
    }
  int max_runs = o.max_runs > 0 ? o.max_runs : problem.max_runs;
  fs::path dir = o.out.empty() ? fs::path("runs") / (s.name + "-plan") : fs::path(o.out);
  json inputs = {{"scenario", fs::absolute(o.scenario).lexically_normal().string()},
                 {"set", o.sets},
                 {"base", base.scenario.resolved}};
  Planner planner(problem, dir, o.jobs > 0 ? o.jobs : default_jobs(), max_runs, o.quiet);
  planner.check_admissible();
  place_inputs(dir, inputs);
  try {
    planner.search();
    planner.combine();
  } catch (const Interrupted&) {
    std::cerr << "plan interrupted: run the same command again to resume (finished runs are reused)\n";
    return 130;
  } catch (const RunFailed& f) {
    std::cerr << "tokenfactory: error: " << f.message << "\n";
    return 1;
  }
  return planner.report();
}

}  // namespace tf::cli
