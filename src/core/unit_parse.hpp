#pragma once
// Parsing of quantities written with units ("50ms", "3.35TB/s", "400Gb/s", "989TFLOPS", "700W",
// "$2.00/h", "$0.08/kWh"). Strings are parsed once, at the config boundary; everything inside the
// simulator holds strong unit types (core/units.hpp). Decimal prefixes are powers of 1000, binary
// prefixes (KiB, MiB, GiB, TiB) powers of 1024; a lower-case "b" means bits.
//
// Each parser throws UnitError with a message saying what was expected, e.g.
//   expected a duration such as "50ms" or "2s", got "10 parsecs"
// Callers add the file and JSON path (config/json_reader.hpp does).

#include <stdexcept>
#include <string>
#include <string_view>

#include "core/units.hpp"

namespace tf {

class UnitError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

Seconds parse_seconds(std::string_view text);                  // ns, us, ms, s, min, h, d
Bytes parse_bytes(std::string_view text);                      // B, KB..PB, KiB..TiB, b, Kb..Tb
BytesPerSecond parse_bandwidth(std::string_view text);         // GB/s, TB/s, Gb/s, Gbps, ...
FlopsPerSecond parse_flops_rate(std::string_view text);        // FLOPS, GFLOPS, TFLOPS, PFLOPS, TOPS, POPS
Watts parse_watts(std::string_view text);                      // W, kW, MW
Dollars parse_dollars(std::string_view text);                  // "$25000", "$25k", "$1.2M"
DollarsPerHour parse_dollars_per_hour(std::string_view text);  // "$2.00/h", "$2/hour"
DollarsPerKwh parse_dollars_per_kwh(std::string_view text);    // "$0.08/kWh"

// Formats a duration the way a person writes it ("250ms", "1.5s", "2h"). Used in messages and reports.
std::string format_seconds(Seconds s);

}  // namespace tf
