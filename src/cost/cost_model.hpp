#pragma once
// Money for the simulated interval (DESIGN.md §2): accelerator capex amortised over its life (or rental),
// energy drawn as a function of what the accelerators were doing, times PUE, times the power price,
// network gear as a share of capex, and yearly opex as a share of capex.

#include <optional>
#include <string>

#include "catalog/accelerator.hpp"
#include "catalog/price_book.hpp"
#include "core/units.hpp"

namespace tf::cost {

// What one pool's accelerators did during the interval.
struct PoolActivity {
  const catalog::Accelerator* accelerator = nullptr;
  int64_t accelerators = 0;  // in the pool
  int64_t accelerators_per_instance = 1;
  int64_t instances = 0;
  Seconds busy;          // summed over instances: time running iterations
  Seconds prefill_busy;  // of which iterations carrying prompt tokens (compute-bound: drawn at TDP)
};

struct CostBreakdown {
  Dollars hardware;    // amortised capex, or rental
  Dollars energy;      // electricity, PUE included (0 under rental pricing: a rental rate includes power)
  Dollars network;     // scale-out network gear, amortised
  Dollars opex;        // other operations
  Joules energy_used;  // at the facility meter (IT energy x PUE)
  Dollars total() const { return hardware + energy + network + opex; }
};

// Power model per accelerator: idle_power when idle, tdp during iterations that carry prompt tokens,
// memory_bound_power during decode-only iterations (splitwise-sim's measured prompt/token/idle powers).
Joules it_energy(const PoolActivity& pool, Seconds interval);

CostBreakdown pool_cost(const PoolActivity& pool, Seconds interval, const catalog::PriceBook& prices);

// The price book with the scenario's overrides applied (config::CostConfig fields that are set).
struct PriceOverrides {
  std::optional<catalog::Pricing> pricing;
  std::optional<DollarsPerKwh> electricity;
  std::optional<double> pue;
  std::optional<Seconds> amortization;
};
catalog::PriceBook apply_overrides(catalog::PriceBook book, const PriceOverrides& o);

}  // namespace tf::cost
