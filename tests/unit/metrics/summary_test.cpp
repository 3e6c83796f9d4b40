// metrics::distribution: percentiles by linear interpolation between order statistics (numpy's default), found
// by selection rather than a sort; checked against the sorted definition on data of every small size and on
// a large shuffled sample with ties.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "metrics/summary.hpp"

namespace {

// The definition, on a sorted copy.
double sorted_quantile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double pos = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

void check_against_sort(const std::vector<double>& values) {
  std::vector<double> work = values;
  const auto d = tf::metrics::distribution(work);
  INFO("n = " << values.size());
  CHECK(d.count == values.size());
  CHECK(d.p50 == sorted_quantile(values, 0.50));
  CHECK(d.p90 == sorted_quantile(values, 0.90));
  CHECK(d.p99 == sorted_quantile(values, 0.99));
  CHECK(d.max == *std::max_element(values.begin(), values.end()));
  double sum = 0;
  for (double v : values)
    sum += v;
  CHECK(d.mean == Approx(sum / static_cast<double>(values.size())).epsilon(1e-12));
}

}  // namespace

TEST_CASE("distribution gives numpy's interpolated percentiles, the mean and the max", "[metrics]") {
  std::vector<double> empty;
  CHECK(tf::metrics::distribution(empty).count == 0);

  std::vector<double> five = {5, 1, 4, 2, 3};
  const auto d = tf::metrics::distribution(five);
  CHECK(d.p50 == 3.0);
  CHECK(d.p90 == Approx(4.6));
  CHECK(d.p99 == Approx(4.96));
  CHECK(d.max == 5.0);
  CHECK(d.mean == 3.0);

  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 10.0);
  for (size_t n = 1; n <= 300; ++n) {
    std::vector<double> v(n);
    for (auto& x : v)
      x = u(rng);
    check_against_sort(v);
  }
  // Many ties (rounded to tenths) and a large sample.
  std::vector<double> big(200'000);
  for (auto& x : big)
    x = std::round(u(rng) * 10.0) / 10.0;
  check_against_sort(big);
}
