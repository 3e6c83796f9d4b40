#pragma once
// An LLM architecture, read from an unmodified HuggingFace config.json (models/llm/), with the derived
// quantities the perf, memory and cost models need. Supports dense (Llama, Qwen3), MoE (Qwen3-MoE,
// DeepSeek-V3/R1, Kimi-K2), GQA/MHA attention and DeepSeek's MLA.

#include <string>

#include "catalog/accelerator.hpp"
#include "core/units.hpp"

namespace tf::catalog {

struct LlmArchitecture {
  std::string name;        // catalog key, e.g. "llama-3.1-70b"
  std::string model_type;  // config.json "model_type": llama, qwen3, qwen3_moe, deepseek_v3, kimi_k2

  int layers = 0;        // num_hidden_layers
  int hidden = 0;        // hidden_size
  int heads = 0;         // num_attention_heads
  int kv_heads = 0;      // num_key_value_heads (== heads for MHA)
  int head_dim = 0;      // head_dim, or hidden / heads when absent; MLA: qk_nope_head_dim + qk_rope_head_dim
  int intermediate = 0;  // dense FFN size (intermediate_size)
  int vocab = 0;
  bool tie_word_embeddings = false;
  bool gated_mlp = true;  // SwiGLU: gate, up and down projections
  int max_context = 0;    // max_position_embeddings
  bool qk_norm = false;   // Qwen3: an RMSNorm (head_dim weights) on every query and key head

  // Mixture of experts (0 routed experts means dense).
  int routed_experts = 0;      // n_routed_experts / num_experts
  int shared_experts = 0;      // n_shared_experts
  int experts_per_token = 0;   // num_experts_per_tok
  int moe_intermediate = 0;    // moe_intermediate_size (per expert)
  int first_dense_layers = 0;  // first_k_dense_replace (DeepSeek/Kimi): leading layers with a dense FFN
  // Dense-FFN layers after the first MoE layer (Qwen3-MoE mlp_only_layers or decoder_sparse_step > 1,
  // DeepSeek moe_layer_freq > 1). 0 for every shipped model.
  int interleaved_dense_layers = 0;
  // num_nextn_predict_layers: DeepSeek's multi-token-prediction modules. Loaded only for speculative
  // decoding; not counted in the parameter figures below (DeepSeek's 671B excludes them too).
  int mtp_layers = 0;

  // Multi-head latent attention (DeepSeek-V3/R1, Kimi-K2). When mla is false these are 0.
  bool mla = false;
  int q_lora_rank = 0;
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;

  bool is_moe() const { return routed_experts > 0; }
  int moe_layers() const { return is_moe() ? layers - first_dense_layers - interleaved_dense_layers : 0; }
  int dense_layers() const { return layers - moe_layers(); }

  // Parameter counts (elements), including embeddings, the LM head (once when tied), norms and routers.
  double total_params() const;
  // Parameters touched by one token: attention, dense FFNs, shared experts and top-k routed experts,
  // routers, norms, the embedding row and the LM head (DeepSeek counts its 37B the same way).
  double active_params() const;
  // vocab * hidden: the embedding table (and the LM head, which has the same shape).
  double embedding_params() const;
  // One routed (or shared) expert's FFN: gate, up and down projections of moe_intermediate.
  double expert_params() const;
  // Parameters of one layer's attention block (projections only).
  double attention_params_per_layer() const;
  // Elements of KV cache one token adds across all layers (MLA: kv_lora_rank + qk_rope_head_dim per layer;
  // GQA/MHA: 2 * kv_heads * head_dim per layer).
  double kv_elements_per_token() const;
  Bytes kv_bytes_per_token(Dtype kv_dtype) const { return Bytes(kv_elements_per_token() * dtype_bytes(kv_dtype)); }
  // Forward-pass operations for one token attending to `context` earlier tokens: 2 per active weight
  // (excluding the embedding lookup and norms) plus attention score and value products, counted as in
  // MHA (MLA: qk_nope + qk_rope for scores, v_head_dim for values; a weight-absorbed MLA decode kernel
  // does more arithmetic against the latent cache, which perf/ models itself).
  Flops flops_per_token(double context) const;
};

}  // namespace tf::catalog
