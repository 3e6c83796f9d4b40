#include "cli/sweep_collect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "cli/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "report/expect.hpp"
#include "report/results.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tf::cli {

namespace {

std::string csv_cell(const json& v) {
  if (v.is_null()) return "";
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s)
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

json read_manifest(const fs::path& dir) {
  fs::path file = dir / "points.json";
  if (!fs::exists(file))
    throw ConfigError(file.string(), "",
                      "no sweep here (tokenfactory sweep writes points.json into its --out or "
                      "--emit-jobs directory)");
  json m = load_json_file(file.string());
  if (!m.is_object() || m.value("kind", std::string()) != "tokenfactory-sweep")
    throw ConfigError(file.string(), "/kind", "not a tokenfactory sweep manifest");
  if (m.value("schema_version", 0) != 1)
    throw ConfigError(file.string(), "/schema_version",
                      fmt::format("sweep manifest version {}, this build reads version 1",
                                  m.contains("schema_version") ? m["schema_version"].dump() : "none"));
  if (!m.contains("points") || !m["points"].is_array())
    throw ConfigError(file.string(), "/points", "expected the list of points");
  return m;
}

std::vector<std::string> sweep_metric_columns(const json& results) {
  // The headline metrics first, so that the first columns of sweep.csv answer the question; then the rest.
  std::vector<std::string> cols = {"summary.cost_per_useful_mtok_usd",
                                   "summary.cost_per_mtok_usd",
                                   "summary.slo_attainment",
                                   "summary.ttft_s.p99",
                                   "summary.tpot_s.p99",
                                   "summary.output_tokens_per_s",
                                   "summary.cost_usd"};
  for (const auto& path : report::metric_paths(results.value("summary", json::object()), "summary"))
    if (std::find(cols.begin(), cols.end(), path) == cols.end()) cols.push_back(path);
  const json classes = results.value("classes", json::object());
  for (auto it = classes.begin(); it != classes.end(); ++it) {
    const std::string& name = it.key();
    for (const char* m : {"slo_attainment", "ttft_s.p50", "ttft_s.p99", "tpot_s.p50", "tpot_s.p99", "e2e_s.p99",
                          "useful_tokens", "cost_per_useful_mtok_usd"})
      cols.push_back(fmt::format("classes.{}.{}", name, m));
  }
  const json pools = results.value("pools", json::object());
  for (auto it = pools.begin(); it != pools.end(); ++it) {
    const std::string& name = it.key();
    for (const char* m : {"utilization", "cost_usd", "cost_per_useful_mtok_usd"})
      cols.push_back(fmt::format("pools.{}.{}", name, m));
  }
  return cols;
}

CollectCounts collect_sweep(const fs::path& dir, const std::map<std::string, int>& exit_codes) {
  json m = read_manifest(dir);
  std::vector<std::string> params = m.value("parameters", std::vector<std::string>{});
  CollectCounts counts;
  std::vector<std::string> columns;
  std::set<std::string> known;
  json points = json::array();
  std::vector<json> results;
  for (const auto& p : m["points"]) {
    std::string name = p.value("name", std::string());
    fs::path file = dir / name / "results.json";
    json row{{"name", name}, {"values", p.value("values", json::object())}, {"dir", name}};
    json r;
    if (fs::exists(file)) {
      r = load_json_file(file.string());
      if (!r.is_object() || r.value("schema_version", -1) != report::kSchemaVersion)
        throw ConfigError(
            file.string(), "/schema_version",
            fmt::format("results schema version {}, this build reads version {}: rerun this point "
                        "with this build",
                        r.is_object() && r.contains("schema_version") ? r["schema_version"].dump() : "none",
                        report::kSchemaVersion));
      row["status"] = "ok";
      for (const char* key : {"summary", "classes", "pools"})
        row[key] = r.value(key, json::object());
      ++counts.ok;
      for (const auto& c : sweep_metric_columns(r))
        if (known.insert(c).second) columns.push_back(c);
    } else if (auto it = exit_codes.find(name); it != exit_codes.end()) {
      row["status"] = "failed";
      row["exit_code"] = it->second;
      row["log"] = name + "/run.log";
      ++counts.failed;
    } else {
      row["status"] = "missing";
      ++counts.missing;
    }
    results.push_back(r);
    points.push_back(row);
  }

  std::string csv = "point,status";
  auto cell = [&csv](const json& v) {
    csv += ',';
    csv += csv_cell(v);
  };
  for (const auto& p : params)
    cell(json(p));
  for (const auto& c : columns)
    cell(json(c));
  csv += '\n';
  for (size_t i = 0; i < points.size(); ++i) {
    const auto& row = points[i];
    csv += csv_cell(row["name"]);
    cell(row["status"]);
    for (const auto& p : params)
      cell(row["values"].value(p, json(nullptr)));
    for (const auto& c : columns) {
      const json* v = results[i].is_object() ? report::find_metric(results[i], c) : nullptr;
      cell(v && v->is_number() ? *v : json(nullptr));
    }
    csv += '\n';
  }
  json out{{"schema_version", 1},
           {"kind", "tokenfactory-sweep-results"},
           {"name", m.value("name", std::string("sweep"))},
           {"scenario", m.value("scenario", std::string())},
           {"set", m.value("set", json::array())},
           {"parameters", params},
           {"counts", {{"ok", counts.ok}, {"failed", counts.failed}, {"missing", counts.missing}}},
           {"points", points}};
  write_file_atomically(dir / "sweep.csv", csv);
  write_file_atomically(dir / "sweep.json", out.dump(2) + "\n");
  return counts;
}

}  // namespace tf::cli
