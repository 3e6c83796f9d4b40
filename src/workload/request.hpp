#pragma once
// A request as the workload produces it: when it arrives, how long its prompt and answer are, which class
// of traffic it belongs to, and (for traces that carry them) its prefix block hashes.

#include <cstdint>
#include <vector>

#include "core/units.hpp"

namespace tf::workload {

struct Request {
  uint64_t id = 0;                      // dense, in arrival order, from 0
  Seconds arrival;                      // at the user, from the start of the simulation
  int64_t input_tokens = 0;             // >= 1
  int64_t output_tokens = 0;            // >= 1
  uint32_t class_id = 0;                // index into the workload's class list
  uint32_t source = 0;                  // index of the trace/generator it came from
  std::vector<uint64_t> prefix_blocks;  // Mooncake hash_ids (512-token blocks), empty when unknown
};

}  // namespace tf::workload
