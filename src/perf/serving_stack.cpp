#include "perf/serving_stack.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "catalog/sources.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/json_reader.hpp"

namespace tf::perf {

namespace fs = std::filesystem;

namespace {

// Figure keys, each needing a note in "sources".
const std::vector<std::string> kFigures = {"iteration_overhead", "layer_launch", "collective_sync_per_rank"};

bool looks_like_path(const std::string& s) {
  return s.find('/') != std::string::npos || s.find('\\') != std::string::npos || s.ends_with(".json");
}

}  // namespace

ServingStack load_serving_stack(const fs::path& file) {
  const std::string file_name = file.string();
  const nlohmann::json doc = load_json_file(file_name);
  JsonReader root(doc, file_name);
  auto obj = root.object();

  ServingStack s;
  s.name = file.stem().string();
  s.display_name = obj.required("display_name").as_string();
  obj.required("source").as_string();
  // parse_seconds rejects negative values; zero is meaningful (a cost the stack does not pay).
  s.iteration_overhead = obj.required("iteration_overhead").as_seconds();
  s.layer_launch = obj.required("layer_launch").as_seconds();
  s.collective_sync_per_rank = obj.required("collective_sync_per_rank").as_seconds();

  std::vector<catalog::detail::SourcedFigure> figures;
  for (const auto& key : kFigures)
    figures.push_back({key, false, {}});
  s.sources = catalog::detail::read_sources(obj, figures);
  obj.finish();
  return s;
}

std::vector<std::string> serving_stack_names(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".json" && it->is_regular_file(ec)) names.push_back(it->path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

ServingStack find_serving_stack(const fs::path& dir, const std::string& name_or_path) {
  if (looks_like_path(name_or_path)) return load_serving_stack(name_or_path);
  std::error_code ec;
  if (name_or_path.empty() || !fs::is_regular_file(dir / (name_or_path + ".json"), ec)) {
    const auto known = serving_stack_names(dir);
    if (known.empty())
      throw ConfigError("", "",
                        fmt::format("unknown serving stack \"{}\": no stack files in {}", name_or_path, dir.string()));
    throw ConfigError("", "",
                      fmt::format("unknown serving stack \"{}\" (known: {}; or give a path to a .json file)",
                                  name_or_path, fmt::join(known, ", ")));
  }
  return load_serving_stack(dir / (name_or_path + ".json"));
}

}  // namespace tf::perf
