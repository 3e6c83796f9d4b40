#pragma once
// Named registries of pluggable policies (routers, schedulers, trace formats...). Each entry carries its
// name and a description (printed by `tokenfactory ... --list`); looking up an unknown name is a
// ConfigError that lists the valid names.

#include <fmt/format.h>

#include <string>
#include <vector>

#include "core/error.hpp"

namespace tf {

// Entry must have `std::string name`. `what` names the kind of thing ("router", "trace format").
template <class Entry>
const Entry& find_registered(const std::vector<Entry>& entries, const std::string& name, const std::string& what,
                             const std::string& file, const std::string& where) {
  std::vector<std::string> names;
  for (const auto& e : entries) {
    if (e.name == name) return e;
    names.push_back(e.name);
  }
  throw ConfigError(file, where, fmt::format("unknown {} \"{}\" (valid: {})", what, name, fmt::join(names, ", ")));
}

}  // namespace tf
