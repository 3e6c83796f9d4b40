#include "cli/sweep_command.hpp"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>

#include "cli/atomic_file.hpp"
#include "cli/child_process.hpp"
#include "cli/factory_loader.hpp"
#include "cli/sweep_collect.hpp"
#include "cli/sweep_plan.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tf::cli {

namespace {

// The last non-empty line of a run's log: its error message.
std::string last_line(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

SweepSpec spec_from(const SweepOptions& o) {
  SweepSpec spec;
  spec.scenario = o.scenario;
  spec.sets = o.sets;
  if (!o.file.empty()) load_sweep_file(o.file, spec);
  for (const auto& g : o.grid)
    spec.grid.push_back(parse_list_option("--grid", g));
  for (const auto& z : o.zip)
    spec.zip.push_back(parse_list_option("--zip", z));
  for (const auto& r : o.ranges)
    spec.ranges.push_back(parse_range_option(r));
  if (o.random > 0) {
    spec.random_count = o.random;
    spec.random_seed = o.seed;
  }
  if (spec.scenario.empty())
    throw ConfigError("sweep", "", "no scenario: give SCENARIO, or \"scenario\" in the sweep file");
  return spec;
}

// points.json in `dir`: written when absent; when present it must describe the same sweep, so that resuming
// never mixes the results of two different sweeps.
void place_manifest(const fs::path& dir, const json& m) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw ConfigError(dir.string(), "", "cannot create output directory: " + ec.message());
  fs::path file = dir / "points.json";
  if (fs::exists(file)) {
    json old = load_json_file(file.string());
    for (const char* key : {"scenario", "set", "base", "points"})
      if (!old.is_object() || old.value(key, json()) != m[key])
        throw ConfigError(file.string(), fmt::format("/{}", key),
                          "this directory holds a different sweep (its scenario, overrides or points differ): "
                          "choose another --out, or remove the directory to start again");
    return;
  }
  write_file_atomically(file, m.dump(2) + "\n");
}

}  // namespace

CLI::App* add_sweep_command(CLI::App& app, SweepOptions& o) {
  auto* c = app.add_subcommand("sweep",
                               "run a scenario over a grid, paired lists or random samples of its values, one process "
                               "per point; resumes; writes sweep.csv and sweep.json");
  c->add_option("scenario", o.scenario, "scenario JSON file (or \"scenario\" in --file)");
  // One value per occurrence (allow_extra_args(false)), so a scenario given after --grid is not taken as a value.
  c->add_option("--grid", o.grid, "path=v1,v2,...: values of one scenario path; several --grid are crossed")
      ->allow_extra_args(false);
  c->add_option("--zip", o.zip, "path=v1,v2,...: lists that advance together (equal lengths), crossed with --grid")
      ->allow_extra_args(false);
  c->add_option("--range", o.ranges, "path=min..max[:log]: a range sampled by --random (e.g. 10ms..200ms)")
      ->allow_extra_args(false);
  c->add_option("--random", o.random, "draw N points at random: ranges uniformly, --grid/--zip values by choice");
  c->add_option("--seed", o.seed, "seed of the random points (default 1)");
  c->add_option("--file", o.file, "sweep file (JSON) with scenario, set, grid, zip and random");
  c->add_option("--set", o.sets, "override a scenario value in every point: path=value")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c->add_option("--jobs,-j", o.jobs, "points run at once (default: every core)");
  c->add_option("--out", o.out, "output directory (default runs/<scenario name>-sweep)");
  c->add_option("--emit-jobs", o.emit_jobs,
                "write DIR/jobs.txt (GNU parallel) and DIR/sweep.sbatch (Slurm) instead of running");
  c->add_flag("--quiet,-q", o.quiet, "no progress or summary");
  return c;
}

int run_sweep(const SweepOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  SweepSpec spec = spec_from(o);
  LoadedFactory base = load_factory(spec.scenario, spec.sets);
  const json& resolved = base.scenario.resolved;
  check_spec(spec);
  check_against_scenario(spec, resolved);
  auto points = expand(spec);
  // Every point is checked as `run` would check it before any is started: a bad value stops the sweep at once.
  for (const auto& p : points) {
    std::vector<std::string> sets = spec.sets;
    std::string what;
    for (const auto& [path, value] : p.values) {
      sets.push_back(set_argument(path, value));
      what += (what.empty() ? "" : ", ") + set_argument(path, value);
    }
    try {
      validate_with(spec.scenario, sets, *base.catalog);
    } catch (const ConfigError& e) {
      throw ConfigError(e.file(), e.where(), fmt::format("{} ({}): {}", p.name, what, e.message()));
    }
  }
  const std::string name = base.scenario.scenario.name;
  json m = manifest(spec, points, resolved, name);
  fs::path binary = self_executable();

  if (!o.emit_jobs.empty()) {
    fs::path dir = o.emit_jobs;
    place_manifest(dir, m);
    write_file_atomically(dir / "jobs.txt", jobs_file(m, binary, dir));
    write_file_atomically(dir / "sweep.sbatch", sbatch_file(m, dir));
    fs::permissions(dir / "sweep.sbatch", fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
    if (!o.quiet) {
      std::cout << fmt::format("wrote {} points: {}/points.json, jobs.txt, sweep.sbatch\n", points.size(),
                               dir.string());
      std::cout << fmt::format("  GNU parallel, this machine:   parallel --jobs {} < {}/jobs.txt\n", default_jobs(),
                               dir.string());
      std::cout << fmt::format("  GNU parallel, several hosts:  parallel --sshloginfile hosts.txt < {}/jobs.txt\n",
                               dir.string());
      std::cout << fmt::format("  Slurm:                        sbatch {}/sweep.sbatch\n", dir.string());
      std::cout << fmt::format("  then:                         tokenfactory collect {}\n", dir.string());
    }
    return 0;
  }

  fs::path dir = o.out.empty() ? fs::path("runs") / (name + "-sweep") : fs::path(o.out);
  place_manifest(dir, m);
  std::vector<ChildJob> jobs;
  std::vector<std::string> job_point;
  for (const auto& p : m["points"]) {
    std::string pname = p["name"];
    if (fs::exists(dir / pname / "results.json")) continue;  // finished in an earlier invocation
    jobs.push_back({run_arguments(m, p, dir / pname), dir / pname / "run.log"});
    job_point.push_back(pname);
  }
  size_t skipped = points.size() - jobs.size();
  int parallel = o.jobs > 0 ? o.jobs : default_jobs();
  if (!o.quiet)
    std::cerr << fmt::format("sweep {}: {} points{}, {} to run, {} at a time, into {}\n", name, points.size(),
                             skipped ? fmt::format(" ({} already finished)", skipped) : std::string(), jobs.size(),
                             parallel, dir.string());
  ProgressBar bar("points", points.size(), skipped);
  std::map<std::string, int> failures;
  auto run = run_children(
      binary, jobs, parallel,
      [&](size_t i, const ChildResult& r) {
        if (r.exit_code != 0) failures[job_point[i]] = r.exit_code;
        if (o.quiet || bar.enabled()) return;
        if (r.exit_code == 0)
          std::cerr << fmt::format("  {} done in {:.1f} s\n", job_point[i], r.seconds);
        else
          std::cerr << fmt::format("  {} failed (exit code {}): {}\n", job_point[i], r.exit_code,
                                   last_line(dir / job_point[i] / "run.log"));
      },
      [&](const ChildProgress& p) {
        if (!o.quiet) bar.update(p);
      });
  bar.finish();
  if (bar.enabled() && !o.quiet)
    for (const auto& [point, code] : failures)
      std::cerr << fmt::format("  {} failed (exit code {}): {}\n", point, code, last_line(dir / point / "run.log"));
  auto counts = collect_sweep(dir, failures);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (run.interrupted) {
    std::cerr << fmt::format("sweep interrupted: {} of {} points finished; run the same command again to resume\n",
                             counts.ok, points.size());
    return 130;
  }
  if (!o.quiet)
    std::cerr << fmt::format("wrote {}/sweep.csv and sweep.json: {} points ok, {} failed, in {:.1f} s wall\n",
                             dir.string(), counts.ok, counts.failed + counts.missing, wall);
  return counts.failed + counts.missing > 0 ? 1 : 0;
}

CLI::App* add_collect_command(CLI::App& app, CollectOptions& o) {
  auto* c = app.add_subcommand("collect",
                               "merge the per-point results of a sweep (run by sweep, GNU parallel or Slurm) into "
                               "sweep.csv and sweep.json");
  c->add_option("dir", o.dir, "the sweep's directory (--out or --emit-jobs of tokenfactory sweep)")->required();
  return c;
}

int run_collect(const CollectOptions& o) {
  auto counts = collect_sweep(o.dir);
  std::cout << fmt::format("wrote {}/sweep.csv and sweep.json: {} points ok, {} without results\n", o.dir, counts.ok,
                           counts.missing);
  return counts.missing > 0 ? 1 : 0;
}

}  // namespace tf::cli
