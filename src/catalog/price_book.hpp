#pragma once
// Money: what accelerators, energy and the network cost. Loaded from models/prices/*.json; each figure
// carries a source or is marked an estimate there. Scenario keys may override single figures.

#include <map>
#include <string>

#include "catalog/accelerator.hpp"
#include "core/units.hpp"

namespace tf::catalog {

enum class Pricing { capex, rental };

struct PriceBook {
  std::string name;
  Pricing pricing = Pricing::capex;
  Seconds amortization = Seconds(3 * 365 * 86400.0);  // capex written off over this period
  DollarsPerKwh electricity = DollarsPerKwh(0.08);
  double pue = 1.3;                                    // facility power / IT power
  double network_capex_fraction = 0.15;                // scale-out network gear, as a fraction of accelerator capex
  double opex_fraction_per_year = 0.0;                 // yearly operations cost as a fraction of capex
  std::map<std::string, Dollars> unit_price;           // per accelerator name, overrides the datasheet price
  std::map<std::string, DollarsPerHour> rental_price;  // per accelerator name, overrides the datasheet rental
  std::string source;                                  // one-line summary
  // Where each figure comes from, keyed by its JSON pointer ("/pue", "/unit_price/h100-sxm").
  std::map<std::string, std::string> sources;

  // The price that applies to `a`: this book's override when it has one, else the datasheet's.
  Dollars unit_price_of(const Accelerator& a) const;
  DollarsPerHour rental_price_of(const Accelerator& a) const;
};

}  // namespace tf::catalog
