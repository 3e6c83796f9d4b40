#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "report/html_report.hpp"

using namespace tf;
using nlohmann::json;

TEST_CASE("a CDF keeps the smallest and largest value and spreads the ranks between them") {
  std::vector<double> v;
  for (int i = 1000; i >= 1; --i)
    v.push_back(i);
  auto cdf = report::cdf_points(v, 11);
  REQUIRE(cdf.size() == 11);
  CHECK(cdf.front()[0] == 1.0);
  CHECK(cdf.front()[1] == Approx(0.001));
  CHECK(cdf.back()[0] == 1000.0);
  CHECK(cdf.back()[1] == 1.0);
  for (size_t k = 1; k < cdf.size(); ++k)
    CHECK(cdf[k][0].get<double>() >= cdf[k - 1][0].get<double>());
  CHECK(report::cdf_points({3.0, NAN, 1.0}, 100).size() == 2);  // NaN (no value) is left out
  CHECK(report::cdf_points({}, 100).empty());
}

TEST_CASE("the Pareto front keeps points no other point beats on both cost and attainment") {
  // (cost per useful token, attainment)
  std::vector<std::pair<double, double>> pts = {
      {1.0, 0.50},  // 0: cheapest
      {2.0, 0.90},  // 1: front
      {2.5, 0.80},  // 2: dominated by 1
      {3.0, 0.99},  // 3: front
      {3.0, 0.95},  // 4: dominated by 3 (same cost, worse)
      {NAN, 1.0},   // 5: no useful token: left out
      {4.0, 0.99},  // 6: dominated by 3 (dearer, equal)
  };
  CHECK(report::pareto_front(pts) == std::vector<size_t>{0, 1, 3});
}

TEST_CASE("the page inlines the chart library and cannot be broken out of by the data") {
  auto dir = std::filesystem::temp_directory_path() / "tokenfactory-unit-report";
  std::filesystem::create_directories(dir);
  auto fake = dir / "chart.min.js";
  std::ofstream(fake) << "window.Chart = function () {}; /* fake chart library for this test */";
  setenv("TOKENFACTORY_CHARTJS", fake.c_str(), 1);
  json data = {{"kind", "run"}, {"title", "a<b"}, {"notes", {"</script><script>alert(1)</script>"}}};
  std::string html = report::render_html(data);
  unsetenv("TOKENFACTORY_CHARTJS");
  CHECK(html.find("fake chart library for this test") != std::string::npos);
  CHECK(html.find("<title>a&lt;b - tokenfactory report</title>") != std::string::npos);
  CHECK(html.find("</script><script>alert(1)") == std::string::npos);
  CHECK(html.find("<\\/script><script>alert(1)<\\/script>") != std::string::npos);
  // Nothing is fetched from elsewhere: no external scripts, styles or images.
  CHECK(html.find("<script src") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
}
