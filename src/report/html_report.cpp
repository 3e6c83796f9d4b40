#include "report/html_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/unit_parse.hpp"
#include "report/report_assets.hpp"
#include "report/results.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tf::report {

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ConfigError(p.string(), "", "cannot open file (does it exist?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A CSV file as written by this project: a header line, comma-separated cells, no quoting.
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// Streams a CSV file line by line: `on_header` gets the header, then `on_row` each row (a million-request
// requests.csv is never held in memory).
using CsvLine = std::function<void(const std::vector<std::string>&)>;
void for_each_csv_row(const fs::path& p, const CsvLine& on_header, const CsvLine& on_row) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ConfigError(p.string(), "", "cannot open file (does it exist?)");
  std::vector<std::string> header, cells;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    cells.clear();
    size_t start = 0;
    while (true) {
      size_t comma = line.find(',', start);
      cells.push_back(line.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (header.empty()) {
      header = cells;
      on_header(header);
      continue;
    }
    if (cells.size() != header.size())
      throw ConfigError(p.string(), fmt::format("line {}", number),
                        fmt::format("expected {} cells, got {}", header.size(), cells.size()));
    on_row(cells);
  }
  if (header.empty()) throw ConfigError(p.string(), "", "empty file: expected a header line");
}

Csv read_csv(const fs::path& p) {
  Csv csv;
  for_each_csv_row(
      p, [&](const std::vector<std::string>& h) { csv.header = h; },
      [&](const std::vector<std::string>& row) { csv.rows.push_back(row); });
  return csv;
}

size_t column_of(const std::vector<std::string>& header, const std::string& name, const fs::path& file) {
  auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) throw ConfigError(file.string(), "line 1", fmt::format("no column \"{}\"", name));
  return static_cast<size_t>(it - header.begin());
}

// A cell as a number; empty (or unparsable) cells are NaN.
double cell_number(const std::string& s) {
  if (s.empty()) return NAN;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  return *end == '\0' ? v : NAN;
}

json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json load_results(const fs::path& file) {
  json results = load_json_file(file.string());
  if (!results.is_object() || !results.contains("schema_version"))
    throw ConfigError(file.string(), "/schema_version", "not a tokenfactory results file (no schema_version)");
  if (results["schema_version"] != kSchemaVersion)
    throw ConfigError(file.string(), "/schema_version",
                      fmt::format("schema version {}, this build reads version {}: run the scenario again with "
                                  "this build",
                                  results["schema_version"].dump(), kSchemaVersion));
  return results;
}

std::optional<double> duration_at(const json& node, const char* key) {
  if (!node.is_object() || !node.contains(key) || !node[key].is_string()) return std::nullopt;
  try {
    return parse_seconds(node[key].get<std::string>()).value();
  } catch (const UnitError&) {
    return std::nullopt;
  }
}

}  // namespace

fs::path chart_js_path() {
  if (const char* env = std::getenv("TOKENFACTORY_CHARTJS"); env && *env) {
    if (!fs::is_regular_file(env))
      throw ConfigError(env, "", "TOKENFACTORY_CHARTJS names no file (expected Chart.js's chart.min.js)");
    return env;
  }
  fs::path debian = "/usr/share/javascript/chart.js/chart.min.js";
  if (fs::is_regular_file(debian)) return debian;
  throw ConfigError("", "",
                    "Chart.js not found: install the Debian package libjs-chart.js (tools/install-deps does), or set "
                    "TOKENFACTORY_CHARTJS to a chart.min.js (Chart.js 3 or 4, UMD build)");
}

json cdf_points(std::vector<double> values, size_t max_points) {
  json out = json::array();
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }), values.end());
  if (values.empty() || max_points == 0) return out;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  size_t points = std::min(n, std::max<size_t>(max_points, 2));
  for (size_t k = 0; k < points; ++k) {
    // Ranks spread evenly from the smallest value to the largest.
    size_t rank = points == 1 ? n - 1 : k * (n - 1) / (points - 1);
    out.push_back({values[rank], static_cast<double>(rank + 1) / static_cast<double>(n)});
  }
  return out;
}

std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& pts) {
  std::vector<size_t> order;
  for (size_t i = 0; i < pts.size(); ++i)
    if (std::isfinite(pts[i].first) && std::isfinite(pts[i].second)) order.push_back(i);
  // Cheapest first; among equal costs the best attainment first. Walking in that order, a point is on the
  // front when its attainment beats every cheaper point's.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (pts[a].first != pts[b].first) return pts[a].first < pts[b].first;
    if (pts[a].second != pts[b].second) return pts[a].second > pts[b].second;
    return a < b;
  });
  std::vector<size_t> front;
  double best = -std::numeric_limits<double>::infinity();
  for (size_t i : order) {
    if (pts[i].second > best) {
      front.push_back(i);
      best = pts[i].second;
    }
  }
  return front;
}

json run_report_data(const fs::path& dir) {
  json data;
  data["kind"] = "run";
  data["notes"] = json::array();
  json results = load_results(dir / "results.json");
  data["results"] = results;
  data["title"] = results.value("scenario", std::string("run"));

  json resolved = json::object();
  if (fs::exists(dir / "scenario.resolved.json")) resolved = load_json_file((dir / "scenario.resolved.json").string());
  data["description"] = resolved.value("description", std::string());
  double client_latency = 0;
  if (resolved.contains("workload")) client_latency = duration_at(resolved["workload"], "client_latency").value_or(0);
  data["client_latency_s"] = client_latency;

  json budgets = json::object();
  for (auto it = results["classes"].begin(); it != results["classes"].end(); ++it) {
    json slo = json::object();
    if (resolved.contains("workload") && resolved["workload"].contains("classes") &&
        resolved["workload"]["classes"].contains(it.key()))
      slo = resolved["workload"]["classes"][it.key()].value("slo", json::object());
    json b = json::object();
    for (const char* key : {"ttft", "tpot", "e2e"}) {
      auto v = duration_at(slo, key);
      b[key] = v ? json(*v) : json(nullptr);
    }
    budgets[it.key()] = b;
  }
  data["budgets"] = budgets;

  // Latency distributions per class, from the per-request records.
  json cdf = json::object();
  fs::path requests = dir / "requests.csv";
  if (fs::exists(requests)) {
    // Columns are found by name, so that columns added later do not break reports.
    std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> values;
    size_t c_class = 0, c_status = 0, c_ttft = 0, c_tpot = 0, c_out = 0;
    for_each_csv_row(
        requests,
        [&](const std::vector<std::string>& h) {
          c_class = column_of(h, "class", requests);
          c_status = column_of(h, "status", requests);
          c_ttft = column_of(h, "ttft_s", requests);
          c_tpot = column_of(h, "tpot_s", requests);
          c_out = column_of(h, "output_tokens", requests);
        },
        [&](const std::vector<std::string>& row) {
          if (row[c_status] != "finished") return;
          auto& v = values[row[c_class]];
          v.first.push_back(cell_number(row[c_ttft]));
          if (cell_number(row[c_out]) > 1) v.second.push_back(cell_number(row[c_tpot]));
        });
    for (auto& [name, v] : values)
      cdf[name] = {{"ttft", cdf_points(std::move(v.first), 400)}, {"tpot", cdf_points(std::move(v.second), 400)}};
  } else {
    data["notes"].push_back("requests.csv is missing: no latency distributions.");
  }
  data["cdf"] = cdf;

  // The per-interval series, grouped by scope and name, one array per column.
  fs::path ts = dir / "timeseries.csv";
  if (fs::exists(ts)) {
    Csv csv = read_csv(ts);
    size_t c_scope = column_of(csv.header, "scope", ts), c_name = column_of(csv.header, "name", ts);
    std::map<std::pair<std::string, std::string>, json> groups;
    std::vector<std::pair<std::string, std::string>> order;
    for (const auto& row : csv.rows) {
      auto key = std::make_pair(row[c_scope], row[c_name]);
      auto [it, fresh] = groups.try_emplace(key, json::object());
      if (fresh) {
        order.push_back(key);
        it->second["scope"] = key.first;
        it->second["name"] = key.second;
      }
      for (size_t c = 0; c < csv.header.size(); ++c) {
        if (c == c_scope || c == c_name) continue;
        it->second[csv.header[c]].push_back(number_or_null(cell_number(row[c])));
      }
    }
    json series = json::array();
    for (const auto& key : order)
      series.push_back(groups[key]);
    data["timeseries"] = series;
    if (resolved.contains("metrics"))
      data["timeseries_interval_s"] = duration_at(resolved["metrics"], "timeseries_interval").value_or(0);
  } else {
    data["timeseries"] = nullptr;
    data["notes"].push_back("timeseries.csv is missing (a run from an older build): no plots over time.");
  }
  return data;
}

json sweep_report_data(const fs::path& dir) {
  fs::path file = dir / "sweep.json";
  json sweep = load_json_file(file.string());
  if (!sweep.is_object() || !sweep.contains("points") || !sweep["points"].is_array())
    throw ConfigError(file.string(), "/points", "expected the points of a sweep (written by tokenfactory sweep)");
  json data;
  data["kind"] = "sweep";
  data["title"] = sweep.value("name", std::string("sweep"));
  data["scenario"] = sweep.value("scenario", std::string());
  data["parameters"] = sweep.value("parameters", json::array());
  data["notes"] = json::array();
  json points = json::array();
  std::vector<std::pair<double, double>> xy;
  for (const auto& p : sweep["points"]) {
    json point;
    point["name"] = p.value("name", std::string());
    point["status"] = p.value("status", std::string());
    point["values"] = p.value("values", json::object());
    const json summary = p.value("summary", json::object());
    auto metric = [&](const char* key) -> json {
      return summary.contains(key) && summary[key].is_number() ? summary[key] : json(nullptr);
    };
    point["cost_per_useful_mtok_usd"] = metric("cost_per_useful_mtok_usd");
    point["cost_per_mtok_usd"] = metric("cost_per_mtok_usd");
    point["slo_attainment"] = metric("slo_attainment");
    point["cost_usd"] = metric("cost_usd");
    point["output_tokens_per_s"] = metric("output_tokens_per_s");
    point["ttft_p99_s"] = summary.contains("ttft_s") ? summary["ttft_s"].value("p99", json(nullptr)) : json(nullptr);
    std::string name = point["name"];
    if (fs::exists(dir / name / "report.html"))
      point["link"] = name + "/report.html";
    else if (fs::exists(dir / name / "results.json"))
      point["link"] = name + "/results.json";
    auto num = [](const json& v) { return v.is_number() ? v.get<double>() : NAN; };
    xy.emplace_back(num(point["cost_per_useful_mtok_usd"]), num(point["slo_attainment"]));
    points.push_back(point);
  }
  auto front = pareto_front(xy);
  data["pareto"] = front;
  data["points"] = points;
  size_t missing = 0;
  for (const auto& p : points)
    if (p["status"] != "ok") ++missing;
  if (missing > 0)
    data["notes"].push_back(
        fmt::format("{} of {} points have no results (failed or not run yet).", missing, points.size()));
  return data;
}

std::string render_html(const json& data) {
  std::string chart = read_text(chart_js_path());
  // JSON inside a <script> element must not close it: "</" becomes "<\/", which JSON reads back unchanged.
  std::string payload = data.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string safe;
  safe.reserve(payload.size());
  for (size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] == '<' && i + 1 < payload.size() && payload[i + 1] == '/') {
      safe += "<\\/";
      ++i;
    } else {
      safe += payload[i];
    }
  }
  std::string title = data.value("title", std::string("tokenfactory report"));
  std::string escaped_title;
  for (char c : title) {
    if (c == '<')
      escaped_title += "&lt;";
    else if (c == '&')
      escaped_title += "&amp;";
    else
      escaped_title += c;
  }
  std::string html;
  html.reserve(chart.size() + safe.size() + 64 * 1024);
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>" + escaped_title + " - tokenfactory report</title>\n<style>\n";
  html += kReportCss;
  html += "</style>\n";
  // Records every script error and console.error, before anything else runs, so a test (and a reader) can see
  // them: the page's root element carries data-tf-errors.
  html +=
      "<script>window.tfErrors=[];(function(){function note(m){window.tfErrors.push(String(m));"
      "document.documentElement.setAttribute('data-tf-errors',window.tfErrors.join(' | '));}"
      "window.addEventListener('error',function(e){note(e.message||e);});"
      "var ce=console.error;console.error=function(){note(Array.prototype.join.call(arguments,' '));"
      "ce.apply(console,arguments);};})();</script>\n";
  html += "</head>\n<body>\n<main id=\"report\"></main>\n";
  html += "<script>\n" + chart + "\n</script>\n";
  html += "<script id=\"tf-data\" type=\"application/json\">" + safe + "</script>\n";
  html += "<script>\n";
  html += kReportJs;
  html += "\n</script>\n</body>\n</html>\n";
  return html;
}

}  // namespace tf::report
