#include "core/json_reader.hpp"

#include <fmt/format.h>

#include <cmath>

#include "core/unit_parse.hpp"

namespace tf {

namespace {
std::string type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return fmt::format("the string \"{}\"", j.get<std::string>());
    case nlohmann::json::value_t::boolean:
      return j.get<bool>() ? "true" : "false";
    default:
      return fmt::format("the number {}", j.dump());
  }
}
}  // namespace

std::string json_pointer_escape(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

void JsonReader::fail(const std::string& message) const {
  throw ConfigError(file_, where(), message);
}

ObjectReader JsonReader::object() const {
  if (!node_->is_object()) fail(fmt::format("expected an object, got {}", type_name(*node_)));
  return ObjectReader(*this);
}

std::vector<JsonReader> JsonReader::array() const {
  if (!node_->is_array()) fail(fmt::format("expected an array, got {}", type_name(*node_)));
  std::vector<JsonReader> out;
  out.reserve(node_->size());
  for (size_t i = 0; i < node_->size(); ++i)
    out.push_back(at(i));
  return out;
}

JsonReader JsonReader::at(size_t index) const {
  return JsonReader((*node_)[index], file_, fmt::format("{}/{}", path_, index));
}

std::string JsonReader::as_string() const {
  if (!node_->is_string()) fail(fmt::format("expected a string, got {}", type_name(*node_)));
  return node_->get<std::string>();
}

std::string JsonReader::as_enum(const std::vector<std::string>& allowed) const {
  std::string s = as_string();
  for (const auto& a : allowed)
    if (a == s) return s;
  fail(fmt::format("expected one of {}, got \"{}\"", fmt::join(allowed, ", "), s));
}

bool JsonReader::as_bool() const {
  if (!node_->is_boolean()) fail(fmt::format("expected true or false, got {}", type_name(*node_)));
  return node_->get<bool>();
}

double JsonReader::as_double() const {
  if (!node_->is_number()) fail(fmt::format("expected a number, got {}", type_name(*node_)));
  double v = node_->get<double>();
  if (!std::isfinite(v)) fail("expected a finite number");
  return v;
}

double JsonReader::as_double(double min, double max) const {
  double v = as_double();
  if (v < min || v > max) fail(fmt::format("expected a number in [{}, {}], got {}", min, max, v));
  return v;
}

int64_t JsonReader::as_int(int64_t min, int64_t max) const {
  if (!node_->is_number_integer()) fail(fmt::format("expected an integer, got {}", type_name(*node_)));
  int64_t v = node_->get<int64_t>();
  if (v < min || v > max) fail(fmt::format("expected an integer in [{}, {}], got {}", min, max, v));
  return v;
}

double JsonReader::as_fraction() const {
  return as_double(0.0, 1.0);
}

#define TF_UNIT_GETTER(Type, method, parser, example)                                                        \
  Type JsonReader::method() const {                                                                          \
    if (!node_->is_string())                                                                                 \
      fail(fmt::format("expected a string with a unit such as \"{}\", got {}", example, type_name(*node_))); \
    try {                                                                                                    \
      return parser(node_->get<std::string>());                                                              \
    } catch (const UnitError& e) {                                                                           \
      fail(e.what());                                                                                        \
    }                                                                                                        \
  }

TF_UNIT_GETTER(Seconds, as_seconds, parse_seconds, "50ms")
TF_UNIT_GETTER(Bytes, as_bytes, parse_bytes, "80GB")
TF_UNIT_GETTER(BytesPerSecond, as_bandwidth, parse_bandwidth, "3.35TB/s")
TF_UNIT_GETTER(FlopsPerSecond, as_flops_rate, parse_flops_rate, "989TFLOPS")
TF_UNIT_GETTER(Watts, as_watts, parse_watts, "700W")
TF_UNIT_GETTER(Dollars, as_dollars, parse_dollars, "$25000")
TF_UNIT_GETTER(DollarsPerHour, as_dollars_per_hour, parse_dollars_per_hour, "$2.00/h")
TF_UNIT_GETTER(DollarsPerKwh, as_dollars_per_kwh, parse_dollars_per_kwh, "$0.08/kWh")
#undef TF_UNIT_GETTER

ObjectReader::ObjectReader(JsonReader self) : self_(std::move(self)) {}

bool ObjectReader::has(const std::string& key) const {
  return self_.json().contains(key);
}

JsonReader ObjectReader::required(const std::string& key) {
  if (!has(key)) self_.fail(fmt::format("missing required key \"{}\"", key));
  read_.insert(key);
  return JsonReader(self_.json()[key], self_.file(), self_.path() + "/" + json_pointer_escape(key));
}

std::optional<JsonReader> ObjectReader::optional(const std::string& key) {
  read_.insert(key);
  if (!has(key)) return std::nullopt;
  return JsonReader(self_.json()[key], self_.file(), self_.path() + "/" + json_pointer_escape(key));
}

std::vector<std::string> ObjectReader::keys() {
  std::vector<std::string> out;
  for (const auto& [k, v] : self_.json().items()) {
    out.push_back(k);
    read_.insert(k);
  }
  return out;
}

void ObjectReader::finish() const {
  for (const auto& [k, v] : self_.json().items()) {
    if (read_.count(k)) continue;
    std::vector<std::string> allowed(read_.begin(), read_.end());
    throw ConfigError(self_.file(), self_.path() + "/" + json_pointer_escape(k),
                      fmt::format("unknown key \"{}\" (allowed here: {})", k, fmt::join(allowed, ", ")));
  }
}

}  // namespace tf
