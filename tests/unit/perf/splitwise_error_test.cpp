// The perf model against measured iteration times: Splitwise's DGX-A100 / DGX-H100 runs of Llama-2-70B
// (profiling/splitwise_sim/perf_model.csv, SOURCES.md §2), served by a 2023 vLLM-like stack.
//
// The kernels are timed as for any scenario (roofline on A100, measured tables on H100). On top, the
// "vllm-2023" serving stack (models/stacks/vllm-2023.json, perf/serving_stack.hpp) charges the host time of
// eager execution: a cost per layer for launching its kernels, and a wait per collective call per extra
// rank. Its two figures are fitted here, on the A100 rows only (weighted least squares on the relative
// error, closed form); the H100 rows are held out and validate them. The swap (fit on H100, predict A100)
// is printed as a robustness check. Nothing else in the perf model is fitted on this file.
//
// `TF_PERF_VERBOSE=1 build/tests/unit/perf/tf_perf_test "[splitwise]"` also prints every point.

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "catalog/catalog.hpp"
#include "perf/perf_model.hpp"
#include "perf/serving_stack.hpp"

namespace {

using tf::Seconds;
using tf::perf::Batch;
using tf::perf::InstanceShape;
using tf::perf::PerfModel;
using tf::perf::PrefillChunk;
using tf::perf::ServingStack;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Nearest-rank percentile, p in [0, 1].
double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * double(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

struct Measured {
  std::vector<double> prompt_ms;  // prefill of the whole batch
  std::vector<double> token_ms;   // one decode iteration
  std::vector<double> token_size;
};

// (hardware, tp, prompt_size, batch_size) -> repeats
using Groups = std::map<std::tuple<std::string, int, int, int>, Measured>;

Groups read_llama2_70b(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');)
      header.push_back(f);
  }
  auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return static_cast<size_t>(it - header.begin());
  };
  const size_t c_model = column("model"), c_hw = column("hardware"), c_prompt = column("prompt_size"),
               c_batch = column("batch_size"), c_tokens = column("token_size"), c_pt = column("prompt_time"),
               c_tt = column("token_time"), c_tp = column("tensor_parallel");
  Groups groups;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');)
      f.push_back(x);
    if (f.size() != header.size() || f[c_model] != "llama2-70b") continue;
    if (f[c_hw] != "a100-80gb" && f[c_hw] != "h100-80gb") continue;  // skip the power-capped -pcap runs
    auto& g = groups[{f[c_hw], std::stoi(f[c_tp]), std::stoi(f[c_prompt]), std::stoi(f[c_batch])}];
    g.prompt_ms.push_back(std::stod(f[c_pt]));
    g.token_ms.push_back(std::stod(f[c_tt]));
    g.token_size.push_back(std::stod(f[c_tokens]));
  }
  return groups;
}

// One measured step (median of repeats) and what the model makes of it. The stack's time is linear in its
// two per-unit figures: modern_ms + layer_launch * launches + sync_per_rank * waits (both counts read from
// breakdown() under a stack of unit figures, so they are whatever the model charges, not a copy of its rule).
struct Point {
  std::string hardware;  // "a100-80gb", "h100-80gb"
  int tp = 0;
  int prompt = 0, batch = 0;
  std::string quantity;  // "prefill", "decode"
  double measured_ms = 0.0;
  double modern_ms = 0.0;  // kernels + the modern stack's per-iteration host time
  double launches = 0.0;   // layers whose launch the stack charges
  double waits = 0.0;      // sum over collective calls of (ranks - 1)
  double stack_ms = 0.0;   // with models/stacks/vllm-2023.json, through the model itself
  double predicted_ms(double layer_launch_ms, double sync_ms) const {
    return modern_ms + layer_launch_ms * launches + sync_ms * waits;
  }
};

double pct(double predicted, double measured) {
  return (predicted - measured) / measured * 100.0;
}

// A stack with unit per-layer and per-rank figures and the modern per-iteration one: its breakdown's
// "host.launch" and "host.sync" parts, in seconds, are the counts.
ServingStack unit_stack(const ServingStack& modern) {
  ServingStack s = modern;
  s.name = "unit";
  s.layer_launch = Seconds(1.0);
  s.collective_sync_per_rank = Seconds(1.0);
  return s;
}

double part(const std::vector<tf::perf::OperatorTime>& parts, const std::string& name) {
  for (const auto& p : parts)
    if (p.name == name) return p.time.value();
  return 0.0;
}

struct Data {
  std::vector<Point> points;
  int skipped = 0;
  ServingStack catalog_stack;  // models/stacks/vllm-2023.json
};

// Every configuration of the file, computed once. Empty when the shared data is absent.
const Data& data() {
  static const Data result = [] {
    Data out;
    const std::filesystem::path csv = std::filesystem::path(TF_SHARED_DATA) / "profiling/splitwise_sim/perf_model.csv";
    if (!std::filesystem::exists(csv)) return out;
    const std::filesystem::path root(TF_SOURCE_ROOT);
    const tf::catalog::Catalog catalog(root);
    const ServingStack modern = tf::perf::find_serving_stack(root / "models/stacks", "modern");
    out.catalog_stack = tf::perf::find_serving_stack(root / "models/stacks", "vllm-2023");
    const std::map<std::string, std::string> accelerator_of = {{"a100-80gb", "a100-sxm-80gb"},
                                                               {"h100-80gb", "h100-sxm"}};
    const auto& llama = catalog.llm("llama-2-70b");

    for (const auto& [key, m] : read_llama2_70b(csv)) {
      const auto& [hardware, tp, prompt, batch] = key;
      InstanceShape shape;
      shape.accelerator = &catalog.accelerator(accelerator_of.at(hardware));
      shape.model = &llama;
      shape.tp = tp;
      // As a scenario would: measured kernel tables where models/profiles has them (H100), roofline elsewhere.
      const auto profiles = root / "models/profiles";
      shape.stack = modern;
      const PerfModel model(shape, profiles);
      shape.stack = unit_stack(modern);
      const PerfModel unit(shape, profiles);
      shape.stack = out.catalog_stack;
      const PerfModel stacked(shape, profiles);

      // Skip configurations whose KV cache (prompt plus all output tokens of every sequence) does not fit:
      // the measurement then ran under preemption or failed (the batch-64 TP2 rows are faster than batch 32).
      const double output_tokens = median(m.token_size);
      if (double(model.memory_fit().kv_capacity_tokens) < batch * (prompt + output_tokens)) {
        ++out.skipped;
        continue;
      }
      // Prefill: the whole batch of prompts in one iteration. Decode: one step at the mean context.
      Batch prefill;
      prefill.prefills.assign(static_cast<size_t>(batch), PrefillChunk{prompt, 0});
      Batch decode;
      decode.decode_seqs = batch;
      decode.decode_context_sum = static_cast<int64_t>(batch * (prompt + output_tokens / 2.0));
      for (const auto& [quantity, b, measured] :
           {std::tuple{"prefill", prefill, median(m.prompt_ms)}, std::tuple{"decode", decode, median(m.token_ms)}}) {
        const auto parts = unit.breakdown(b);
        out.points.push_back({hardware, tp, prompt, batch, quantity, measured, model.iteration_time(b).value() * 1e3,
                              part(parts, "host.launch"), part(parts, "host.sync"),
                              stacked.iteration_time(b).value() * 1e3});
      }
    }
    return out;
  }();
  return result;
}

// The stack's two figures (ms) minimising sum(((predicted - measured) / measured)^2) over `fit`: linear
// least squares in closed form. Relative errors weigh each step alike, so the long prefills, where a few
// ms of host time cannot matter, barely move the fit.
std::pair<double, double> fit_stack(const std::vector<const Point*>& fit) {
  double aa = 0, ab = 0, bb = 0, ay = 0, by = 0;
  for (const auto* p : fit) {
    const double a = p->launches / p->measured_ms, b = p->waits / p->measured_ms;
    const double y = (p->measured_ms - p->modern_ms) / p->measured_ms;
    aa += a * a, ab += a * b, bb += b * b, ay += a * y, by += b * y;
  }
  const double det = aa * bb - ab * ab;
  REQUIRE(det > 0.0);  // needs rows at two TP degrees at least
  return {(ay * bb - by * ab) / det, (aa * by - ab * ay) / det};
}

std::vector<const Point*> select(const std::function<bool(const Point&)>& keep) {
  std::vector<const Point*> out;
  for (const auto& p : data().points)
    if (keep(p)) out.push_back(&p);
  return out;
}

struct Errors {
  std::vector<double> modern_abs, stack_abs, stack_signed;
};

Errors errors(const std::vector<const Point*>& ps, const std::function<double(const Point&)>& predict) {
  Errors e;
  for (const auto* p : ps) {
    e.modern_abs.push_back(std::abs(pct(p->modern_ms, p->measured_ms)));
    e.stack_abs.push_back(std::abs(pct(predict(*p), p->measured_ms)));
    e.stack_signed.push_back(pct(predict(*p), p->measured_ms));
  }
  return e;
}

// Median |error| of the stack's predictions over the held-out rows after fitting on the others, and the
// table of both sets (printed once per process).
struct Split {
  double layer_launch_ms = 0, sync_ms = 0;  // fitted
  double fit_median = 0, held_out_median = 0, held_out_modern_median = 0;
  std::map<std::string, double> held_out_by_quantity;
};

Split evaluate(const std::string& fit_on, const std::string& hold_out, bool print) {
  Split s;
  const auto fit = select([&](const Point& p) { return p.hardware == fit_on; });
  std::tie(s.layer_launch_ms, s.sync_ms) = fit_stack(fit);
  auto predict = [&](const Point& p) { return p.predicted_ms(s.layer_launch_ms, s.sync_ms); };
  std::string table =
      fmt::format("{:<22} {:<9} {:<8} {:>3} {:>6} {:>13} {:>14} {:>11} {:>10}\n", "set", "hardware", "quantity", "tp",
                  "points", "modern med|e|", "stack med|e|%", "stack p90%", "stack med%");
  for (const auto& [role, hw] : {std::pair{"calibration", fit_on}, std::pair{"held out", hold_out}}) {
    auto row = [&](const std::string& quantity, const std::string& tp, const std::vector<const Point*>& ps) {
      const Errors e = errors(ps, predict);
      table += fmt::format("{:<22} {:<9} {:<8} {:>3} {:>6} {:>13.1f} {:>14.1f} {:>11.1f} {:>+10.1f}\n", role, hw,
                           quantity, tp, ps.size(), median(e.modern_abs), median(e.stack_abs),
                           percentile(e.stack_abs, 0.9), median(e.stack_signed));
      return e;
    };
    for (const std::string quantity : {"decode", "prefill"}) {
      for (int tp : {2, 4, 8})
        row(quantity, std::to_string(tp),
            select([&](const Point& p) { return p.hardware == hw && p.quantity == quantity && p.tp == tp; }));
      const Errors e =
          row(quantity, "all", select([&](const Point& p) { return p.hardware == hw && p.quantity == quantity; }));
      if (hw == hold_out) s.held_out_by_quantity[quantity] = median(e.stack_abs);
    }
    const Errors e = row("both", "all", select([&](const Point& p) { return p.hardware == hw; }));
    (hw == fit_on ? s.fit_median : s.held_out_median) = median(e.stack_abs);
    if (hw == hold_out) s.held_out_modern_median = median(e.modern_abs);
  }
  if (print) {
    fmt::print(
        "\nSplitwise Llama-2-70B step times (medians of repeats), perf model + serving stack vs measured\n"
        "stack fitted on {} rows: layer_launch {:.1f} us per layer, collective_sync_per_rank {:.2f} us per "
        "collective call per extra rank\n"
        "(modern: kernels + 2.5 ms per iteration, the default stack; stack: the same with the fitted host terms)\n{}",
        fit_on, s.layer_launch_ms * 1e3, s.sync_ms * 1e3, table);
    if (std::getenv("TF_PERF_VERBOSE") != nullptr)
      for (const auto& p : data().points)
        fmt::print(
            "{:<10} tp{} prompt {:>5} batch {:>3} {:<8} measured {:>8.1f} ms  modern {:>8.1f} ({:+6.1f}%)  stack "
            "{:>8.1f} ({:+6.1f}%)\n",
            p.hardware, p.tp, p.prompt, p.batch, p.quantity, p.measured_ms, p.modern_ms,
            pct(p.modern_ms, p.measured_ms), predict(p), pct(predict(p), p.measured_ms));
  }
  return s;
}

// Calibrated on A100, validated on H100 (the split that counts), and the swap; printed once.
const std::pair<Split, Split>& splits() {
  static const std::pair<Split, Split> result = [] {
    Split main = evaluate("a100-80gb", "h100-80gb", true);
    Split swap = evaluate("h100-80gb", "a100-80gb", false);
    fmt::print(
        "swap (robustness): fitted on h100-80gb rows: layer_launch {:.1f} us, collective_sync_per_rank {:.2f} us; "
        "calibration median |e| {:.1f} %, held-out a100-80gb median |e| {:.1f} % (decode {:.1f}, prefill {:.1f})\n"
        "({} configurations skipped: KV cache does not fit)\n",
        swap.layer_launch_ms * 1e3, swap.sync_ms * 1e3, swap.fit_median, swap.held_out_median,
        swap.held_out_by_quantity.at("decode"), swap.held_out_by_quantity.at("prefill"), data().skipped);
    return std::pair{main, swap};
  }();
  return result;
}

bool have_data() {
  if (!data().points.empty()) return true;
  WARN("shared data not found, skipping: profiling/splitwise_sim/perf_model.csv");
  return false;
}

}  // namespace

// models/stacks/vllm-2023.json holds the A100 fit, rounded; this refits it and fails if the file drifts
// from the fit (or the fit from the file, when the kernel model changes).
TEST_CASE("the vllm-2023 stack's host figures are the fit on Splitwise's A100 rows", "[perf][validation][splitwise]") {
  if (!have_data()) return;
  const Split& main = splits().first;
  const ServingStack& file = data().catalog_stack;
  CHECK(file.iteration_overhead.value() * 1e3 == Approx(2.5));  // vidur's, not fitted
  CHECK(file.layer_launch.value() * 1e3 == Approx(main.layer_launch_ms).epsilon(0.01));
  CHECK(file.collective_sync_per_rank.value() * 1e3 == Approx(main.sync_ms).epsilon(0.01));
  // The catalog file through the model gives what the linear form of the fit does.
  for (const auto& p : data().points)
    CHECK(p.stack_ms ==
          Approx(p.predicted_ms(file.layer_launch.value() * 1e3, file.collective_sync_per_rank.value() * 1e3))
              .epsilon(1e-9));
}

// The target: median |error| <= 25 % on the held-out H100 rows, from host terms fitted on A100
// alone. The calibration and swap figures are guards at what was measured (docs/validation.md), so that
// they cannot grow unnoticed.
TEST_CASE("with the vllm-2023 stack fitted on A100, Splitwise's held-out H100 steps are within 25 %",
          "[perf][validation][splitwise]") {
  if (!have_data()) return;
  const auto& [main, swap] = splits();
  CHECK(main.held_out_median <= 25.0);
  CHECK(main.held_out_median < main.held_out_modern_median);
  CHECK(main.fit_median <= 10.0);
  CHECK(swap.held_out_median <= 20.0);
}

// Kernels alone (the modern stack) predict low everywhere, most for decode at TP4/TP8, where the 2023
// stack's host time dominates. These bounds are the documented misses without it, kept so that the kernel
// model's error against this file cannot grow unnoticed either.
TEST_CASE("kernels with the modern stack stay within the documented bounds on Splitwise's steps",
          "[perf][validation][splitwise]") {
  if (!have_data()) return;
  for (const std::string quantity : {"decode", "prefill"}) {
    const Errors e = errors(select([&](const Point& p) { return p.quantity == quantity; }),
                            [](const Point& p) { return p.modern_ms; });
    CHECK(median(e.modern_abs) <= (quantity == "decode" ? 45.0 : 35.0));
  }
}
