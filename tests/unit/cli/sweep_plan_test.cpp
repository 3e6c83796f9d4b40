#include <catch2/catch.hpp>

#include <set>

#include "cli/child_process.hpp"
#include "cli/sweep_plan.hpp"
#include "core/error.hpp"

using namespace tf;
using nlohmann::json;

namespace {

std::vector<std::string> names(const std::vector<cli::SweepPoint>& pts) {
  std::vector<std::string> out;
  for (const auto& p : pts)
    out.push_back(p.name);
  return out;
}

json resolved() {
  return json::parse(R"({
    "name": "s", "seed": 1,
    "cluster": {"pools": [{"name": "h100", "count": 8, "instance": {"scheduler": {"max_num_seqs": 256}}}],
                "router": {"kind": "least-outstanding"}},
    "workload": {"rate_scale": 4.0, "client_latency": "0.02s"},
    "engine": {"leap": true}
  })");
}

}  // namespace

TEST_CASE("list options read values as JSON when they parse and as strings otherwise") {
  auto l = cli::parse_list_option("--grid", "cluster.router.kind=round-robin,least-outstanding,\"7\",7,2.5,true");
  CHECK(l.path == "cluster.router.kind");
  REQUIRE(l.values.size() == 6);
  CHECK(l.values[0] == "round-robin");
  CHECK(l.values[2] == "7");
  CHECK(l.values[3] == 7);
  CHECK(l.values[4] == 2.5);
  CHECK(l.values[5] == true);
  CHECK_THROWS_AS(cli::parse_list_option("--grid", "no-equals-sign"), ConfigError);
  CHECK_THROWS_AS(cli::parse_list_option("--grid", "a=1,,2"), ConfigError);
}

TEST_CASE("grid points are the Cartesian product, the last --grid varying fastest, named in order") {
  cli::SweepSpec spec;
  spec.grid.push_back(cli::parse_list_option("--grid", "a=1,2"));
  spec.grid.push_back(cli::parse_list_option("--grid", "b=x,y,z"));
  auto pts = cli::expand(spec);
  REQUIRE(pts.size() == 6);
  CHECK(names(pts) ==
        std::vector<std::string>{"point-0000", "point-0001", "point-0002", "point-0003", "point-0004", "point-0005"});
  CHECK(pts[0].values[0].second == 1);
  CHECK(pts[0].values[1].second == "x");
  CHECK(pts[1].values[1].second == "y");
  CHECK(pts[3].values[0].second == 2);
  CHECK(pts[3].values[1].second == "x");
}

TEST_CASE("zipped lists advance together and are crossed with the grid") {
  cli::SweepSpec spec;
  spec.grid.push_back(cli::parse_list_option("--grid", "g=1,2"));
  spec.zip.push_back(cli::parse_list_option("--zip", "a=1,2,3"));
  spec.zip.push_back(cli::parse_list_option("--zip", "b=10,20,30"));
  auto pts = cli::expand(spec);
  REQUIRE(pts.size() == 6);
  for (const auto& p : pts)
    CHECK(p.values[2].second.get<int>() == 10 * p.values[1].second.get<int>());
  CHECK(cli::parameter_paths(spec) == std::vector<std::string>{"g", "a", "b"});
  spec.zip.push_back(cli::parse_list_option("--zip", "c=1,2"));
  CHECK_THROWS_AS(cli::expand(spec), ConfigError);
}

TEST_CASE("random points are reproducible from the seed and stay inside their ranges") {
  cli::SweepSpec spec;
  spec.random_count = 50;
  spec.random_seed = 7;
  spec.ranges.push_back(cli::parse_range_option("workload.rate_scale=0.5..16:log"));
  spec.ranges.push_back(cli::parse_range_option("cluster.pools.0.count=1..8"));
  spec.ranges.push_back(cli::parse_range_option("workload.client_latency=5ms..50ms"));
  spec.grid.push_back(cli::parse_list_option("--grid", "cluster.router.kind=round-robin,least-outstanding"));
  cli::check_against_scenario(spec, resolved());  // learns that the pool count is an integer, the rate is not
  auto a = cli::expand(spec);
  auto b = cli::expand(spec);
  REQUIRE(a.size() == 50);
  std::set<int64_t> counts;
  std::set<std::string> kinds;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].values == b[i].values);
    kinds.insert(a[i].values[0].second.get<std::string>());
    REQUIRE(a[i].values[1].second.is_number_float());
    double rate = a[i].values[1].second.get<double>();
    CHECK(rate >= 0.5);
    CHECK(rate <= 16);
    REQUIRE(a[i].values[2].second.is_number_integer());
    counts.insert(a[i].values[2].second.get<int64_t>());
    std::string lat = a[i].values[3].second.get<std::string>();
    CHECK(lat.substr(lat.size() - 2) == "ms");
    double ms = std::stod(lat);
    CHECK(ms >= 5);
    CHECK(ms <= 50);
  }
  CHECK(*counts.begin() >= 1);
  CHECK(*counts.rbegin() <= 8);
  CHECK(counts.size() > 4);  // 50 draws over 8 values reach most of them
  CHECK(kinds.size() == 2);
  spec.random_seed = 8;
  CHECK(cli::expand(spec)[0].values != a[0].values);
}

TEST_CASE("a sweep needs something to sweep, each path once, and --random for ranges") {
  cli::SweepSpec empty;
  CHECK_THROWS_AS(cli::expand(empty), ConfigError);
  cli::SweepSpec twice;
  twice.grid.push_back(cli::parse_list_option("--grid", "a=1,2"));
  twice.grid.push_back(cli::parse_list_option("--grid", "a=3"));
  CHECK_THROWS_AS(cli::check_spec(twice), ConfigError);
  cli::SweepSpec range;
  range.ranges.push_back(cli::parse_range_option("a=1..2"));
  CHECK_THROWS_AS(cli::check_spec(range), ConfigError);
  CHECK_THROWS_AS(cli::parse_range_option("a=1..2s"), ConfigError);  // units differ
  CHECK_THROWS_AS(cli::parse_range_option("a=1-2"), ConfigError);
}

TEST_CASE("swept paths must exist in the resolved scenario and values must have the type found there") {
  auto check = [](const std::string& grid) {
    cli::SweepSpec spec;
    spec.grid.push_back(cli::parse_list_option("--grid", grid));
    cli::check_against_scenario(spec, resolved());
  };
  CHECK_NOTHROW(check("cluster.pools.0.count=2,4"));
  CHECK_NOTHROW(check("workload.rate_scale=1,2.5"));
  CHECK_NOTHROW(check("workload.client_latency=5ms,10ms"));
  CHECK_NOTHROW(check("engine.leap=true,false"));
  CHECK_NOTHROW(check("cluster.pools.0.instance.scheduler.max_num_seqs=1,16"));
  auto message = [&](const std::string& grid) {
    try {
      check(grid);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message("cluster.pools.0.cnt=2"), Catch::Contains("cluster.pools.0.cnt") &&
                                                   Catch::Contains("has no key \"cnt\"") && Catch::Contains("count"));
  CHECK_THAT(message("cluster.pools.3.count=2"),
             Catch::Contains("cluster.pools.3.count") && Catch::Contains("array of 1 elements"));
  CHECK_THAT(message("cluster.pools.0.count=two"),
             Catch::Contains("cluster.pools.0.count") && Catch::Contains("holds a number"));
  CHECK_THAT(message("cluster.pools.0.count=2.5"), Catch::Contains("holds an integer"));
  CHECK_THAT(message("workload.client_latency=5"), Catch::Contains("holds a string"));
}

TEST_CASE("jobs.txt has one self-skipping shell line per point, with arguments quoted") {
  cli::SweepSpec spec;
  spec.scenario = "/tmp/scen arios/q.json";
  spec.sets = {"workload.traces.0.max_requests=100"};
  spec.grid.push_back(cli::parse_list_option("--grid", "workload.client_latency=5ms,it's"));
  auto pts = cli::expand(spec);
  auto m = cli::manifest(spec, pts, json::object(), "q");
  CHECK(m["name"] == "q sweep");
  CHECK(m["points"][1]["set"][0] == "workload.client_latency=\"it's\"");
  std::string jobs = cli::jobs_file(m, "/opt/tf/tokenfactory", "/data/sweep");
  CHECK(std::count(jobs.begin(), jobs.end(), '\n') == 2);
  CHECK_THAT(jobs, Catch::StartsWith("test -f /data/sweep/point-0000/results.json || { mkdir -p /data/sweep/point-0000 "
                                     "&& /opt/tf/tokenfactory run '/tmp/scen arios/q.json' --set "
                                     "workload.traces.0.max_requests=100 --set 'workload.client_latency=\"5ms\"' --out "
                                     "/data/sweep/point-0000 -q > /data/sweep/point-0000/run.log 2>&1; }"));
  CHECK_THAT(jobs, Catch::Contains("'workload.client_latency=\"it'\\''s\"'"));
  std::string sbatch = cli::sbatch_file(m, "/data/sweep");
  CHECK_THAT(sbatch, Catch::Contains("#SBATCH --array=0-1\n"));
  CHECK_THAT(sbatch, Catch::Contains("#SBATCH --job-name=q-sweep\n"));
}

TEST_CASE("shell_quote leaves plain words alone and single-quotes the rest") {
  CHECK(cli::shell_quote("abc/def-1.json") == "abc/def-1.json");
  CHECK(cli::shell_quote("a b") == "'a b'");
  CHECK(cli::shell_quote("") == "''");
  CHECK(cli::shell_quote("it's") == "'it'\\''s'");
}
