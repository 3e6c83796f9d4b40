#include <catch2/catch.hpp>

#include "core/unit_parse.hpp"

using namespace tf;

TEST_CASE("durations parse with their units") {
  CHECK(parse_seconds("50ms").value() == Approx(0.05));
  CHECK(parse_seconds("2s").value() == Approx(2.0));
  CHECK(parse_seconds("1h").value() == Approx(3600.0));
  CHECK(parse_seconds("10 us").value() == Approx(1e-5));
  CHECK(parse_seconds("1.5min").value() == Approx(90.0));
}

TEST_CASE("sizes and bandwidths distinguish bytes from bits and decimal from binary prefixes") {
  CHECK(parse_bytes("80GB").value() == Approx(80e9));
  CHECK(parse_bytes("1GiB").value() == Approx(1073741824.0));
  CHECK(parse_bandwidth("3.35TB/s").value() == Approx(3.35e12));
  CHECK(parse_bandwidth("400Gb/s").value() == Approx(50e9));
  CHECK(parse_bandwidth("400Gbps").value() == Approx(50e9));
}

TEST_CASE("compute, power and money parse") {
  CHECK(parse_flops_rate("989TFLOPS").value() == Approx(989e12));
  CHECK(parse_flops_rate("1979TOPS").value() == Approx(1979e12));
  CHECK(parse_watts("700W").value() == Approx(700.0));
  CHECK(parse_watts("10.2kW").value() == Approx(10200.0));
  CHECK(parse_dollars("$25k").value() == Approx(25000.0));
  CHECK(parse_dollars_per_hour("$2.00/h").value() == Approx(2.0));
  CHECK(parse_dollars_per_kwh("$0.08/kWh").value() == Approx(0.08));
}

TEST_CASE("a wrong unit says what was expected") {
  try {
    parse_seconds("10 parsecs");
    FAIL("no exception");
  } catch (const UnitError& e) {
    CHECK(std::string(e.what()) == "expected a duration such as \"50ms\" or \"2s\", got \"10 parsecs\"");
  }
  CHECK_THROWS_AS(parse_bandwidth("400Gb"), UnitError);
  CHECK_THROWS_AS(parse_dollars_per_hour("2.00/h"), UnitError);
}

TEST_CASE("negative quantities are rejected") {
  CHECK_THROWS_WITH(parse_seconds("-5ms"), Catch::Contains("non-negative"));
}

TEST_CASE("unit arithmetic yields the right dimension") {
  Seconds t = Bytes(1e9) / BytesPerSecond(1e9);
  CHECK(t.value() == Approx(1.0));
  Joules e = Watts(700) * Seconds(3600);
  CHECK(kwh(e) == Approx(0.7));
  Dollars d = DollarsPerHour(2.0) * Seconds(1800);
  CHECK(d.value() == Approx(1.0));
}
