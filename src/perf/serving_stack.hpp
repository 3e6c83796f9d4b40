#pragma once
// The serving software around a model's kernels, as host time it adds to every iteration
// (docs/performance-model.md, "Serving-stack host time"). A catalog file, models/stacks/<name>.json, chosen
// per instance (scenario key cluster.pools[].instance.stack); "modern" is the default.
//
// The kernels (perf_model.hpp) are timed as if launched back to back. A stack adds three host terms:
//   iteration_overhead                       once per iteration: scheduling, input preparation, sampling,
//                                            output processing;
//   layer_launch x layers                    launching each layer's kernels one by one from Python (eager
//                                            execution, no CUDA graphs), time the GPU waits on the host;
//   collective_sync_per_rank x sum(ranks-1)  over the iteration's collective calls: with eager launches every
//                                            collective waits for the slowest of its ranks' hosts, and the
//                                            expected wait grows with the ranks taking part.
// A modern engine (CUDA graphs, custom all-reduce, overlapped scheduling) pays the first only.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/units.hpp"

namespace tf::perf {

struct ServingStack {
  std::string name;          // catalog key ("modern", "vllm-2023") or the file's stem
  std::string display_name;  // one line for reports
  Seconds iteration_overhead;
  Seconds layer_launch;              // per transformer layer of the instance (all pipeline stages)
  Seconds collective_sync_per_rank;  // per collective call, per rank beyond the first (1 per pipeline hand-off)
  // Where each figure comes from, keyed by JSON pointer ("/layer_launch"): a citation or "fitted on ...".
  std::map<std::string, std::string> sources;
};

// The default stack's key.
inline constexpr const char* kDefaultServingStack = "modern";

// Reads one stack file. A malformed file, a negative duration or a figure without a note in "sources" is a
// ConfigError naming the file and the JSON path.
ServingStack load_serving_stack(const std::filesystem::path& file);

// The stack `name_or_path` names: a key of `dir` (models/stacks; `dir`/<key>.json), or a path to a .json
// file (anything containing '/' or ending in ".json"), used as given. An unknown key is a ConfigError
// listing the known ones.
ServingStack find_serving_stack(const std::filesystem::path& dir, const std::string& name_or_path);

// Keys of the stacks in `dir`, sorted.
std::vector<std::string> serving_stack_names(const std::filesystem::path& dir);

}  // namespace tf::perf
