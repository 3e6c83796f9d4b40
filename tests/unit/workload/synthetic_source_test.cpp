#include <catch2/catch.hpp>

#include <cmath>

#include <array>
#include <set>

#include "core/random.hpp"
#include "workload/sampling.hpp"
#include "workload/synthetic_source.hpp"
#include "workload_test_util.hpp"

using namespace tf;
using namespace tf::workload;
using namespace tf::workload::test;

namespace {

config::DistributionConfig fixed(double v) {
  config::DistributionConfig d;
  d.kind = "fixed";
  d.value = v;
  return d;
}

config::WorkloadConfig synthetic(const std::string& arrival, double rate, double cv, int64_t count) {
  config::SyntheticConfig s;
  s.arrival = arrival;
  s.rate = rate;
  s.cv = cv;
  s.count = count;
  s.input = fixed(100);
  s.output = fixed(10);
  config::WorkloadConfig w;
  w.synthetic.push_back(s);
  return w;
}

std::vector<double> gaps(const std::vector<Request>& r) {
  std::vector<double> g;
  double prev = 0;
  for (const auto& q : r) {
    g.push_back(q.arrival.value() - prev);
    prev = q.arrival.value();
  }
  return g;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v)
    s += x;
  return s / static_cast<double>(v.size());
}

double cv(const std::vector<double>& v) {
  const double m = mean(v);
  double s2 = 0;
  for (double x : v)
    s2 += (x - m) * (x - m);
  return std::sqrt(s2 / static_cast<double>(v.size() - 1)) / m;
}

std::vector<int64_t> sample(const config::DistributionConfig& d, int n, uint64_t seed = 1) {
  LengthSampler s(d, "/test");
  auto g = random_stream(seed, "test");
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i)
    out.push_back(s.sample(g));
  return out;
}

}  // namespace

TEST_CASE("Poisson arrivals come at the configured mean rate") {
  auto r = run(synthetic("poisson", 10.0, 1.0, 20000));
  REQUIRE(r.size() == 20000);
  CHECK(20000.0 / r.back().arrival.value() == Approx(10.0).epsilon(0.03));
  CHECK(cv(gaps(r)) == Approx(1.0).epsilon(0.05));
}

TEST_CASE("Gamma arrivals have the configured coefficient of variation") {
  for (double target : {0.5, 2.0}) {
    auto r = run(synthetic("gamma", 5.0, target, 20000));
    CHECK(cv(gaps(r)) == Approx(target).epsilon(0.10));
    CHECK(mean(gaps(r)) == Approx(0.2).epsilon(0.05));
  }
}

TEST_CASE("the workload's rate_scale multiplies a generator's rate") {
  auto cfg = synthetic("poisson", 10.0, 1.0, 20000);
  cfg.rate_scale = 2;
  auto r = run(cfg);
  CHECK(20000.0 / r.back().arrival.value() == Approx(20.0).epsilon(0.03));
}

TEST_CASE("a generator without a count runs until the duration") {
  auto cfg = synthetic("poisson", 10.0, 1.0, 0);
  cfg.synthetic[0].count.reset();
  auto r = run(cfg, {"chat"}, 1, Seconds(100));
  CHECK(static_cast<double>(r.size()) == Approx(1000).epsilon(0.1));
  CHECK(r.back().arrival.value() <= 100.0);
}

TEST_CASE("a generator bounded by neither count nor duration is a ConfigError") {
  auto cfg = synthetic("poisson", 10.0, 1.0, 0);
  cfg.synthetic[0].count.reset();
  CHECK_THAT(config_error_of([&] { run(cfg); }), Catch::Contains("/workload/synthetic/0") && Catch::Contains("count"));
}

TEST_CASE("the same seed gives the same synthetic requests") {
  auto cfg = synthetic("gamma", 5.0, 1.5, 500);
  auto a = run(cfg, {"chat"}, 3);
  auto b = run(cfg, {"chat"}, 3);
  auto c = run(cfg, {"chat"}, 4);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i)
    CHECK(a[i].arrival == b[i].arrival);
  CHECK(a[0].arrival != c[0].arrival);
}

TEST_CASE("changing the length distribution leaves the arrival times unchanged") {
  auto cfg = synthetic("poisson", 5.0, 1.0, 200);
  auto a = run(cfg);
  cfg.synthetic[0].output.kind = "uniform";
  cfg.synthetic[0].output.min = 1;
  cfg.synthetic[0].output.max = 50;
  auto b = run(cfg);
  for (size_t i = 0; i < a.size(); ++i)
    CHECK(a[i].arrival == b[i].arrival);
}

TEST_CASE("a fixed length is the value") {
  for (auto v : sample(fixed(42), 10))
    CHECK(v == 42);
}

TEST_CASE("a uniform length covers [min, max] evenly") {
  config::DistributionConfig d;
  d.kind = "uniform";
  d.min = 10;
  d.max = 19;
  std::array<int, 10> hits{};
  for (auto v : sample(d, 10000)) {
    REQUIRE(v >= 10);
    REQUIRE(v <= 19);
    ++hits[static_cast<size_t>(v - 10)];
  }
  for (int h : hits)
    CHECK(h == Approx(1000).epsilon(0.15));
}

TEST_CASE("a normal length has its mean and is clamped to [max(1, min), max]") {
  config::DistributionConfig d;
  d.kind = "normal";
  d.mean = 100;
  d.stddev = 20;
  auto v = sample(d, 20000);
  double m = 0;
  for (auto x : v)
    m += static_cast<double>(x) / 20000.0;
  CHECK(m == Approx(100).epsilon(0.01));
  d.mean = 10;
  d.stddev = 50;
  d.max = 40;
  for (auto x : sample(d, 5000)) {
    REQUIRE(x >= 1);
    REQUIRE(x <= 40);
  }
}

TEST_CASE("a lognormal length has the mean and standard deviation of the value") {
  config::DistributionConfig d;
  d.kind = "lognormal";
  d.mean = 1000;
  d.stddev = 500;
  auto v = sample(d, 50000);
  std::vector<double> x(v.begin(), v.end());
  CHECK(mean(x) == Approx(1000).epsilon(0.02));
  CHECK(cv(x) == Approx(0.5).epsilon(0.05));
}

TEST_CASE("a trace length distribution draws lengths that occur in the trace") {
  config::DistributionConfig d;
  d.kind = "trace";
  d.trace_format = "mooncake";
  d.trace_path = mooncake_sample();
  d.trace_field = "output";
  LengthSampler s(d, "/test");
  CHECK(s.table_size() == 50);
  std::set<int64_t> outputs;
  for (const auto& q : run(with_trace(trace("mooncake", mooncake_sample()))))
    outputs.insert(q.output_tokens);
  for (auto v : sample(d, 500))
    CHECK(outputs.count(v) == 1);
}

TEST_CASE("sampling Gamma variates has the right mean and variance for shapes below and above 1") {
  for (double shape : {0.3, 4.0}) {
    auto g = random_stream(1, "gamma");
    std::vector<double> x;
    for (int i = 0; i < 50000; ++i)
      x.push_back(sample_gamma(g, shape));
    CHECK(mean(x) == Approx(shape).epsilon(0.03));
    CHECK(cv(x) == Approx(1.0 / std::sqrt(shape)).epsilon(0.05));
  }
}
