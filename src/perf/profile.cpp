#include "perf/profile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>

#include "core/error.hpp"

namespace tf::perf {

namespace {

// A CSV file with a header, read into one buffer and handed out one row at a time as views into it (no
// allocation per field or per row); reports problems with the file's path and line.
class Csv {
 public:
  explicit Csv(const std::filesystem::path& file) : file_(file.string()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ConfigError(file_, "", "cannot open measured table");
    in.seekg(0, std::ios::end);
    buffer_.resize(static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0)));
    in.seekg(0, std::ios::beg);
    in.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    rest_ = buffer_;
    std::vector<std::string_view> fields;
    if (!next_line(fields)) throw ConfigError(file_, "line 1", "empty file: expected a CSV header");
    for (auto f : fields)
      header_.emplace_back(f);
  }

  // One data row: its fields, and typed access that names the file, line and column on bad input.
  class Row {
   public:
    std::string_view text(size_t col) const { return fields_[col]; }
    // A finite, non-negative number.
    double number(size_t col) const {
      std::string_view s = fields_[col];
      double v = 0.0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
        throw ConfigError(csv_->file_, where(col), fmt::format("expected a number, got '{}'", s));
      if (v < 0.0) throw ConfigError(csv_->file_, where(col), fmt::format("must not be negative, got {}", s));
      return v;
    }
    // A latency in milliseconds, returned in seconds; must be > 0.
    double latency(size_t col) const {
      const double ms = number(col);
      if (!(ms > 0.0))
        throw ConfigError(csv_->file_, where(col), fmt::format("latency must be positive, got {}", fields_[col]));
      return ms * 1e-3;
    }

   private:
    friend class Csv;
    std::string where(size_t col) const { return fmt::format("line {}, column '{}'", line_, csv_->header_[col]); }
    const Csv* csv_ = nullptr;
    int64_t line_ = 0;
    std::vector<std::string_view> fields_;
  };

  // Calls f(row) for every data row, in file order; a row with the wrong number of fields is a ConfigError.
  template <class F>
  void each(F f) {
    Row row;
    row.csv_ = this;
    while (next_line(row.fields_)) {
      row.line_ = line_;
      if (row.fields_.size() != header_.size())
        throw ConfigError(
            file_, fmt::format("line {}", line_),
            fmt::format("expected {} comma-separated fields, got {}", header_.size(), row.fields_.size()));
      f(std::as_const(row));
    }
  }

  // Index of a required column.
  size_t column(const std::string& name) const {
    for (size_t i = 0; i < header_.size(); ++i)
      if (header_[i] == name) return i;
    throw ConfigError(file_, "line 1", fmt::format("missing column '{}'", name));
  }
  // Index of the first of `names` present (files of different collectors name one column differently).
  size_t column_of(const std::vector<std::string>& names) const {
    for (const auto& n : names)
      for (size_t i = 0; i < header_.size(); ++i)
        if (header_[i] == n) return i;
    throw ConfigError(file_, "line 1", fmt::format("missing column '{}'", names.front()));
  }
  // Rows at most: for reserving.
  size_t lines() const { return static_cast<size_t>(std::count(rest_.begin(), rest_.end(), '\n')) + 1; }

 private:
  // The next non-empty line split at commas (the header may be empty: then it is one empty field); false at the
  // end of the file.
  bool next_line(std::vector<std::string_view>& out) {
    while (!rest_.empty()) {
      const size_t nl = rest_.find('\n');
      std::string_view line = rest_.substr(0, nl);
      rest_ = nl == std::string_view::npos ? std::string_view() : rest_.substr(nl + 1);
      ++line_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() && line_ > 1) continue;
      out.clear();
      for (;;) {
        const size_t comma = line.find(',');
        out.push_back(line.substr(0, comma));
        if (comma == std::string_view::npos) break;
        line.remove_prefix(comma + 1);
      }
      return true;
    }
    return false;
  }

  std::string file_;
  std::string buffer_;
  std::string_view rest_;  // what is left to read
  int64_t line_ = 0;       // of the line read last, from 1
  std::vector<std::string> header_;
};

}  // namespace

std::vector<GemmRow> read_gemm(const std::filesystem::path& file) {
  Csv c(file);
  const size_t dt = c.column("gemm_dtype"), m = c.column("m"), n = c.column("n"), k = c.column("k"),
               lat = c.column("latency");
  std::vector<GemmRow> out;
  out.reserve(c.lines());
  c.each([&](const Csv::Row& r) {
    out.push_back({std::string(r.text(dt)), r.number(m), r.number(n), r.number(k), r.latency(lat)});
  });
  return out;
}

std::vector<AttentionRow> read_attention(const std::filesystem::path& file) {
  Csv c(file);
  const size_t kv = c.column("kv_cache_dtype"), b = c.column("batch_size"), isl = c.column("isl"),
               h = c.column("num_heads"), kvh = c.column("num_key_value_heads"), hd = c.column("head_dim"),
               w = c.column("window_size"), step = c.column("step"), lat = c.column("latency");
  std::vector<AttentionRow> out;
  out.reserve(c.lines());
  c.each([&](const Csv::Row& r) {
    out.push_back({std::string(r.text(kv)), r.number(b), r.number(isl), r.number(h), r.number(kvh), r.number(hd),
                   r.number(w), r.number(step), r.latency(lat)});
  });
  return out;
}

std::vector<MlaRow> read_mla(const std::filesystem::path& file) {
  Csv c(file);
  const size_t kv = c.column("kv_cache_dtype"), h = c.column("num_heads"), b = c.column("batch_size"),
               isl = c.column("isl"), step = c.column("step"), lat = c.column("latency");
  std::vector<MlaRow> out;
  out.reserve(c.lines());
  c.each([&](const Csv::Row& r) {
    out.push_back({std::string(r.text(kv)), r.number(h), r.number(b), r.number(isl), r.number(step), r.latency(lat)});
  });
  return out;
}

std::vector<MoeRow> read_moe(const std::filesystem::path& file) {
  Csv c(file);
  const size_t dt = c.column("moe_dtype"), dist = c.column("distribution"), t = c.column("num_tokens"),
               h = c.column("hidden_size"), i = c.column("inter_size"), k = c.column("topk"),
               e = c.column("num_experts"), tp = c.column("moe_tp_size"), ep = c.column("moe_ep_size"),
               lat = c.column("latency");
  std::vector<MoeRow> out;
  out.reserve(c.lines());
  c.each([&](const Csv::Row& r) {
    out.push_back({std::string(r.text(dt)), std::string(r.text(dist)), r.number(t), r.number(h), r.number(i),
                   r.number(k), r.number(e), r.number(tp), r.number(ep), r.latency(lat)});
  });
  return out;
}

std::vector<CommRow> read_comm(const std::filesystem::path& file) {
  Csv c(file);
  const size_t op = c.column("op_name"), dt = c.column_of({"nccl_dtype", "allreduce_dtype"}), g = c.column("num_gpus"),
               size = c.column("message_size"), lat = c.column("latency");
  std::vector<CommRow> out;
  c.each([&](const Csv::Row& r) {
    // Only 2-byte element types are used (NCCL "half", TRT-LLM "bfloat16"); int8 rows are skipped.
    const std::string_view type = r.text(dt);
    if (type != "half" && type != "bfloat16" && type != "float16") return;
    out.push_back({std::string(r.text(op)), r.number(g), 2.0 * r.number(size), r.latency(lat)});
  });
  return out;
}

GemmGrid::GemmGrid(const std::vector<GemmRow>& rows, const std::string& dtype) {
  // The axes have tens of distinct values over tens of thousands of rows: insert each new one in order.
  auto index = [](const std::vector<double>& axis, double x) {
    return static_cast<size_t>(std::lower_bound(axis.begin(), axis.end(), x) - axis.begin());
  };
  auto add = [&](std::vector<double>& axis, double x) {
    const size_t i = index(axis, x);
    if (i == axis.size() || axis[i] != x) axis.insert(axis.begin() + static_cast<std::ptrdiff_t>(i), x);
  };
  for (const auto& r : rows)
    if (r.dtype == dtype) {
      add(ms, r.m);
      add(ns, r.n);
      add(ks, r.k);
    }
  seconds.assign(ms.size() * ns.size() * ks.size(), NAN);
  for (const auto& r : rows)
    if (r.dtype == dtype)
      seconds[(index(ms, r.m) * ns.size() + index(ns, r.n)) * ks.size() + index(ks, r.k)] = r.seconds;
}

namespace {

constexpr const char* kGemm = "gemm.csv";
constexpr const char* kContextAttention = "context_attention.csv";
constexpr const char* kGenerationAttention = "generation_attention.csv";
constexpr const char* kContextMla = "context_mla.csv";
constexpr const char* kGenerationMla = "generation_mla.csv";
constexpr const char* kMoe = "moe.csv";
constexpr const char* kNccl = "nccl.csv";
constexpr const char* kCustomAllReduce = "custom_allreduce.csv";

bool has_file(const std::filesystem::path& f) {
  std::error_code ec;
  return std::filesystem::is_regular_file(f, ec);
}

}  // namespace

Profile::Profile(std::filesystem::path dir) : dir_(std::move(dir)) {}

template <class T, class Make>
const T& Profile::once(const Lazy<T>& table, Make make) const {
  // A make() that throws leaves the table unmade: the next call tries (and throws) again.
  std::call_once(table.once, [&] { table.value = make(); });
  return table.value;
}

template <class Row>
const std::vector<Row>& Profile::rows(const Lazy<std::vector<Row>>& table, const char* file,
                                      std::vector<Row> (*read)(const std::filesystem::path&)) const {
  return once(table, [&] {
    const auto f = dir_ / file;
    return has_file(f) ? read(f) : std::vector<Row>();
  });
}

const std::vector<GemmRow>& Profile::gemm() const {
  return rows(gemm_, kGemm, read_gemm);
}
const GemmGrid& Profile::gemm_bf16() const {
  return once(gemm_bf16_, [&] { return GemmGrid(gemm(), "bfloat16"); });
}
const GemmGrid& Profile::gemm_fp8_block() const {
  return once(gemm_fp8_block_, [&] { return GemmGrid(gemm(), "fp8_block"); });
}
const std::vector<AttentionRow>& Profile::context_attention() const {
  return rows(context_attention_, kContextAttention, read_attention);
}
const std::vector<AttentionRow>& Profile::generation_attention() const {
  return rows(generation_attention_, kGenerationAttention, read_attention);
}
const std::vector<MlaRow>& Profile::context_mla() const {
  return rows(context_mla_, kContextMla, read_mla);
}
const std::vector<MlaRow>& Profile::generation_mla() const {
  return rows(generation_mla_, kGenerationMla, read_mla);
}
const std::vector<MoeRow>& Profile::moe() const {
  return rows(moe_, kMoe, read_moe);
}
const std::vector<CommRow>& Profile::nccl() const {
  return rows(nccl_, kNccl, read_comm);
}
const std::vector<CommRow>& Profile::custom_all_reduce() const {
  return rows(custom_all_reduce_, kCustomAllReduce, read_comm);
}

bool Profile::empty() const {
  for (const char* f :
       {kGemm, kContextAttention, kGenerationAttention, kContextMla, kGenerationMla, kMoe, kNccl, kCustomAllReduce})
    if (has_file(dir_ / f)) return false;
  return true;
}

std::shared_ptr<const Profile> Profile::load(const std::filesystem::path& dir) {
  // Every pool (and every PerfModel a test builds) on one accelerator shares one Profile, so a table is read at
  // most once per process.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Profile>> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  const std::string key = dir.lexically_normal().string();
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto p = std::make_shared<const Profile>(dir);
  cache.emplace(key, p);
  return p;
}

}  // namespace tf::perf
