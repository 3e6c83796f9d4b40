#include <catch2/catch.hpp>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "unit/catalog/temp_files.hpp"

using namespace tf;
using namespace tf::catalog;

TEST_CASE("catalog names are the sorted file stems of each models/ folder") {
  Catalog catalog(TF_SOURCE_ROOT);
  CHECK(catalog.accelerator_names() == std::vector<std::string>{"a100-sxm-80gb", "a800", "ascend-910b", "ascend-910c",
                                                                "b200", "gb200", "h100-sxm", "h20", "h200", "h800"});
  CHECK(catalog.llm_names() == std::vector<std::string>{"deepseek-r1", "deepseek-v3", "kimi-k2", "llama-2-70b",
                                                        "llama-3.1-405b", "llama-3.1-70b", "llama-3.1-8b",
                                                        "qwen3-235b-a22b", "qwen3-30b-a3b", "qwen3-32b"});
  CHECK(catalog.price_book_names() == std::vector<std::string>{"default", "rental"});
}

TEST_CASE("an unknown accelerator is a ConfigError listing the valid names") {
  Catalog catalog(TF_SOURCE_ROOT);
  CHECK_THROWS_AS(catalog.accelerator("h300"), ConfigError);
  CHECK_THROWS_WITH(catalog.accelerator("h300"), Catch::Contains("unknown accelerator \"h300\"") &&
                                                     Catch::Contains("a100-sxm-80gb, a800, ascend-910b, ascend-910c"));
  // A key is a file name in models/hardware, never a path out of it.
  CHECK_THROWS_AS(catalog.accelerator("../hardware/h100-sxm"), ConfigError);
}

TEST_CASE("an accelerator is loaded once and then served from the cache") {
  Catalog catalog(TF_SOURCE_ROOT);
  const Accelerator* first = &catalog.accelerator("h100-sxm");
  CHECK(&catalog.accelerator("h100-sxm") == first);
}

TEST_CASE("a model is found by catalog key or by a path relative to the root") {
  Catalog catalog(TF_SOURCE_ROOT);
  const LlmArchitecture& by_key = catalog.llm("llama-3.1-8b");
  const LlmArchitecture& by_path = catalog.llm("models/llm/llama-3.1-8b.json");
  CHECK(by_key.name == "llama-3.1-8b");
  CHECK(by_path.name == "llama-3.1-8b");
  CHECK(by_path.total_params() == by_key.total_params());
  CHECK(&catalog.llm("llama-3.1-8b") == &by_key);
}

TEST_CASE("a directory holding config.json stands for that model, named after the directory") {
  test::TempDir dir;
  dir.write("my-llama/config.json", test::shipped("models/llm/llama-3.1-8b.json"));
  Catalog catalog(TF_SOURCE_ROOT);
  const LlmArchitecture& m = catalog.llm((dir.path() / "my-llama").string());
  CHECK(m.name == "my-llama");
  CHECK(m.layers == 32);
}

TEST_CASE("an unknown model is a ConfigError listing the valid names") {
  Catalog catalog(TF_SOURCE_ROOT);
  CHECK_THROWS_WITH(catalog.llm("llama-4"), Catch::Contains("unknown model \"llama-4\"") &&
                                                Catch::Contains("deepseek-v3") && Catch::Contains("qwen3-32b"));
  CHECK_THROWS_WITH(catalog.llm("models/llm/nope.json"), Catch::Contains("nope.json"));
}

TEST_CASE("a price book is found by key or by path, and an unknown key lists the valid ones") {
  Catalog catalog(TF_SOURCE_ROOT);
  CHECK(catalog.price_book("default").name == "default");
  CHECK(catalog.price_book("models/prices/default.json").pue == catalog.price_book("default").pue);
  CHECK_THROWS_WITH(catalog.price_book("cheap"), Catch::Contains("default, rental"));
}

TEST_CASE("a catalog rooted where models/ does not exist says the folder is empty") {
  test::TempDir dir;
  Catalog catalog(dir.path());
  CHECK(catalog.accelerator_names().empty());
  CHECK_THROWS_WITH(catalog.accelerator("h100-sxm"), Catch::Contains("no accelerator files"));
}
