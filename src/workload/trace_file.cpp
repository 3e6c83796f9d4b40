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

// Rows between entries of the sparse seek index. Each replica of a trace starts by skipping, on average,
// half this many rows (parsed, then dropped); 256 keeps that small for 40 replicas while a 100-million-row
// trace still needs only 12 MB of index.
constexpr int64_t kCheckpointEvery = 256;

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

int64_t TraceFile::Rows::bytes() const {
  return static_cast<int64_t>(time_ns.size() * (3 * sizeof(int64_t) + sizeof(size_t)) + time_ns.size() / 8 +
                              blocks.size() * sizeof(uint64_t));
}

TraceFile::TraceFile(const std::string& format, const std::string& path, std::optional<int64_t> max_rows,
                     const std::string& format_where, int64_t cache_bytes)
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

  // Kept rows are collected while they fit the budget; past it, collecting stops for good and cursors stream.
  auto rows = cache_bytes > 0 ? std::make_shared<Rows>() : nullptr;
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
      if (rows) {
        rows->time_ns.push_back(rel);
        rows->input_tokens.push_back(row.input_tokens);
        rows->output_tokens.push_back(row.output_tokens);
        rows->output_clamped.push_back(row.output_clamped);
        rows->blocks.insert(rows->blocks.end(), row.prefix_blocks.begin(), row.prefix_blocks.end());
        rows->blocks_end.push_back(rows->blocks.size());
        if (rows_ % kCheckpointEvery == 0 && rows->bytes() > cache_bytes) rows.reset();
      }
    }
    previous_ns = row.time_ns;
    ++file_rows_;
  }
  if (file_rows_ == 0)
    throw ConfigError(path, fmt::format("line {}", in.line_no() + 1),
                      parser->has_header() ? "empty trace: expected at least one request row after the header"
                                           : "empty trace: expected at least one request row");
  if (rows && rows->bytes() <= cache_bytes) cache_ = std::move(rows);
}

struct TraceFile::Cursor::State {
  // Streaming from disk.
  State(const std::string& path, const TraceFormat& format)
      : reader(std::in_place, path), parser(format.make_parser()) {}
  // Reading the rows held in memory.
  explicit State(std::shared_ptr<const Rows> kept) : cached(std::move(kept)) {}
  std::shared_ptr<const Rows> cached;
  std::optional<LineReader> reader;
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
  if (s.cached) {
    if (s.next_index >= s.rows) return std::nullopt;
    const Rows& c = *s.cached;
    const auto i = static_cast<size_t>(s.next_index++);
    Row out;
    out.index = static_cast<int64_t>(i);
    out.time_ns = c.time_ns[i];
    out.data.time_ns = c.time_ns[i] + s.first_ns;
    out.data.input_tokens = c.input_tokens[i];
    out.data.output_tokens = c.output_tokens[i];
    out.data.output_clamped = c.output_clamped[i];
    const auto begin = c.blocks.begin() + static_cast<std::ptrdiff_t>(i == 0 ? 0 : c.blocks_end[i - 1]);
    out.data.prefix_blocks.assign(begin, c.blocks.begin() + static_cast<std::ptrdiff_t>(c.blocks_end[i]));
    return out;
  }
  while (s.next_index < s.rows && s.reader->next()) {
    Row out;
    try {
      s.parser->parse(s.reader->line(), out.data);
    } catch (const RowError& e) {
      // The file passed validation at open, so it changed since.
      s.reader->fail(std::string(e.what()) + " (the trace file changed after it was opened)");
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
  if (cache_) {
    auto state = std::make_unique<Cursor::State>(cache_);
    const auto& t = cache_->time_ns;
    state->next_index = std::upper_bound(t.begin(), t.end(), after_ns) - t.begin();
    state->rows = rows_;
    state->first_ns = first_ns_;
    state->after_ns = after_ns;
    return Cursor(std::move(state));
  }
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
  state->reader->seek(start.offset, start.line_before);
  state->next_index = start.row_index;
  state->rows = rows_;
  state->first_ns = first_ns_;
  state->after_ns = after_ns;
  return Cursor(std::move(state));
}

}  // namespace tf::workload
