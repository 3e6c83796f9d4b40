#include <catch2/catch.hpp>

#include <cstdio>
#include <functional>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "unit/catalog/temp_files.hpp"

using namespace tf;
using namespace tf::catalog;

namespace {

const LlmArchitecture& model(const std::string& name) {
  static Catalog catalog(TF_SOURCE_ROOT);
  return catalog.llm(name);
}

// Prints measured against published, so a failing tolerance shows by how much.
void report(const std::string& what, double measured, double published) {
  std::printf("%-28s measured %10.3fB  published %8.1fB  (%+.2f%%)\n", what.c_str(), measured / 1e9, published / 1e9,
              100.0 * (measured / published - 1.0));
}

LlmArchitecture load_modified(const std::string& shipped_name, const std::function<void(nlohmann::json&)>& edit,
                              test::TempDir& dir) {
  auto doc = test::shipped("models/llm/" + shipped_name + ".json");
  edit(doc);
  return load_llm(dir.write("config.json", doc), "edited");
}

}  // namespace

// Published sizes. Our counts include embeddings, LM head, norms and routers, and exclude DeepSeek's MTP
// module, which matches how the publishers count. Llama's are exact (Meta's model cards give the same
// figures to the parameter); the MoE figures are rounded in their announcements, hence the tolerances.

TEST_CASE("Llama 3.1 parameter counts match Meta's published sizes") {
  report("llama-3.1-8b total", model("llama-3.1-8b").total_params(), 8.03e9);
  report("llama-3.1-70b total", model("llama-3.1-70b").total_params(), 70.6e9);
  report("llama-3.1-405b total", model("llama-3.1-405b").total_params(), 405.8e9);
  // 8,030,261,248 is the exact count of the released checkpoint.
  CHECK(model("llama-3.1-8b").total_params() == 8'030'261'248.0);
  CHECK(model("llama-3.1-70b").total_params() == Approx(70.6e9).epsilon(0.001));
  CHECK(model("llama-3.1-405b").total_params() == Approx(405.8e9).epsilon(0.001));
  // Dense models touch every weight for every token.
  CHECK(model("llama-3.1-70b").active_params() == model("llama-3.1-70b").total_params());
}

TEST_CASE("DeepSeek-V3 counts 671B total and about 37B active parameters") {
  const LlmArchitecture& m = model("deepseek-v3");
  report("deepseek-v3 total", m.total_params(), 671e9);
  report("deepseek-v3 active", m.active_params(), 37e9);
  // 671B is the main model without the 11.5B MTP module, which the config describes only by
  // num_nextn_predict_layers; we reproduce it to 0.01%. The 1.5% bound allows for rounding only.
  CHECK(m.total_params() == Approx(671e9).epsilon(0.015));
  // DeepSeek announces 37B; README_WEIGHTS gives 36.7B. Counting every projection of the config gives
  // 37.5B, 1.5% above 37B, so the published figure is a rounded-down count: 2% tolerance.
  CHECK(m.active_params() == Approx(37e9).epsilon(0.02));
  CHECK(m.mtp_layers == 1);
}

TEST_CASE("DeepSeek-R1 has the same architecture as V3") {
  CHECK(model("deepseek-r1").total_params() == model("deepseek-v3").total_params());
  CHECK(model("deepseek-r1").kv_elements_per_token() == model("deepseek-v3").kv_elements_per_token());
}

TEST_CASE("Qwen3 MoE counts match the names: 235B-A22B and 30B-A3B") {
  const LlmArchitecture& big = model("qwen3-235b-a22b");
  report("qwen3-235b-a22b total", big.total_params(), 235e9);
  report("qwen3-235b-a22b active", big.active_params(), 22e9);
  CHECK(big.total_params() == Approx(235e9).epsilon(0.01));
  CHECK(big.active_params() == Approx(22e9).epsilon(0.02));
  const LlmArchitecture& small = model("qwen3-30b-a3b");
  report("qwen3-30b-a3b total", small.total_params(), 30.5e9);
  report("qwen3-30b-a3b active", small.active_params(), 3.3e9);
  // Qwen's model card: 30.5B total, 3.3B activated.
  CHECK(small.total_params() == Approx(30.5e9).epsilon(0.01));
  CHECK(small.active_params() == Approx(3.3e9).epsilon(0.03));
  report("qwen3-32b total", model("qwen3-32b").total_params(), 32.8e9);
  CHECK(model("qwen3-32b").total_params() == Approx(32.8e9).epsilon(0.01));
}

TEST_CASE("Kimi K2 counts about 1.03T total and 32B active parameters") {
  const LlmArchitecture& m = model("kimi-k2");
  report("kimi-k2 total", m.total_params(), 1.03e12);
  report("kimi-k2 active", m.active_params(), 32e9);
  CHECK(m.total_params() == Approx(1.03e12).epsilon(0.01));
  // Moonshot announces "32B activated"; the config gives 32.9B counting embedding and head as DeepSeek
  // does (31.7B without the embedding row), so 3%.
  CHECK(m.active_params() == Approx(32e9).epsilon(0.03));
}

TEST_CASE("MLA caches the latent and rope key: DeepSeek-V3 holds 70,272 bytes per token in bf16") {
  const LlmArchitecture& m = model("deepseek-v3");
  CHECK(m.mla);
  CHECK(m.kv_elements_per_token() == 61.0 * (512 + 64));
  CHECK(m.kv_bytes_per_token(Dtype::bf16).value() == 70'272.0);
  CHECK(m.kv_bytes_per_token(Dtype::fp8).value() == 35'136.0);
}

TEST_CASE("GQA caches K and V per KV head: Llama-3.1-70B holds 327,680 bytes per token in bf16") {
  const LlmArchitecture& m = model("llama-3.1-70b");
  CHECK_FALSE(m.mla);
  CHECK(m.kv_bytes_per_token(Dtype::bf16).value() == 80.0 * 2 * 8 * 128 * 2);
  CHECK(m.kv_bytes_per_token(Dtype::bf16).value() == 327'680.0);
}

TEST_CASE("head_dim defaults to hidden / heads when the config omits it") {
  const LlmArchitecture& m = model("llama-2-70b");
  CHECK(m.head_dim == 128);
  CHECK(m.kv_heads == 8);
  CHECK(m.max_context == 4096);
  report("llama-2-70b total", m.total_params(), 69e9);
  CHECK(m.total_params() == Approx(68.98e9).epsilon(0.001));
}

TEST_CASE("MoE structure is read from each family's keys") {
  const LlmArchitecture& ds = model("deepseek-v3");
  CHECK(ds.routed_experts == 256);
  CHECK(ds.shared_experts == 1);
  CHECK(ds.experts_per_token == 8);
  CHECK(ds.moe_intermediate == 2048);
  CHECK(ds.first_dense_layers == 3);
  CHECK(ds.moe_layers() == 58);
  CHECK(ds.head_dim == 192);
  const LlmArchitecture& kimi = model("kimi-k2");
  CHECK(kimi.routed_experts == 384);
  CHECK(kimi.first_dense_layers == 1);
  CHECK(kimi.heads == 64);
  const LlmArchitecture& qwen = model("qwen3-235b-a22b");
  CHECK(qwen.routed_experts == 128);
  CHECK(qwen.shared_experts == 0);
  CHECK(qwen.moe_layers() == 94);
  CHECK(qwen.qk_norm);
  CHECK_FALSE(model("llama-3.1-8b").is_moe());
}

TEST_CASE("Qwen3-MoE mlp_only_layers and decoder_sparse_step make layers dense") {
  test::TempDir dir;
  auto listed = load_modified(
      "qwen3-30b-a3b",
      [](nlohmann::json& d) {
        d["mlp_only_layers"] = {0, 5};
      },
      dir);
  CHECK(listed.first_dense_layers == 1);
  CHECK(listed.interleaved_dense_layers == 1);
  CHECK(listed.moe_layers() == 46);
  CHECK(listed.dense_layers() == 2);
  auto stepped = load_modified(
      "qwen3-30b-a3b", [](nlohmann::json& d) { d["decoder_sparse_step"] = 2; }, dir);
  CHECK(stepped.moe_layers() == 24);  // layers 1, 3, 5, ... of 48
  CHECK(stepped.first_dense_layers == 1);
}

TEST_CASE("flops per token are twice the matmul weights plus the attention products") {
  const LlmArchitecture& llama = model("llama-3.1-8b");
  // Without context: every weight but the embedding lookup (and the tiny norms) once, multiply-add = 2.
  CHECK(llama.flops_per_token(0).value() ==
        Approx(2 * (llama.active_params() - llama.embedding_params())).epsilon(1e-4));
  // Each earlier token adds a QK^T and an AV product per head and layer.
  double per_context_token = 4.0 * 32 * 32 * 128;
  CHECK(llama.flops_per_token(1000).value() - llama.flops_per_token(0).value() == Approx(1000 * per_context_token));
  const LlmArchitecture& ds = model("deepseek-v3");
  CHECK(ds.flops_per_token(1).value() - ds.flops_per_token(0).value() == Approx(2.0 * 61 * 128 * (192 + 128)));
}

TEST_CASE("a config.json missing num_hidden_layers is a ConfigError naming the file and key") {
  test::TempDir dir;
  auto doc = test::shipped("models/llm/llama-3.1-8b.json");
  doc.erase("num_hidden_layers");
  auto file = dir.write("config.json", doc);
  try {
    load_llm(file, "broken");
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.file() == file.string());
    CHECK(e.where() == "/");
    CHECK_THAT(e.message(), Catch::Contains("num_hidden_layers"));
  }
}

TEST_CASE("a config.json value of the wrong type names its JSON path") {
  test::TempDir dir;
  auto doc = test::shipped("models/llm/deepseek-v3.json");
  doc["kv_lora_rank"] = "512";
  auto file = dir.write("config.json", doc);
  try {
    load_llm(file, "broken");
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.file() == file.string());
    CHECK(e.where() == "/kv_lora_rank");
  }
}

TEST_CASE("a config.json may carry keys the simulator does not use") {
  test::TempDir dir;
  auto m = load_modified(
      "llama-3.1-8b",
      [](nlohmann::json& d) {
        d["some_future_key"] = {{"x", 1}};
      },
      dir);
  CHECK(m.layers == 32);
}

TEST_CASE("an unsupported model_type is rejected with the supported ones listed") {
  test::TempDir dir;
  auto doc = test::shipped("models/llm/llama-3.1-8b.json");
  doc["model_type"] = "mamba";
  auto file = dir.write("config.json", doc);
  CHECK_THROWS_WITH(load_llm(file, "broken"),
                    Catch::Contains("/model_type") && Catch::Contains("deepseek_v3") && Catch::Contains("\"mamba\""));
}

TEST_CASE("tied embeddings count the embedding table once") {
  test::TempDir dir;
  auto tied = load_modified(
      "llama-3.1-8b", [](nlohmann::json& d) { d["tie_word_embeddings"] = true; }, dir);
  const LlmArchitecture& untied = model("llama-3.1-8b");
  CHECK(untied.total_params() - tied.total_params() == untied.embedding_params());
}
