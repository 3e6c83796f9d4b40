#include <catch2/catch.hpp>

#include <cmath>

#include "cli_util.hpp"

using namespace tf::test;
namespace fs = std::filesystem;

TEST_CASE("timeseries.csv adds up to results.json: arrivals, completions, useful tokens and busy time") {
  auto dir = temp_dir("timeseries");
  auto r = run_binary("run scenarios/quickstart.json -q --set metrics.timeseries_interval=10s --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto results = read_json(dir / "results.json");
  auto rows = read_csv_rows(dir / "timeseries.csv");
  REQUIRE(rows.size() > 1);
  const auto& h = rows[0];
  size_t start = column(h, "interval_start_s"), end = column(h, "interval_end_s"), scope = column(h, "scope"),
         name = column(h, "name"), arrivals = column(h, "arrivals"), completed = column(h, "completed"),
         useful = column(h, "useful_tokens"), util = column(h, "utilization"), outstanding = column(h, "outstanding");
  REQUIRE(outstanding < h.size());
  double simulated = results["simulated_seconds"].get<double>();
  int64_t all_arrivals = 0, all_completed = 0, all_useful = 0, class_arrivals = 0;
  double busy = 0, last_end = 0;
  size_t intervals = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    double width = std::stod(row[end]) - std::stod(row[start]);
    CHECK(width > 0);
    CHECK(width <= 10.0 + 1e-9);
    if (row[scope] == "all") {
      ++intervals;
      all_arrivals += std::stoll(row[arrivals]);
      all_completed += std::stoll(row[completed]);
      all_useful += std::stoll(row[useful]);
      last_end = std::stod(row[end]);
    } else if (row[scope] == "class") {
      CHECK(row[name] == "chat");
      CHECK(row[util].empty());  // a class has no pool state
      class_arrivals += std::stoll(row[arrivals]);
    } else {
      REQUIRE(row[scope] == "pool");
      CHECK(row[name] == "h100");
      double u = std::stod(row[util]);
      CHECK(u >= 0);
      CHECK(u <= 1 + 1e-9);
      busy += u * width;
    }
  }
  CHECK(intervals == static_cast<size_t>(std::ceil(simulated / 10.0)));
  CHECK(last_end == Approx(simulated));
  CHECK(all_arrivals == results["summary"]["requests"].get<int64_t>());
  CHECK(class_arrivals == all_arrivals);
  CHECK(all_completed == results["summary"]["completed"].get<int64_t>());
  CHECK(all_useful == results["summary"]["useful_tokens"].get<int64_t>());
  // Busy time per interval, summed, is the pool's utilisation over the whole run.
  CHECK(busy / simulated == Approx(results["pools"]["h100"]["utilization"].get<double>()).epsilon(1e-6));
  // The run ends with every request done.
  CHECK(rows.back()[outstanding] == "0");
  // The interval is recorded in the resolved scenario.
  CHECK(read_json(dir / "scenario.resolved.json")["metrics"]["timeseries_interval"] == "10s");
}

TEST_CASE("recording the time series does not change the results") {
  auto a = temp_dir("timeseries-60"), b = temp_dir("timeseries-1");
  REQUIRE(run_binary("run scenarios/quickstart.json -q --out " + a.string()).exit_code == 0);
  REQUIRE(run_binary("run scenarios/quickstart.json -q --set metrics.timeseries_interval=1s --out " + b.string())
              .exit_code == 0);
  CHECK(read_file(a / "results.json") == read_file(b / "results.json"));
  CHECK(read_file(a / "requests.csv") == read_file(b / "requests.csv"));
  CHECK(read_csv_rows(b / "timeseries.csv").size() > read_csv_rows(a / "timeseries.csv").size());
}

TEST_CASE("a time-series interval that is not a positive duration is rejected naming its key") {
  auto r = run_binary("validate scenarios/quickstart.json --set metrics.timeseries_interval=0s");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("/metrics/timeseries_interval") && Catch::Contains("positive"));
  auto unknown = run_binary("validate scenarios/quickstart.json --set metrics.interval=10s");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.output, Catch::Contains("/metrics/interval"));
}
