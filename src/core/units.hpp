#pragma once
// Strong unit types. Quantities cross module boundaries in these types so that dimension mistakes
// (adding seconds to bytes) do not compile. Every value is stored in SI base units: seconds, bytes,
// floating-point operations, watts, joules, US dollars.

#include <compare>

namespace tf {

template <class Tag>
class Quantity {
 public:
  constexpr Quantity() = default;
  constexpr explicit Quantity(double v) : value_(v) {}
  [[nodiscard]] constexpr double value() const { return value_; }

  constexpr Quantity operator+(Quantity o) const { return Quantity(value_ + o.value_); }
  constexpr Quantity operator-(Quantity o) const { return Quantity(value_ - o.value_); }
  constexpr Quantity& operator+=(Quantity o) {
    value_ += o.value_;
    return *this;
  }
  constexpr Quantity& operator-=(Quantity o) {
    value_ -= o.value_;
    return *this;
  }
  constexpr Quantity operator*(double k) const { return Quantity(value_ * k); }
  constexpr Quantity operator/(double k) const { return Quantity(value_ / k); }
  // Ratio of two quantities of the same kind is a plain number.
  constexpr double operator/(Quantity o) const { return value_ / o.value_; }
  constexpr auto operator<=>(const Quantity&) const = default;

 private:
  double value_ = 0.0;
};

template <class Tag>
constexpr Quantity<Tag> operator*(double k, Quantity<Tag> q) {
  return q * k;
}

struct SecondsTag {};
struct BytesTag {};
struct FlopsTag {};
struct BytesPerSecondTag {};
struct FlopsPerSecondTag {};
struct WattsTag {};
struct JoulesTag {};
struct DollarsTag {};
struct DollarsPerHourTag {};
struct DollarsPerKwhTag {};

using Seconds = Quantity<SecondsTag>;                // s
using Bytes = Quantity<BytesTag>;                    // B
using Flops = Quantity<FlopsTag>;                    // floating-point (or integer) operations
using BytesPerSecond = Quantity<BytesPerSecondTag>;  // B/s
using FlopsPerSecond = Quantity<FlopsPerSecondTag>;  // op/s
using Watts = Quantity<WattsTag>;                    // W
using Joules = Quantity<JoulesTag>;                  // J
using Dollars = Quantity<DollarsTag>;                // USD
using DollarsPerHour = Quantity<DollarsPerHourTag>;  // USD/h
using DollarsPerKwh = Quantity<DollarsPerKwhTag>;    // USD/kWh

constexpr Seconds operator/(Bytes b, BytesPerSecond r) {
  return Seconds(b.value() / r.value());
}
constexpr Seconds operator/(Flops f, FlopsPerSecond r) {
  return Seconds(f.value() / r.value());
}
constexpr Bytes operator*(BytesPerSecond r, Seconds t) {
  return Bytes(r.value() * t.value());
}
constexpr Flops operator*(FlopsPerSecond r, Seconds t) {
  return Flops(r.value() * t.value());
}
constexpr Joules operator*(Watts p, Seconds t) {
  return Joules(p.value() * t.value());
}
constexpr Dollars operator*(DollarsPerHour r, Seconds t) {
  return Dollars(r.value() * t.value() / 3600.0);
}
constexpr Dollars operator*(DollarsPerKwh r, Joules e) {
  return Dollars(r.value() * e.value() / 3.6e6);
}

constexpr double kwh(Joules e) {
  return e.value() / 3.6e6;
}

}  // namespace tf
