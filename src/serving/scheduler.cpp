#include "serving/scheduler.hpp"

#include "core/registry.hpp"

namespace tf::serving {

const std::vector<SchedulerInfo>& schedulers() {
  static const std::vector<SchedulerInfo> all = {
      {"chunked",
       "Sarathi-Serve chunked prefill: every iteration runs every decoding sequence (one token of the budget "
       "each) and fills the rest of the token budget with prompt chunks of at most chunk_size tokens",
       "max_batched_tokens (default 8192), max_num_seqs (256), chunk_size (tokens per prompt per iteration; default: "
       "the budget), block_size (KV block, 16 tokens), preemption {kind: recompute | swap, bandwidth}"},
      {"continuous",
       "vLLM-style continuous batching: when prompts are waiting and fit, run a prefill-only iteration of as many as "
       "fit the token budget (decodes pause); otherwise decode every running sequence",
       "max_batched_tokens (default 8192), max_num_seqs (256), block_size (KV block, 16 tokens), preemption {kind: "
       "recompute | swap, bandwidth}"},
  };
  return all;
}

const SchedulerInfo& find_scheduler(const std::string& name, const std::string& file, const std::string& where) {
  return find_registered(schedulers(), name, "scheduler", file, where);
}

}  // namespace tf::serving
