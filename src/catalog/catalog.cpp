#include "catalog/catalog.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "core/error.hpp"
#include "core/json_reader.hpp"

namespace tf::catalog {

namespace fs = std::filesystem;

namespace {

// Stems of the *.json files in dir, sorted; empty when dir does not exist.
std::vector<std::string> json_stems(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json" && it->is_regular_file(ec)) names.push_back(it->path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A catalog key names a file directly in dir; anything with a path separator is not a key.
bool is_key_of(const fs::path& dir, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos) return false;
  std::error_code ec;
  return fs::is_regular_file(dir / (name + ".json"), ec);
}

[[noreturn]] void unknown_name(const std::string& what, const std::string& name, const fs::path& dir) {
  std::vector<std::string> known = json_stems(dir);
  if (known.empty())
    throw ConfigError("", "", fmt::format("unknown {} \"{}\": no {} files in {}", what, name, what, dir.string()));
  throw ConfigError(
      "", "",
      fmt::format("unknown {} \"{}\" (known: {}; or give a path to a .json file)", what, name, fmt::join(known, ", ")));
}

bool looks_like_path(const std::string& s) {
  return s.find('/') != std::string::npos || (s.size() > 5 && s.ends_with(".json"));
}

// Resolves a user-given path against the catalog root; a directory stands for its config.json (a
// HuggingFace checkout).
fs::path resolve(const fs::path& root, const std::string& s) {
  fs::path p(s);
  if (p.is_relative()) p = root / p;
  std::error_code ec;
  if (fs::is_directory(p, ec)) p /= "config.json";
  return p;
}

// The catalog key for a model given by path: the file stem, or the directory name for ".../config.json".
std::string key_for_path(const fs::path& p) {
  std::string stem = p.stem().string();
  if (stem == "config" && p.has_parent_path() && !p.parent_path().filename().empty())
    return p.parent_path().filename().string();
  return stem;
}

}  // namespace

Catalog::Catalog(fs::path root) : root_(std::move(root)) {}

const Accelerator& Catalog::accelerator(const std::string& name) const {
  if (auto it = accelerators_.find(name); it != accelerators_.end()) return *it->second;
  const fs::path dir = root_ / "models" / "hardware";
  if (!is_key_of(dir, name)) unknown_name("accelerator", name, dir);
  auto loaded = std::make_unique<Accelerator>(load_accelerator(dir / (name + ".json")));
  return *accelerators_.emplace(name, std::move(loaded)).first->second;
}

std::vector<std::string> Catalog::accelerator_names() const {
  return json_stems(root_ / "models" / "hardware");
}

const LlmArchitecture& Catalog::llm(const std::string& name_or_path) const {
  if (auto it = llms_.find(name_or_path); it != llms_.end()) return *it->second;
  const fs::path dir = root_ / "models" / "llm";
  std::unique_ptr<LlmArchitecture> loaded;
  if (looks_like_path(name_or_path)) {
    fs::path file = resolve(root_, name_or_path);
    loaded = std::make_unique<LlmArchitecture>(load_llm(file, key_for_path(file)));
  } else {
    if (!is_key_of(dir, name_or_path)) unknown_name("model", name_or_path, dir);
    loaded = std::make_unique<LlmArchitecture>(load_llm(dir / (name_or_path + ".json"), name_or_path));
  }
  return *llms_.emplace(name_or_path, std::move(loaded)).first->second;
}

std::vector<std::string> Catalog::llm_names() const {
  return json_stems(root_ / "models" / "llm");
}

PriceBook Catalog::price_book(const std::string& name_or_path) const {
  const fs::path dir = root_ / "models" / "prices";
  fs::path file;
  if (looks_like_path(name_or_path)) {
    file = resolve(root_, name_or_path);
  } else {
    if (!is_key_of(dir, name_or_path)) unknown_name("price book", name_or_path, dir);
    file = dir / (name_or_path + ".json");
  }
  PriceBook book = load_price_book(file);
  // An override for an accelerator the catalog does not have is a typo that would silently not apply.
  const std::vector<std::string> known = accelerator_names();
  auto check = [&](const auto& overrides, const std::string& key) {
    for (const auto& [name, price] : overrides) {
      if (std::binary_search(known.begin(), known.end(), name)) continue;
      throw ConfigError(file.string(), fmt::format("/{}/{}", key, json_pointer_escape(name)),
                        fmt::format("unknown accelerator \"{}\" (known: {})", name, fmt::join(known, ", ")));
    }
  };
  check(book.unit_price, "unit_price");
  check(book.rental_price, "rental_price");
  return book;
}

std::vector<std::string> Catalog::price_book_names() const {
  return json_stems(root_ / "models" / "prices");
}

}  // namespace tf::catalog
