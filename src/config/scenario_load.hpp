#pragma once
// Scenario JSON -> validated Scenario (config/scenario.hpp). Every error is a tf::ConfigError naming the
// file and the JSON path; unknown keys are rejected.

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/scenario.hpp"

namespace tf::config {

// Applies one "--set a.b.0.c=value" override to a scenario document. The path uses dots; array elements
// are addressed by index and must exist. Missing object keys are created, so a key the file leaves at its
// default can be set; the schema check that follows rejects keys that are not allowed, naming the path. The value is
// read as JSON when it parses as JSON (16, 2.5, true, "x", {"a":1}) and as a plain string otherwise (5ms,
// least-outstanding).
void apply_override(nlohmann::json& doc, const std::string& assignment);

// Parses and validates a scenario document. `file` names it in errors; relative paths inside (models,
// traces, price book) are resolved against `data_root`.
Scenario parse_scenario(const nlohmann::json& doc, const std::string& file, const std::filesystem::path& data_root);

struct LoadedScenario {
  Scenario scenario;
  nlohmann::json resolved;  // the scenario after defaults and overrides, as written to scenario.resolved.json
};

LoadedScenario load_scenario(const std::string& file, const std::vector<std::string>& overrides,
                             const std::filesystem::path& data_root);

// The scenario with every default filled in, in the input schema (loading it again gives the same Scenario).
nlohmann::json to_json(const Scenario& s);

// The directory that holds models/ for a scenario file: $TOKENFACTORY_ROOT if set, else the nearest
// ancestor of the scenario's directory (or of the working directory) that contains models/hardware,
// else `fallback`.
std::filesystem::path find_data_root(const std::string& scenario_file, const std::filesystem::path& fallback);

}  // namespace tf::config
