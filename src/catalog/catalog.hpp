#pragma once
// The catalog: accelerators (models/hardware/*.json), LLM architectures (models/llm/*.json, HuggingFace
// config.json as is) and price books (models/prices/*.json) under one data root.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog/accelerator.hpp"
#include "catalog/llm.hpp"
#include "catalog/price_book.hpp"

namespace tf::catalog {

// Loaders for single files. Errors are tf::ConfigError naming the file and JSON path.
Accelerator load_accelerator(const std::filesystem::path& file);
// `name` is the catalog key to give the model (usually the file stem).
LlmArchitecture load_llm(const std::filesystem::path& file, const std::string& name);
PriceBook load_price_book(const std::filesystem::path& file);

// Loads lazily and caches; the returned references stay valid for the Catalog's lifetime. Not
// thread-safe (one simulation per process, DESIGN.md §4).
class Catalog {
 public:
  // root holds models/hardware, models/llm, models/prices.
  explicit Catalog(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }

  // By catalog key ("h100-sxm"); throws ConfigError listing the known names when absent.
  const Accelerator& accelerator(const std::string& name) const;
  std::vector<std::string> accelerator_names() const;

  // A model by catalog key ("llama-3.1-70b" -> models/llm/llama-3.1-70b.json) or by a path to a
  // config.json (relative paths resolve against root). Loaded once and cached.
  const LlmArchitecture& llm(const std::string& name_or_path) const;
  std::vector<std::string> llm_names() const;

  // A price book by catalog key ("default" -> models/prices/default.json) or path, as for llm(). Its
  // per-accelerator overrides must name known accelerators.
  PriceBook price_book(const std::string& name_or_path) const;
  std::vector<std::string> price_book_names() const;

 private:
  std::filesystem::path root_;
  mutable std::map<std::string, std::unique_ptr<Accelerator>> accelerators_;
  mutable std::map<std::string, std::unique_ptr<LlmArchitecture>> llms_;
};

}  // namespace tf::catalog
