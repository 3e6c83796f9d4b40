#pragma once
// `tokenfactory report`: one self-contained HTML file per run or sweep (docs/report.md). The page holds its
// data as JSON and draws it with Chart.js, inlined from the Debian package libjs-chart.js, so it opens offline
// with no network. This file prepares the data (CDFs, time series, Pareto front) and assembles the page; the
// drawing code is report_page.js.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace tf::report {

// The Chart.js build the page inlines: $TOKENFACTORY_CHARTJS, else Debian's
// /usr/share/javascript/chart.js/chart.min.js. Throws tf::ConfigError saying what to install when neither exists.
std::filesystem::path chart_js_path();

// Points of an empirical CDF of `values` (sorted here), at most `max_points` of them, first and last included:
// [[value, fraction of values <= it], ...].
nlohmann::json cdf_points(std::vector<double> values, size_t max_points);

// Indices of the points on the Pareto front of (cost, attainment): no other point is as cheap and as good
// with one of the two strictly better. Sorted by increasing cost. Points with a non-finite cost are left out.
std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& cost_attainment);

// The data a run's page draws, read from RUN_DIR (results.json, scenario.resolved.json, requests.csv and, when
// present, timeseries.csv). Throws tf::ConfigError naming the file for a missing or malformed one.
nlohmann::json run_report_data(const std::filesystem::path& run_dir);

// The data a sweep's page draws, from SWEEP_DIR/sweep.json (tokenfactory sweep or collect writes it).
nlohmann::json sweep_report_data(const std::filesystem::path& sweep_dir);

// The whole page: styles, Chart.js, the data and the drawing code, with nothing loaded from elsewhere.
std::string render_html(const nlohmann::json& data);

}  // namespace tf::report
