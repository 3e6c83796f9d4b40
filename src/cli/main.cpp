// tokenfactory: the command-line front end. Sub-commands, exit codes and messages; no model internals.
//   0  success
//   2  bad input (scenario, catalog file, trace, command line): one message naming the file and location
//   1  anything else (an internal error)

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "catalog/catalog.hpp"
#include "cli/atomic_file.hpp"
#include "cli/check_command.hpp"
#include "cli/fidelity_command.hpp"
#include "cli/heap.hpp"
#include "cli/plan_command.hpp"
#include "cli/progress.hpp"
#include "cli/report_command.hpp"
#include "cli/sweep_command.hpp"
#include "cli/topology_command.hpp"
#include "config/scenario_load.hpp"
#include "core/error.hpp"
#include "engine/factory.hpp"
#include "engine/simulation.hpp"
#include "report/expect.hpp"
#include "report/results.hpp"
#include "report/timeseries_csv.hpp"
#include "serving/router.hpp"
#include "serving/scheduler.hpp"
#include "workload/workload.hpp"

namespace fs = std::filesystem;

namespace {

#ifndef TF_SOURCE_ROOT
#define TF_SOURCE_ROOT "."
#endif

struct Loaded {
  tf::config::LoadedScenario scenario;
  std::unique_ptr<tf::catalog::Catalog> catalog;
  tf::engine::FactoryPlan plan;
};

Loaded load(const std::string& file, const std::vector<std::string>& sets) {
  Loaded l;
  fs::path root = tf::config::find_data_root(file, TF_SOURCE_ROOT);
  l.scenario = tf::config::load_scenario(file, sets, root);
  l.catalog = std::make_unique<tf::catalog::Catalog>(root);
  l.plan = tf::engine::plan_factory(l.scenario.scenario, *l.catalog);
  tf::report::check_expectations(l.scenario.scenario, l.plan);  // an `expect` on an unknown metric is bad input
  return l;
}

tf::workload::Workload open_workload(const tf::config::Scenario& s) {
  tf::config::WorkloadConfig w = s.workload;
  // Trace paths resolve against the data root; a missing one is reported at its scenario key.
  auto resolve = [&](std::string& path, const std::string& where) {
    path = s.resolve(path);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      throw tf::ConfigError(s.file, where, fmt::format("no such trace file: {}", path));
  };
  for (size_t i = 0; i < w.traces.size(); ++i)
    resolve(w.traces[i].path, fmt::format("/workload/traces/{}/path", i));
  for (size_t i = 0; i < w.synthetic.size(); ++i) {
    auto& g = w.synthetic[i];
    if (g.input.kind == "trace") resolve(g.input.trace_path, fmt::format("/workload/synthetic/{}/input/path", i));
    if (g.output.kind == "trace") resolve(g.output.trace_path, fmt::format("/workload/synthetic/{}/output/path", i));
  }
  try {
    return tf::workload::Workload(w, s.class_names(), s.seed, s.duration);
  } catch (const tf::ConfigError& e) {
    if (!e.file().empty()) throw;  // a trace's own error: it names the trace file and line
    throw tf::ConfigError(s.file, e.where(), e.message());
  }
}

// Peak resident memory of this process so far, in bytes (what `/usr/bin/time -v` calls maximum resident
// set size).
double peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) * 1024.0;  // Linux reports kilobytes
}

// Processor time this process has used so far (user + system), in seconds: unlike wall time, it does not
// grow when other processes share the cores.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int cmd_run(const std::string& file, const std::vector<std::string>& sets, std::string out_dir, bool quiet, bool stats,
            bool results_only) {
  auto t0 = std::chrono::steady_clock::now();
  Loaded l = load(file, sets);
  const auto& s = l.scenario.scenario;
  auto workload = open_workload(s);
  if (out_dir.empty()) out_dir = (fs::path("runs") / s.name).string();
  fs::path dir(out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw tf::ConfigError(out_dir, "", "cannot create output directory: " + ec.message());
  // A results.json from an earlier run must not survive a failed run and pass for its result; nor, with
  // --results-only, per-request files from an earlier run pass for this run's.
  fs::remove(dir / "results.json", ec);
  if (results_only) {
    fs::remove(dir / "requests.csv", ec);
    fs::remove(dir / "timeseries.csv", ec);
  }

  // The last arrival is due at the end of the workload, or at the scenario's duration if that comes first.
  tf::Seconds horizon = workload.stats().expected_span;
  if (s.duration && (horizon.value() <= 0 || *s.duration < horizon)) horizon = *s.duration;
  tf::cli::ProgressLine progress(stderr, horizon, !quiet);
  tf::engine::RunOptions options;
  if (progress.active()) options.on_progress = [&](const tf::engine::ProgressSample& p) { progress.update(p); };
  auto t1 = std::chrono::steady_clock::now();
  auto run = tf::engine::simulate(s, l.plan, workload, options);
  progress.finish();
  auto t2 = std::chrono::steady_clock::now();
  auto results = tf::report::assemble(s, l.plan, run);

  tf::cli::write_file_atomically(dir / "scenario.resolved.json",
                                 [&](std::ostream& o) { o << l.scenario.resolved.dump(2) << "\n"; });
  if (!results_only) {
    tf::cli::write_file_atomically(dir / "requests.csv",
                                   [&](std::ostream& o) { tf::report::write_requests_csv(o, results); });
    tf::cli::write_file_atomically(dir / "timeseries.csv",
                                   [&](std::ostream& o) { tf::report::write_timeseries_csv(o, results); });
  }
  tf::cli::write_file_atomically(dir / "results.json",
                                 [&](std::ostream& o) { o << tf::report::results_json(results).dump(2) << "\n"; });

  double wall = seconds_since(t0);
  if (!quiet) {
    std::cout << tf::report::terminal_summary(results);
    std::cout << fmt::format("\n  wrote {}/{{{}}} in {:.2f} s wall, {} engine events, peak memory {:.0f} MB\n",
                             dir.string(),
                             results_only ? "results.json, scenario.resolved.json"
                                          : "results.json, requests.csv, timeseries.csv, scenario.resolved.json",
                             wall, run.events, peak_rss_bytes() / 1e6);
  }
  if (stats) {
    // Machine-readable cost of the run (tools/bench collects these lines). Timings vary from run to run, so
    // they stay out of results.json, which must be byte-identical for the same scenario and seed.
    nlohmann::ordered_json j;
    j["scenario"] = s.name;
    j["accelerators"] = l.plan.accelerators;
    j["instances"] = l.plan.instances;
    j["requests"] = run.log.size();
    j["simulated_s"] = run.simulated.value();
    j["wall_s"] = wall;
    j["cpu_s"] = cpu_seconds();
    j["load_s"] = std::chrono::duration<double>(t1 - t0).count();
    j["simulate_s"] = std::chrono::duration<double>(t2 - t1).count();
    j["report_s"] = seconds_since(t2);
    j["peak_rss_mb"] = peak_rss_bytes() / 1e6;
    j["events"] = run.events;
    j["requests_per_wall_s"] = wall > 0 ? static_cast<double>(run.log.size()) / wall : 0.0;
    j["leap"] = s.engine.leap;
    std::cout << j.dump() << "\n";
  }
  return 0;
}

int cmd_validate(const std::string& file, const std::vector<std::string>& sets) {
  Loaded l = load(file, sets);
  const auto& s = l.scenario.scenario;
  auto workload = open_workload(s);  // opens and checks every trace
  std::cout << fmt::format("{}: ok ({} pools, {} accelerators, {} instances, {} classes)\n", file, l.plan.pools.size(),
                           l.plan.accelerators, l.plan.instances, l.plan.classes.size());
  for (const auto& p : l.plan.pools)
    std::cout << fmt::format(
        "  pool {}: {} x {} -> {} instances of {} ({} accelerators each), KV cache {} tokens "
        "per instance\n",
        p.config->name, p.config->count, p.accelerator->name, p.instances, p.model->name, p.accelerators_per_instance,
        p.fit.kv_capacity_tokens);
  return 0;
}

int cmd_models() {
  tf::catalog::Catalog cat(tf::config::find_data_root(".", TF_SOURCE_ROOT));
  std::cout << "Accelerators\n";
  std::cout << fmt::format("  {:<16} {:<40} {:>11} {:>10} {:>9} {:>10} {:>8} {:>7} {:>10}\n", "name", "", "BF16 TFLOPS",
                           "FP8 TFLOPS", "HBM GB", "HBM TB/s", "domain", "TDP W", "price");
  for (const auto& n : cat.accelerator_names()) {
    const auto& a = cat.accelerator(n);
    auto peak = [&](tf::catalog::Dtype d) {
      return a.supports(d) ? fmt::format("{:.0f}", a.peak(d).value() / 1e12) : std::string("-");
    };
    std::cout << fmt::format("  {:<16} {:<40} {:>11} {:>10} {:>9.0f} {:>10.2f} {:>8} {:>7.0f} {:>10}\n", n,
                             a.display_name, peak(tf::catalog::Dtype::bf16), peak(tf::catalog::Dtype::fp8),
                             a.hbm_capacity.value() / 1e9, a.hbm_bandwidth.value() / 1e12, a.scale_up_domain_size,
                             a.tdp.value(), fmt::format("${:.0f}", a.unit_price.value()));
  }
  std::cout << "\nLLMs\n";
  std::cout << fmt::format("  {:<18} {:<12} {:>7} {:>9} {:>9} {:>10} {:>14}\n", "name", "type", "layers", "params B",
                           "active B", "experts", "KV B/token bf16");
  for (const auto& n : cat.llm_names()) {
    const auto& m = cat.llm(n);
    std::cout << fmt::format("  {:<18} {:<12} {:>7} {:>9.1f} {:>9.1f} {:>10} {:>14.0f}\n", n, m.model_type, m.layers,
                             m.total_params() / 1e9, m.active_params() / 1e9,
                             m.is_moe() ? fmt::format("{}/{}", m.experts_per_token, m.routed_experts) : "dense",
                             m.kv_bytes_per_token(tf::catalog::Dtype::bf16).value());
  }
  return 0;
}

int cmd_policies() {
  std::cout << "Routers (cluster.router.kind)\n";
  for (const auto& r : tf::serving::routers())
    std::cout << fmt::format("  {:<20} {}\n", r.name, r.description);
  std::cout << "\nSchedulers (cluster.pools[].instance.scheduler.kind)\n";
  for (const auto& s : tf::serving::schedulers())
    std::cout << fmt::format("  {:<20} {}\n  {:<20} parameters: {}\n", s.name, s.description, "", s.parameters);
  std::cout << "\nTrace formats (workload.traces[].format)\n";
  for (const auto& f : tf::workload::trace_formats())
    std::cout << fmt::format("  {}\n", f);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tf::cli::prepare_heap();
  CLI::App app{"tokenfactory: what does a useful token cost? A simulator of LLM token factories."};
  app.require_subcommand(1);

  std::string file, out_dir;
  std::vector<std::string> sets;
  bool quiet = false;
  bool stats = false;
  bool results_only = false;

  auto* run = app.add_subcommand("run",
                                 "simulate a scenario and write results.json, requests.csv and "
                                 "scenario.resolved.json");
  run->add_option("scenario", file, "scenario JSON file")->required();
  run->add_option("--set", sets, "override a scenario value: path=value (e.g. cluster.pools.0.count=16)");
  run->add_option("--out", out_dir, "output directory (default runs/<scenario name>)");
  run->add_flag("--quiet,-q", quiet, "no terminal summary or progress line");
  run->add_flag("--results-only", results_only,
                "write results.json and scenario.resolved.json only, not the per-request requests.csv or "
                "timeseries.csv (up to a fifth of a large run's time; what plan's runs do)");
  run->add_flag("--stats", stats,
                "print one JSON line with the run's size and cost (wall seconds, peak memory, engine events) on "
                "stdout");

  auto* validate = app.add_subcommand("validate", "check a scenario against the schema and catalog; no simulation");
  validate->add_option("scenario", file, "scenario JSON file")->required();
  validate->add_option("--set", sets, "override a scenario value: path=value");

  auto* models = app.add_subcommand("models", "list the accelerators and LLMs in the catalog");
  auto* policies = app.add_subcommand("policies", "list the registered routers, schedulers and trace formats");
  tf::cli::FidelityOptions fidelity_options{TF_SOURCE_ROOT, std::string(TF_SOURCE_ROOT) + "/../shared/data"};
  auto* fidelity = app.add_subcommand("fidelity", "the perf model's error against measured and published data");
  fidelity->add_option("--shared", fidelity_options.shared_data, "validation data folder (default ../shared/data)");
  fidelity->add_flag("--check", fidelity_options.check, "exit 1 when a row's median error exceeds its bound");
  fidelity->add_flag("--print-fit", fidelity_options.print_fit, "print freshly fitted roofline curves");
  tf::cli::SweepOptions sweep_options;
  auto* sweep = tf::cli::add_sweep_command(app, sweep_options);
  tf::cli::CollectOptions collect_options;
  auto* collect = tf::cli::add_collect_command(app, collect_options);
  tf::cli::CheckOptions check_options;
  auto* check = tf::cli::add_check_command(app, check_options);
  tf::cli::ReportOptions report_options;
  auto* report = tf::cli::add_report_command(app, report_options);
  tf::cli::TopologyOptions topology_options;
  auto* topology = tf::cli::add_topology_command(app, topology_options);
  tf::cli::PlanOptions plan_options;
  auto* plan = tf::cli::add_plan_command(app, plan_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*run) return cmd_run(file, sets, out_dir, quiet, stats, results_only);
    if (*validate) return cmd_validate(file, sets);
    if (*models) return cmd_models();
    if (*policies) return cmd_policies();
    if (*fidelity) return tf::cli::run_fidelity(fidelity_options);
    if (*sweep) return tf::cli::run_sweep(sweep_options);
    if (*collect) return tf::cli::run_collect(collect_options);
    if (*check) return tf::cli::run_check(check_options);
    if (*report) return tf::cli::run_report(report_options);
    if (*topology) return tf::cli::run_topology(topology_options);
    if (*plan) return tf::cli::run_plan(plan_options);
  } catch (const tf::ConfigError& e) {
    std::cerr << "tokenfactory: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "tokenfactory: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
