#pragma once
// Measured kernel latencies of one accelerator (aiconfigurator's collections, SOURCES.md §2), read from
// CSV files under models/profiles/<accelerator>/. The perf model interpolates them where they cover an
// operator ("measured" mode) and falls back to the fitted roofline elsewhere.
//
// Every file keeps aiconfigurator's column names; rows are filtered subsets of the originals (see
// models/profiles/README.md). Latencies are read in milliseconds and stored in seconds.

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tf::perf {

struct GemmRow {
  std::string dtype;  // "bfloat16", "fp8_block"
  double m = 0, n = 0, k = 0;
  double seconds = 0;
};

// Context (prefill, `step` 0) and generation (decode, context `step`) attention, GQA/MHA.
struct AttentionRow {
  std::string kv_dtype;  // "bfloat16", "fp8"
  double batch = 0, isl = 0, heads = 0, kv_heads = 0, head_dim = 0, window = 0, step = 0;
  double seconds = 0;
};

// Multi-head latent attention; `heads` are the query heads on one GPU.
struct MlaRow {
  std::string kv_dtype;
  double heads = 0, batch = 0, isl = 0, step = 0;
  double seconds = 0;
};

// One fused MoE layer on one GPU: `tokens` enter the layer, each GPU holds experts / ep experts with
// intermediate inter / tp, and computes the token-expert pairs routed to it.
struct MoeRow {
  std::string dtype, distribution;
  double tokens = 0, hidden = 0, inter = 0, topk = 0, experts = 0, tp = 0, ep = 0;
  double seconds = 0;
};

// A collective over `gpus` GPUs of one node; `elements` of a 2-byte type (NCCL "half", TRT-LLM bf16).
struct CommRow {
  std::string op;  // "all_reduce", "alltoall", "all_gather", "reduce_scatter"
  double gpus = 0, bytes = 0;
  double seconds = 0;
};

// The GEMMs of one dtype as a dense (m, n, k) grid for fast lookup; NaN where a shape was not measured.
struct GemmGrid {
  std::vector<double> ms, ns, ks;  // sorted axis values
  std::vector<double> seconds;     // index (im * ns.size() + in) * ks.size() + ik
  GemmGrid() = default;
  GemmGrid(const std::vector<GemmRow>& rows, const std::string& dtype);
  bool empty() const { return ms.empty(); }
  double at(size_t im, size_t in, size_t ik) const { return seconds[(im * ns.size() + in) * ks.size() + ik]; }
};

// All tables of one accelerator. Each table is read from its file the first time it is asked for: a dense
// model never reads moe.csv or the MLA tables, and at start-up the tables were the largest fixed cost of a run
// (docs/performance.md). A table whose file is absent is empty. Safe to read from several threads.
class Profile {
 public:
  explicit Profile(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  const std::vector<GemmRow>& gemm() const;
  const GemmGrid& gemm_bf16() const;       // gemm() as a grid, bfloat16 rows
  const GemmGrid& gemm_fp8_block() const;  // fp8_block rows
  const std::vector<AttentionRow>& context_attention() const;
  const std::vector<AttentionRow>& generation_attention() const;
  const std::vector<MlaRow>& context_mla() const;
  const std::vector<MlaRow>& generation_mla() const;
  const std::vector<MoeRow>& moe() const;
  const std::vector<CommRow>& nccl() const;
  const std::vector<CommRow>& custom_all_reduce() const;

  // No table file in dir (a missing directory, or one without any of the files below).
  bool empty() const;

  // The tables found in `dir` (any subset of gemm.csv, context_attention.csv, generation_attention.csv,
  // context_mla.csv, generation_mla.csv, moe.csv, nccl.csv, custom_allreduce.csv). Reading a table throws
  // tf::ConfigError naming the file, line and column for a missing column, a non-numeric field, or a latency
  // that is not a positive number. One Profile per directory per process, shared.
  static std::shared_ptr<const Profile> load(const std::filesystem::path& dir);

 private:
  template <class T>
  struct Lazy {
    mutable std::once_flag once;
    mutable T value;
  };
  // The table, made by make() on the first call.
  template <class T, class Make>
  const T& once(const Lazy<T>& table, Make make) const;
  // The rows of `file` in dir_, read by read() on the first call; none when the file is absent.
  template <class Row>
  const std::vector<Row>& rows(const Lazy<std::vector<Row>>& table, const char* file,
                               std::vector<Row> (*read)(const std::filesystem::path&)) const;

  std::filesystem::path dir_;
  Lazy<std::vector<GemmRow>> gemm_;
  Lazy<GemmGrid> gemm_bf16_, gemm_fp8_block_;
  Lazy<std::vector<AttentionRow>> context_attention_, generation_attention_;
  Lazy<std::vector<MlaRow>> context_mla_, generation_mla_;
  Lazy<std::vector<MoeRow>> moe_;
  Lazy<std::vector<CommRow>> nccl_, custom_all_reduce_;
};

// Readers for one file each; also used by the fidelity command on ../shared data.
std::vector<GemmRow> read_gemm(const std::filesystem::path& file);
std::vector<AttentionRow> read_attention(const std::filesystem::path& file);
std::vector<MlaRow> read_mla(const std::filesystem::path& file);
std::vector<MoeRow> read_moe(const std::filesystem::path& file);
// NCCL (nccl_perf.csv: nccl_dtype, message_size) or TRT-LLM custom all-reduce (allreduce_dtype).
std::vector<CommRow> read_comm(const std::filesystem::path& file);

}  // namespace tf::perf
