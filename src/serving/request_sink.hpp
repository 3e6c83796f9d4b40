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

  // Where a request's time went on one instance (the latency budget, docs/concepts.md), in seconds. Sinks that
  // keep no latency budget need not override the two calls below.
  struct Phases {
    Seconds queue;        // waiting to be admitted here, and preempted until rescheduled (swap stalls included)
    Seconds compute;      // the rest of the phase: the iterations it sat through, shared with other requests
    Seconds collectives;  // of `compute`, those iterations' collectives (TP all-reduce, EP all-to-all, PP sends)
  };
  // The prompt is done on a colocated or prefill instance (reported just before first_token(), or before the
  // hand-off): the phase from the request's arrival at the instance to the end of its prefill.
  virtual void prefill_phases(uint64_t /*request*/, Phases /*phases*/) {}
  // The request finished on the instance that decoded it (reported just before finished()): the phase from its
  // first token (on a decode instance, the KV's arrival) to its last.
  virtual void decode_phases(uint64_t /*request*/, Phases /*phases*/) {}

  // Instance `instance` admitted `request` and needs `bytes` of its prefix from a cluster-scope cache, no faster
  // than `rate_cap`, the rate its tiers read them at (0: no limit). Only instances whose PrefixCacheUse::fetch_flows is
  // set call it; the sink must then move the bytes and call Instance::on_fetched() when they have arrived. The time
  // between counts as KV transfer in the latency budget: the instance leaves it out of the prefill phase.
  virtual void fetch(uint32_t /*instance*/, uint64_t /*request*/, Bytes /*bytes*/, BytesPerSecond /*rate_cap*/) {}
};

}  // namespace tf::serving
