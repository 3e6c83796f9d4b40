#include "workload/trace_format.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "core/error.hpp"

namespace tf::workload {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Splits a CSV line into fields, into `out` (cleared first; reused across lines so that reading a row
// allocates nothing). Fields may be double-quoted (the quotes are dropped; numbers never hold escaped
// quotes, so "" inside a quoted field is kept as is).
void split_csv(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  size_t pos = 0;
  while (true) {
    std::string_view rest = line.substr(pos);
    size_t lead = 0;
    while (lead < rest.size() && rest[lead] == ' ')
      ++lead;
    if (lead < rest.size() && rest[lead] == '"') {
      size_t close = rest.find('"', lead + 1);
      while (close != std::string_view::npos && close + 1 < rest.size() && rest[close + 1] == '"')
        close = rest.find('"', close + 2);
      if (close == std::string_view::npos) throw RowError("unterminated quoted field");
      out.push_back(rest.substr(lead + 1, close - lead - 1));
      size_t comma = rest.find(',', close + 1);
      if (comma == std::string_view::npos) return;
      pos += comma + 1;
      continue;
    }
    size_t comma = rest.find(',');
    out.push_back(trim(rest.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    pos += comma + 1;
  }
}

std::string quoted(std::string_view s) {
  constexpr size_t limit = 40;
  if (s.size() > limit) return fmt::format("\"{}...\"", s.substr(0, limit));
  return fmt::format("\"{}\"", s);
}

// A finite decimal number.
double parse_number(std::string_view field, std::string_view column) {
  field = trim(field);
  double v = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || ec != std::errc() || end != field.data() + field.size() || !std::isfinite(v))
    throw RowError(fmt::format("expected a number for {}, got {}", column, quoted(field)));
  return v;
}

// An integer, also when written as "374.0".
int64_t parse_integer(std::string_view field, std::string_view column) {
  field = trim(field);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (!field.empty() && ec == std::errc() && end == field.data() + field.size()) return v;
  double d = 0;
  auto [dend, dec] = std::from_chars(field.data(), field.data() + field.size(), d);
  if (field.empty() || dec != std::errc() || dend != field.data() + field.size() || !std::isfinite(d) ||
      d != std::floor(d) || std::fabs(d) > 9.0e15)
    throw RowError(fmt::format("expected an integer for {}, got {}", column, quoted(field)));
  return static_cast<int64_t>(d);
}

void set_input_tokens(TraceRow& row, int64_t v, std::string_view column) {
  if (v < 1) throw RowError(fmt::format("expected a positive input token count for {}, got {}", column, v));
  row.input_tokens = v;
}

void set_output_tokens(TraceRow& row, int64_t v, std::string_view column) {
  if (v < 0) throw RowError(fmt::format("expected a non-negative output token count for {}, got {}", column, v));
  row.output_clamped = v == 0;
  row.output_tokens = v == 0 ? 1 : v;
}

// Seconds (or milliseconds, with scale 1e6) on the trace clock to integer nanoseconds.
int64_t to_ns(double value, double ns_per_unit, std::string_view column) {
  double ns = std::round(value * ns_per_unit);
  if (!(std::fabs(ns) < 4.0e18))  // differences of two times must fit int64
    throw RowError(fmt::format("timestamp {} in {} is out of range", value, column));
  return static_cast<int64_t>(ns);
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// A CSV format whose columns are found by header name.
class CsvParser : public RowParser {
 public:
  explicit CsvParser(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  bool has_header() const override { return true; }

  void header(std::string_view line) override {
    std::vector<std::string_view> fields;
    split_csv(line, fields);
    width_ = fields.size();
    index_.assign(columns_.size(), SIZE_MAX);
    for (size_t c = 0; c < columns_.size(); ++c)
      for (size_t f = 0; f < fields.size(); ++f)
        if (fields[f] == columns_[c]) index_[c] = f;
    std::string missing;
    for (size_t c = 0; c < columns_.size(); ++c)
      if (index_[c] == SIZE_MAX) missing += (missing.empty() ? "" : ", ") + columns_[c];
    if (!missing.empty())
      throw RowError(fmt::format("expected a header with columns {}; missing {}", fmt::join(columns_, ", "), missing));
  }

 protected:
  // The fields of a data line in the order of columns_; valid until the next call.
  const std::vector<std::string_view>& fields(std::string_view line) {
    split_csv(line, all_);
    if (all_.size() != width_)
      throw RowError(fmt::format("expected {} comma-separated fields as in the header ({}), found {}", width_,
                                 fmt::join(columns_, ", "), all_.size()));
    picked_.clear();
    for (size_t i : index_)
      picked_.push_back(all_[i]);
    return picked_;
  }

 private:
  std::vector<std::string> columns_;
  std::vector<size_t> index_;
  size_t width_ = 0;
  std::vector<std::string_view> all_, picked_;  // scratch, reused across lines
};

class AzureParser final : public CsvParser {
 public:
  AzureParser() : CsvParser({"TIMESTAMP", "ContextTokens", "GeneratedTokens"}) {}
  void parse(std::string_view line, TraceRow& row) override {
    const auto& f = fields(line);
    row.time_ns = parse_wall_clock_ns(trim(f[0]));
    set_input_tokens(row, parse_integer(f[1], "ContextTokens"), "ContextTokens");
    set_output_tokens(row, parse_integer(f[2], "GeneratedTokens"), "GeneratedTokens");
    row.prefix_blocks.clear();
  }
};

class VidurParser final : public CsvParser {
 public:
  VidurParser() : CsvParser({"arrived_at", "num_prefill_tokens", "num_decode_tokens"}) {}
  void parse(std::string_view line, TraceRow& row) override {
    const auto& f = fields(line);
    row.time_ns = to_ns(parse_number(f[0], "arrived_at"), 1e9, "arrived_at");
    set_input_tokens(row, parse_integer(f[1], "num_prefill_tokens"), "num_prefill_tokens");
    set_output_tokens(row, parse_integer(f[2], "num_decode_tokens"), "num_decode_tokens");
    row.prefix_blocks.clear();
  }
};

class MooncakeParser final : public RowParser {
 public:
  bool has_header() const override { return false; }
  void parse(std::string_view line, TraceRow& row) override {
    if (parse_plain(line, row)) return;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
      throw RowError(
          fmt::format("expected one JSON object per line with timestamp, input_length, output_length, hash_ids; got {}",
                      quoted(line)));
    if (!j.is_object()) throw RowError(fmt::format("expected a JSON object, got {}", quoted(line)));
    const auto& ts = member(j, "timestamp");
    if (!ts.is_number()) throw RowError("expected a number (milliseconds) for \"timestamp\"");
    row.time_ns = ts.is_number_integer() ? ms_to_ns(ts.get<int64_t>()) : to_ns(ts.get<double>(), 1e6, "timestamp");
    set_input_tokens(row, integer(member(j, "input_length"), "\"input_length\""), "\"input_length\"");
    set_output_tokens(row, integer(member(j, "output_length"), "\"output_length\""), "\"output_length\"");
    row.prefix_blocks.clear();
    if (auto it = j.find("hash_ids"); it != j.end()) {
      if (!it->is_array()) throw RowError("expected an array of non-negative integers for \"hash_ids\"");
      row.prefix_blocks.reserve(it->size());
      for (const auto& h : *it) {
        if (!h.is_number_unsigned())  // nlohmann stores non-negative integers as unsigned
          throw RowError(fmt::format("expected non-negative integers in \"hash_ids\", got {}", h.dump()));
        row.prefix_blocks.push_back(h.get<uint64_t>());
      }
    }
  }

 private:
  static const nlohmann::json& member(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end()) throw RowError(fmt::format("missing key \"{}\"", key));
    return *it;
  }
  static int64_t integer(const nlohmann::json& v, std::string_view what) {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    }
    throw RowError(fmt::format("expected an integer for {}, got {}", what, v.dump()));
  }
  static int64_t ms_to_ns(int64_t ms) {
    constexpr int64_t limit = 4'000'000'000'000;  // ms; differences of two times must fit int64 in ns
    if (ms > limit || ms < -limit) throw RowError(fmt::format("timestamp {} ms is out of range", ms));
    return ms * 1'000'000;
  }

  // A JSON integer without sign, fraction or exponent, of at most 19 digits (so it fits in 64 bits), at p;
  // advances p past it.
  static bool scan_integer(const char*& p, const char* end, uint64_t& v) {
    const char* start = p;
    const char* q = p;
    uint64_t x = 0;
    for (; q != end; ++q) {
      auto d = static_cast<unsigned>(static_cast<unsigned char>(*q)) - unsigned{'0'};
      if (d > 9) break;
      x = x * 10 + d;
    }
    const auto n = q - start;
    if (n == 0 || n > 19 || (start[0] == '0' && n > 1)) return false;  // JSON has no leading zeros
    if (q != end && (*q == '.' || *q == 'e' || *q == 'E')) return false;
    p = q;
    v = x;
    return true;
  }

  // The shape every line of the published Mooncake traces has: one flat object with the four known keys,
  // each once, whose values are non-negative integers (hash_ids: an array of them). Scanning that shape by
  // hand is about 20 times cheaper than building a JSON document, and a replay of many replicas reads
  // every row once per replica. Anything else (floats, signs, escapes, other keys, repeated keys, bad
  // syntax) returns false before touching `row`, and the line goes through the JSON parser above, which
  // accepts every valid spelling and words the errors. The checks after the scan are the same calls in
  // the same order, so the two paths give the same rows and the same messages.
  bool parse_plain(std::string_view line, TraceRow& row) {
    const char* p = line.data();
    const char* const end = p + line.size();
    auto skip_space = [&] {
      while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        ++p;
    };
    auto integer = [&](uint64_t& v) { return scan_integer(p, end, v); };
    enum Key { timestamp, input_length, output_length, hash_ids, keys };
    static constexpr std::string_view names[keys] = {"timestamp", "input_length", "output_length", "hash_ids"};
    bool seen[keys] = {};
    uint64_t value[keys] = {};
    blocks_.clear();

    skip_space();
    if (p == end || *p++ != '{') return false;
    skip_space();
    if (p < end && *p == '}') return false;  // an empty object: the JSON parser names the missing key
    while (true) {
      if (p == end || *p++ != '"') return false;
      const char* name = p;
      while (p < end && *p != '"' && *p != '\\')
        ++p;
      if (p == end || *p != '"') return false;
      std::string_view key(name, static_cast<size_t>(p - name));
      ++p;
      int k = 0;
      while (k < keys && names[k] != key)
        ++k;
      if (k == keys || seen[k]) return false;
      seen[k] = true;
      skip_space();
      if (p == end || *p++ != ':') return false;
      skip_space();
      if (k == hash_ids) {
        if (p == end || *p++ != '[') return false;
        skip_space();
        if (p < end && *p == ']') {
          ++p;
        } else {
          while (true) {
            uint64_t b = 0;
            if (!integer(b)) return false;
            blocks_.push_back(b);
            skip_space();
            if (p == end) return false;
            if (*p == ']') {
              ++p;
              break;
            }
            if (*p++ != ',') return false;
            skip_space();
          }
        }
      } else if (!integer(value[k]) || value[k] > static_cast<uint64_t>(INT64_MAX)) {
        return false;
      }
      skip_space();
      if (p == end) return false;
      if (*p == '}') {
        ++p;
        break;
      }
      if (*p++ != ',') return false;
      skip_space();
    }
    skip_space();
    if (p != end || !seen[timestamp] || !seen[input_length] || !seen[output_length]) return false;

    row.time_ns = ms_to_ns(static_cast<int64_t>(value[timestamp]));
    set_input_tokens(row, static_cast<int64_t>(value[input_length]), "\"input_length\"");
    set_output_tokens(row, static_cast<int64_t>(value[output_length]), "\"output_length\"");
    row.prefix_blocks.assign(blocks_.begin(), blocks_.end());
    return true;
  }

  std::vector<uint64_t> blocks_;  // scratch for hash_ids, reused across lines
};

}  // namespace

int64_t parse_wall_clock_ns(std::string_view text) {
  auto fail = [&]() -> RowError {
    return RowError(fmt::format("expected a TIMESTAMP such as \"2023-11-16 18:15:46.6805900\", got {}", quoted(text)));
  };
  size_t pos = 0;
  auto digits = [&](size_t n) -> int64_t {
    if (pos + n > text.size()) throw fail();
    int64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = text[pos + i];
      if (c < '0' || c > '9') throw fail();
      v = v * 10 + (c - '0');
    }
    pos += n;
    return v;
  };
  auto expect = [&](std::string_view chars) {
    if (pos >= text.size() || chars.find(text[pos]) == std::string_view::npos) throw fail();
    ++pos;
  };
  const int64_t year = digits(4);
  expect("-");
  const int64_t month = digits(2);
  expect("-");
  const int64_t day = digits(2);
  expect(" T");
  const int64_t hour = digits(2);
  expect(":");
  const int64_t minute = digits(2);
  expect(":");
  const int64_t second = digits(2);
  static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) throw fail();
  const int64_t last_day = month_days[month - 1] + (month == 2 && is_leap(year) ? 1 : 0);
  if (day < 1 || day > last_day || hour > 23 || minute > 59 || second > 60) throw fail();
  int64_t frac_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int n = 0;
    int64_t scale = 100'000'000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++n > 9) throw fail();
      frac_ns += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (n == 0) throw fail();
  }
  int64_t offset_s = 0;  // local time minus UTC
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int64_t sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    const int64_t oh = digits(2);
    expect(":");
    const int64_t om = digits(2);
    if (oh > 23 || om > 59) throw fail();
    offset_s = sign * (oh * 3600 + om * 60);
  }
  if (pos != text.size()) throw fail();
  // Keeps nanoseconds, and differences between two timestamps, inside int64.
  if (year < 1900 || year > 2100) throw fail();
  const int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return seconds * 1'000'000'000 + frac_ns;
}

void TraceFormatRegistry::add(TraceFormat format) {
  if (find(format.name)) throw std::logic_error("trace format registered twice: " + format.name);
  formats_.push_back(std::move(format));
}

const TraceFormat* TraceFormatRegistry::find(std::string_view name) const {
  for (const auto& f : formats_)
    if (f.name == name) return &f;
  return nullptr;
}

const TraceFormat& TraceFormatRegistry::get(std::string_view name, const std::string& file,
                                            const std::string& where) const {
  if (const auto* f = find(name)) return *f;
  throw ConfigError(file, where,
                    fmt::format("unknown trace format \"{}\"; expected one of: {}", name, fmt::join(names(), ", ")));
}

std::vector<std::string> TraceFormatRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& f : formats_)
    out.push_back(f.name);
  return out;
}

void register_builtin_trace_formats(TraceFormatRegistry& registry) {
  registry.add({"azure",
                "Azure LLM inference trace CSV: TIMESTAMP (wall clock, 100 ns resolution), ContextTokens, "
                "GeneratedTokens",
                [] { return std::make_unique<AzureParser>(); }});
  registry.add({"mooncake",
                "Mooncake JSON Lines: timestamp (ms), input_length, output_length, hash_ids (512-token prefix blocks)",
                [] { return std::make_unique<MooncakeParser>(); }});
  registry.add({"vidur",
                "vidur processed-trace CSV: arrived_at (s), num_prefill_tokens, num_decode_tokens (other columns "
                "ignored)",
                [] { return std::make_unique<VidurParser>(); }});
}

const TraceFormatRegistry& trace_format_registry() {
  static const TraceFormatRegistry registry = [] {
    TraceFormatRegistry r;
    register_builtin_trace_formats(r);
    return r;
  }();
  return registry;
}

}  // namespace tf::workload
