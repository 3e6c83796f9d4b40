#pragma once
// A trace file, opened and validated. Construction reads the file once, line by line, and checks every line
// (the format's fields, token counts, nondecreasing timestamps), so that a bad trace fails before the
// simulation starts. It keeps only counts and a sparse index (one entry per 1024 rows) for seeking; rows are
// read again, streaming, through cursors. Memory is O(rows / 1024), whatever the trace's size.
//
// Errors are ConfigError(path, "line N", what was expected): missing or unreadable file, bad header,
// malformed line, a last line that fails to parse (reported as truncated), non-positive input or negative
// output token counts, a timestamp earlier than the previous row's (equal is fine), no request rows.
// Blank lines are skipped. Lines may end in "\n" or "\r\n"; the last line needs no terminator.

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "workload/trace_format.hpp"

namespace tf::workload {

class TraceFile {
 public:
  // format: registry name (an unknown one is a ConfigError at `format_where`, e.g. "/workload/traces/0/format").
  // path: as given (absolute or relative to the working directory).
  // max_rows: keep only the first rows (>= 1); the whole file is still validated.
  TraceFile(const std::string& format, const std::string& path, std::optional<int64_t> max_rows = std::nullopt,
            const std::string& format_where = "");

  const std::string& path() const { return path_; }
  const std::string& format() const { return format_->name; }
  int64_t file_rows() const { return file_rows_; }      // request rows in the file
  int64_t rows() const { return rows_; }                // rows kept: min(file_rows, max_rows)
  int64_t clamped_outputs() const { return clamped_; }  // kept rows whose 0 output tokens were raised to 1
  int64_t first_time_ns() const { return first_ns_; }   // trace clock of row 0; arrivals are measured from it
  int64_t span_ns() const { return span_ns_; }          // last kept row's time minus the first's, in ns
  Seconds span() const { return Seconds(static_cast<double>(span_ns_) * 1e-9); }
  // One more than the largest prefix block id of the kept rows (0 when they carry none).
  uint64_t prefix_block_bound() const { return prefix_block_bound_; }

  struct Row {
    int64_t index = 0;    // 0-based position among the rows of the file
    int64_t time_ns = 0;  // since the first row, in ns
    TraceRow data;
  };

  // Streams kept rows in file order. Holds one open file; not copyable.
  class Cursor {
   public:
    ~Cursor();
    Cursor(Cursor&&) noexcept;
    Cursor& operator=(Cursor&&) noexcept;
    // The next kept row, or nullopt after the last kept row.
    std::optional<Row> next();

   private:
    friend class TraceFile;
    struct State;
    explicit Cursor(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
  };

  // Rows whose time since the first row is > after_ns, in file order; every kept row when after_ns < 0.
  // Seeks through the sparse index, so reading the tail of a trace does not parse its head.
  Cursor rows_after(int64_t after_ns) const;
  Cursor all_rows() const { return rows_after(-1); }

 private:
  struct Checkpoint {
    int64_t time_ns;        // of the row, since the first row
    int64_t row_index;      // of the row
    int64_t line_before;    // number of lines before the row's line
    std::streamoff offset;  // byte offset of the row's line
  };

  const TraceFormat* format_;
  std::string path_;
  std::string header_;  // the header line, for formats that have one (each cursor's parser reads it)
  int64_t file_rows_ = 0;
  int64_t rows_ = 0;
  int64_t clamped_ = 0;
  int64_t first_ns_ = 0;
  int64_t span_ns_ = 0;
  uint64_t prefix_block_bound_ = 0;
  std::vector<Checkpoint> checkpoints_;
};

}  // namespace tf::workload
