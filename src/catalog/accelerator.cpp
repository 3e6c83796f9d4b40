#include "catalog/accelerator.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "catalog/catalog.hpp"
#include "catalog/sources.hpp"
#include "core/json_file.hpp"
#include "core/json_reader.hpp"

namespace tf::catalog {

std::string to_string(Dtype d) {
  switch (d) {
    case Dtype::bf16:
      return "bf16";
    case Dtype::fp8:
      return "fp8";
    case Dtype::int8:
      return "int8";
    case Dtype::fp4:
      return "fp4";
  }
  TF_ASSERT(false, "unhandled Dtype");
  return "";
}

std::optional<Dtype> parse_dtype(const std::string& s) {
  if (s == "bf16" || s == "fp16") return Dtype::bf16;
  if (s == "fp8") return Dtype::fp8;
  if (s == "int8") return Dtype::int8;
  if (s == "fp4") return Dtype::fp4;
  return std::nullopt;
}

double dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::bf16:
      return 2.0;
    case Dtype::fp8:
      return 1.0;
    case Dtype::int8:
      return 1.0;
    case Dtype::fp4:
      return 0.5;
  }
  TF_ASSERT(false, "unhandled Dtype");
  return 0.0;
}

namespace {

// Figure keys in the order models/README.md documents them; each needs a note in "sources".
const std::vector<std::string> kScalarFigures = {
    "hbm_capacity",     "hbm_bandwidth",       "scale_up_domain_size", "scale_up_bandwidth",
    "scale_up_latency", "scale_out_bandwidth", "scale_out_latency",    "tdp",
    "idle_power",       "memory_bound_power",  "unit_price",           "rental_price"};

// The datasheet names dtypes canonically; "fp16" (an alias in scenarios) would duplicate bf16 here.
const std::vector<std::string> kDtypeKeys = {"bf16", "fp8", "int8", "fp4"};

template <class Quantity>
Quantity positive(const JsonReader& r, Quantity q) {
  if (!(q.value() > 0)) r.fail("must be greater than zero");
  return q;
}

}  // namespace

Accelerator load_accelerator(const std::filesystem::path& file) {
  const std::string file_name = file.string();
  const nlohmann::json doc = load_json_file(file_name);
  JsonReader root(doc, file_name);
  auto obj = root.object();

  Accelerator a;
  a.name = file.stem().string();
  a.display_name = obj.required("display_name").as_string();
  a.vendor = obj.required("vendor").as_string();
  a.source = obj.required("source").as_string();

  JsonReader peak_reader = obj.required("peak_compute");
  auto peak = peak_reader.object();
  std::vector<std::string> dtypes;
  for (const auto& key : peak.keys()) {
    JsonReader value = peak.required(key);
    if (std::find(kDtypeKeys.begin(), kDtypeKeys.end(), key) == kDtypeKeys.end())
      value.fail(fmt::format("unknown dtype \"{}\" (allowed here: {})", key, fmt::join(kDtypeKeys, ", ")));
    a.peak_compute[*parse_dtype(key)] = positive(value, value.as_flops_rate());
    dtypes.push_back(key);
  }
  // Every model runs in bf16, and perf/ falls back to it, so a datasheet without it is incomplete.
  if (!a.supports(Dtype::bf16)) peak_reader.fail("missing required key \"bf16\" (dense bf16/fp16 peak)");

  JsonReader r = obj.required("hbm_capacity");
  a.hbm_capacity = positive(r, r.as_bytes());
  r = obj.required("hbm_bandwidth");
  a.hbm_bandwidth = positive(r, r.as_bandwidth());
  a.scale_up_domain_size = static_cast<int>(obj.required("scale_up_domain_size").as_int(1, 1'000'000));
  r = obj.required("scale_up_bandwidth");
  a.scale_up_bandwidth = positive(r, r.as_bandwidth());
  a.scale_up_latency = obj.required("scale_up_latency").as_seconds();
  r = obj.required("scale_out_bandwidth");
  a.scale_out_bandwidth = positive(r, r.as_bandwidth());
  a.scale_out_latency = obj.required("scale_out_latency").as_seconds();

  r = obj.required("tdp");
  a.tdp = positive(r, r.as_watts());
  a.idle_power = obj.required("idle_power").as_watts();
  r = obj.required("memory_bound_power");
  a.memory_bound_power = r.as_watts();
  // The energy model interpolates idle -> memory-bound -> TDP with load; the order must hold.
  if (a.idle_power > a.memory_bound_power || a.memory_bound_power > a.tdp)
    r.fail(fmt::format("expected idle_power <= memory_bound_power <= tdp, got {} W, {} W, {} W", a.idle_power.value(),
                       a.memory_bound_power.value(), a.tdp.value()));

  r = obj.required("unit_price");
  a.unit_price = positive(r, r.as_dollars());
  r = obj.required("rental_price");
  a.rental_price = positive(r, r.as_dollars_per_hour());

  std::vector<detail::SourcedFigure> figures;
  figures.push_back({"peak_compute", true, dtypes});
  for (const auto& key : kScalarFigures)
    figures.push_back({key, false, {}});
  a.sources = detail::read_sources(obj, figures);

  obj.finish();
  return a;
}

}  // namespace tf::catalog
