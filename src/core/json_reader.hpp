#pragma once
// Reading JSON input with a path on every error and no silently ignored key.
//
//   JsonReader root(doc, "scenarios/x.json");
//   auto cluster = root.object();            // an ObjectReader for the root object
//   int n = cluster.required("count").as_int(1, 1'000'000);
//   Seconds d = cluster.optional("duration").value_or_seconds(Seconds(3600));
//   cluster.finish();                        // throws ConfigError naming any key not read
//
// Every error is a tf::ConfigError carrying the file and the JSON pointer of the offending value.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/units.hpp"

namespace tf {

class ObjectReader;

// A view of one JSON value together with where it came from.
class JsonReader {
 public:
  JsonReader(const nlohmann::json& node, std::string file, std::string path = "")
      : node_(&node), file_(std::move(file)), path_(std::move(path)) {}

  const nlohmann::json& json() const { return *node_; }
  const std::string& file() const { return file_; }
  // JSON pointer of this value ("" for the root, shown as "/").
  const std::string& path() const { return path_; }
  std::string where() const { return path_.empty() ? std::string("/") : path_; }

  [[noreturn]] void fail(const std::string& message) const;

  ObjectReader object() const;
  std::vector<JsonReader> array() const;
  JsonReader at(size_t index) const;

  std::string as_string() const;
  // One of the listed words; the error lists them.
  std::string as_enum(const std::vector<std::string>& allowed) const;
  bool as_bool() const;
  double as_double() const;
  double as_double(double min, double max) const;  // inclusive bounds
  int64_t as_int(int64_t min, int64_t max) const;
  double as_fraction() const;  // 0..1

  Seconds as_seconds() const;
  Bytes as_bytes() const;
  BytesPerSecond as_bandwidth() const;
  FlopsPerSecond as_flops_rate() const;
  Watts as_watts() const;
  Dollars as_dollars() const;
  DollarsPerHour as_dollars_per_hour() const;
  DollarsPerKwh as_dollars_per_kwh() const;

 private:
  const nlohmann::json* node_;
  std::string file_;
  std::string path_;
};

// Reads an object key by key and remembers which keys were read, so that finish() can reject the rest.
class ObjectReader {
 public:
  explicit ObjectReader(JsonReader self);

  const JsonReader& self() const { return self_; }
  bool has(const std::string& key) const;
  JsonReader required(const std::string& key);
  std::optional<JsonReader> optional(const std::string& key);
  // All keys of the object, in document order (nlohmann sorts them), each marked as read.
  std::vector<std::string> keys();
  // Throws ConfigError for the first key that was never read, listing the keys that are allowed.
  void finish() const;

 private:
  JsonReader self_;
  std::set<std::string> read_;
};

// Escapes a key for use in a JSON pointer (RFC 6901).
std::string json_pointer_escape(const std::string& key);

}  // namespace tf
