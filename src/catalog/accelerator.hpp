#pragma once
// One accelerator as sold (an H100 SXM, an Ascend 910C), with the datasheet figures the perf and cost
// models need. Loaded from models/hardware/<name>.json; each figure in that file carries a source.

#include <map>
#include <optional>
#include <string>

#include "core/units.hpp"

namespace tf::catalog {

// Numeric formats a model can be served in. fp16 is priced as bf16.
enum class Dtype { bf16, fp8, int8, fp4 };

std::string to_string(Dtype d);
// Parses "bf16", "fp16", "fp8", "int8", "fp4"; std::nullopt for anything else.
std::optional<Dtype> parse_dtype(const std::string& s);
// Bytes per element: bf16 2, fp8 1, int8 1, fp4 0.5.
double dtype_bytes(Dtype d);

struct Accelerator {
  std::string name;          // catalog key, e.g. "h100-sxm" (the file name without .json)
  std::string display_name;  // "NVIDIA H100 SXM"
  std::string vendor;        // "NVIDIA", "Huawei"

  std::map<Dtype, FlopsPerSecond> peak_compute;  // dense peak per dtype; a dtype not listed is not supported
  Bytes hbm_capacity;                            // usable device memory
  BytesPerSecond hbm_bandwidth;                  // peak memory bandwidth

  int scale_up_domain_size = 8;        // accelerators in one scale-up domain (NVLink node, NVL72, UB supernode)
  BytesPerSecond scale_up_bandwidth;   // per accelerator, per direction, inside the domain
  Seconds scale_up_latency;            // one hop inside the domain
  BytesPerSecond scale_out_bandwidth;  // per accelerator NIC, per direction
  Seconds scale_out_latency;           // NIC to NIC through one switch

  Watts tdp;                 // board power at full compute load
  Watts idle_power;          // powered, no work
  Watts memory_bound_power;  // typical draw during memory-bound (decode) iterations

  // Capex per accelerator, including its share of the server (host, chassis, scale-up switches). The
  // scale-out network is added by the price book (PriceBook::network_capex_fraction).
  Dollars unit_price;
  DollarsPerHour rental_price;  // market rental per accelerator-hour

  std::string source;  // one-line summary of where the figures come from
  // Where each figure comes from, keyed by its JSON pointer in the file ("/hbm_bandwidth",
  // "/peak_compute/fp8"): a citation, or "estimate: <reasoning>".
  std::map<std::string, std::string> sources;

  bool supports(Dtype d) const { return peak_compute.count(d) != 0; }
  // Peak for d; throws std::out_of_range if unsupported (callers check supports() at config time).
  FlopsPerSecond peak(Dtype d) const { return peak_compute.at(d); }
};

}  // namespace tf::catalog
