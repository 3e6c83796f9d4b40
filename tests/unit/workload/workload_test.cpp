#include <catch2/catch.hpp>

#include "workload_test_util.hpp"

using namespace tf;
using namespace tf::workload;
using namespace tf::workload::test;

TEST_CASE("sources merge in arrival order with dense ids from 0") {
  config::WorkloadConfig cfg;
  cfg.traces.push_back(trace("azure", azure_sample()));
  cfg.traces.push_back(trace("mooncake", mooncake_sample()));
  auto r = run(cfg);
  REQUIRE(r.size() == 100);
  for (size_t i = 0; i < r.size(); ++i) {
    CHECK(r[i].id == i);
    if (i > 0) CHECK(r[i - 1].arrival <= r[i].arrival);
  }
}

TEST_CASE("equal arrivals go to the lower source index, then keep their order within the source") {
  config::WorkloadConfig cfg;
  cfg.traces.push_back(trace("mooncake", mooncake_sample()));
  cfg.traces.push_back(trace("mooncake", mooncake_sample()));
  auto r = run(cfg);
  // The sample starts with several rows at timestamp 0: all of source 0's come first, in file order.
  auto alone = run(with_trace(trace("mooncake", mooncake_sample())));
  size_t at_zero = 0;
  while (alone[at_zero].arrival.value() == 0.0)
    ++at_zero;
  REQUIRE(at_zero > 1);
  for (size_t i = 0; i < 2 * at_zero; ++i) {
    CHECK(r[i].source == (i < at_zero ? 0u : 1u));
    CHECK(r[i].input_tokens == alone[i % at_zero].input_tokens);
  }
}

TEST_CASE("synthetic sources are numbered after the traces") {
  config::WorkloadConfig cfg;
  cfg.traces.push_back(trace("azure", azure_sample()));
  config::SyntheticConfig s;
  s.count = 5;
  s.input.value = 10;
  s.output.value = 10;
  cfg.synthetic.push_back(s);
  Workload w(cfg, {"chat"}, 1, std::nullopt);
  CHECK(w.stats().sources == 2);
  CHECK(w.stats().trace_rows == 50);
  int synthetic = 0;
  while (auto q = w.next())
    synthetic += q->source == 1 ? 1 : 0;
  CHECK(synthetic == 5);
}

TEST_CASE("arrivals after the duration are dropped") {
  auto r = run(with_trace(trace("azure", azure_conv())), {"chat"}, 1, Seconds(600));
  REQUIRE_FALSE(r.empty());
  CHECK(r.back().arrival.value() <= 600.0);
  auto all = run(with_trace(trace("azure", azure_conv())));
  CHECK(all[r.size()].arrival.value() > 600.0);
}

TEST_CASE("a workload is movable and keeps streaming after the move") {
  Workload a(with_trace(trace("azure", azure_sample())), {"chat"}, 1, std::nullopt);
  auto first = a.next();
  Workload b = std::move(a);
  auto second = b.next();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(second->id == 1);
}
