// The perf model against measured iteration times: Splitwise's DGX-A100 / DGX-H100 runs of Llama-2-70B
// (profiling/splitwise_sim/perf_model.csv, SOURCES.md §2). This file is validation data only: nothing in
// the perf model is tuned to it.

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "catalog/catalog.hpp"
#include "perf/perf_model.hpp"

namespace {

using tf::perf::Batch;
using tf::perf::InstanceShape;
using tf::perf::PerfModel;
using tf::perf::PrefillChunk;

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

struct Point {
  std::string hardware;
  int tp = 0;
  std::string quantity;
  double measured_ms = 0.0;
  double predicted_ms = 0.0;
  double abs_pct() const { return std::abs(predicted_ms - measured_ms) / measured_ms * 100.0; }
};

// Median absolute percentage error over all points of each quantity ("prefill", "decode"), computed once
// (the table is printed once per process). Empty when the shared data is absent.
const std::map<std::string, double>& median_errors() {
  static const std::map<std::string, double> result = [] {
    std::map<std::string, double> medians;
    const std::filesystem::path csv = std::filesystem::path(TF_SHARED_DATA) / "profiling/splitwise_sim/perf_model.csv";
    if (!std::filesystem::exists(csv)) return medians;
    const tf::catalog::Catalog catalog(TF_SOURCE_ROOT);
    const std::map<std::string, std::string> accelerator_of = {{"a100-80gb", "a100-sxm-80gb"},
                                                               {"h100-80gb", "h100-sxm"}};
    const auto& llama = catalog.llm("llama-2-70b");

    std::vector<Point> points;
    int skipped = 0;
    for (const auto& [key, m] : read_llama2_70b(csv)) {
      const auto& [hardware, tp, prompt, batch] = key;
      InstanceShape shape;
      shape.accelerator = &catalog.accelerator(accelerator_of.at(hardware));
      shape.model = &llama;
      shape.tp = tp;
      const PerfModel model(shape);

      // Skip configurations whose KV cache (prompt plus all output tokens of every sequence) does not fit:
      // the measurement then ran under preemption or failed (the batch-64 TP2 rows are faster than batch 32).
      const double output_tokens = median(m.token_size);
      if (double(model.memory_fit().kv_capacity_tokens) < batch * (prompt + output_tokens)) {
        ++skipped;
        continue;
      }
      // Prefill: the whole batch of prompts in one iteration. Decode: one step at the mean context.
      Batch prefill;
      prefill.prefills.assign(static_cast<size_t>(batch), PrefillChunk{prompt, 0});
      Batch decode;
      decode.decode_seqs = batch;
      decode.decode_context_sum = static_cast<int64_t>(batch * (prompt + output_tokens / 2.0));
      points.push_back({hardware, tp, "prefill", median(m.prompt_ms), model.iteration_time(prefill).value() * 1e3});
      points.push_back({hardware, tp, "decode", median(m.token_ms), model.iteration_time(decode).value() * 1e3});
      if (std::getenv("TF_PERF_VERBOSE") != nullptr)
        for (const auto* p : {&points[points.size() - 2], &points.back()})
          fmt::print(
              "{:<10} tp{} prompt {:>5} batch {:>3} {:<8} measured {:>8.1f} ms  predicted {:>8.1f} ms  {:+6.1f}%\n",
              hardware, tp, prompt, batch, p->quantity, p->measured_ms, p->predicted_ms,
              (p->predicted_ms - p->measured_ms) / p->measured_ms * 100.0);
    }

    // Per configuration, then over all points of each quantity.
    std::map<std::tuple<std::string, std::string, int>, std::vector<const Point*>> by_config;
    std::map<std::string, std::vector<double>> by_quantity;
    std::map<std::string, std::vector<double>> signed_by_quantity;
    for (const auto& p : points) {
      by_config[{p.quantity, p.hardware, p.tp}].push_back(&p);
      by_quantity[p.quantity].push_back(p.abs_pct());
      signed_by_quantity[p.quantity].push_back((p.predicted_ms - p.measured_ms) / p.measured_ms * 100.0);
    }
    std::string table = fmt::format(
        "\nSplitwise Llama-2-70B, perf model vs measured (medians of repeats)\n"
        "{:<10} {:<10} {:>3} {:>7} {:>13} {:>11} {:>15}\n",
        "quantity", "hardware", "tp", "points", "median |err|%", "p90 |err|%", "median signed%");
    for (const auto& [key, ps] : by_config) {
      std::vector<double> abs, sig;
      for (const auto* p : ps) {
        abs.push_back(p->abs_pct());
        sig.push_back((p->predicted_ms - p->measured_ms) / p->measured_ms * 100.0);
      }
      table +=
          fmt::format("{:<10} {:<10} {:>3} {:>7} {:>13.1f} {:>11.1f} {:>15.1f}\n", std::get<0>(key), std::get<1>(key),
                      std::get<2>(key), ps.size(), median(abs), percentile(abs, 0.9), median(sig));
    }
    for (const auto& [quantity, errors] : by_quantity) {
      medians[quantity] = median(errors);
      table +=
          fmt::format("{:<10} {:<10} {:>3} {:>7} {:>13.1f} {:>11.1f} {:>15.1f}\n", quantity, "all", "-", errors.size(),
                      median(errors), percentile(errors, 0.9), median(signed_by_quantity[quantity]));
    }
    std::vector<double> all, all_signed;
    for (const auto& [quantity, errors] : by_quantity) {
      all.insert(all.end(), errors.begin(), errors.end());
      all_signed.insert(all_signed.end(), signed_by_quantity[quantity].begin(), signed_by_quantity[quantity].end());
    }
    medians["all"] = median(all);
    table += fmt::format("{:<10} {:<10} {:>3} {:>7} {:>13.1f} {:>11.1f} {:>15.1f}\n", "both", "all", "-", all.size(),
                         median(all), percentile(all, 0.9), median(all_signed));
    table += fmt::format("({} configurations skipped: KV cache does not fit)\n", skipped);
    fmt::print("{}", table);
    return medians;
  }();
  return result;
}

}  // namespace

// The model predicts low everywhere, most for decode at TP4/TP8. Its operators match measured kernels
// (tokenfactory fidelity: H100/H200 GEMMs within 7 %, all-reduce within 8 %), so the gap is time the 2023
// serving stack spent outside them: TP4 and TP8 decode steps are flat (~45 ms on DGX-A100, ~30 ms on
// DGX-H100) where weight streaming halves, and per-GPU prefill throughput halves from TP2 to TP8; no
// independent measurement we have explains it (docs/validation.md). These bounds are the documented
// misses, kept so that the error cannot grow unnoticed; the 10 % target is not met.
TEST_CASE("perf model predicts Splitwise's measured Llama-2-70B step times within the documented bounds",
          "[perf][validation]") {
  const auto& medians = median_errors();
  if (medians.empty()) {
    WARN("shared data not found, skipping: profiling/splitwise_sim/perf_model.csv");
    return;
  }
  CHECK(medians.at("all") <= 42.0);
  CHECK(medians.at("decode") <= 45.0);
  CHECK(medians.at("prefill") <= 35.0);
}
