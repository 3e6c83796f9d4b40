#include "serving/scheduler.hpp"

#include "core/registry.hpp"

namespace tf::serving {

const std::vector<SchedulerInfo>& schedulers() {
  static const std::vector<SchedulerInfo> all = {
      {"continuous",
       "continuous batching: every iteration runs all decoding sequences plus waiting prompts (chunked when they "
       "exceed the token budget), admitted first-come first-served within the token budget, the sequence limit "
       "and the KV cache",
       "max_batched_tokens (tokens per iteration, default 8192), max_num_seqs (running sequences, default 256)"},
  };
  return all;
}

const SchedulerInfo& find_scheduler(const std::string& name, const std::string& file, const std::string& where) {
  return find_registered(schedulers(), name, "scheduler", file, where);
}

}  // namespace tf::serving
