#pragma once
// Collective communication priced from the links a group of accelerators spans (DESIGN.md §4: the
// all-reduce of every layer and the MoE all-to-all are priced analytically from the bandwidths and
// latencies the topology reports). Three NCCL-like algorithms, the cheapest chosen as NCCL's tuner does:
//
// - ring all-reduce: one ring over all ranks; each rank sends 2(n-1)/n of the message. Inside one domain
//   the time is the scale-up curve's; a ring over several domains crosses each domain boundary once per
//   channel, with one channel per accelerator (NIC) of the domain, so its rate is the lower of the
//   scale-up link's and ranks_per_domain x the NIC's, and 2m of its steps (NCCL's count of network steps)
//   pay the path latency.
// - tree all-reduce (hierarchical): reduce-scatter inside each domain over scale-up, an all-reduce of each
//   rank's 1/ranks_per_domain shard between the m domains over that rank's NIC as NCCL's double binary
//   tree (2 log2 m latency steps, half the bus bandwidth), all-gather inside the domain. Inside one domain
//   it is the ring. It wins for small messages over many domains, the ring for large ones.
// - all-to-all (MoE dispatch/combine, NCCL send/recv to every peer): each rank sends the same amount to
//   every other; the share bound for its own domain goes over scale-up, the rest over its NIC, both at
//   once.
//
// What is not modelled: in-switch reduction (NVLS/SHARP) apart from what the fitted scale-up curve holds,
// DeepEP's per-node deduplication and NVLink forwarding, overlap of communication with compute, and
// contention with other instances' traffic on shared links (the engine's flows carry that).

#include "catalog/accelerator.hpp"
#include "core/units.hpp"
#include "perf/roofline_curve.hpp"

namespace tf::perf {

// The links a collective group spans, from the topology: the group spread evenly over its domains.
struct CollectiveSpan {
  int ranks = 1;                       // accelerators in the group
  int ranks_per_domain = 1;            // of them in each scale-up domain (ranks when the group is in one domain)
  BytesPerSecond scale_up_bandwidth;   // per accelerator, per direction
  Seconds scale_up_latency;            // one hop inside the domain
  BytesPerSecond scale_out_bandwidth;  // per accelerator NIC, per direction, as available on the path (after
                                       // oversubscription)
  Seconds scale_out_latency;           // one message between the group's farthest domains (path latency)

  // Today's rule: up to a domain's size, one domain; beyond it, full domains joined by the catalog's
  // scale-out figures.
  static CollectiveSpan within_domains(const catalog::Accelerator& accelerator, int ranks);

  // Scale-up domains the group touches: ceil(ranks / ranks_per_domain).
  int domains() const;
  bool one_domain() const { return ranks_per_domain >= ranks; }
  // The span of a group of `ranks` consecutive ranks of this one (a TP or expert-parallel group inside an
  // instance placed domain by domain): as many per domain as fit, on the same links.
  CollectiveSpan group(int ranks) const;
};

// The calibration of the collective model. Sources and fits are in collectives.cpp and
// docs/performance-model.md ("Collectives").
struct CollectiveEfficiency {
  // Moving `bytes` per accelerator over the scale-up fabric in one collective:
  //   time = overhead + bytes / (scale_up_bandwidth x memory(bytes))
  // (RooflineCurve with no compute term). The fitted curves hold the fixed cost and latency of a
  // collective inside one domain; the overhead is paid once per collective, also by those that cross
  // domains.
  RooflineCurve scale_up;
  // Charge the span's scale_up_latency per sequential step inside a domain (the constant-efficiency
  // roofline does; the fitted curves hold that latency already).
  bool scale_up_hops = false;
  double scale_out = 0.0;       // achieved fraction of the NIC's per-direction bandwidth
  double tree_bandwidth = 0.0;  // the tree's algorithm bandwidth over the link's bus bandwidth

  // The accelerator family's fitted scale-up curve (calibration.hpp) and the scale-out constants.
  static CollectiveEfficiency defaults(const catalog::Accelerator& accelerator);
};

// All-reduce of `bytes` held by each rank (the result is on every rank). Zero for one rank.
Seconds ring_all_reduce(const CollectiveSpan& span, Bytes bytes, const CollectiveEfficiency& eff);
Seconds tree_all_reduce(const CollectiveSpan& span, Bytes bytes, const CollectiveEfficiency& eff);
// The cheaper of the two, as NCCL picks.
Seconds all_reduce(const CollectiveSpan& span, Bytes bytes, const CollectiveEfficiency& eff);

// All-to-all where each rank sends `sent` bytes in total, spread evenly over the other ranks (MoE dispatch
// or combine: the local share is not counted). Zero for one rank.
Seconds all_to_all(const CollectiveSpan& span, Bytes sent, const CollectiveEfficiency& eff);

// One point-to-point transfer of `bytes` between two ranks of the span: over scale-up when the span is one
// domain, else over the NICs (a pipeline hand-off between stages in different domains).
Seconds send(const CollectiveSpan& span, Bytes bytes, const CollectiveEfficiency& eff);

}  // namespace tf::perf
