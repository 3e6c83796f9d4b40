#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "workload_test_util.hpp"

using namespace tf;
using namespace tf::workload;
using namespace tf::workload::test;

namespace {
double last_arrival(const std::vector<Request>& r) {
  return r.back().arrival.value();
}
bool sorted_by_arrival(const std::vector<Request>& r) {
  return std::is_sorted(r.begin(), r.end(), [](const Request& a, const Request& b) { return a.arrival < b.arrival; });
}
}  // namespace

TEST_CASE("a trace replayed as is starts at 0 and ends at its span") {
  auto r = run(with_trace(trace("azure", azure_conv())));
  REQUIRE(r.size() == 19366);
  CHECK(r.front().arrival.value() == 0.0);
  CHECK(last_arrival(r) == Approx(3501.721937));
}

TEST_CASE("rate_scale 2 halves the span") {
  auto t = trace("azure", azure_conv());
  t.rate_scale = 2;
  auto r = run(with_trace(t));
  CHECK(r.size() == 19366);
  CHECK(last_arrival(r) == Approx(3501.721937 / 2));
}

TEST_CASE("the workload's rate_scale applies on top of the trace's") {
  auto cfg = with_trace(trace("mooncake", mooncake_sample()));
  cfg.traces[0].rate_scale = 2;
  cfg.rate_scale = 3;
  auto r = run(cfg);
  CHECK(last_arrival(r) == Approx(15.0 / 6));
}

TEST_CASE("replicas 3 triples the count and keeps arrivals sorted within the span") {
  auto t = trace("azure", azure_conv());
  t.replicas = 3;
  auto r = run(with_trace(t));
  CHECK(r.size() == 3 * 19366);
  CHECK(sorted_by_arrival(r));
  CHECK(r.front().arrival.value() >= 0.0);
  CHECK(last_arrival(r) <= 3501.721937 + 1e-9);
}

TEST_CASE("replicas spread the load evenly over the trace window") {
  auto t = trace("azure", azure_conv());
  t.replicas = 3;
  auto r = run(with_trace(t));
  // Each third of the window holds about a third of the requests, as the original trace's average would.
  std::array<size_t, 3> per_third{};
  for (const auto& q : r)
    ++per_third[std::min<size_t>(2, static_cast<size_t>(q.arrival.value() / (3501.72 / 3)))];
  for (size_t n : per_third)
    CHECK(static_cast<double>(n) == Approx(19366.0).epsilon(0.05));
}

TEST_CASE("replica r is the trace shifted by r/R of its span, wrapped around") {
  auto t = trace("vidur", vidur_sample());
  t.replicas = 2;
  auto r = run(with_trace(t));
  REQUIRE(r.size() == 100);
  const double span = 26.461144;
  std::vector<double> expected;
  for (const auto& q : run(with_trace(trace("vidur", vidur_sample())))) {
    expected.push_back(q.arrival.value());
    double shifted = q.arrival.value() + span / 2;
    expected.push_back(shifted > span ? shifted - span : shifted);
  }
  std::sort(expected.begin(), expected.end());
  for (size_t i = 0; i < r.size(); ++i)
    CHECK(r[i].arrival.value() == Approx(expected[i]).margin(1e-6));
}

TEST_CASE("max_requests keeps the first rows and their span") {
  auto t = trace("azure", azure_sample());
  t.max_requests = 10;
  auto r = run(with_trace(t));
  REQUIRE(r.size() == 10);
  CHECK(r.back().input_tokens == run(with_trace(trace("azure", azure_sample())))[9].input_tokens);
}

TEST_CASE("a trace's class gives every request that class") {
  auto t = trace("mooncake", mooncake_sample());
  t.class_name = "code";
  for (const auto& q : run(with_trace(t), {"chat", "code"}))
    CHECK(q.class_id == 1);
}

TEST_CASE("class_mix fractions come out within a few percent") {
  auto t = trace("azure", azure_conv());
  t.class_mix = {{"chat", 0.7}, {"agent", 0.2}, {"batch", 0.1}};
  auto r = run(with_trace(t), {"agent", "batch", "chat"}, 7);
  std::map<uint32_t, double> n;
  for (const auto& q : r)
    n[q.class_id] += 1.0 / static_cast<double>(r.size());
  CHECK(n[0] == Approx(0.2).margin(0.02));
  CHECK(n[1] == Approx(0.1).margin(0.02));
  CHECK(n[2] == Approx(0.7).margin(0.02));
}

TEST_CASE("class_mix draws are identical for the same seed and differ for another") {
  auto t = trace("azure", azure_conv());
  t.class_mix = {{"chat", 0.5}, {"agent", 0.5}};
  auto classes_of = [&](uint64_t seed) {
    std::vector<uint32_t> out;
    for (const auto& q : run(with_trace(t), {"agent", "chat"}, seed))
      out.push_back(q.class_id);
    return out;
  };
  CHECK(classes_of(7) == classes_of(7));
  CHECK(classes_of(7) != classes_of(8));
}

TEST_CASE("each replica gets its own prefix block ids") {
  auto t = trace("mooncake", mooncake_sample());
  t.replicas = 2;
  auto r = run(with_trace(t));
  REQUIRE(r.size() == 100);
  // The original blocks are kept by one copy of each row; the other copy's are disjoint from them.
  std::set<uint64_t> original;
  for (const auto& q : run(with_trace(trace("mooncake", mooncake_sample()))))
    original.insert(q.prefix_blocks.begin(), q.prefix_blocks.end());
  size_t disjoint = 0;
  for (const auto& q : r) {
    REQUIRE_FALSE(q.prefix_blocks.empty());
    bool any_original = false;
    for (uint64_t b : q.prefix_blocks)
      any_original |= original.count(b) > 0;
    disjoint += any_original ? 0 : 1;
  }
  CHECK(disjoint == 50);
}
