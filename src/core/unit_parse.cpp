#include "core/unit_parse.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

namespace tf {

namespace {

struct Split {
  double number;
  std::string_view unit;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

[[noreturn]] void fail(std::string_view what, std::string_view text) {
  throw UnitError(fmt::format("expected {}, got \"{}\"", what, text));
}

// Splits "3.35 TB/s" into 3.35 and "TB/s". The number must be finite and not negative.
Split split_number(std::string_view text, std::string_view what) {
  std::string_view s = trim(text);
  if (s.empty()) fail(what, text);
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr == s.data()) fail(what, text);
  if (!std::isfinite(value)) fail(what, text);
  if (value < 0) throw UnitError(fmt::format("expected a non-negative value, got \"{}\"", text));
  std::string_view unit = trim(std::string_view(ptr, static_cast<size_t>(s.data() + s.size() - ptr)));
  return {value, unit};
}

double lookup(std::string_view unit, const std::vector<std::pair<std::string_view, double>>& table,
              std::string_view what, std::string_view text) {
  for (const auto& [name, factor] : table)
    if (unit == name) return factor;
  fail(what, text);
}

const std::vector<std::pair<std::string_view, double>>& byte_units() {
  static const std::vector<std::pair<std::string_view, double>> table = {{"B", 1.0},
                                                                         {"KB", 1e3},
                                                                         {"kB", 1e3},
                                                                         {"MB", 1e6},
                                                                         {"GB", 1e9},
                                                                         {"TB", 1e12},
                                                                         {"PB", 1e15},
                                                                         {"KiB", 1024.0},
                                                                         {"MiB", 1048576.0},
                                                                         {"GiB", 1073741824.0},
                                                                         {"TiB", 1099511627776.0},
                                                                         {"b", 0.125},
                                                                         {"Kb", 1e3 / 8},
                                                                         {"kb", 1e3 / 8},
                                                                         {"Mb", 1e6 / 8},
                                                                         {"Gb", 1e9 / 8},
                                                                         {"Tb", 1e12 / 8},
                                                                         {"Pb", 1e15 / 8}};
  return table;
}

}  // namespace

Seconds parse_seconds(std::string_view text) {
  constexpr std::string_view what = "a duration such as \"50ms\" or \"2s\"";
  auto [v, unit] = split_number(text, what);
  static const std::vector<std::pair<std::string_view, double>> table = {
      {"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6}, {"ms", 1e-3}, {"s", 1.0}, {"min", 60.0}, {"h", 3600.0}, {"d", 86400.0}};
  return Seconds(v * lookup(unit, table, what, text));
}

Bytes parse_bytes(std::string_view text) {
  constexpr std::string_view what = "a size such as \"80GB\" or \"512MiB\"";
  auto [v, unit] = split_number(text, what);
  return Bytes(v * lookup(unit, byte_units(), what, text));
}

BytesPerSecond parse_bandwidth(std::string_view text) {
  constexpr std::string_view what = "a bandwidth such as \"3.35TB/s\" or \"400Gb/s\"";
  auto [v, unit] = split_number(text, what);
  std::string u(unit);
  if (u.size() > 2 && u.ends_with("/s")) {
    u.resize(u.size() - 2);
  } else if (u.size() > 3 && u.ends_with("ps")) {  // Gbps, Mbps
    u.resize(u.size() - 2);
  } else {
    fail(what, text);
  }
  return BytesPerSecond(v * lookup(u, byte_units(), what, text));
}

FlopsPerSecond parse_flops_rate(std::string_view text) {
  constexpr std::string_view what = "a compute rate such as \"989TFLOPS\" or \"1979TOPS\"";
  auto [v, unit] = split_number(text, what);
  static const std::vector<std::pair<std::string_view, double>> table = {
      {"FLOPS", 1.0}, {"GFLOPS", 1e9}, {"TFLOPS", 1e12}, {"PFLOPS", 1e15}, {"OPS", 1.0},
      {"GOPS", 1e9},  {"TOPS", 1e12},  {"POPS", 1e15},   {"FLOP/s", 1.0},  {"TFLOP/s", 1e12}};
  return FlopsPerSecond(v * lookup(unit, table, what, text));
}

Watts parse_watts(std::string_view text) {
  constexpr std::string_view what = "a power such as \"700W\" or \"10.2kW\"";
  auto [v, unit] = split_number(text, what);
  static const std::vector<std::pair<std::string_view, double>> table = {{"W", 1.0}, {"kW", 1e3}, {"MW", 1e6}};
  return Watts(v * lookup(unit, table, what, text));
}

namespace {
// "$2.5k/h" -> (2500, "/h"). The amount may carry a k or M multiplier.
std::pair<double, std::string_view> split_money(std::string_view text, std::string_view what) {
  std::string_view s = trim(text);
  if (s.empty() || s.front() != '$') fail(what, text);
  s.remove_prefix(1);
  auto [v, rest] = split_number(s, what);
  double k = 1.0;
  if (!rest.empty() && (rest.front() == 'k' || rest.front() == 'K')) {
    k = 1e3;
    rest.remove_prefix(1);
  } else if (!rest.empty() && rest.front() == 'M') {
    k = 1e6;
    rest.remove_prefix(1);
  }
  return {v * k, trim(rest)};
}
}  // namespace

Dollars parse_dollars(std::string_view text) {
  constexpr std::string_view what = "an amount such as \"$25000\" or \"$25k\"";
  auto [v, rest] = split_money(text, what);
  if (!rest.empty()) fail(what, text);
  return Dollars(v);
}

DollarsPerHour parse_dollars_per_hour(std::string_view text) {
  constexpr std::string_view what = "a rate such as \"$2.00/h\"";
  auto [v, rest] = split_money(text, what);
  if (rest == "/h" || rest == "/hour" || rest == "/hr") return DollarsPerHour(v);
  fail(what, text);
}

DollarsPerKwh parse_dollars_per_kwh(std::string_view text) {
  constexpr std::string_view what = "an energy price such as \"$0.08/kWh\"";
  auto [v, rest] = split_money(text, what);
  if (rest == "/kWh") return DollarsPerKwh(v);
  if (rest == "/MWh") return DollarsPerKwh(v / 1e3);
  fail(what, text);
}

std::string format_seconds(Seconds s) {
  double v = s.value();
  if (v < 1e-3) return fmt::format("{:.3g}us", v * 1e6);
  if (v < 1.0) return fmt::format("{:.3g}ms", v * 1e3);
  if (v < 120.0) return fmt::format("{:.3g}s", v);
  if (v < 7200.0) return fmt::format("{:.3g}min", v / 60.0);
  return fmt::format("{:.3g}h", v / 3600.0);
}

}  // namespace tf
