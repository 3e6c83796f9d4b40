#pragma once
// What a sweep runs (docs/sweep.md): the parameters given with --grid (Cartesian product), --zip (lists that
// advance together) and --range with --random N (seeded samples), or the same in a sweep file; the points they
// make; their checks against the scenario; and the files that describe them (points.json, jobs.txt,
// sweep.sbatch). Pure: nothing here runs a simulation.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tf::cli {

// A list of values for one scenario path.
struct SweepList {
  std::string path;  // dotted, as for --set: "cluster.pools.0.count"
  std::vector<nlohmann::json> values;
  std::string origin;  // "--grid", "--zip" or the sweep file, for error messages
  std::string where;   // the option text or the JSON pointer in the sweep file
};

// A numeric range sampled by --random.
struct SweepRange {
  std::string path;
  double min = 0, max = 0;
  bool integer = false;  // the scenario holds an integer there: samples are integers (set by check_against_scenario)
  bool log = false;      // sample uniformly in log space (min > 0)
  std::string unit;      // a unit suffix both bounds carried ("ms", "s"): samples are strings "<number><unit>"
  std::string origin, where;
};

struct SweepSpec {
  std::string scenario;                 // scenario file
  std::vector<std::string> sets;        // --set overrides applied to every point
  std::vector<SweepList> grid;          // crossed
  std::vector<SweepList> zip;           // advance together (equal lengths); the group is crossed with the grid
  std::vector<SweepRange> ranges;       // only with random_count
  std::optional<int64_t> random_count;  // --random N: N points, each parameter drawn independently
  uint64_t random_seed = 1;
};

// "path=v1,v2,..." -> a list. Values are read as JSON when they parse (2, 2.5, true, "x") and as plain strings
// otherwise (5ms, least-outstanding), as --set reads them. Throws ConfigError(option, text, ...).
SweepList parse_list_option(const std::string& option, const std::string& text);
// "path=min..max" (optionally ":log"), e.g. "workload.rate_scale=1..8:log", "duration=10min..60min".
SweepRange parse_range_option(const std::string& text);

// Merges a sweep file (JSON: "scenario", "set", "grid", "zip", "random") into `spec`; a scenario named in the
// file resolves against the file's directory and is used when `spec.scenario` is empty. Unknown keys are errors.
void load_sweep_file(const std::string& file, SweepSpec& spec);

struct SweepPoint {
  std::string name;                                            // point-0000, point-0001...
  std::vector<std::pair<std::string, nlohmann::json>> values;  // one per parameter, in parameter order
};

// The swept paths in order: grid, then zip, then ranges.
std::vector<std::string> parameter_paths(const SweepSpec& spec);

// Throws ConfigError for an empty sweep, a path given twice, zip lists of unequal length, ranges without
// --random or --random without anything to draw.
void check_spec(const SweepSpec& spec);

// Every point, in a fixed order: grid points vary the last --grid fastest; random points are drawn from a
// stream seeded by random_seed and the point index, so the same spec gives the same points.
std::vector<SweepPoint> expand(const SweepSpec& spec);

// Checks every swept path against the scenario's resolved form (scenario.resolved.json: defaults filled in):
// the path must exist there and each value must have the JSON type found there (a number for a number...).
// Throws ConfigError naming the option or sweep-file location and the path. Ranges learn from it whether to
// draw integers.
void check_against_scenario(SweepSpec& spec, const nlohmann::json& resolved);

// The --set argument that gives `path` the value `value` (the value written as JSON).
std::string set_argument(const std::string& path, const nlohmann::json& value);

// points.json: what the sweep is (scenario, base overrides, the resolved base scenario) and every point with
// its values and the full list of --set arguments its run takes.
nlohmann::json manifest(const SweepSpec& spec, const std::vector<SweepPoint>& points, const nlohmann::json& resolved,
                        const std::string& scenario_name);

// The arguments of `tokenfactory run` for point `p` of a manifest, writing into `dir`.
std::vector<std::string> run_arguments(const nlohmann::json& manifest, const nlohmann::json& point,
                                       const std::filesystem::path& dir);

// jobs.txt: one shell command per point, skipping points whose results.json exists, runnable as is by GNU
// parallel (locally or with --sshloginfile on machines that see the same paths).
std::string jobs_file(const nlohmann::json& manifest, const std::filesystem::path& binary,
                      const std::filesystem::path& out_dir);
// sweep.sbatch: a Slurm array job, task i runs line i + 1 of jobs.txt.
std::string sbatch_file(const nlohmann::json& manifest, const std::filesystem::path& out_dir);

}  // namespace tf::cli
