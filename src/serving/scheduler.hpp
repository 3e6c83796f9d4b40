#pragma once
// Batch schedulers by name. Issue-2 scope: "continuous" (vLLM-style continuous batching with chunked
// admission, see serving/instance.hpp). Later policies register here.

#include <string>
#include <vector>

namespace tf::serving {

struct SchedulerInfo {
  std::string name;
  std::string description;
  std::string parameters;  // the parameters it reads, for --list and the docs
};

const std::vector<SchedulerInfo>& schedulers();
const SchedulerInfo& find_scheduler(const std::string& name, const std::string& file, const std::string& where);

}  // namespace tf::serving
