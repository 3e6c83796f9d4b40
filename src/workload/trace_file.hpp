#pragma once
// A trace file, opened and validated. Construction reads the file once, line by line, and checks every line
// (the format's fields, token counts, nondecreasing timestamps), so that a bad trace fails before the
// simulation starts.
//
// Rows are then read through cursors, in one of two ways. A trace whose kept rows fit in `cache_bytes` in
// compact form (the shipped traces take 1 to 3 MB) keeps them in memory from the validating pass, shared by
// every cursor: a workload that superimposes 32 replicas of a trace then parses it once, not 33 times. A
// larger trace keeps only counts and a sparse index (one entry per 256 rows) for seeking, and cursors read it
// again, streaming, from disk: memory is O(rows / 256), whatever the trace's size. Both give the same rows.
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
  // cache_bytes: the most memory the kept rows may take in compact form to be held in memory (0: always
  // stream from disk).
  static constexpr int64_t kDefaultCacheBytes = int64_t{256} << 20;
  TraceFile(const std::string& format, const std::string& path, std::optional<int64_t> max_rows = std::nullopt,
            const std::string& format_where = "", int64_t cache_bytes = kDefaultCacheBytes);

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

  // Whether the kept rows are held in memory (see the top of this file).
  bool in_memory() const { return cache_ != nullptr; }

  // Rows whose time since the first row is > after_ns, in file order; every kept row when after_ns < 0.
  // Seeks (in memory, or through the sparse index), so reading the tail of a trace does not read its head.
  Cursor rows_after(int64_t after_ns) const;
  Cursor all_rows() const { return rows_after(-1); }

 private:
  struct Checkpoint {
    int64_t time_ns;        // of the row, since the first row
    int64_t row_index;      // of the row
    int64_t line_before;    // number of lines before the row's line
    std::streamoff offset;  // byte offset of the row's line
  };
  // The kept rows in compact form, one entry per row in each column.
  struct Rows {
    std::vector<int64_t> time_ns;  // since the first row
    std::vector<int64_t> input_tokens;
    std::vector<int64_t> output_tokens;
    std::vector<bool> output_clamped;
    std::vector<uint64_t> blocks;    // every row's prefix blocks, one after the other
    std::vector<size_t> blocks_end;  // row i's blocks are [blocks_end[i - 1], blocks_end[i])
    int64_t bytes() const;
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
  std::shared_ptr<const Rows> cache_;  // the kept rows when they fit the cache budget; shared with cursors
};

}  // namespace tf::workload
