#include "cost/cost_model.hpp"

namespace tf::cost {

Joules it_energy(const PoolActivity& pool, Seconds interval) {
  const auto& a = *pool.accelerator;
  double per = static_cast<double>(pool.accelerators_per_instance);
  Seconds instance_time = interval * static_cast<double>(pool.instances);
  Seconds idle = instance_time - pool.busy;
  Seconds decode = pool.busy - pool.prefill_busy;
  Joules per_accelerator = a.idle_power * idle + a.tdp * pool.prefill_busy + a.memory_bound_power * decode;
  // Accelerators not part of any instance (a count that does not divide evenly is rejected at config
  // time, so this is normally zero) sit idle.
  int64_t spare = pool.accelerators - pool.instances * pool.accelerators_per_instance;
  return per_accelerator * per + a.idle_power * interval * static_cast<double>(spare);
}

CostBreakdown pool_cost(const PoolActivity& pool, Seconds interval, const catalog::PriceBook& prices) {
  const auto& a = *pool.accelerator;
  double n = static_cast<double>(pool.accelerators);
  CostBreakdown c;
  c.energy_used = it_energy(pool, interval) * prices.pue;
  Dollars price = a.unit_price;
  if (auto it = prices.unit_price.find(a.name); it != prices.unit_price.end()) price = it->second;
  double life_share = interval / prices.amortization;
  Dollars capex = price * n;
  if (prices.pricing == catalog::Pricing::rental) {
    DollarsPerHour rate = a.rental_price;
    if (auto it = prices.rental_price.find(a.name); it != prices.rental_price.end()) rate = it->second;
    c.hardware = rate * interval * n;
  } else {
    c.hardware = capex * life_share;
    c.energy = prices.electricity * c.energy_used;
    c.network = capex * prices.network_capex_fraction * life_share;
    c.opex = capex * prices.opex_fraction_per_year * (interval.value() / (365.0 * 86400.0));
  }
  return c;
}

catalog::PriceBook apply_overrides(catalog::PriceBook book, const PriceOverrides& o) {
  if (o.pricing) book.pricing = *o.pricing;
  if (o.electricity) book.electricity = *o.electricity;
  if (o.pue) book.pue = *o.pue;
  if (o.amortization) book.amortization = *o.amortization;
  return book;
}

}  // namespace tf::cost
