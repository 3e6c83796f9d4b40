#include <catch2/catch.hpp>

#include <cstdio>

#include "cli/progress.hpp"

using namespace tf;
using tf::cli::progress_text;

namespace {
engine::ProgressSample sample(double simulated, int64_t arrived, int64_t settled) {
  engine::ProgressSample p;
  p.simulated = Seconds(simulated);
  p.arrived = arrived;
  p.settled = settled;
  return p;
}
}  // namespace

TEST_CASE("the progress line shows simulated time against the horizon, requests, rate and time left") {
  // A quarter of the hour simulated in 10 s of wall time: three quarters are left, 30 s at that pace.
  auto text = progress_text(sample(900, 250'000, 248'000), Seconds(3600), 10.0);
  CHECK(text == "simulated 15m00s of 1h00m (25%)  requests 250.0k arrived, 248.0k done  25.0k req/s  ETA 30s");
}

TEST_CASE("after the last arrival the progress line counts the requests still in flight") {
  auto text = progress_text(sample(3700, 1'004'704, 1'004'000), Seconds(3600), 12.0);
  CHECK(text ==
        "simulated 1h01m of 1h00m (100%)  requests 1.00M arrived, 1.00M done  83.7k req/s  draining 704 in flight");
}

TEST_CASE("without a known horizon the progress line gives no share and no estimate") {
  auto text = progress_text(sample(42, 900, 800), Seconds(0), 2.0);
  CHECK(text == "simulated 42s  requests 900 arrived, 800 done  450 req/s");
}

TEST_CASE("the progress line draws nothing when its stream is not a terminal") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  cli::ProgressLine line(f, Seconds(3600), true);
  CHECK_FALSE(line.active());
  line.update(sample(900, 10, 5));
  line.finish();
  CHECK(std::ftell(f) == 0);
  std::fclose(f);
}
