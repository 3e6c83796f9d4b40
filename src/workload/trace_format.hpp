#pragma once
// Trace formats: how one line of a trace file becomes one request row. Formats are registered by name
// (name -> description + parser factory); an unknown name is a ConfigError listing the valid ones.
//
// Built in:
//   azure    Azure LLM inference trace 2023/2024 CSV: TIMESTAMP (wall clock, 100 ns), ContextTokens, GeneratedTokens
//   mooncake Mooncake (FAST'25) JSON Lines: timestamp (ms), input_length, output_length, hash_ids (512-token blocks)
//   vidur    vidur processed-trace CSV: arrived_at (s), num_prefill_tokens, num_decode_tokens; other columns ignored
//
// Token counts: the input count must be >= 1. An output count of 0 is accepted and raised to 1 (the
// request still produces its first token, and TPOT needs at least one); TraceRow::output_clamped marks it.
// A negative or non-integer count is an error. (The shipped traces contain no 0s: their minimum output is 1
// for Mooncake and 7 for Azure 2023 conv; the clamp exists for other dumps of the same formats.)

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tf::workload {

// One request row of a trace, on the trace's own clock.
struct TraceRow {
  int64_t time_ns = 0;                  // arrival on the trace's clock in nanoseconds (Azure: since 1970-01-01 UTC)
  int64_t input_tokens = 0;             // >= 1
  int64_t output_tokens = 0;            // >= 1 (after the 0 -> 1 clamp)
  bool output_clamped = false;          // the trace said 0 output tokens
  std::vector<uint64_t> prefix_blocks;  // Mooncake hash_ids, empty for the other formats
};

// One bad line, as a row parser sees it; the trace reader adds the file and line number.
class RowError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses the lines of one trace file. Stateful: CSV parsers learn their column positions from the header.
class RowParser {
 public:
  virtual ~RowParser() = default;
  // Whether the file's first line is a header (handed to header()) rather than a row.
  virtual bool has_header() const = 0;
  // line: without its terminator. Throws RowError naming the columns that were expected.
  virtual void header(std::string_view /*line*/) {}
  // Parses one data line (without its terminator) into row, overwriting every field. Throws RowError
  // saying what was expected.
  virtual void parse(std::string_view line, TraceRow& row) = 0;
};

struct TraceFormat {
  std::string name;
  std::string description;  // one line, for `--list` and error messages
  std::function<std::unique_ptr<RowParser>()> make_parser;
};

class TraceFormatRegistry {
 public:
  // Throws std::logic_error on a duplicate name (a programming error, not a user's).
  void add(TraceFormat format);
  // nullptr when unknown.
  const TraceFormat* find(std::string_view name) const;
  // Throws ConfigError(file, where, "unknown trace format ...; expected one of: ...").
  const TraceFormat& get(std::string_view name, const std::string& file, const std::string& where) const;
  // In registration order.
  std::vector<std::string> names() const;
  const std::vector<TraceFormat>& formats() const { return formats_; }

 private:
  std::vector<TraceFormat> formats_;
};

// Registers azure, mooncake and vidur.
void register_builtin_trace_formats(TraceFormatRegistry& registry);

// The registry holding the built-in formats, built on first use and immutable afterwards.
const TraceFormatRegistry& trace_format_registry();

// Exposed for tests: nanoseconds since 1970-01-01 UTC of a timestamp such as "2023-11-16 18:15:46.6805900"
// (a 'T' separator, up to 9 fraction digits and a "Z" or "+HH:MM" suffix are accepted). Throws RowError.
int64_t parse_wall_clock_ns(std::string_view text);

}  // namespace tf::workload
