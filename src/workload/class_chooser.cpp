#include "workload/class_chooser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/json_reader.hpp"
#include "core/random.hpp"

namespace tf::workload {

namespace {

uint32_t class_id(const std::string& name, const std::vector<std::string>& classes, const std::string& where) {
  auto it = std::find(classes.begin(), classes.end(), name);
  if (it == classes.end())
    throw ConfigError("", where,
                      fmt::format("unknown class \"{}\"; expected one of: {}", name, fmt::join(classes, ", ")));
  return static_cast<uint32_t>(it - classes.begin());
}

}  // namespace

ClassChooser::ClassChooser(const std::string& class_name, const std::map<std::string, double>& class_mix,
                           const std::vector<std::string>& classes, const std::string& where) {
  if (!class_name.empty() && !class_mix.empty())
    throw ConfigError("", where, "give \"class\" or \"class_mix\", not both");
  if (!class_name.empty()) {
    ids_.push_back(class_id(class_name, classes, where + "/class"));
    return;
  }
  if (class_mix.empty()) {
    ids_.push_back(0);
    return;
  }
  double total = 0;
  for (const auto& [name, fraction] : class_mix) {
    const std::string at = where + "/class_mix/" + json_pointer_escape(name);
    ids_.push_back(class_id(name, classes, at));
    if (!(fraction >= 0) || !std::isfinite(fraction))
      throw ConfigError("", at, fmt::format("expected a fraction >= 0, got {}", fraction));
    total += fraction;
    cumulative_.push_back(total);
  }
  if (!(total > 0)) throw ConfigError("", where + "/class_mix", "expected fractions with a positive sum");
  for (double& c : cumulative_)
    c /= total;
  cumulative_.back() = 1.0;
}

uint32_t ClassChooser::choose(std::mt19937_64& g) const {
  if (!draws()) return ids_.front();
  const double u = uniform01(g);
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
  if (it == cumulative_.end()) --it;
  return ids_[static_cast<size_t>(it - cumulative_.begin())];
}

}  // namespace tf::workload
