#pragma once
// What serving policies report about requests as they progress. The metrics layer implements it; serving
// code knows nothing of how records are kept.

#include <cstdint>

#include "core/units.hpp"

namespace tf::serving {

class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // The request's first output token was produced on `instance` at `time` (engine clock).
  virtual void first_token(uint64_t request, uint32_t instance, Seconds time) = 0;
  // Inter-token gaps of a finished request: the longest, and Mooncake's TBT (the mean of the longest 10 %,
  // at least one). Both 0 for a one-token answer.
  struct Gaps {
    Seconds max;
    Seconds tbt;
  };
  // The request produced its last token at `time`.
  virtual void finished(uint64_t request, uint32_t instance, Seconds time, Gaps gaps) = 0;
  // The request was turned away and none of its tokens will be produced.
  virtual void rejected(uint64_t request, Seconds time) = 0;
};

}  // namespace tf::serving
