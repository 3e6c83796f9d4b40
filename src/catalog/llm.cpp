#include "catalog/llm.hpp"

#include <fmt/format.h>

#include <optional>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/json_file.hpp"
#include "core/json_reader.hpp"

namespace tf::catalog {

// ---- derived figures ------------------------------------------------------------------------------------

double LlmArchitecture::embedding_params() const {
  return double(vocab) * hidden;
}

double LlmArchitecture::expert_params() const {
  return (gated_mlp ? 3.0 : 2.0) * double(hidden) * moe_intermediate;
}

double LlmArchitecture::attention_params_per_layer() const {
  const double h = hidden;
  if (mla) {
    const double qk_head = qk_nope_head_dim + qk_rope_head_dim;
    // Queries go through a low-rank bottleneck (q_a, q_b) unless q_lora_rank is 0 (DeepSeek-V2-Lite).
    const double q = q_lora_rank > 0 ? h * q_lora_rank + double(q_lora_rank) * heads * qk_head : h * heads * qk_head;
    // kv_a compresses to the latent plus the shared rope key; kv_b expands the latent to per-head K and V.
    const double kv =
        h * (kv_lora_rank + qk_rope_head_dim) + double(kv_lora_rank) * heads * (qk_nope_head_dim + v_head_dim);
    const double o = double(heads) * v_head_dim * h;
    return q + kv + o;
  }
  const double q_and_o = 2.0 * h * heads * head_dim;
  const double k_and_v = 2.0 * h * kv_heads * head_dim;
  return q_and_o + k_and_v;
}

namespace {

// RMSNorm weights of one layer: before attention and before the FFN, plus the MLA latent norms or the
// Qwen3 per-head query/key norms. Small, but they make the Llama counts exact.
double norm_params_per_layer(const LlmArchitecture& m) {
  double n = 2.0 * m.hidden;
  if (m.mla) n += m.q_lora_rank + m.kv_lora_rank;
  if (m.qk_norm) n += 2.0 * m.head_dim;
  return n;
}

double dense_ffn_params(const LlmArchitecture& m) {
  return (m.gated_mlp ? 3.0 : 2.0) * double(m.hidden) * m.intermediate;
}

double router_params(const LlmArchitecture& m) {
  return double(m.routed_experts) * m.hidden;
}

// Parameters shared by the total and active counts: attention, norms, dense FFN layers, embedding, head.
double always_active_params(const LlmArchitecture& m) {
  double p = m.layers * (m.attention_params_per_layer() + norm_params_per_layer(m));
  p += m.dense_layers() * dense_ffn_params(m);
  p += m.hidden;  // final norm
  p += m.embedding_params() * (m.tie_word_embeddings ? 1.0 : 2.0);
  return p;
}

}  // namespace

double LlmArchitecture::total_params() const {
  const double per_moe_layer = (routed_experts + shared_experts) * expert_params() + router_params(*this);
  return always_active_params(*this) + moe_layers() * per_moe_layer;
}

double LlmArchitecture::active_params() const {
  const double per_moe_layer = (experts_per_token + shared_experts) * expert_params() + router_params(*this);
  return always_active_params(*this) + moe_layers() * per_moe_layer;
}

double LlmArchitecture::kv_elements_per_token() const {
  // MLA caches the compressed latent and the shared rope key, not per-head K and V.
  if (mla) return double(layers) * (kv_lora_rank + qk_rope_head_dim);
  return double(layers) * 2.0 * kv_heads * head_dim;
}

Flops LlmArchitecture::flops_per_token(double context) const {
  double weights = layers * attention_params_per_layer();
  weights += dense_layers() * dense_ffn_params(*this);
  weights += moe_layers() * ((experts_per_token + shared_experts) * expert_params() + router_params(*this));
  weights += embedding_params();  // the LM head is a matmul even when tied; the embedding lookup is not
  const double qk_dim = mla ? qk_nope_head_dim + qk_rope_head_dim : head_dim;
  const double v_dim = mla ? v_head_dim : head_dim;
  const double attention = layers * 2.0 * heads * (qk_dim + v_dim) * context;
  return Flops(2.0 * weights + attention);
}

// ---- loading a HuggingFace config.json ------------------------------------------------------------------

namespace {

const std::vector<std::string> kModelTypes = {"llama", "qwen3", "qwen3_moe", "deepseek_v3", "kimi_k2"};
constexpr int64_t kMaxDim = 1 << 24;  // bound for sizes; catches garbage without limiting real models

int required_int(ObjectReader& obj, const std::string& key, int64_t min = 1, int64_t max = kMaxDim) {
  return static_cast<int>(obj.required(key).as_int(min, max));
}

// HuggingFace writes null for "not used" (q_lora_rank in DeepSeek-V2-Lite, head_dim in some configs).
std::optional<int> optional_int(ObjectReader& obj, const std::string& key, int64_t min = 0, int64_t max = kMaxDim) {
  auto r = obj.optional(key);
  if (!r || r->json().is_null()) return std::nullopt;
  return static_cast<int>(r->as_int(min, max));
}

// Counts dense-FFN layers given which layers are MoE, split into the leading run and the rest.
void set_dense_layers(LlmArchitecture& m, const std::vector<bool>& is_moe_layer) {
  int leading = 0;
  while (leading < m.layers && !is_moe_layer[leading])
    ++leading;
  int dense = 0;
  for (bool moe : is_moe_layer)
    dense += moe ? 0 : 1;
  m.first_dense_layers = leading;
  m.interleaved_dense_layers = dense - leading;
}

void read_gqa_attention(ObjectReader& obj, LlmArchitecture& m) {
  m.kv_heads = optional_int(obj, "num_key_value_heads", 1).value_or(m.heads);
  if (m.heads % m.kv_heads != 0)
    obj.required("num_key_value_heads")
        .fail(fmt::format("num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", m.heads,
                          m.kv_heads));
  if (auto head_dim = optional_int(obj, "head_dim", 1)) {
    m.head_dim = *head_dim;
  } else {
    if (m.hidden % m.heads != 0)
      obj.required("num_attention_heads")
          .fail(fmt::format("head_dim is absent and hidden_size ({}) is not a multiple of num_attention_heads ({})",
                            m.hidden, m.heads));
    m.head_dim = m.hidden / m.heads;
  }
  m.qk_norm = m.model_type.rfind("qwen3", 0) == 0;
}

void read_qwen3_moe(ObjectReader& obj, LlmArchitecture& m) {
  m.routed_experts = required_int(obj, "num_experts", 0);
  if (m.routed_experts == 0) return;
  m.experts_per_token = required_int(obj, "num_experts_per_tok", 1, m.routed_experts);
  m.moe_intermediate = required_int(obj, "moe_intermediate_size");
  // transformers' Qwen3MoeDecoderLayer: MoE unless listed in mlp_only_layers, every decoder_sparse_step-th layer.
  const int step = optional_int(obj, "decoder_sparse_step", 1).value_or(1);
  std::vector<bool> is_moe_layer(static_cast<size_t>(m.layers), true);
  for (int i = 0; i < m.layers; ++i)
    is_moe_layer[i] = (i + 1) % step == 0;
  if (auto list = obj.optional("mlp_only_layers"); list && !list->json().is_null())
    for (const auto& item : list->array())
      is_moe_layer[static_cast<size_t>(item.as_int(0, m.layers - 1))] = false;
  set_dense_layers(m, is_moe_layer);
}

void read_deepseek(ObjectReader& obj, LlmArchitecture& m) {
  m.mla = true;
  m.q_lora_rank = optional_int(obj, "q_lora_rank").value_or(0);
  m.kv_lora_rank = required_int(obj, "kv_lora_rank");
  m.qk_nope_head_dim = required_int(obj, "qk_nope_head_dim");
  m.qk_rope_head_dim = required_int(obj, "qk_rope_head_dim");
  m.v_head_dim = required_int(obj, "v_head_dim");
  // Every head has its own K and V once expanded from the latent (MHA-like); the cache holds the latent.
  m.kv_heads = m.heads;
  optional_int(obj, "num_key_value_heads", 1);  // equal to heads in these configs, and unused with MLA
  m.head_dim = m.qk_nope_head_dim + m.qk_rope_head_dim;
  m.mtp_layers = optional_int(obj, "num_nextn_predict_layers").value_or(0);

  m.routed_experts = optional_int(obj, "n_routed_experts").value_or(0);
  if (m.routed_experts == 0) return;
  m.shared_experts = optional_int(obj, "n_shared_experts").value_or(0);
  m.experts_per_token = required_int(obj, "num_experts_per_tok", 1, m.routed_experts);
  m.moe_intermediate = required_int(obj, "moe_intermediate_size");
  // transformers' DeepseekV3 layer rule: MoE from first_k_dense_replace on, every moe_layer_freq-th layer.
  const int first_dense = optional_int(obj, "first_k_dense_replace", 0, m.layers).value_or(0);
  const int freq = optional_int(obj, "moe_layer_freq", 1).value_or(1);
  std::vector<bool> is_moe_layer(static_cast<size_t>(m.layers));
  for (int i = 0; i < m.layers; ++i)
    is_moe_layer[i] = i >= first_dense && i % freq == 0;
  set_dense_layers(m, is_moe_layer);
}

}  // namespace

LlmArchitecture load_llm(const std::filesystem::path& file, const std::string& name) {
  const std::string file_name = file.string();
  const nlohmann::json doc = load_json_file(file_name);
  // A config.json is read as published: it carries many keys a simulator does not use (token ids,
  // rope scaling, initialiser ranges), so unknown keys are allowed here, unlike in our own files.
  auto obj = JsonReader(doc, file_name).object();

  LlmArchitecture m;
  m.name = name;
  m.model_type = obj.required("model_type").as_enum(kModelTypes);
  m.layers = required_int(obj, "num_hidden_layers");
  m.hidden = required_int(obj, "hidden_size");
  m.heads = required_int(obj, "num_attention_heads");
  m.intermediate = required_int(obj, "intermediate_size");
  m.vocab = required_int(obj, "vocab_size", 1, int64_t{1} << 30);
  m.max_context = required_int(obj, "max_position_embeddings", 1, int64_t{1} << 30);
  if (auto tie = obj.optional("tie_word_embeddings"); tie && !tie->json().is_null())
    m.tie_word_embeddings = tie->as_bool();
  // All supported families use a SwiGLU FFN (gate, up, down) whatever hidden_act says.
  m.gated_mlp = true;

  if (m.model_type == "deepseek_v3" || m.model_type == "kimi_k2") {
    read_deepseek(obj, m);
  } else {
    read_gqa_attention(obj, m);
    if (m.model_type == "qwen3_moe") read_qwen3_moe(obj, m);
  }
  return m;
}

}  // namespace tf::catalog
