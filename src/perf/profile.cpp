#include "perf/profile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <string_view>

#include "core/error.hpp"

namespace tf::perf {

namespace {

// A CSV file with a header, split into fields; reports problems with the file's path and line. The file is read
// into one buffer and fields are views into it: start-up parses ~6 MB of tables per accelerator, and a string
// per field made that the largest fixed cost of a run (docs/performance.md).
class Csv {
 public:
  explicit Csv(const std::filesystem::path& file) : file_(file.string()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ConfigError(file_, "", "cannot open measured table");
    in.seekg(0, std::ios::end);
    buffer_.resize(static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0)));
    in.seekg(0, std::ios::beg);
    in.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    std::string_view rest(buffer_);
    int64_t number = 0;
    bool header = true;
    std::vector<std::string_view> fields;
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      ++number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() && !header) continue;
      fields.clear();
      split(line, fields);
      if (header) {
        for (auto f : fields)
          header_.emplace_back(f);
        header = false;
        continue;
      }
      if (fields.size() != header_.size())
        throw ConfigError(file_, fmt::format("line {}", number),
                          fmt::format("expected {} comma-separated fields, got {}", header_.size(), fields.size()));
      fields_.insert(fields_.end(), fields.begin(), fields.end());
      lines_.push_back(number);
    }
    if (header) throw ConfigError(file_, "line 1", "empty file: expected a CSV header");
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
  bool has(const std::string& name) const {
    for (const auto& h : header_)
      if (h == name) return true;
    return false;
  }

  size_t rows() const { return lines_.size(); }
  std::string text(size_t row, size_t col) const { return std::string(field(row, col)); }

  // A finite, non-negative number.
  double number(size_t row, size_t col) const {
    std::string_view s = field(row, col);
    double v = 0.0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
      throw ConfigError(file_, where(row, col), fmt::format("expected a number, got '{}'", s));
    if (v < 0.0) throw ConfigError(file_, where(row, col), fmt::format("must not be negative, got {}", s));
    return v;
  }
  // A latency in milliseconds, returned in seconds; must be > 0.
  double latency(size_t row, size_t col) const {
    const double ms = number(row, col);
    if (!(ms > 0.0))
      throw ConfigError(file_, where(row, col), fmt::format("latency must be positive, got {}", field(row, col)));
    return ms * 1e-3;
  }

 private:
  std::string_view field(size_t row, size_t col) const { return fields_[row * header_.size() + col]; }
  static void split(std::string_view line, std::vector<std::string_view>& out) {
    for (;;) {
      const size_t comma = line.find(',');
      out.push_back(line.substr(0, comma));
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
    }
  }
  std::string where(size_t row, size_t col) const {
    return fmt::format("line {}, column '{}'", lines_[row], header_[col]);
  }

  std::string file_;
  std::string buffer_;
  std::vector<std::string> header_;
  std::vector<std::string_view> fields_;  // rows x columns, views into buffer_
  std::vector<int64_t> lines_;
};

}  // namespace

std::vector<GemmRow> read_gemm(const std::filesystem::path& file) {
  const Csv c(file);
  const size_t dt = c.column("gemm_dtype"), m = c.column("m"), n = c.column("n"), k = c.column("k"),
               lat = c.column("latency");
  std::vector<GemmRow> out;
  for (size_t r = 0; r < c.rows(); ++r)
    out.push_back({c.text(r, dt), c.number(r, m), c.number(r, n), c.number(r, k), c.latency(r, lat)});
  return out;
}

std::vector<AttentionRow> read_attention(const std::filesystem::path& file) {
  const Csv c(file);
  const size_t kv = c.column("kv_cache_dtype"), b = c.column("batch_size"), isl = c.column("isl"),
               h = c.column("num_heads"), kvh = c.column("num_key_value_heads"), hd = c.column("head_dim"),
               w = c.column("window_size"), step = c.column("step"), lat = c.column("latency");
  std::vector<AttentionRow> out;
  for (size_t r = 0; r < c.rows(); ++r)
    out.push_back({c.text(r, kv), c.number(r, b), c.number(r, isl), c.number(r, h), c.number(r, kvh), c.number(r, hd),
                   c.number(r, w), c.number(r, step), c.latency(r, lat)});
  return out;
}

std::vector<MlaRow> read_mla(const std::filesystem::path& file) {
  const Csv c(file);
  const size_t kv = c.column("kv_cache_dtype"), h = c.column("num_heads"), b = c.column("batch_size"),
               isl = c.column("isl"), step = c.column("step"), lat = c.column("latency");
  std::vector<MlaRow> out;
  for (size_t r = 0; r < c.rows(); ++r)
    out.push_back(
        {c.text(r, kv), c.number(r, h), c.number(r, b), c.number(r, isl), c.number(r, step), c.latency(r, lat)});
  return out;
}

std::vector<MoeRow> read_moe(const std::filesystem::path& file) {
  const Csv c(file);
  const size_t dt = c.column("moe_dtype"), dist = c.column("distribution"), t = c.column("num_tokens"),
               h = c.column("hidden_size"), i = c.column("inter_size"), k = c.column("topk"),
               e = c.column("num_experts"), tp = c.column("moe_tp_size"), ep = c.column("moe_ep_size"),
               lat = c.column("latency");
  std::vector<MoeRow> out;
  for (size_t r = 0; r < c.rows(); ++r)
    out.push_back({c.text(r, dt), c.text(r, dist), c.number(r, t), c.number(r, h), c.number(r, i), c.number(r, k),
                   c.number(r, e), c.number(r, tp), c.number(r, ep), c.latency(r, lat)});
  return out;
}

std::vector<CommRow> read_comm(const std::filesystem::path& file) {
  const Csv c(file);
  const size_t op = c.column("op_name"), dt = c.column_of({"nccl_dtype", "allreduce_dtype"}), g = c.column("num_gpus"),
               size = c.column("message_size"), lat = c.column("latency");
  std::vector<CommRow> out;
  for (size_t r = 0; r < c.rows(); ++r) {
    // Only 2-byte element types are used (NCCL "half", TRT-LLM "bfloat16"); int8 rows are skipped.
    const std::string type = c.text(r, dt);
    if (type != "half" && type != "bfloat16" && type != "float16") continue;
    out.push_back({c.text(r, op), c.number(r, g), 2.0 * c.number(r, size), c.latency(r, lat)});
  }
  return out;
}

GemmGrid::GemmGrid(const std::vector<GemmRow>& rows, const std::string& dtype) {
  for (const auto& r : rows)
    if (r.dtype == dtype) {
      ms.push_back(r.m);
      ns.push_back(r.n);
      ks.push_back(r.k);
    }
  for (auto* v : {&ms, &ns, &ks}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  seconds.assign(ms.size() * ns.size() * ks.size(), NAN);
  auto index = [](const std::vector<double>& axis, double x) {
    return static_cast<size_t>(std::lower_bound(axis.begin(), axis.end(), x) - axis.begin());
  };
  for (const auto& r : rows)
    if (r.dtype == dtype)
      seconds[(index(ms, r.m) * ns.size() + index(ns, r.n)) * ks.size() + index(ks, r.k)] = r.seconds;
}

bool Profile::empty() const {
  return gemm.empty() && context_attention.empty() && generation_attention.empty() && context_mla.empty() &&
         generation_mla.empty() && moe.empty() && nccl.empty() && custom_all_reduce.empty();
}

std::shared_ptr<const Profile> Profile::load(const std::filesystem::path& dir) {
  // Immutable file contents, cached so that every pool (and every PerfModel a test builds) on one
  // accelerator shares one parse.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Profile>> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  const std::string key = dir.lexically_normal().string();
  if (auto it = cache.find(key); it != cache.end()) return it->second;

  auto p = std::make_shared<Profile>();
  p->dir = dir;
  auto file = [&](const char* name) -> std::filesystem::path {
    std::error_code ec;
    const auto f = dir / name;
    return std::filesystem::is_regular_file(f, ec) ? f : std::filesystem::path();
  };
  if (auto f = file("gemm.csv"); !f.empty()) {
    p->gemm = read_gemm(f);
    p->gemm_bf16 = GemmGrid(p->gemm, "bfloat16");
    p->gemm_fp8_block = GemmGrid(p->gemm, "fp8_block");
  }
  if (auto f = file("context_attention.csv"); !f.empty()) p->context_attention = read_attention(f);
  if (auto f = file("generation_attention.csv"); !f.empty()) p->generation_attention = read_attention(f);
  if (auto f = file("context_mla.csv"); !f.empty()) p->context_mla = read_mla(f);
  if (auto f = file("generation_mla.csv"); !f.empty()) p->generation_mla = read_mla(f);
  if (auto f = file("moe.csv"); !f.empty()) p->moe = read_moe(f);
  if (auto f = file("nccl.csv"); !f.empty()) p->nccl = read_comm(f);
  if (auto f = file("custom_allreduce.csv"); !f.empty()) p->custom_all_reduce = read_comm(f);
  cache.emplace(key, p);
  return p;
}

}  // namespace tf::perf
