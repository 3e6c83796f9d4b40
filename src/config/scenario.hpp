#pragma once
// The scenario: a validated, unit-typed value tree built from scenario JSON (docs/scenario-reference.md).
// Plain aggregates with defaults written once, here; parsing and validation live in scenario_parse.cpp.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/units.hpp"

namespace tf::config {

struct PreemptionConfig {
  std::string kind = "recompute";                   // recompute | swap
  BytesPerSecond bandwidth = BytesPerSecond(32e9);  // swap: per accelerator, to host memory
};

struct SchedulerConfig {
  std::string kind = "continuous";    // registry name (serving/): continuous | chunked
  int64_t max_batched_tokens = 8192;  // tokens (prefill chunks + decodes) per iteration
  int64_t max_num_seqs = 256;         // sequences in the running batch
  int64_t chunk_size = 0;             // chunked: prompt tokens per sequence per iteration (0: the budget)
  int64_t block_size = 16;            // KV-cache block, tokens
  PreemptionConfig preemption;
};

struct CacheTierConfig {
  std::string tier;               // hbm | dram | ssd
  std::optional<Bytes> capacity;  // absent: unbounded
  BytesPerSecond bandwidth;       // copy-in bandwidth (not used for a local hbm tier)
};

struct PrefixCacheConfig {
  bool enabled = false;
  std::string scope = "instance";  // instance | cluster (one store shared by the model's instances, over the fabric)
  std::string eviction = "lru";
  std::vector<CacheTierConfig> tiers;
  std::string on_missing_hashes = "error";  // error | ignore: a trace without prefix hashes
};

struct InstanceConfig {
  std::string model;  // key into Scenario::models
  std::string role = "colocated";
  int tp = 1;
  int pp = 1;
  int ep = 1;
  std::string dtype = "bf16";    // weights and activations
  std::string kv_dtype;          // defaults to dtype (int8 weights keep a bf16 cache)
  double memory_fraction = 0.9;  // share of HBM the serving engine uses
  std::string stack = "modern";  // serving stack's host time: models/stacks/<key>.json, or a path to one
  SchedulerConfig scheduler;
  PrefixCacheConfig prefix_cache;
};

struct PoolConfig {
  std::string name;
  std::string accelerator;  // catalog key
  int64_t count = 0;        // accelerators in the pool
  std::string scale_up;     // scale-up domain builder: nvlink-node | nvl72 | ub-supernode ("": from the accelerator)
  int64_t spares = 0;       // spare accelerators kept powered beside the pool, swapped in for failed ones
  InstanceConfig instance;
};

// The scale-out fabric the pools' scale-up domains sit under (docs/topologies.md).
struct TopologyConfig {
  std::string kind = "ideal";                    // ideal (one non-blocking switch) | clos | rail
  int tiers = 2;                                 // clos: 2 or 3 switch tiers; rail: rail leaves + spine (2)
  int radix = 64;                                // ports per switch
  std::vector<double> oversubscription;          // per tier boundary, bottom up (down:up bandwidth); missing ones are 1
  std::optional<BytesPerSecond> link_bandwidth;  // switch-to-switch link; absent: the fastest NIC in the cluster
  Seconds hop_latency = Seconds(1e-6);           // one switch traversal
  std::string placement = "contiguous";          // contiguous | spread
  bool allow_split = true;  // may an instance straddle scale-up domains (when it does not divide one)
};

// What can be bought, per accelerator type (cluster.supply).
struct SupplyConfig {
  std::optional<int64_t> available;   // units that can be bought
  std::optional<Seconds> lead_time;   // reported, not simulated
  std::optional<Dollars> unit_price;  // overrides the catalog's price
};

// Failure model per accelerator type (failures.accelerators) or link kind (failures.links: nic, scale_up).
struct FailureRateConfig {
  std::optional<double> annual_failure_rate;  // failures per unit per year
  std::optional<Seconds> mtbf;                // or: mean time between failures of one unit
  std::optional<Seconds> repair;              // time until the unit serves again (absent: failures.repair)
};

struct ScriptedFailure {
  Seconds at;
  std::string pool;
  int64_t instance = 0;           // index of the instance within the pool
  std::optional<Seconds> repair;  // absent: failures.repair
  std::string blast_radius;       // instance | domain ("": failures.blast_radius)
  std::string where;              // JSON path, for messages
};

struct FailuresConfig {
  bool enabled = false;
  Seconds repair = Seconds(4 * 3600.0);   // default time to repair or replace and restart
  Seconds restart = Seconds(300.0);       // a spare takes this long to load weights and join
  std::string blast_radius = "instance";  // instance | domain (a failure takes down its whole scale-up domain)
  std::map<std::string, FailureRateConfig> accelerators;
  std::map<std::string, FailureRateConfig> links;
  std::vector<ScriptedFailure> scripted;
};

// `tokenfactory plan`: which pools to size, with which accelerator candidates (docs/planning.md).
struct PlanCandidate {
  std::string accelerator;
  std::optional<int> tp, ep;
  std::string dtype;  // "": keep the pool's
};

struct PlanPoolConfig {
  std::string pool;                       // name of a pool in cluster.pools
  std::vector<PlanCandidate> candidates;  // empty: the pool's own accelerator only
  int64_t min_count = 0;                  // accelerators; 0: one instance
  std::optional<int64_t> max_count;       // absent: the supply cap
};

struct PlanConfig {
  std::vector<PlanPoolConfig> pools;
  std::optional<Dollars> budget;     // capex ceiling for the accelerators bought
  std::optional<double> attainment;  // SLO attainment every class must reach (absent: each class's target)
  int max_runs = 40;                 // simulations the search may spend
};

struct RouterConfig {
  std::string kind = "least-outstanding";
  double queue_weight = 1.0;  // prefix-affinity: cached tokens minus queue_weight x queued prompt tokens
};

struct AdmissionConfig {
  std::string kind = "none";  // none | predicted-ttft (reject when the predicted TTFT exceeds the budget)
};

struct ClusterConfig {
  std::vector<PoolConfig> pools;
  RouterConfig router;
  RouterConfig decode_router{"least-kv-load", 1.0};  // disaggregated: the decode instance for a prefilled request
  AdmissionConfig admission;
  TopologyConfig topology;
  std::map<std::string, SupplyConfig> supply;  // accelerator key -> what can be bought
  bool allow_oversubscribe = false;            // run a cluster larger than the supply (reported, not an error)
};

struct SloConfig {
  std::optional<Seconds> ttft;  // budget per request
  std::optional<Seconds> tpot;
  std::optional<Seconds> e2e;
  std::optional<Seconds> tbt;      // Mooncake's TBT: mean of the longest 10 % of a request's inter-token gaps
  double attainment_target = 0.9;  // fraction of requests that must meet the budgets (goodput definition)
};

struct ClassConfig {
  std::string name;
  std::string model;  // key into Scenario::models: the model this class's requests need
  SloConfig slo;
  double value = 1.0;  // value weight of one useful token
  int priority = 0;    // higher is scheduled first (serving policies that support it)
};

struct TraceConfig {
  std::string format;                       // azure | mooncake | vidur (registry in workload/)
  std::string path;                         // resolved to an absolute path by the loader
  double rate_scale = 1.0;                  // >1 compresses time (more requests per second)
  int replicas = 1;                         // superimposed time-shifted copies
  std::string class_name;                   // every request of the trace gets this class, or
  std::map<std::string, double> class_mix;  // seeded fractions summing to 1
  std::optional<int64_t> max_requests;      // read at most this many (before replicas)
};

struct DistributionConfig {
  std::string kind = "fixed";   // fixed | uniform | normal | lognormal | trace
  double value = 0;             // fixed
  double min = 0, max = 0;      // uniform, and clamps for the others
  double mean = 0, stddev = 0;  // normal, lognormal (of the value, not of its log)
  std::string trace_format;     // trace: sample lengths from this trace
  std::string trace_path;
  std::string trace_field;  // "input" | "output"
};

struct SyntheticConfig {
  std::string arrival = "poisson";  // poisson | gamma
  double rate = 1.0;                // requests per second
  double cv = 1.0;                  // coefficient of variation of inter-arrival times (gamma)
  std::optional<int64_t> count;     // number of requests (else until the scenario duration)
  DistributionConfig input;
  DistributionConfig output;
  std::string class_name;
  std::map<std::string, double> class_mix;
};

struct WorkloadConfig {
  std::vector<TraceConfig> traces;
  std::vector<SyntheticConfig> synthetic;
  double rate_scale = 1.0;  // applied on top of every source's own rate
  std::map<std::string, ClassConfig> classes;
  Seconds client_latency = Seconds(0.0);  // one way, user to cluster and back
};

struct CostConfig {
  std::string price_book = "models/prices/default.json";
  std::optional<std::string> pricing;  // capex | rental
  std::optional<DollarsPerKwh> electricity;
  std::optional<double> pue;
  std::optional<Seconds> amortization;
};

struct EngineConfig {
  bool leap = true;  // closed-form decode leaping; false steps one iteration at a time
};

struct MetricsConfig {
  Seconds timeseries_interval = Seconds(60.0);  // width of one row of timeseries.csv, simulated time
};

// One bound of a scenario's `expect` block, checked by `tokenfactory check` against results.json.
struct Expectation {
  std::string metric;         // results.json path with dots, e.g. "classes.chat.ttft_s.p99"
  std::optional<double> min;  // inclusive lower bound
  std::optional<double> max;  // inclusive upper bound
  std::string where;          // JSON pointer of the bound in the scenario, for error messages
};

struct Scenario {
  std::string file;       // where it was loaded from
  std::string data_root;  // relative paths (models, traces, price book) resolve against this directory
  std::string name;
  std::string description;
  uint64_t seed = 1;
  std::optional<Seconds> duration;            // arrivals after this are dropped; absent: the whole workload
  std::map<std::string, std::string> models;  // model key -> catalog name or config.json path
  ClusterConfig cluster;
  WorkloadConfig workload;
  CostConfig cost;
  EngineConfig engine;
  MetricsConfig metrics;
  FailuresConfig failures;
  std::optional<PlanConfig> plan;
  std::vector<Expectation> expect;  // in the order written (object form: sorted by metric)

  // `path` made absolute against data_root (unchanged when already absolute).
  std::string resolve(const std::string& path) const;
  // Class names in a fixed order (sorted); a class's index here is its class id.
  std::vector<std::string> class_names() const;
};

}  // namespace tf::config
