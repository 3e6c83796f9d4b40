#include "config/scenario_load.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/json_reader.hpp"

namespace tf::config {

namespace fs = std::filesystem;

std::string Scenario::resolve(const std::string& path) const {
  fs::path p(path);
  if (p.is_absolute() || data_root.empty()) return path;
  return (fs::path(data_root) / p).lexically_normal().string();
}

std::vector<std::string> Scenario::class_names() const {
  std::vector<std::string> out;
  for (const auto& entry : workload.classes)
    out.push_back(entry.first);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// --set overrides

void apply_override(nlohmann::json& doc, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set", assignment, "expected path=value, e.g. cluster.pools.0.count=16");
  std::string path = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);

  std::vector<std::string> steps;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    steps.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  nlohmann::json* node = &doc;
  std::string walked;
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string& step = steps[i];
    bool last = i + 1 == steps.size();
    if (step.empty()) throw ConfigError("--set", path, "empty path element");
    std::string here = walked.empty() ? step : walked + "." + step;
    if (node->is_array()) {
      char* end = nullptr;
      long index = std::strtol(step.c_str(), &end, 10);
      if (*end != '\0' || index < 0)
        throw ConfigError("--set", here, fmt::format("\"{}\" is an array: expected an index", walked));
      if (static_cast<size_t>(index) >= node->size())
        throw ConfigError("--set", here,
                          fmt::format("index {} is out of range: \"{}\" has {} elements", index, walked, node->size()));
      node = &(*node)[static_cast<size_t>(index)];
    } else if (node->is_object()) {
      // A missing key is created (as an object when more path follows): keys that the file leaves at their
      // defaults can be set too, and the schema check that follows rejects keys that are not allowed.
      if (!node->contains(step) && !last) (*node)[step] = nlohmann::json::object();
      node = &(*node)[step];
    } else {
      throw ConfigError("--set", here, fmt::format("\"{}\" is not an object or array", walked));
    }
    walked = here;
  }
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error&) {
    value = text;
  }
  *node = std::move(value);
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

namespace {

const std::vector<std::string> kDtypes = {"bf16", "fp16", "fp8", "int8", "fp4"};

SchedulerConfig parse_scheduler(const JsonReader& j) {
  SchedulerConfig s;
  auto o = j.object();
  s.kind = o.required("kind").as_string();
  if (auto v = o.optional("max_batched_tokens")) s.max_batched_tokens = v->as_int(1, 1 << 24);
  if (auto v = o.optional("max_num_seqs")) s.max_num_seqs = v->as_int(1, 1 << 20);
  if (auto v = o.optional("chunk_size")) s.chunk_size = v->as_int(0, 1 << 24);
  if (auto v = o.optional("block_size")) s.block_size = v->as_int(1, 1 << 16);
  if (auto v = o.optional("preemption")) {
    auto p = v->object();
    s.preemption.kind = p.required("kind").as_enum({"recompute", "swap"});
    if (auto b = p.optional("bandwidth")) {
      s.preemption.bandwidth = b->as_bandwidth();
      if (s.preemption.bandwidth.value() <= 0) b->fail("expected a positive bandwidth");
    }
    p.finish();
  }
  o.finish();
  return s;
}

PrefixCacheConfig parse_prefix_cache(const JsonReader& j) {
  PrefixCacheConfig c;
  c.enabled = true;
  auto o = j.object();
  if (auto v = o.optional("scope")) c.scope = v->as_enum({"instance", "cluster"});
  if (auto v = o.optional("eviction")) c.eviction = v->as_enum({"lru"});
  if (auto v = o.optional("on_missing_hashes")) c.on_missing_hashes = v->as_enum({"error", "ignore"});
  auto tiers = o.required("tiers");
  for (const auto& t : tiers.array()) {
    CacheTierConfig tc;
    auto to = t.object();
    tc.tier = to.required("tier").as_enum({"hbm", "dram", "ssd"});
    auto cap = to.required("capacity");
    if (!(cap.json().is_string() && cap.json().get<std::string>() == "unbounded")) {
      tc.capacity = cap.as_bytes();
      if (tc.capacity->value() <= 0)
        cap.fail("expected a positive capacity or \"unbounded\" (a tier of zero capacity holds nothing)");
    }
    bool local_hbm = tc.tier == "hbm" && c.scope == "instance";
    if (auto b = to.optional("bandwidth")) {
      tc.bandwidth = b->as_bandwidth();
      if (tc.bandwidth.value() <= 0) b->fail("expected a positive bandwidth");
    } else if (!local_hbm) {
      to.required("bandwidth");  // reports the missing key with its path
    }
    to.finish();
    for (const auto& prev : c.tiers)
      if (prev.tier == tc.tier) t.fail(fmt::format("tier \"{}\" is listed twice", tc.tier));
    c.tiers.push_back(tc);
  }
  if (c.tiers.empty()) tiers.fail("expected at least one tier");
  o.finish();
  return c;
}

InstanceConfig parse_instance(const JsonReader& j) {
  InstanceConfig c;
  auto o = j.object();
  c.model = o.required("model").as_string();
  if (auto v = o.optional("role")) c.role = v->as_enum({"colocated", "prefill", "decode"});
  if (auto v = o.optional("tp")) c.tp = static_cast<int>(v->as_int(1, 1024));
  if (auto v = o.optional("pp")) c.pp = static_cast<int>(v->as_int(1, 1024));
  if (auto v = o.optional("ep")) c.ep = static_cast<int>(v->as_int(1, 4096));
  if (auto v = o.optional("dtype")) c.dtype = v->as_enum(kDtypes);
  c.kv_dtype = c.dtype == "int8" || c.dtype == "fp4" ? "bf16" : c.dtype;
  if (auto v = o.optional("kv_dtype")) c.kv_dtype = v->as_enum(kDtypes);
  if (auto v = o.optional("memory_fraction")) {
    c.memory_fraction = v->as_double(0.05, 1.0);
  }
  if (auto v = o.optional("stack")) {
    c.stack = v->as_string();  // the factory checks the key against models/stacks
    if (c.stack.empty()) v->fail("expected a serving stack key such as \"modern\" or a path to a .json file");
  }
  if (auto v = o.optional("scheduler")) c.scheduler = parse_scheduler(*v);
  if (auto v = o.optional("prefix_cache")) c.prefix_cache = parse_prefix_cache(*v);
  o.finish();
  return c;
}

PoolConfig parse_pool(const JsonReader& j) {
  PoolConfig p;
  auto o = j.object();
  p.name = o.required("name").as_string();
  if (p.name.empty()) o.required("name").fail("expected a non-empty pool name");
  p.accelerator = o.required("accelerator").as_string();
  p.count = o.required("count").as_int(1, 10'000'000);
  if (auto v = o.optional("scale_up")) p.scale_up = v->as_enum({"nvlink-node", "nvl72", "ub-supernode"});
  if (auto v = o.optional("spares")) p.spares = v->as_int(0, 10'000'000);
  p.instance = parse_instance(o.required("instance"));
  o.finish();
  return p;
}

TopologyConfig parse_topology(const JsonReader& j) {
  TopologyConfig t;
  auto o = j.object();
  if (auto v = o.optional("kind")) t.kind = v->as_enum({"ideal", "clos", "rail"});
  if (auto v = o.optional("tiers")) t.tiers = static_cast<int>(v->as_int(2, 3));
  if (auto v = o.optional("radix")) t.radix = static_cast<int>(v->as_int(4, 4096));
  if (auto v = o.optional("oversubscription")) {
    if (v->json().is_array()) {
      for (const auto& x : v->array())
        t.oversubscription.push_back(x.as_double(1.0, 1024.0));
      if (t.oversubscription.empty() || t.oversubscription.size() > 2)
        v->fail("expected one ratio per tier boundary (1 or 2 numbers, bottom up), e.g. [4, 1]");
    } else {
      t.oversubscription.push_back(v->as_double(1.0, 1024.0));
    }
  }
  if (auto v = o.optional("link_bandwidth")) {
    t.link_bandwidth = v->as_bandwidth();
    if (t.link_bandwidth->value() <= 0) v->fail("expected a positive bandwidth, e.g. \"400Gb/s\"");
  }
  if (auto v = o.optional("hop_latency")) {
    t.hop_latency = v->as_seconds();
    if (t.hop_latency.value() < 0) v->fail("expected a non-negative duration");
  }
  if (auto v = o.optional("placement")) t.placement = v->as_enum({"contiguous", "spread"});
  if (auto v = o.optional("allow_split")) t.allow_split = v->as_bool();
  o.finish();
  return t;
}

std::map<std::string, SupplyConfig> parse_supply(const JsonReader& j) {
  std::map<std::string, SupplyConfig> out;
  auto o = j.object();
  for (const auto& key : o.keys()) {
    auto entry = o.required(key);
    auto eo = entry.object();
    SupplyConfig s;
    if (auto v = eo.optional("available")) {
      if (!v->json().is_number_integer() && !v->json().is_number_unsigned())
        v->fail("expected a whole number of units (0 or more)");
      s.available = v->as_int(0, 100'000'000);
    }
    if (auto v = eo.optional("lead_time")) {
      s.lead_time = v->as_seconds();
      if (s.lead_time->value() < 0) v->fail("expected a non-negative duration, e.g. \"12w\" or \"90d\"");
    }
    if (auto v = eo.optional("unit_price")) {
      s.unit_price = v->as_dollars();
      if (s.unit_price->value() <= 0) v->fail("expected a positive price, e.g. \"$12000\"");
    }
    eo.finish();
    out[key] = s;
  }
  return out;
}

ClusterConfig parse_cluster(const JsonReader& j) {
  ClusterConfig c;
  auto o = j.object();
  auto pools = o.required("pools");
  for (const auto& p : pools.array())
    c.pools.push_back(parse_pool(p));
  if (c.pools.empty()) pools.fail("expected at least one pool");
  for (size_t i = 0; i < c.pools.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (c.pools[i].name == c.pools[k].name)
        pools.at(i).fail(fmt::format("duplicate pool name \"{}\"", c.pools[i].name));
  auto router = [](const JsonReader& r, RouterConfig& out) {
    auto ro = r.object();
    out.kind = ro.required("kind").as_string();
    if (auto v = ro.optional("queue_weight")) out.queue_weight = v->as_double(0, 1e6);
    ro.finish();
  };
  if (auto r = o.optional("router")) router(*r, c.router);
  if (auto r = o.optional("decode_router")) router(*r, c.decode_router);
  if (auto a = o.optional("admission")) {
    auto ao = a->object();
    c.admission.kind = ao.required("kind").as_enum({"none", "predicted-ttft"});
    ao.finish();
  }
  if (auto v = o.optional("topology")) c.topology = parse_topology(*v);
  if (auto v = o.optional("supply")) c.supply = parse_supply(*v);
  if (auto v = o.optional("allow_oversubscribe")) c.allow_oversubscribe = v->as_bool();
  o.finish();
  return c;
}

FailureRateConfig parse_failure_rate(const JsonReader& j) {
  FailureRateConfig f;
  auto o = j.object();
  if (auto v = o.optional("annual_failure_rate")) {
    f.annual_failure_rate = v->as_double();
    if (!(*f.annual_failure_rate > 0) || *f.annual_failure_rate > 1000)
      v->fail("expected a positive number of failures per unit per year, e.g. 0.05");
  }
  if (auto v = o.optional("mtbf")) {
    f.mtbf = v->as_seconds();
    if (!(f.mtbf->value() > 0)) v->fail("expected a positive mean time between failures, e.g. \"50000h\"");
  }
  if (auto v = o.optional("repair")) {
    f.repair = v->as_seconds();
    if (!(f.repair->value() > 0)) v->fail("expected a positive repair time, e.g. \"4h\"");
  }
  if (f.annual_failure_rate && f.mtbf) o.required("mtbf").fail("give either annual_failure_rate or mtbf, not both");
  if (!f.annual_failure_rate && !f.mtbf) j.fail("expected \"annual_failure_rate\" or \"mtbf\"");
  o.finish();
  return f;
}

FailuresConfig parse_failures(const JsonReader& j) {
  FailuresConfig f;
  auto o = j.object();
  if (auto v = o.optional("enabled")) f.enabled = v->as_bool();
  if (auto v = o.optional("repair")) {
    f.repair = v->as_seconds();
    if (!(f.repair.value() > 0)) v->fail("expected a positive repair time, e.g. \"4h\"");
  }
  if (auto v = o.optional("restart")) {
    f.restart = v->as_seconds();
    if (f.restart.value() < 0) v->fail("expected a non-negative restart time, e.g. \"5min\"");
  }
  if (auto v = o.optional("blast_radius")) f.blast_radius = v->as_enum({"instance", "domain"});
  if (auto v = o.optional("accelerators")) {
    auto ao = v->object();
    for (const auto& k : ao.keys())
      f.accelerators[k] = parse_failure_rate(ao.required(k));
  }
  if (auto v = o.optional("links")) {
    auto lo = v->object();
    for (const auto& k : lo.keys()) {
      if (k != "nic" && k != "scale_up")
        lo.required(k).fail(fmt::format("unknown link kind \"{}\" (expected nic or scale_up)", k));
      f.links[k] = parse_failure_rate(lo.required(k));
    }
  }
  if (auto v = o.optional("scripted")) {
    for (const auto& item : v->array()) {
      auto io = item.object();
      ScriptedFailure s;
      s.where = item.where();
      s.at = io.required("at").as_seconds();
      if (s.at.value() < 0) io.required("at").fail("expected a non-negative time");
      s.pool = io.required("pool").as_string();
      if (auto x = io.optional("instance")) s.instance = x->as_int(0, 100'000'000);
      if (auto x = io.optional("repair")) {
        s.repair = x->as_seconds();
        if (!(s.repair->value() > 0)) x->fail("expected a positive repair time");
      }
      if (auto x = io.optional("blast_radius")) s.blast_radius = x->as_enum({"instance", "domain"});
      io.finish();
      f.scripted.push_back(s);
    }
  }
  o.finish();
  return f;
}

PlanConfig parse_plan(const JsonReader& j) {
  PlanConfig p;
  auto o = j.object();
  auto pools = o.required("pools");
  for (const auto& item : pools.array()) {
    auto io = item.object();
    PlanPoolConfig pp;
    pp.pool = io.required("pool").as_string();
    if (auto c = io.optional("candidates")) {
      for (const auto& cand : c->array()) {
        PlanCandidate k;
        if (cand.json().is_string()) {
          k.accelerator = cand.as_string();
        } else {
          auto co = cand.object();
          k.accelerator = co.required("accelerator").as_string();
          if (auto v = co.optional("tp")) k.tp = static_cast<int>(v->as_int(1, 1024));
          if (auto v = co.optional("ep")) k.ep = static_cast<int>(v->as_int(1, 4096));
          if (auto v = co.optional("dtype")) k.dtype = v->as_enum({"bf16", "fp16", "fp8", "int8", "fp4"});
          co.finish();
        }
        pp.candidates.push_back(k);
      }
      if (pp.candidates.empty()) c->fail("expected at least one candidate accelerator");
    }
    if (auto v = io.optional("min_count")) pp.min_count = v->as_int(0, 100'000'000);
    if (auto v = io.optional("max_count")) pp.max_count = v->as_int(1, 100'000'000);
    if (pp.max_count && *pp.max_count < pp.min_count)
      io.required("max_count").fail(fmt::format("max_count {} is below min_count {}", *pp.max_count, pp.min_count));
    io.finish();
    p.pools.push_back(pp);
  }
  if (p.pools.empty()) pools.fail("expected at least one pool to size");
  if (auto v = o.optional("budget")) {
    p.budget = v->as_dollars();
    if (!(p.budget->value() > 0)) v->fail("expected a positive budget, e.g. \"$500000000\"");
  }
  if (auto v = o.optional("attainment")) p.attainment = v->as_fraction();
  if (auto v = o.optional("max_runs")) p.max_runs = static_cast<int>(v->as_int(1, 10000));
  o.finish();
  return p;
}

std::map<std::string, double> parse_class_mix(const JsonReader& j) {
  std::map<std::string, double> mix;
  auto o = j.object();
  double sum = 0;
  for (const auto& k : o.keys()) {
    double f = o.required(k).as_fraction();
    mix[k] = f;
    sum += f;
  }
  if (mix.empty()) j.fail("expected at least one class");
  if (std::abs(sum - 1.0) > 1e-6) j.fail(fmt::format("class fractions must sum to 1, got {}", sum));
  return mix;
}

// A source names its class(es) with "class" or "class_mix"; exactly one of them.
void parse_class_choice(ObjectReader& o, std::string& name, std::map<std::string, double>& mix) {
  auto c = o.optional("class");
  auto m = o.optional("class_mix");
  if (c && m) m->fail("give \"class\" or \"class_mix\", not both");
  if (c) name = c->as_string();
  if (m) mix = parse_class_mix(*m);
}

TraceConfig parse_trace(const JsonReader& j) {
  TraceConfig t;
  auto o = j.object();
  t.format = o.required("format").as_string();
  t.path = o.required("path").as_string();
  if (auto v = o.optional("rate_scale")) {
    t.rate_scale = v->as_double(1e-6, 1e6);
  }
  if (auto v = o.optional("replicas")) t.replicas = static_cast<int>(v->as_int(1, 100'000));
  if (auto v = o.optional("max_requests")) t.max_requests = v->as_int(1, INT64_MAX);
  parse_class_choice(o, t.class_name, t.class_mix);
  o.finish();
  return t;
}

DistributionConfig parse_distribution(const JsonReader& j) {
  DistributionConfig d;
  auto o = j.object();
  d.kind = o.required("kind").as_enum({"fixed", "uniform", "normal", "lognormal", "trace"});
  auto num = [&](const char* key, bool required) -> double {
    auto v = required ? std::optional<JsonReader>(o.required(key)) : o.optional(key);
    return v ? v->as_double(0, 1e9) : 0.0;
  };
  if (d.kind == "fixed") {
    d.value = num("value", true);
    if (d.value < 1) o.required("value").fail("expected a length of at least 1 token");
  } else if (d.kind == "uniform") {
    d.min = num("min", true);
    d.max = num("max", true);
    if (d.min < 1 || d.max < d.min) o.self().fail("expected 1 <= min <= max");
  } else if (d.kind == "normal" || d.kind == "lognormal") {
    d.mean = num("mean", true);
    d.stddev = num("stddev", true);
    d.min = num("min", false);
    d.max = num("max", false);
    if (d.mean <= 0) o.required("mean").fail("expected a positive mean");
  } else {
    d.trace_format = o.required("format").as_string();
    d.trace_path = o.required("path").as_string();
    d.trace_field = o.required("field").as_enum({"input", "output"});
  }
  o.finish();
  return d;
}

SyntheticConfig parse_synthetic(const JsonReader& j) {
  SyntheticConfig s;
  auto o = j.object();
  s.arrival = o.required("arrival").as_enum({"poisson", "gamma"});
  s.rate = o.required("rate").as_double(1e-9, 1e9);
  if (auto v = o.optional("cv")) s.cv = v->as_double(1e-3, 100);
  if (auto v = o.optional("count")) s.count = v->as_int(1, INT64_MAX);
  s.input = parse_distribution(o.required("input"));
  s.output = parse_distribution(o.required("output"));
  parse_class_choice(o, s.class_name, s.class_mix);
  o.finish();
  return s;
}

SloConfig parse_slo(const JsonReader& j) {
  SloConfig s;
  auto o = j.object();
  if (auto v = o.optional("ttft")) s.ttft = v->as_seconds();
  if (auto v = o.optional("tpot")) s.tpot = v->as_seconds();
  if (auto v = o.optional("e2e")) s.e2e = v->as_seconds();
  if (auto v = o.optional("tbt")) s.tbt = v->as_seconds();
  if (auto v = o.optional("attainment_target")) s.attainment_target = v->as_fraction();
  o.finish();
  return s;
}

ClassConfig parse_class(const std::string& name, const JsonReader& j) {
  ClassConfig c;
  c.name = name;
  auto o = j.object();
  c.model = o.required("model").as_string();
  if (auto v = o.optional("slo")) c.slo = parse_slo(*v);
  if (auto v = o.optional("value")) c.value = v->as_double(0, 1e6);
  if (auto v = o.optional("priority")) c.priority = static_cast<int>(v->as_int(-1000, 1000));
  o.finish();
  return c;
}

std::string defined_classes(const WorkloadConfig& w) {
  std::string out;
  for (const auto& entry : w.classes)
    out += (out.empty() ? "" : ", ") + entry.first;
  return out;
}

WorkloadConfig parse_workload(const JsonReader& j) {
  WorkloadConfig w;
  auto o = j.object();
  if (auto v = o.optional("traces"))
    for (const auto& t : v->array())
      w.traces.push_back(parse_trace(t));
  if (auto v = o.optional("synthetic"))
    for (const auto& s : v->array())
      w.synthetic.push_back(parse_synthetic(s));
  if (w.traces.empty() && w.synthetic.empty())
    o.self().fail("expected at least one entry in \"traces\" or \"synthetic\"");
  if (auto v = o.optional("rate_scale")) w.rate_scale = v->as_double(1e-6, 1e6);
  auto classes = o.required("classes");
  auto co = classes.object();
  for (const auto& name : co.keys())
    w.classes[name] = parse_class(name, co.required(name));
  if (w.classes.empty()) classes.fail("expected at least one class");
  if (auto v = o.optional("client_latency")) w.client_latency = v->as_seconds();
  o.finish();

  // Every source must name classes that exist; a source without a class needs exactly one class defined.
  auto check = [&](const JsonReader& src, std::string& name, const std::map<std::string, double>& mix) {
    if (name.empty() && mix.empty()) {
      if (w.classes.size() != 1) src.fail("expected \"class\" or \"class_mix\" (the workload defines several classes)");
      name = w.classes.begin()->first;
    }
    if (!name.empty() && !w.classes.count(name))
      src.fail(fmt::format("unknown class \"{}\" (defined: {})", name, defined_classes(w)));
    for (const auto& [k, f] : mix)
      if (!w.classes.count(k)) src.fail(fmt::format("class_mix names unknown class \"{}\"", k));
  };
  auto ow = j.object();
  if (auto v = ow.optional("traces")) {
    auto arr = v->array();
    for (size_t i = 0; i < w.traces.size(); ++i)
      check(arr[i], w.traces[i].class_name, w.traces[i].class_mix);
  }
  if (auto v = ow.optional("synthetic")) {
    auto arr = v->array();
    for (size_t i = 0; i < w.synthetic.size(); ++i)
      check(arr[i], w.synthetic[i].class_name, w.synthetic[i].class_mix);
  }
  return w;
}

CostConfig parse_cost(const JsonReader& j) {
  CostConfig c;
  auto o = j.object();
  if (auto v = o.optional("price_book")) c.price_book = v->as_string();
  if (auto v = o.optional("pricing")) c.pricing = v->as_enum({"capex", "rental"});
  if (auto v = o.optional("electricity")) c.electricity = v->as_dollars_per_kwh();
  if (auto v = o.optional("pue")) c.pue = v->as_double(1.0, 5.0);
  if (auto v = o.optional("amortization")) {
    c.amortization = v->as_seconds();
    if (c.amortization->value() <= 0) v->fail("expected a positive duration");
  }
  o.finish();
  return c;
}

MetricsConfig parse_metrics(const JsonReader& j) {
  MetricsConfig m;
  auto o = j.object();
  if (auto v = o.optional("timeseries_interval")) {
    m.timeseries_interval = v->as_seconds();
    if (m.timeseries_interval.value() <= 0) v->fail("expected a positive duration");
  }
  o.finish();
  return m;
}

// "expect" is an object {"metric.path": {"min": a, "max": b}} or an array of strings "metric.path <= b" /
// "metric.path >= a". Only the syntax is checked here: whether the path names a metric of results.json is
// checked against the factory (report/expect.hpp), which knows the classes and pools.
std::vector<Expectation> parse_expect(const JsonReader& j) {
  std::vector<Expectation> out;
  auto check_metric = [](const JsonReader& at, const std::string& metric) {
    if (metric.empty() || metric.front() == '.' || metric.back() == '.' || metric.find("..") != std::string::npos ||
        metric.find_first_of(" \t") != std::string::npos)
      at.fail(
          fmt::format("\"{}\" is not a results.json path (dots between keys, e.g. summary.slo_attainment)", metric));
  };
  if (j.json().is_array()) {
    for (const auto& item : j.array()) {
      std::string text = item.as_string();
      size_t op = text.find_first_of("<>");
      if (op == std::string::npos || op + 1 >= text.size() || text[op + 1] != '=')
        item.fail(fmt::format("expected \"metric <= number\" or \"metric >= number\", got \"{}\"", text));
      auto trim = [](std::string t) {
        size_t a = t.find_first_not_of(' '), b = t.find_last_not_of(' ');
        return a == std::string::npos ? std::string() : t.substr(a, b - a + 1);
      };
      Expectation e;
      e.metric = trim(text.substr(0, op));
      e.where = item.where();
      check_metric(item, e.metric);
      std::string number = trim(text.substr(op + 2));
      char* end = nullptr;
      double bound = std::strtod(number.c_str(), &end);
      if (number.empty() || *end != '\0' || !std::isfinite(bound))
        item.fail(fmt::format("expected a number after \"{}=\", got \"{}\"", text[op], number));
      (text[op] == '<' ? e.max : e.min) = bound;
      out.push_back(e);
    }
    return out;
  }
  auto o = j.object();
  for (const auto& metric : o.keys()) {
    auto bound = o.required(metric);
    check_metric(bound, metric);
    Expectation e;
    e.metric = metric;
    e.where = bound.where();
    auto bo = bound.object();
    if (auto v = bo.optional("min")) e.min = v->as_double();
    if (auto v = bo.optional("max")) e.max = v->as_double();
    bo.finish();
    if (!e.min && !e.max) bound.fail("expected \"min\", \"max\" or both");
    if (e.min && e.max && *e.min > *e.max) bound.fail(fmt::format("min {} is above max {}", *e.min, *e.max));
    out.push_back(e);
  }
  return out;
}

}  // namespace

Scenario parse_scenario(const nlohmann::json& doc, const std::string& file, const fs::path& data_root) {
  Scenario s;
  s.file = file;
  s.data_root = data_root.string();
  JsonReader root(doc, file);
  auto o = root.object();
  s.name = o.required("name").as_string();
  if (s.name.empty() || s.name.find('/') != std::string::npos)
    o.required("name").fail("expected a non-empty name without '/' (it names the output directory)");
  if (auto v = o.optional("description")) s.description = v->as_string();
  if (auto v = o.optional("seed")) s.seed = static_cast<uint64_t>(v->as_int(0, INT64_MAX));
  if (auto v = o.optional("duration")) {
    s.duration = v->as_seconds();
    if (s.duration->value() <= 0) v->fail("expected a positive duration");
  }
  auto models = o.required("models");
  auto mo = models.object();
  for (const auto& k : mo.keys())
    s.models[k] = mo.required(k).as_string();
  if (s.models.empty()) models.fail("expected at least one model");
  s.cluster = parse_cluster(o.required("cluster"));
  s.workload = parse_workload(o.required("workload"));
  if (auto v = o.optional("cost")) s.cost = parse_cost(*v);
  if (auto v = o.optional("engine")) {
    auto eo = v->object();
    if (auto l = eo.optional("leap")) s.engine.leap = l->as_bool();
    eo.finish();
  }
  if (auto v = o.optional("metrics")) s.metrics = parse_metrics(*v);
  if (auto v = o.optional("failures")) s.failures = parse_failures(*v);
  if (auto v = o.optional("plan")) s.plan = parse_plan(*v);
  if (auto v = o.optional("expect")) s.expect = parse_expect(*v);
  o.finish();

  // Cross-references inside the scenario (catalog checks happen when the factory is built).
  auto cluster = o.required("cluster").object();
  auto pools = cluster.required("pools");
  for (size_t i = 0; i < s.cluster.pools.size(); ++i) {
    const auto& p = s.cluster.pools[i];
    if (!s.models.count(p.instance.model))
      pools.at(i)
          .object()
          .required("instance")
          .object()
          .required("model")
          .fail(fmt::format("unknown model \"{}\" (the scenario's \"models\" defines: {})", p.instance.model,
                            fmt::join(mo.keys(), ", ")));
  }
  auto pool_index = [&](const std::string& name) -> std::optional<size_t> {
    for (size_t i = 0; i < s.cluster.pools.size(); ++i)
      if (s.cluster.pools[i].name == name) return i;
    return std::nullopt;
  };
  auto pool_names = [&] {
    std::vector<std::string> names;
    for (const auto& p : s.cluster.pools)
      names.push_back(p.name);
    return fmt::format("{}", fmt::join(names, ", "));
  };
  if (!s.failures.scripted.empty()) {
    auto scripted = o.required("failures").object().required("scripted");
    for (size_t i = 0; i < s.failures.scripted.size(); ++i)
      if (!pool_index(s.failures.scripted[i].pool))
        scripted.at(i).object().required("pool").fail(
            fmt::format("unknown pool \"{}\" (pools: {})", s.failures.scripted[i].pool, pool_names()));
  }
  if (s.plan) {
    auto plan_pools = o.required("plan").object().required("pools");
    for (size_t i = 0; i < s.plan->pools.size(); ++i) {
      if (!pool_index(s.plan->pools[i].pool))
        plan_pools.at(i).object().required("pool").fail(
            fmt::format("unknown pool \"{}\" (pools: {})", s.plan->pools[i].pool, pool_names()));
      for (size_t k = 0; k < i; ++k)
        if (s.plan->pools[k].pool == s.plan->pools[i].pool)
          plan_pools.at(i).object().required("pool").fail(
              fmt::format("pool \"{}\" is listed twice", s.plan->pools[i].pool));
    }
  }
  auto classes = o.required("workload").object().required("classes").object();
  for (const auto& [name, c] : s.workload.classes) {
    if (!s.models.count(c.model))
      classes.required(name).object().required("model").fail(fmt::format(
          "unknown model \"{}\" (the scenario's \"models\" defines: {})", c.model, fmt::join(mo.keys(), ", ")));
    bool served = false;
    for (const auto& p : s.cluster.pools)
      served = served || p.instance.model == c.model;
    if (!served)
      classes.required(name).object().required("model").fail(
          fmt::format("no pool serves model \"{}\" that class \"{}\" needs", c.model, name));
  }
  return s;
}

namespace {
std::string secs(Seconds s) {
  return fmt::format("{}s", s.value());
}
std::string bytes(Bytes b) {
  return fmt::format("{}B", b.value());
}
std::string bandwidth(BytesPerSecond b) {
  return fmt::format("{}B/s", b.value());
}

nlohmann::json scheduler_json(const SchedulerConfig& c) {
  return {{"kind", c.kind},
          {"max_batched_tokens", c.max_batched_tokens},
          {"max_num_seqs", c.max_num_seqs},
          {"chunk_size", c.chunk_size},
          {"block_size", c.block_size},
          {"preemption", {{"kind", c.preemption.kind}, {"bandwidth", bandwidth(c.preemption.bandwidth)}}}};
}

nlohmann::json prefix_cache_json(const PrefixCacheConfig& c) {
  nlohmann::json tiers = nlohmann::json::array();
  for (const auto& t : c.tiers) {
    nlohmann::json o{{"tier", t.tier}, {"capacity", t.capacity ? bytes(*t.capacity) : std::string("unbounded")}};
    if (t.bandwidth.value() > 0) o["bandwidth"] = bandwidth(t.bandwidth);
    tiers.push_back(o);
  }
  return {{"scope", c.scope}, {"eviction", c.eviction}, {"on_missing_hashes", c.on_missing_hashes}, {"tiers", tiers}};
}
}  // namespace

nlohmann::json to_json(const Scenario& s) {
  using nlohmann::json;
  json j;
  j["name"] = s.name;
  j["description"] = s.description;
  j["seed"] = s.seed;
  if (s.duration) j["duration"] = secs(*s.duration);
  j["models"] = s.models;
  json pools = json::array();
  for (const auto& p : s.cluster.pools) {
    const auto& i = p.instance;
    pools.push_back({{"name", p.name},
                     {"accelerator", p.accelerator},
                     {"count", p.count},
                     {"instance",
                      {{"model", i.model},
                       {"role", i.role},
                       {"tp", i.tp},
                       {"pp", i.pp},
                       {"ep", i.ep},
                       {"dtype", i.dtype},
                       {"kv_dtype", i.kv_dtype},
                       {"memory_fraction", i.memory_fraction},
                       {"scheduler", scheduler_json(i.scheduler)}}}});
    if (i.prefix_cache.enabled) pools.back()["instance"]["prefix_cache"] = prefix_cache_json(i.prefix_cache);
    if (!p.scale_up.empty()) pools.back()["scale_up"] = p.scale_up;
    if (p.spares > 0) pools.back()["spares"] = p.spares;
    // Only when not the default, so that existing scenarios' resolved configs stay byte for byte the same.
    if (i.stack != "modern") pools.back()["instance"]["stack"] = i.stack;
  }
  auto router = [](const RouterConfig& r) { return json{{"kind", r.kind}, {"queue_weight", r.queue_weight}}; };
  j["cluster"] = {{"pools", pools},
                  {"router", router(s.cluster.router)},
                  {"decode_router", router(s.cluster.decode_router)},
                  {"admission", {{"kind", s.cluster.admission.kind}}}};
  {
    const auto& t = s.cluster.topology;
    json topo{{"kind", t.kind},           {"tiers", t.tiers},
              {"radix", t.radix},         {"hop_latency", secs(t.hop_latency)},
              {"placement", t.placement}, {"allow_split", t.allow_split}};
    if (!t.oversubscription.empty()) topo["oversubscription"] = t.oversubscription;
    if (t.link_bandwidth) topo["link_bandwidth"] = bandwidth(*t.link_bandwidth);
    j["cluster"]["topology"] = topo;
  }
  if (!s.cluster.supply.empty()) {
    json supply = json::object();
    for (const auto& [name, su] : s.cluster.supply) {
      json o = json::object();
      if (su.available) o["available"] = *su.available;
      if (su.lead_time) o["lead_time"] = secs(*su.lead_time);
      if (su.unit_price) o["unit_price"] = fmt::format("${}", su.unit_price->value());
      supply[name] = o;
    }
    j["cluster"]["supply"] = supply;
  }
  if (s.cluster.allow_oversubscribe) j["cluster"]["allow_oversubscribe"] = true;
  auto class_choice = [](json& out, const std::string& name, const std::map<std::string, double>& mix) {
    if (!mix.empty())
      out["class_mix"] = mix;
    else
      out["class"] = name;
  };
  auto dist = [](const DistributionConfig& d) {
    json o{{"kind", d.kind}};
    if (d.kind == "fixed") o["value"] = d.value;
    if (d.kind == "uniform") o.update({{"min", d.min}, {"max", d.max}});
    if (d.kind == "normal" || d.kind == "lognormal")
      o.update({{"mean", d.mean}, {"stddev", d.stddev}, {"min", d.min}, {"max", d.max}});
    if (d.kind == "trace") o.update({{"format", d.trace_format}, {"path", d.trace_path}, {"field", d.trace_field}});
    return o;
  };
  json w;
  if (!s.workload.traces.empty()) {
    json traces = json::array();
    for (const auto& t : s.workload.traces) {
      json o{{"format", t.format}, {"path", t.path}, {"rate_scale", t.rate_scale}, {"replicas", t.replicas}};
      if (t.max_requests) o["max_requests"] = *t.max_requests;
      class_choice(o, t.class_name, t.class_mix);
      traces.push_back(o);
    }
    w["traces"] = traces;
  }
  if (!s.workload.synthetic.empty()) {
    json syn = json::array();
    for (const auto& g : s.workload.synthetic) {
      json o{
          {"arrival", g.arrival}, {"rate", g.rate}, {"cv", g.cv}, {"input", dist(g.input)}, {"output", dist(g.output)}};
      if (g.count) o["count"] = *g.count;
      class_choice(o, g.class_name, g.class_mix);
      syn.push_back(o);
    }
    w["synthetic"] = syn;
  }
  w["rate_scale"] = s.workload.rate_scale;
  w["client_latency"] = secs(s.workload.client_latency);
  json classes = json::object();
  for (const auto& [name, c] : s.workload.classes) {
    json slo{{"attainment_target", c.slo.attainment_target}};
    if (c.slo.ttft) slo["ttft"] = secs(*c.slo.ttft);
    if (c.slo.tpot) slo["tpot"] = secs(*c.slo.tpot);
    if (c.slo.e2e) slo["e2e"] = secs(*c.slo.e2e);
    if (c.slo.tbt) slo["tbt"] = secs(*c.slo.tbt);
    classes[name] = {{"model", c.model}, {"slo", slo}, {"value", c.value}, {"priority", c.priority}};
  }
  w["classes"] = classes;
  j["workload"] = w;
  json cost{{"price_book", s.cost.price_book}};
  if (s.cost.pricing) cost["pricing"] = *s.cost.pricing;
  if (s.cost.electricity) cost["electricity"] = fmt::format("${}/kWh", s.cost.electricity->value());
  if (s.cost.pue) cost["pue"] = *s.cost.pue;
  if (s.cost.amortization) cost["amortization"] = secs(*s.cost.amortization);
  j["cost"] = cost;
  j["engine"] = {{"leap", s.engine.leap}};
  j["metrics"] = {{"timeseries_interval", secs(s.metrics.timeseries_interval)}};
  if (s.failures.enabled || !s.failures.scripted.empty() || !s.failures.accelerators.empty()) {
    const auto& f = s.failures;
    auto rate = [](const FailureRateConfig& r) {
      json o = json::object();
      if (r.annual_failure_rate) o["annual_failure_rate"] = *r.annual_failure_rate;
      if (r.mtbf) o["mtbf"] = secs(*r.mtbf);
      if (r.repair) o["repair"] = secs(*r.repair);
      return o;
    };
    json fj{{"enabled", f.enabled},
            {"repair", secs(f.repair)},
            {"restart", secs(f.restart)},
            {"blast_radius", f.blast_radius}};
    json acc = json::object(), links = json::object(), scripted = json::array();
    for (const auto& [k, r] : f.accelerators)
      acc[k] = rate(r);
    for (const auto& [k, r] : f.links)
      links[k] = rate(r);
    for (const auto& e : f.scripted) {
      json o{{"at", secs(e.at)}, {"pool", e.pool}, {"instance", e.instance}};
      if (e.repair) o["repair"] = secs(*e.repair);
      if (!e.blast_radius.empty()) o["blast_radius"] = e.blast_radius;
      scripted.push_back(o);
    }
    fj["accelerators"] = acc;
    fj["links"] = links;
    fj["scripted"] = scripted;
    j["failures"] = fj;
  }
  if (s.plan) {
    json plan_pools = json::array();
    for (const auto& pp : s.plan->pools) {
      json cands = json::array();
      for (const auto& c : pp.candidates) {
        json o{{"accelerator", c.accelerator}};
        if (c.tp) o["tp"] = *c.tp;
        if (c.ep) o["ep"] = *c.ep;
        if (!c.dtype.empty()) o["dtype"] = c.dtype;
        cands.push_back(o);
      }
      json o{{"pool", pp.pool}, {"min_count", pp.min_count}};
      if (!cands.empty()) o["candidates"] = cands;
      if (pp.max_count) o["max_count"] = *pp.max_count;
      plan_pools.push_back(o);
    }
    json plan{{"pools", plan_pools}, {"max_runs", s.plan->max_runs}};
    if (s.plan->budget) plan["budget"] = fmt::format("${}", s.plan->budget->value());
    if (s.plan->attainment) plan["attainment"] = *s.plan->attainment;
    j["plan"] = plan;
  }
  if (!s.expect.empty()) {
    json expect = json::object();
    for (const auto& e : s.expect) {
      json bound = json::object();
      if (e.min) bound["min"] = *e.min;
      if (e.max) bound["max"] = *e.max;
      expect[e.metric].update(bound);  // the string form may bound one metric twice (min and max)
    }
    j["expect"] = expect;
  }
  return j;
}

LoadedScenario load_scenario(const std::string& file, const std::vector<std::string>& overrides,
                             const fs::path& data_root) {
  nlohmann::json doc = load_json_file(file);
  for (const auto& o : overrides)
    apply_override(doc, o);
  LoadedScenario out;
  out.scenario = parse_scenario(doc, file, data_root);
  out.resolved = to_json(out.scenario);
  return out;
}

fs::path find_data_root(const std::string& scenario_file, const fs::path& fallback) {
  if (const char* env = std::getenv("TOKENFACTORY_ROOT"); env && *env) return fs::path(env);
  auto search = [](fs::path dir) -> std::optional<fs::path> {
    std::error_code ec;
    dir = fs::absolute(dir, ec);
    for (; !dir.empty(); dir = dir.parent_path()) {
      if (fs::is_directory(dir / "models" / "hardware", ec)) return dir;
      if (dir == dir.parent_path()) break;
    }
    return std::nullopt;
  };
  if (auto d = search(fs::path(scenario_file).parent_path())) return *d;
  if (auto d = search(fs::current_path())) return *d;
  return fallback;
}

}  // namespace tf::config
