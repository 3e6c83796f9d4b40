#include "cli/sweep_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "cli/child_process.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/json_reader.hpp"
#include "core/random.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tf::cli {

namespace {

json read_value(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error&) {
    return json(text);
  }
}

std::string split_path(const std::string& option, const std::string& text, std::string& rest) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(option, text, "expected path=values, e.g. cluster.pools.0.count=2,4,8");
  rest = text.substr(eq + 1);
  return text.substr(0, eq);
}

// A number with an optional unit suffix: "8" -> (8, ""), "10ms" -> (10, "ms").
bool split_quantity(const std::string& text, double& value, std::string& unit) {
  const char* begin = text.c_str();
  char* end = nullptr;
  value = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(value)) return false;
  unit = std::string(end);
  return unit.find_first_of(" \t,") == std::string::npos;
}

std::string json_kind(const json& j) {
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "true or false";
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array";
  return "null";
}

// Rounds a drawn number to 6 significant digits, so point values read well and survive a round trip through
// text unchanged.
double round6(double v) {
  return std::strtod(fmt::format("{:.6g}", v).c_str(), nullptr);
}

}  // namespace

SweepList parse_list_option(const std::string& option, const std::string& text) {
  std::string rest;
  SweepList list;
  list.path = split_path(option, text, rest);
  list.origin = option;
  list.where = list.path;
  size_t start = 0;
  while (true) {
    size_t comma = rest.find(',', start);
    std::string item = rest.substr(start, comma - start);
    if (item.empty()) throw ConfigError(option, list.path, fmt::format("empty value in \"{}\"", rest));
    list.values.push_back(read_value(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return list;
}

SweepRange parse_range_option(const std::string& text) {
  std::string rest;
  SweepRange r;
  r.path = split_path("--range", text, rest);
  r.origin = "--range";
  r.where = r.path;
  if (rest.size() > 4 && rest.compare(rest.size() - 4, 4, ":log") == 0) {
    r.log = true;
    rest.resize(rest.size() - 4);
  }
  auto dots = rest.find("..");
  auto fail = [&] {
    throw ConfigError("--range", r.path,
                      fmt::format("expected min..max with numbers (optionally with one unit, and :log), e.g. "
                                  "1..8, 10ms..200ms, 0.5..16:log; got \"{}\"",
                                  rest));
  };
  if (dots == std::string::npos) fail();
  std::string lo = rest.substr(0, dots), hi = rest.substr(dots + 2);
  std::string lo_unit, hi_unit;
  if (!split_quantity(lo, r.min, lo_unit) || !split_quantity(hi, r.max, hi_unit)) fail();
  if (lo_unit != hi_unit)
    throw ConfigError("--range", r.path, fmt::format("both bounds need the same unit, got \"{}\" and \"{}\"", lo, hi));
  r.unit = lo_unit;
  return r;
}

void load_sweep_file(const std::string& file, SweepSpec& spec) {
  json doc = load_json_file(file);
  // Key order of "grid" and "zip" as written (nlohmann::json sorts keys; ordered_json keeps them).
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto ordered = nlohmann::ordered_json::parse(text.str());

  JsonReader root(doc, file);
  auto o = root.object();
  if (auto v = o.optional("scenario")) {
    fs::path p = v->as_string();
    if (p.is_relative()) p = fs::path(file).parent_path() / p;
    if (spec.scenario.empty()) spec.scenario = p.lexically_normal().string();
  }
  if (auto v = o.optional("set"))
    for (const auto& s : v->array())
      spec.sets.push_back(s.as_string());
  auto lists = [&](const char* key, std::vector<SweepList>& out) {
    auto v = o.optional(key);
    if (!v) return;
    auto lo = v->object();
    for (const auto& item : ordered[key].items()) {
      auto values = lo.required(item.key());
      SweepList list;
      list.path = item.key();
      list.origin = file;
      list.where = values.where();
      for (const auto& value : values.array())
        list.values.push_back(value.json());
      if (list.values.empty()) values.fail("expected at least one value");
      out.push_back(std::move(list));
    }
    lo.finish();
  };
  lists("grid", spec.grid);
  lists("zip", spec.zip);
  if (auto v = o.optional("random")) {
    auto ro = v->object();
    spec.random_count = ro.required("count").as_int(1, 1'000'000);
    if (auto s = ro.optional("seed")) spec.random_seed = static_cast<uint64_t>(s->as_int(0, INT64_MAX));
    if (auto ranges = ro.optional("ranges")) {
      auto rr = ranges->object();
      for (const auto& item : ordered["random"]["ranges"].items()) {
        auto bounds = rr.required(item.key());
        auto bo = bounds.object();
        SweepRange r;
        r.path = item.key();
        r.origin = file;
        r.where = bounds.where();
        auto bound = [&](const char* key, double& value, std::string& unit) {
          auto b = bo.required(key);
          if (b.json().is_number()) {
            value = b.as_double();
            unit.clear();
          } else if (!b.json().is_string() || !split_quantity(b.as_string(), value, unit)) {
            b.fail("expected a number, or a number with a unit such as \"10ms\"");
          }
        };
        std::string lo_unit, hi_unit;
        bound("min", r.min, lo_unit);
        bound("max", r.max, hi_unit);
        if (lo_unit != hi_unit) bounds.fail("\"min\" and \"max\" need the same unit");
        r.unit = lo_unit;
        if (auto l = bo.optional("log")) r.log = l->as_bool();
        bo.finish();
        spec.ranges.push_back(r);
      }
      rr.finish();
    }
    ro.finish();
  }
  o.finish();
}

std::vector<std::string> parameter_paths(const SweepSpec& spec) {
  std::vector<std::string> out;
  for (const auto& l : spec.grid)
    out.push_back(l.path);
  for (const auto& l : spec.zip)
    out.push_back(l.path);
  for (const auto& r : spec.ranges)
    out.push_back(r.path);
  return out;
}

void check_spec(const SweepSpec& spec) {
  std::set<std::string> seen;
  auto once = [&](const std::string& path, const std::string& origin, const std::string& where) {
    if (!seen.insert(path).second)
      throw ConfigError(origin, where, fmt::format("\"{}\" is swept twice; give each path once", path));
  };
  for (const auto& l : spec.grid)
    once(l.path, l.origin, l.where);
  for (const auto& l : spec.zip) {
    once(l.path, l.origin, l.where);
    if (l.values.size() != spec.zip.front().values.size())
      throw ConfigError(l.origin, l.where,
                        fmt::format("zipped lists must have equal lengths: \"{}\" has {} values, \"{}\" has {}", l.path,
                                    l.values.size(), spec.zip.front().path, spec.zip.front().values.size()));
  }
  for (const auto& r : spec.ranges) {
    once(r.path, r.origin, r.where);
    if (!spec.random_count)
      throw ConfigError(r.origin, r.where, "a range is sampled, so it needs --random N (how many points to draw)");
    if (r.max < r.min) throw ConfigError(r.origin, r.where, fmt::format("max {} is below min {}", r.max, r.min));
    if (r.log && r.min <= 0) throw ConfigError(r.origin, r.where, "a log range needs min > 0");
  }
  if (seen.empty())
    throw ConfigError("sweep", "", "nothing to sweep: give --grid, --zip, --range with --random, or a sweep file");
}

std::vector<SweepPoint> expand(const SweepSpec& spec) {
  check_spec(spec);
  auto paths = parameter_paths(spec);
  std::vector<std::vector<json>> rows;
  if (spec.random_count) {
    for (int64_t i = 0; i < *spec.random_count; ++i) {
      auto g = random_stream(spec.random_seed, "sweep", static_cast<uint64_t>(i));
      std::vector<json> row;
      for (const auto& l : spec.grid)
        row.push_back(l.values[std::min(l.values.size() - 1, static_cast<size_t>(uniform01(g) * l.values.size()))]);
      if (!spec.zip.empty()) {
        size_t n = spec.zip.front().values.size();
        size_t k = std::min(n - 1, static_cast<size_t>(uniform01(g) * static_cast<double>(n)));
        for (const auto& l : spec.zip)
          row.push_back(l.values[k]);
      }
      for (const auto& r : spec.ranges) {
        double u = uniform01(g), v;
        if (r.integer) {
          // Every integer in [min, max] equally likely (or, on a log range, each in proportion to the log-width
          // of [k, k + 1)).
          double lo = std::ceil(r.min), hi = std::floor(r.max);
          v = r.log ? std::floor(std::exp(std::log(lo) + u * (std::log(hi + 1) - std::log(lo))))
                    : lo + std::floor(u * (hi - lo + 1));
          row.push_back(json(static_cast<int64_t>(std::clamp(v, lo, hi))));
          continue;
        }
        v = r.log ? std::exp(std::log(r.min) + u * (std::log(r.max) - std::log(r.min))) : r.min + u * (r.max - r.min);
        v = round6(v);
        row.push_back(r.unit.empty() ? json(v) : json(fmt::format("{}{}", v, r.unit)));
      }
      rows.push_back(std::move(row));
    }
  } else {
    // Dimensions: each grid list, then the zip group as one dimension.
    std::vector<size_t> sizes;
    for (const auto& l : spec.grid)
      sizes.push_back(l.values.size());
    if (!spec.zip.empty()) sizes.push_back(spec.zip.front().values.size());
    size_t total = 1;
    for (size_t s : sizes)
      total *= s;
    for (size_t i = 0; i < total; ++i) {
      std::vector<size_t> index(sizes.size());
      size_t rest = i;
      for (size_t d = sizes.size(); d-- > 0;) {
        index[d] = rest % sizes[d];
        rest /= sizes[d];
      }
      std::vector<json> row;
      for (size_t d = 0; d < spec.grid.size(); ++d)
        row.push_back(spec.grid[d].values[index[d]]);
      for (const auto& l : spec.zip)
        row.push_back(l.values[index.back()]);
      rows.push_back(std::move(row));
    }
  }
  size_t digits = std::max<size_t>(4, fmt::format("{}", rows.empty() ? 0 : rows.size() - 1).size());
  std::vector<SweepPoint> points;
  for (size_t i = 0; i < rows.size(); ++i) {
    SweepPoint p;
    p.name = fmt::format("point-{:0{}}", i, digits);
    for (size_t k = 0; k < paths.size(); ++k)
      p.values.emplace_back(paths[k], rows[i][k]);
    points.push_back(std::move(p));
  }
  return points;
}

namespace {

// The node at a dotted path of the resolved scenario, following --set's rules (numbers index arrays); on a
// miss, `why` says which step failed and what was there.
const json* resolve_path(const json& doc, const std::string& path, std::string& why) {
  const json* node = &doc;
  std::string walked;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string step = path.substr(start, dot - start);
    std::string here = walked.empty() ? "the scenario" : "\"" + walked + "\"";
    if (step.empty()) {
      why = "empty path element";
      return nullptr;
    }
    if (node->is_array()) {
      char* end = nullptr;
      long index = std::strtol(step.c_str(), &end, 10);
      if (*end != '\0' || index < 0 || static_cast<size_t>(index) >= node->size()) {
        why = fmt::format("{} is an array of {} elements: expected an index 0..{}, got \"{}\"", here, node->size(),
                          node->size() == 0 ? 0 : node->size() - 1, step);
        return nullptr;
      }
      node = &(*node)[static_cast<size_t>(index)];
    } else if (node->is_object()) {
      if (!node->contains(step)) {
        std::vector<std::string> keys;
        for (auto it = node->begin(); it != node->end(); ++it)
          keys.push_back(it.key());
        why = fmt::format("{} has no key \"{}\" (it has: {})", here, step, fmt::join(keys, ", "));
        return nullptr;
      }
      node = &(*node)[step];
    } else {
      why = fmt::format("{} is {}, not an object or array", here, json_kind(*node));
      return nullptr;
    }
    walked = walked.empty() ? step : walked + "." + step;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

}  // namespace

void check_against_scenario(SweepSpec& spec, const json& resolved) {
  auto locate = [&](const std::string& path, const std::string& origin, const std::string& where) -> const json& {
    std::string why;
    const json* node = resolve_path(resolved, path, why);
    if (!node)
      throw ConfigError(origin, where,
                        fmt::format("\"{}\" is not in the resolved scenario: {}. A sweep varies values the scenario "
                                    "has after defaults (scenario.resolved.json); add a missing one with --set",
                                    path, why));
    return *node;
  };
  auto same_kind = [&](const json& target, const json& value, const std::string& path, const std::string& origin,
                       const std::string& where) {
    bool ok = json_kind(target) == json_kind(value);
    if (ok && target.is_number_integer() && value.is_number_float() &&
        value.get<double>() != std::floor(value.get<double>()))
      throw ConfigError(origin, where,
                        fmt::format("\"{}\" holds an integer ({}), got {}", path, target.dump(), value.dump()));
    if (!ok)
      throw ConfigError(origin, where,
                        fmt::format("\"{}\" holds {} ({}), got {} ({})", path, json_kind(target), target.dump(),
                                    json_kind(value), value.dump()));
  };
  for (const auto* lists : {&spec.grid, &spec.zip})
    for (const auto& l : *lists) {
      const json& target = locate(l.path, l.origin, l.where);
      for (const auto& v : l.values)
        same_kind(target, v, l.path, l.origin, l.where);
    }
  for (auto& r : spec.ranges) {
    const json& target = locate(r.path, r.origin, r.where);
    json sample = r.unit.empty() ? json(r.min) : json(fmt::format("{}{}", r.min, r.unit));
    same_kind(target, sample, r.path, r.origin, r.where);
    // Samples take the scenario's type there: integers for an integer (a count), numbers otherwise.
    r.integer = target.is_number_integer();
    if (r.integer && std::ceil(r.min) > std::floor(r.max))
      throw ConfigError(r.origin, r.where,
                        fmt::format("\"{}\" holds an integer: no integer in [{}, {}]", r.path, r.min, r.max));
  }
}

std::string set_argument(const std::string& path, const json& value) {
  return path + "=" + value.dump();
}

json manifest(const SweepSpec& spec, const std::vector<SweepPoint>& points, const json& resolved,
              const std::string& scenario_name) {
  json m;
  m["schema_version"] = 1;
  m["kind"] = "tokenfactory-sweep";
  m["name"] = scenario_name + " sweep";
  m["scenario"] = fs::absolute(spec.scenario).lexically_normal().string();
  m["set"] = spec.sets;
  m["parameters"] = parameter_paths(spec);
  m["random"] = spec.random_count ? json{{"count", *spec.random_count}, {"seed", spec.random_seed}} : json(nullptr);
  m["base"] = resolved;
  json list = json::array();
  for (const auto& p : points) {
    json values = json::object(), sets = json::array();
    for (const auto& [path, value] : p.values) {
      values[path] = value;
      sets.push_back(set_argument(path, value));
    }
    list.push_back({{"name", p.name}, {"values", values}, {"set", sets}});
  }
  m["points"] = list;
  return m;
}

std::vector<std::string> run_arguments(const json& m, const json& point, const fs::path& dir) {
  std::vector<std::string> args = {"run", m["scenario"].get<std::string>()};
  for (const auto& s : m["set"]) {
    args.push_back("--set");
    args.push_back(s.get<std::string>());
  }
  for (const auto& s : point["set"]) {
    args.push_back("--set");
    args.push_back(s.get<std::string>());
  }
  args.push_back("--out");
  args.push_back(dir.string());
  args.push_back("-q");
  return args;
}

std::string jobs_file(const json& m, const fs::path& binary, const fs::path& out_dir) {
  std::string out;
  fs::path base = fs::absolute(out_dir).lexically_normal();
  for (const auto& p : m["points"]) {
    fs::path dir = base / p["name"].get<std::string>();
    std::string cmd = shell_quote(binary.string());
    for (const auto& a : run_arguments(m, p, dir)) {
      cmd += ' ';
      cmd += shell_quote(a);
    }
    out += fmt::format("test -f {0} || {{ mkdir -p {1} && {2} > {3} 2>&1; }}\n",
                       shell_quote((dir / "results.json").string()), shell_quote(dir.string()), cmd,
                       shell_quote((dir / "run.log").string()));
  }
  return out;
}

std::string sbatch_file(const json& m, const fs::path& out_dir) {
  fs::path base = fs::absolute(out_dir).lexically_normal();
  size_t n = m["points"].size();
  std::string name = m.value("name", std::string("tokenfactory sweep"));
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '-';
  std::string out;
  out += "#!/bin/bash\n";
  out += fmt::format("#SBATCH --job-name={}\n", name);
  out += fmt::format("#SBATCH --array=0-{}\n", n == 0 ? 0 : n - 1);
  out += "#SBATCH --ntasks=1\n";
  out += "#SBATCH --cpus-per-task=1\n";
  out += fmt::format("#SBATCH --output={}\n", (base / "slurm-%A_%a.out").string());
  out += "# Written by tokenfactory sweep --emit-jobs: one array task per sweep point; task i runs line i + 1 of\n";
  out += "# jobs.txt (a point whose results.json exists is skipped). Then: tokenfactory collect " +
         shell_quote(base.string()) + "\n";
  out += "set -euo pipefail\n";
  out +=
      fmt::format("line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})\n", shell_quote((base / "jobs.txt").string()));
  out += "exec /bin/bash -c \"$line\"\n";
  return out;
}

}  // namespace tf::cli
