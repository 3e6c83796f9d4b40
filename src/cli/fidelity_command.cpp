#include "cli/fidelity_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <tuple>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "perf/calibration.hpp"
#include "perf/measured.hpp"
#include "perf/perf_model.hpp"
#include "perf/profile.hpp"
#include "perf/serving_stack.hpp"

namespace fs = std::filesystem;

namespace tf::cli {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Nearest-rank percentile, p in [0, 1].
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * double(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// One line of the fidelity table.
struct Row {
  std::string dataset, accelerator, quantity, mode;
  bool fitted = false;  // this data was used to fit the model
  size_t points = 0;
  double median_abs = NAN, p90_abs = NAN, median_signed = NAN;  // percent
  double bound = NAN;                                           // --check fails above this median (percent)
  std::string note;
};

Row compare(Row r, const std::vector<double>& predicted, const std::vector<double>& measured) {
  std::vector<double> abs, sig;
  for (size_t i = 0; i < predicted.size(); ++i) {
    const double e = (predicted[i] - measured[i]) / measured[i] * 100.0;
    abs.push_back(std::abs(e));
    sig.push_back(e);
  }
  r.points = abs.size();
  r.median_abs = median(abs);
  r.p90_abs = percentile(abs, 0.9);
  r.median_signed = median(sig);
  return r;
}

// A header-indexed CSV for the validation-only datasets.
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t col(const std::string& name) const {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw ConfigError("", "", "validation dataset lacks column " + name);
    return static_cast<size_t>(it - header.begin());
  }
};
Csv read_csv(const fs::path& file) {
  Csv c;
  std::ifstream in(file);
  std::string line;
  auto split = [](const std::string& l) {
    std::vector<std::string> f;
    std::stringstream ss(l);
    for (std::string x; std::getline(ss, x, ',');)
      f.push_back(x);
    if (!l.empty() && l.back() == ',') f.emplace_back();
    return f;
  };
  if (!std::getline(in, line)) return c;
  c.header = split(line);
  while (std::getline(in, line)) {
    auto f = split(line);
    if (f.size() == c.header.size()) c.rows.push_back(std::move(f));
  }
  return c;
}

// Roofline-mode rows: a family's default curves on one accelerator's measured kernels.
Row kernel_row(const std::string& dataset, const catalog::Accelerator& acc, const std::string& quantity,
               const std::vector<perf::KernelSample>& samples, const perf::RooflineCurve& curve, double peak,
               double bandwidth, bool fitted, double bound) {
  std::vector<double> p, m;
  for (const auto& s : samples) {
    p.push_back(curve.time(s.flops, s.bytes, peak, bandwidth));
    m.push_back(s.seconds);
  }
  Row r;
  r.dataset = dataset;
  r.accelerator = acc.name;
  r.quantity = quantity;
  r.mode = "roofline";
  r.fitted = fitted;
  r.bound = bound;
  return compare(r, p, m);
}

void kernel_rows(std::vector<Row>& rows, const perf::Profile& p, const catalog::Accelerator& acc,
                 const perf::FamilyCurves& f, bool fitted, const std::string& dataset) {
  const double bw = acc.hbm_bandwidth.value();
  const double bf16 = acc.peak(catalog::Dtype::bf16).value();
  // Bounds: 10 % target on held-out data; see docs/validation.md for the rows that miss it.
  if (!p.gemm().empty()) {
    rows.push_back(kernel_row(dataset, acc, "GEMM bf16", perf::gemm_samples(p.gemm(), "bfloat16"), f.gemm_bf16, bf16,
                              bw, fitted, 10.0));
    rows.push_back(kernel_row(dataset, acc, "GEMM fp8 (block)", perf::gemm_samples(p.gemm(), "fp8_block"), f.gemm_fp8,
                              acc.peak(catalog::Dtype::fp8).value(), bw, fitted, 20.0));
  }
  if (!p.context_attention().empty() || !p.context_mla().empty())
    rows.push_back(
        kernel_row(dataset, acc, "attention + MLA", perf::attention_samples(p), f.attention, bf16, bw, fitted, 30.0));
  if (!p.moe().empty())
    rows.push_back(
        kernel_row(dataset, acc, "MoE layer", perf::moe_samples(p.moe(), acc), f.moe, bf16, bw, fitted, 30.0));
  if (!p.nccl().empty())
    rows.push_back(kernel_row(dataset, acc, "all-reduce", perf::all_reduce_samples(p), f.collective, 1.0,
                              acc.scale_up_bandwidth.value(), fitted, 20.0));
}

// Measured-mode interpolation checked on grid points left out of the table it interpolates: GEMMs
// at every other m, predicted from the rest (the only m values the lookup then sees are the kept ones).
Row gemm_holdout_row(const perf::Profile& p, const catalog::Accelerator& acc) {
  std::vector<double> ms;
  for (const auto& r : p.gemm())
    if (r.dtype == "bfloat16") ms.push_back(r.m);
  std::sort(ms.begin(), ms.end());
  ms.erase(std::unique(ms.begin(), ms.end()), ms.end());
  std::map<double, bool> held;
  for (size_t i = 0; i < ms.size(); ++i)
    held[ms[i]] = i % 2 == 1 && i + 1 < ms.size();
  std::vector<perf::GemmRow> kept, out;
  for (const auto& r : p.gemm())
    if (r.dtype == "bfloat16") (held[r.m] ? out : kept).push_back(r);
  const perf::GemmGrid grid(kept, "bfloat16");
  std::map<std::pair<double, double>, perf::MeasuredGemm> lookups;
  std::vector<double> pred, meas;
  for (const auto& r : out) {
    auto it = lookups.find({r.n, r.k});
    if (it == lookups.end()) it = lookups.emplace(std::make_pair(r.n, r.k), perf::measured_gemm(grid, r.n, r.k)).first;
    if (it->second.curve.empty()) continue;
    pred.push_back(it->second.curve.at(r.m));
    meas.push_back(r.seconds);
  }
  Row row;
  row.dataset = "aiconfigurator (every other m held out)";
  row.accelerator = acc.name;
  row.quantity = "GEMM bf16";
  row.mode = "measured";
  row.bound = 10.0;
  return compare(row, pred, meas);
}

// vidur's per-layer operator timings (GEMMs, norms, activation, RoPE, residual adds) for every model file
// of one GPU, against the perf model's same operators for a prefill of that many tokens.
void vidur_rows(std::vector<Row>& rows, const fs::path& dir, const std::string& gpu, const catalog::Accelerator& acc,
                const fs::path& profiles, bool measured, double bound) {
  if (!fs::exists(dir)) return;
  const std::vector<std::pair<std::string, double>> ops = {{"input_layernorm", 1},
                                                           {"attn_pre_proj", 1},
                                                           {"attn_rope", 1},
                                                           {"attn_post_proj", 1},
                                                           {"post_attention_layernorm", 1},
                                                           {"mlp_up_proj", 1},
                                                           {"mlp_act", 1},
                                                           {"mlp_down_proj", 1},
                                                           {"add", 2}};
  const std::vector<std::string> modelled = {
      "norm", "attention.qkv", "attention.rope_cache", "attention.out", "ffn.gate_up", "ffn.act", "ffn.down"};
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename() == "mlp.csv") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<double> pred, meas;
  for (const auto& file : files) {
    const Csv c = read_csv(file);
    if (c.rows.empty()) continue;
    catalog::LlmArchitecture m;
    const auto& first = c.rows.front();
    m.name = file.parent_path().filename().string();
    m.layers = 1;
    m.hidden = std::stoi(first[c.col("n_embd")]);
    m.heads = std::stoi(first[c.col("n_head")]);
    m.kv_heads = std::stoi(first[c.col("n_kv_head")]);
    m.head_dim = m.hidden / m.heads;
    m.intermediate = std::stoi(first[c.col("n_expanded_embd")]);
    m.vocab = std::stoi(first[c.col("vocab_size")]);
    m.gated_mlp = first[c.col("use_gated_mlp")] == "True";
    // phi-2 runs attention and MLP in parallel after one layernorm: operators a file lacks count as 0.
    std::vector<std::pair<size_t, double>> columns;
    for (const auto& [op, count] : ops) {
      const auto it = std::find(c.header.begin(), c.header.end(), "time_stats." + op + ".median");
      if (it != c.header.end()) columns.emplace_back(static_cast<size_t>(it - c.header.begin()), count);
    }
    std::map<std::pair<int, int>, std::vector<double>> repeats;
    for (const auto& r : c.rows) {
      double ms = 0.0;
      for (const auto& [col, count] : columns)
        ms += count * std::stod(r[col]);
      repeats[{std::stoi(r[c.col("num_tensor_parallel_workers")]), std::stoi(r[c.col("num_tokens")])}].push_back(ms *
                                                                                                                 1e-3);
    }
    std::map<int, perf::PerfModel> models;
    for (const auto& [key, v] : repeats) {
      const auto [tp, tokens] = key;
      if (tokens < 1 || m.kv_heads % tp != 0 || m.heads % tp != 0) continue;
      auto it = models.find(tp);
      if (it == models.end()) {
        perf::InstanceShape shape;
        shape.accelerator = &acc;
        shape.model = &m;
        shape.tp = tp;
        it = models.emplace(tp, measured ? perf::PerfModel(shape, profiles) : perf::PerfModel(shape)).first;
      }
      const perf::PerfModel& model = it->second;
      perf::Batch batch;
      batch.prefills.push_back({tokens, 0});
      double t = 0.0;
      for (const auto& part : model.breakdown(batch))
        if (std::find(modelled.begin(), modelled.end(), part.name) != modelled.end()) t += part.time.value();
      pred.push_back(t);
      meas.push_back(median(v));
    }
  }
  Row r;
  r.dataset = "vidur mlp.csv (" + std::to_string(files.size()) + " models, TP1-8, 1-4k tokens)";
  r.accelerator = acc.name;
  r.quantity = "layer GEMMs + elementwise";
  r.mode = measured ? "measured" : "roofline";
  r.bound = bound;
  r.note = gpu;
  rows.push_back(compare(r, pred, meas));
}

// Splitwise's end-to-end Llama-2-70B prefill and decode step times (medians of repeats), timed twice: by the
// kernels alone (the default `modern` stack), and with the `vllm-2023` serving stack Splitwise measured, whose
// two host figures were fitted on the A100 rows (so those are fit = yes) and never on the H100 rows.
void splitwise_rows(std::vector<Row>& rows, const fs::path& csv, const catalog::Catalog& cat,
                    const fs::path& profiles) {
  if (!fs::exists(csv)) return;
  const Csv c = read_csv(csv);
  struct Measured {
    std::vector<double> prompt_ms, token_ms, token_size;
  };
  std::map<std::tuple<std::string, int, int, int>, Measured> groups;
  for (const auto& f : c.rows) {
    if (f[c.col("model")] != "llama2-70b") continue;
    const std::string hw = f[c.col("hardware")];
    if (hw != "a100-80gb" && hw != "h100-80gb") continue;  // the power-capped -pcap runs are left out
    auto& g = groups[{hw, std::stoi(f[c.col("tensor_parallel")]), std::stoi(f[c.col("prompt_size")]),
                      std::stoi(f[c.col("batch_size")])}];
    g.prompt_ms.push_back(std::stod(f[c.col("prompt_time")]));
    g.token_ms.push_back(std::stod(f[c.col("token_time")]));
    g.token_size.push_back(std::stod(f[c.col("token_size")]));
  }
  const std::map<std::string, std::string> accelerator_of = {{"a100-80gb", "a100-sxm-80gb"}, {"h100-80gb", "h100-sxm"}};
  const auto& llama = cat.llm("llama-2-70b");
  const perf::ServingStack vllm_2023 = perf::find_serving_stack(profiles.parent_path() / "stacks", "vllm-2023");
  for (const perf::ServingStack* stack : {static_cast<const perf::ServingStack*>(nullptr), &vllm_2023}) {
    std::map<std::pair<std::string, std::string>, std::pair<std::vector<double>, std::vector<double>>> series;
    for (const auto& [key, m] : groups) {
      const auto& [hw, tp, prompt, batch] = key;
      perf::InstanceShape shape;
      shape.accelerator = &cat.accelerator(accelerator_of.at(hw));
      shape.model = &llama;
      shape.tp = tp;
      if (stack != nullptr) shape.stack = *stack;
      const perf::PerfModel model(shape, profiles);
      // Configurations whose KV cache cannot hold every sequence ran under preemption: left out.
      const double output_tokens = median(m.token_size);
      if (double(model.memory_fit().kv_capacity_tokens) < batch * (prompt + output_tokens)) continue;
      perf::Batch prefill;
      prefill.prefills.assign(static_cast<size_t>(batch), perf::PrefillChunk{prompt, 0});
      perf::Batch decode;
      decode.decode_seqs = batch;
      decode.decode_context_sum = static_cast<int64_t>(batch * (prompt + output_tokens / 2.0));
      auto& pf = series[{hw, "prefill step"}];
      pf.first.push_back(model.iteration_time(prefill).value() * 1e3);
      pf.second.push_back(median(m.prompt_ms));
      auto& dc = series[{hw, "decode step"}];
      dc.first.push_back(model.iteration_time(decode).value() * 1e3);
      dc.second.push_back(median(m.token_ms));
    }
    for (const auto& [key, s] : series) {
      Row r;
      r.dataset = stack != nullptr ? "splitwise, vllm-2023 stack" : "splitwise perf_model.csv (Llama-2-70B, TP2-8)";
      r.accelerator = accelerator_of.at(key.first);
      r.quantity = key.second;
      r.mode = key.first == "h100-80gb" ? "measured" : "roofline";
      r.fitted = stack != nullptr && key.first == "a100-80gb";
      // Documented misses (docs/validation.md): the kernels alone lack the 2023 stack's host time. With it, each
      // row is held to the 25 % the Splitwise comparison targets.
      if (stack == nullptr)
        r.bound = key.second == "decode step" ? 45.0 : 35.0;
      else
        r.bound = 25.0;
      rows.push_back(compare(r, s.first, s.second));
    }
  }
}

// ---- system-level figures (PUBLISHED.md) -----------------------------------------------------------------

struct SystemFigure {
  std::string name, configuration;
  double published = 0, simulated = 0;  // tokens/s per accelerator
  double extra = 0;                     // TPOT, ms (decode) or 0
};

perf::InstanceShape deepseek_shape(const catalog::Catalog& cat, const std::string& acc, int ep, catalog::Dtype dt) {
  perf::InstanceShape s;
  s.accelerator = &cat.accelerator(acc);
  s.model = &cat.llm("deepseek-r1");
  s.tp = 1;
  s.ep = ep;
  s.weight_dtype = dt;
  return s;
}

// Decode: every accelerator holds `batch` sequences at `context` tokens; tokens/s per accelerator is
// batch / iteration time (one token per sequence per iteration; no speculative decoding).
SystemFigure decode_figure(const std::string& name, const perf::PerfModel& model, double batch, double context,
                           double published) {
  const double n = batch * model.shape().accelerators();
  perf::Batch b;
  b.decode_seqs = static_cast<int64_t>(n);
  b.decode_context_sum = static_cast<int64_t>(n * context);
  const double t = model.iteration_time(b).value();
  return {name,
          fmt::format("{} x{} ep{}, batch {:.0f}/accelerator, {:.0f}-token context", model.shape().accelerator->name,
                      model.shape().accelerators(), model.shape().ep, batch, context),
          published, batch / t, t * 1e3};
}

// Prefill: every accelerator runs `prompts` prompts of `length` tokens per iteration.
SystemFigure prefill_figure(const std::string& name, const perf::PerfModel& model, double prompts, double length,
                            double published) {
  const double accs = model.shape().accelerators();
  perf::Batch b;
  b.prefills.assign(static_cast<size_t>(prompts * accs), perf::PrefillChunk{static_cast<int64_t>(length), 0});
  const double t = model.iteration_time(b).value();
  return {name,
          fmt::format("{} x{} ep{}, {:.0f} x {:.0f}-token prompts/accelerator", model.shape().accelerator->name,
                      model.shape().accelerators(), model.shape().ep, prompts, length),
          published, prompts * length / t, 0.0};
}

}  // namespace

int run_fidelity(const FidelityOptions& o) {
  const fs::path root(o.root);
  const fs::path profiles = root / "models/profiles";
  const fs::path shared(o.shared_data);
  const catalog::Catalog cat(root);
  const auto& h100 = cat.accelerator("h100-sxm");
  const auto& h200 = cat.accelerator("h200");
  const auto& b200 = cat.accelerator("b200");
  const auto& gb200 = cat.accelerator("gb200");
  const auto p_h100 = perf::Profile::load(profiles / "h100-sxm");
  const auto p_h200 = perf::Profile::load(profiles / "h200");
  const auto p_b200 = perf::Profile::load(profiles / "b200");
  const auto p_gb200 = perf::Profile::load(profiles / "gb200");

  if (o.print_fit) {
    const auto hopper = perf::fit_family(*p_h100, h100);
    const auto blackwell = perf::fit_family(*p_b200, b200);
    fmt::print("// Hopper, fitted on {}\n", hopper.source);
    fmt::print("gemm_bf16  {}\ngemm_fp8   {}\nattention  {}\nmoe        {}\ncollective {}\n", to_code(hopper.gemm_bf16),
               to_code(hopper.gemm_fp8), to_code(hopper.attention), to_code(hopper.moe), to_code(hopper.collective));
    fmt::print("// Blackwell, fitted on {}\n", blackwell.source);
    fmt::print("moe        {}\ncollective {}\n", to_code(blackwell.moe), to_code(blackwell.collective));
    return 0;
  }

  const auto& hopper = perf::family_curves(perf::Family::hopper);
  const auto& blackwell = perf::family_curves(perf::Family::blackwell);
  std::vector<Row> rows;
  const std::string aic = "aiconfigurator (models/profiles)";
  kernel_rows(rows, *p_h100, h100, hopper, true, aic);
  kernel_rows(rows, *p_h200, h200, hopper, false, aic);
  kernel_rows(rows, *p_b200, b200, blackwell, true, aic);
  kernel_rows(rows, *p_gb200, gb200, blackwell, false, aic);
  rows.push_back(gemm_holdout_row(*p_h100, h100));

  std::vector<std::string> absent;
  const fs::path vidur = shared / "profiling/vidur/compute";
  if (fs::exists(vidur)) {
    // Documented misses (docs/validation.md): vidur's PyTorch kernels are slower than TRT-LLM's.
    vidur_rows(rows, vidur / "h100", "h100", h100, profiles, true, 15.0);
    vidur_rows(rows, vidur / "h100", "h100", h100, profiles, false, 20.0);
    vidur_rows(rows, vidur / "a100", "a100", cat.accelerator("a100-sxm-80gb"), profiles, false, 15.0);
  } else {
    absent.push_back(vidur.string());
  }
  const fs::path splitwise = shared / "profiling/splitwise_sim/perf_model.csv";
  if (fs::exists(splitwise))
    splitwise_rows(rows, splitwise, cat, profiles);
  else
    absent.push_back(splitwise.string());

  fmt::print("Perf model fidelity: median and p90 absolute percentage error per dataset\n");
  fmt::print(
      "(fit = yes: the data the roofline curves, or a serving stack's host figures, were fitted on; no: held "
      "apart)\n\n");
  fmt::print("{:<44} {:<14} {:<26} {:>7} {:>8} {:>8} {:>8} {:<10} {:<4} {:>6}\n", "dataset", "accelerator", "quantity",
             "points", "med|e|%", "p90|e|%", "med e%", "mode", "fit", "bound");
  bool ok = true;
  for (const auto& r : rows) {
    const bool pass = !(r.median_abs > r.bound);
    ok = ok && pass;
    fmt::print("{:<44} {:<14} {:<26} {:>7} {:>8.1f} {:>8.1f} {:>+8.1f} {:<10} {:<4} {:>6.0f}{}\n", r.dataset,
               r.accelerator, r.quantity, r.points, r.median_abs, r.p90_abs, r.median_signed, r.mode,
               r.fitted ? "yes" : "no", r.bound, pass ? "" : "  EXCEEDS BOUND");
  }
  for (const auto& a : absent)
    fmt::print("(validation data not found, rows skipped: {})\n", a);

  // System-level figures: DeepSeek-R1 throughput per accelerator under the published configuration,
  // from the perf model alone (scenarios/validation/ reproduces them end to end).
  std::vector<SystemFigure> figures;
  {
    const perf::PerfModel cm_decode(deepseek_shape(cat, "ascend-910c", 160, catalog::Dtype::int8), profiles);
    figures.push_back(decode_figure("CloudMatrix384 decode", cm_decode, 96, 4096, 1943));
    const perf::PerfModel cm_prefill(deepseek_shape(cat, "ascend-910c", 16, catalog::Dtype::int8), profiles);
    auto p = prefill_figure("CloudMatrix384 prefill (perfect EPLB)", cm_prefill, 4, 4096, 6688);
    figures.push_back(p);
    p.name = "CloudMatrix384 prefill (default EPLB)";
    p.published = 5655;
    figures.push_back(p);
    const perf::PerfModel sg_prefill(deepseek_shape(cat, "h100-sxm", 32, catalog::Dtype::fp8), profiles);
    figures.push_back(prefill_figure("SGLang H100 prefill", sg_prefill, 4, 4096, 7417));
    const perf::PerfModel sg_decode(deepseek_shape(cat, "h100-sxm", 72, catalog::Dtype::fp8), profiles);
    figures.push_back(decode_figure("SGLang H100 decode", sg_decode, 96, 4096, 2172));
  }
  fmt::print("\nSystem-level figures (PUBLISHED.md §2), tokens/s per accelerator, bound +-15 %\n");
  fmt::print("{:<40} {:<58} {:>10} {:>10} {:>8} {:>9}\n", "figure", "configuration", "published", "simulated", "error%",
             "TPOT ms");
  for (const auto& f : figures) {
    const double e = (f.simulated - f.published) / f.published * 100.0;
    fmt::print("{:<40} {:<58} {:>10.0f} {:>10.0f} {:>+8.1f} {:>9}\n", f.name, f.configuration, f.published, f.simulated,
               e, f.extra > 0 ? fmt::format("{:.1f}", f.extra) : "");
  }
  if (o.check && !ok) {
    fmt::print("\nfidelity: a row exceeds its bound\n");
    return 1;
  }
  return 0;
}

}  // namespace tf::cli
