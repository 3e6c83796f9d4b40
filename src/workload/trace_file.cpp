#include "workload/trace_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/error.hpp"

namespace tf::workload {

namespace {

constexpr int64_t kCheckpointEvery = 1024;  // rows between entries of the sparse seek index

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

// Reads a text file line by line, skipping blank lines, tracking line numbers and byte offsets.
class LineReader {
 public:
  explicit LineReader(const std::string& path) : path_(path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status))
      throw ConfigError(path, "",
                        "cannot open trace file: no such file (paths are relative to the working "
                        "directory unless absolute)");
    if (!std::filesystem::is_regular_file(status))
      throw ConfigError(path, "", "cannot open trace file: not a regular file");
    in_.open(path, std::ios::binary);
    if (!in_) throw ConfigError(path, "", fmt::format("cannot open trace file: {}", std::strerror(errno)));
  }

  void seek(std::streamoff offset, int64_t lines_before) {
    in_.clear();
    in_.seekg(offset);
    if (!in_) throw ConfigError(path_, "", "cannot seek in trace file (was it changed while in use?)");
    next_offset_ = offset;
    line_no_ = lines_before;
  }

  // The next non-blank line, without its terminator; false at the end of the file.
  bool next() {
    while (true) {
      line_offset_ = next_offset_;
      if (!std::getline(in_, line_)) {
        if (in_.bad()) throw ConfigError(path_, fmt::format("line {}", line_no_ + 1), "read error");
        return false;
      }
      ++line_no_;
      terminated_ = !in_.eof();
      next_offset_ += static_cast<std::streamoff>(line_.size()) + (terminated_ ? 1 : 0);
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (line_offset_ == 0 && line_.starts_with("\xEF\xBB\xBF")) line_.erase(0, 3);  // UTF-8 byte-order mark
      if (!is_blank(line_)) return true;
    }
  }

  std::string_view line() const { return line_; }
  int64_t line_no() const { return line_no_; }
  std::streamoff line_offset() const { return line_offset_; }

  [[noreturn]] void fail(const std::string& message) const {
    throw ConfigError(path_, fmt::format("line {}", line_no_), message);
  }

  // For a line that does not parse: a last line that fails is most likely cut short (a partial download or
  // a copy interrupted mid-write), so say so.
  [[noreturn]] void fail_row(const std::string& message) {
    if (!terminated_) fail("last line is truncated (no line end, does not parse): " + message);
    if (rest_is_blank()) fail("last line looks truncated (does not parse): " + message);
    fail(message);
  }

 private:
  bool rest_is_blank() {
    std::string rest;
    while (std::getline(in_, rest))
      if (!is_blank(rest)) return false;
    return true;
  }

  std::string path_;
  std::ifstream in_;
  std::string line_;
  int64_t line_no_ = 0;             // of the line in line_ (1-based)
  std::streamoff line_offset_ = 0;  // of the line in line_
  std::streamoff next_offset_ = 0;
  bool terminated_ = true;  // the line in line_ ended with '\n'
};

std::string seconds_text(int64_t ns) {
  return fmt::format("{:.7f} s", static_cast<double>(ns) * 1e-9);
}

}  // namespace

TraceFile::TraceFile(const std::string& format, const std::string& path, std::optional<int64_t> max_rows,
                     const std::string& format_where)
    : format_(trace_format_registry().find(format)), path_(path) {
  if (!format_) {
    // Named by where the scenario gave it when known; the trace path is in the message either way.
    throw ConfigError(format_where.empty() ? path : "", format_where,
                      fmt::format("unknown trace format \"{}\" for {}; expected one of: {}", format, path,
                                  fmt::join(trace_format_registry().names(), ", ")));
  }
  if (max_rows && *max_rows < 1)
    throw ConfigError(path, "", fmt::format("max_requests must be at least 1, got {}", *max_rows));
  const int64_t keep = max_rows.value_or(std::numeric_limits<int64_t>::max());

  LineReader in(path);
  auto parser = format_->make_parser();
  if (parser->has_header()) {
    if (!in.next())
      throw ConfigError(path, "line 1", "empty trace: expected a header line and at least one request row");
    header_ = in.line();
    try {
      parser->header(header_);
    } catch (const RowError& e) {
      in.fail(e.what());
    }
  }

  TraceRow row;
  int64_t previous_ns = 0;
  while (in.next()) {
    try {
      parser->parse(in.line(), row);
    } catch (const RowError& e) {
      in.fail_row(e.what());
    }
    if (file_rows_ == 0) {
      first_ns_ = row.time_ns;
    } else if (row.time_ns < previous_ns) {
      in.fail(fmt::format("expected rows in arrival order, but this row's timestamp is {} before the previous row's",
                          seconds_text(previous_ns - row.time_ns)));
    }
    if (file_rows_ < keep) {
      const int64_t rel = row.time_ns - first_ns_;
      if (file_rows_ % kCheckpointEvery == 0)
        checkpoints_.push_back({rel, file_rows_, in.line_no() - 1, in.line_offset()});
      span_ns_ = rel;
      clamped_ += row.output_clamped ? 1 : 0;
      for (uint64_t b : row.prefix_blocks)
        prefix_block_bound_ = std::max(prefix_block_bound_, b + 1);
      ++rows_;
    }
    previous_ns = row.time_ns;
    ++file_rows_;
  }
  if (file_rows_ == 0)
    throw ConfigError(path, fmt::format("line {}", in.line_no() + 1),
                      parser->has_header() ? "empty trace: expected at least one request row after the header"
                                           : "empty trace: expected at least one request row");
}

struct TraceFile::Cursor::State {
  State(const std::string& path, const TraceFormat& format) : reader(path), parser(format.make_parser()) {}
  LineReader reader;
  std::unique_ptr<RowParser> parser;
  int64_t next_index = 0;  // of the next row the reader returns
  int64_t rows = 0;        // kept rows of the file
  int64_t first_ns = 0;
  int64_t after_ns = -1;
};

TraceFile::Cursor::Cursor(std::unique_ptr<State> state) : state_(std::move(state)) {}
TraceFile::Cursor::~Cursor() = default;
TraceFile::Cursor::Cursor(Cursor&&) noexcept = default;
TraceFile::Cursor& TraceFile::Cursor::operator=(Cursor&&) noexcept = default;

std::optional<TraceFile::Row> TraceFile::Cursor::next() {
  State& s = *state_;
  while (s.next_index < s.rows && s.reader.next()) {
    Row out;
    try {
      s.parser->parse(s.reader.line(), out.data);
    } catch (const RowError& e) {
      // The file passed validation at open, so it changed since.
      s.reader.fail(std::string(e.what()) + " (the trace file changed after it was opened)");
    }
    out.index = s.next_index++;
    out.time_ns = out.data.time_ns - s.first_ns;
    if (out.time_ns <= s.after_ns) continue;
    return out;
  }
  s.next_index = s.rows;
  return std::nullopt;
}

TraceFile::Cursor TraceFile::rows_after(int64_t after_ns) const {
  auto state = std::make_unique<Cursor::State>(path_, *format_);
  if (!header_.empty()) {
    try {
      state->parser->header(header_);
    } catch (const RowError& e) {
      throw ConfigError(path_, "line 1", e.what());
    }
  }
  // Rows before a checkpoint are no later than it, so every row before the last checkpoint at or before
  // after_ns is skipped anyway.
  auto it = std::upper_bound(checkpoints_.begin(), checkpoints_.end(), after_ns,
                             [](int64_t t, const Checkpoint& c) { return t < c.time_ns; });
  const Checkpoint& start = it == checkpoints_.begin() ? checkpoints_.front() : *std::prev(it);
  state->reader.seek(start.offset, start.line_before);
  state->next_index = start.row_index;
  state->rows = rows_;
  state->first_ns = first_ns_;
  state->after_ns = after_ns;
  return Cursor(std::move(state));
}

}  // namespace tf::workload
