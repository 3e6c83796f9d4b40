#include <catch2/catch.hpp>

#include <cmath>

#include "engine/failures.hpp"

using tf::Seconds;
using tf::engine::FailurePool;
using tf::engine::FailureProcess;

namespace {

FailurePool pool(std::string name, int64_t instances, int64_t per_instance = 1, int64_t spares = 0,
                 uint32_t first = 0) {
  FailurePool p;
  p.name = std::move(name);
  p.accelerator = "h100-sxm";
  p.instances = instances;
  p.accelerators_per_instance = per_instance;
  p.domain_size = 8;
  p.spares = spares;
  p.first_instance = first;
  return p;
}

tf::config::FailuresConfig enabled(double mtbf_s, double repair_s) {
  tf::config::FailuresConfig f;
  f.enabled = true;
  f.repair = Seconds(repair_s);
  tf::config::FailureRateConfig r;
  r.mtbf = Seconds(mtbf_s);
  f.accelerators["h100-sxm"] = r;
  tf::config::FailureRateConfig none;
  none.mtbf = Seconds(1e30);
  f.links["nic"] = none;
  return f;
}

// Runs the process to `horizon` and returns (failures, recoveries) as a flat record for comparison.
std::vector<std::pair<double, uint32_t>> run(FailureProcess& p, double horizon) {
  std::vector<std::pair<double, uint32_t>> out;
  while (p.next_time() < horizon) {
    double t = p.next_time();
    for (const auto& c : p.advance())
      out.emplace_back(c.up ? t : -t, c.instance);
  }
  return out;
}

}  // namespace

TEST_CASE("failures are a pure function of the seed") {
  auto f = enabled(1000.0, 10.0);
  FailureProcess a(f, 7, {pool("p", 50)});
  FailureProcess b(f, 7, {pool("p", 50)});
  FailureProcess c(f, 8, {pool("p", 50)});
  auto ra = run(a, 1e4), rb = run(b, 1e4), rc = run(c, 1e4);
  REQUIRE(!ra.empty());
  CHECK(ra == rb);
  CHECK(ra != rc);
}

TEST_CASE("failure counts follow the rate per accelerator") {
  // 100 instances of 2 accelerators, MTBF 1000 s each: 0.2 failures/s over 1e5 s, minus the 10 s outages.
  auto f = enabled(1000.0, 10.0);
  FailureProcess p(f, 1, {pool("p", 100, 2)});
  run(p, 1e5);
  auto stats = p.stats(1e5);
  const double expected = 100 * 2 / 1000.0 * 1e5 / (1 + 2 / 1000.0 * 10);  // renewal: up time between failures
  INFO("failures " << stats[0].failures << " expected " << expected);
  CHECK(std::abs(stats[0].failures - expected) < 4 * std::sqrt(expected));
  // Down time is failures x repair, less whatever part of an outage still open at the horizon lies beyond it.
  const double full = static_cast<double>(stats[0].failures) * 10.0;
  CHECK(stats[0].down_seconds <= full + 1e-6);
  CHECK(stats[0].down_seconds >= full - 10.0 * 2);
}

TEST_CASE("a scripted failure takes its instance down for its repair time") {
  tf::config::FailuresConfig f;
  tf::config::ScriptedFailure s;
  s.at = Seconds(100);
  s.pool = "b";
  s.instance = 2;
  s.repair = Seconds(50);
  f.scripted.push_back(s);
  FailureProcess p(f, 1, {pool("a", 4), pool("b", 4, 1, 0, 4)});
  CHECK(p.next_time() == 100);
  auto down = p.advance();
  REQUIRE(down.size() == 1);
  CHECK(down[0].instance == 6);
  CHECK_FALSE(down[0].up);
  CHECK(p.down(6));
  CHECK(p.next_time() == 150);
  auto up = p.advance();
  REQUIRE(up.size() == 1);
  CHECK(up[0].up);
  CHECK(p.next_time() == FailureProcess::kNever);
  CHECK(p.stats(200)[1].down_seconds == 50);
  CHECK(p.stats(200)[0].failures == 0);
}

TEST_CASE("a spare shortens an outage to the restart time until the spares run out") {
  tf::config::FailuresConfig f;
  f.restart = Seconds(60);
  for (int k = 0; k < 2; ++k) {
    tf::config::ScriptedFailure s;
    s.at = Seconds(100.0 + k);
    s.pool = "a";
    s.instance = k;
    s.repair = Seconds(3600);
    f.scripted.push_back(s);
  }
  FailureProcess p(f, 1, {pool("a", 4, 1, /*spares=*/1)});
  auto r = run(p, 1e5);
  // Instance 0 gets the spare: back at 160. Instance 1 waits for its repair: back at 3701.
  std::vector<std::pair<double, uint32_t>> want{{-100, 0}, {-101, 1}, {160, 0}, {3701, 1}};
  CHECK(r == want);
  auto st = p.stats(1e5);
  CHECK(st[0].spare_swaps == 1);
  CHECK(st[0].down_seconds == 60 + 3600);
}

TEST_CASE("blast radius domain takes the whole scale-up domain down") {
  tf::config::FailuresConfig f;
  f.blast_radius = "domain";
  tf::config::ScriptedFailure s;
  s.at = Seconds(10);
  s.pool = "a";
  s.instance = 9;  // second domain of 8 single-accelerator instances
  s.repair = Seconds(5);
  f.scripted.push_back(s);
  FailureProcess p(f, 1, {pool("a", 16)});
  auto down = p.advance();
  REQUIRE(down.size() == 8);
  CHECK(down.front().instance == 8);
  CHECK(down.back().instance == 15);
}
