#include "perf/collectives.hpp"

#include <algorithm>
#include <cmath>

#include "perf/calibration.hpp"

namespace tf::perf {

// ---- constants and their sources -------------------------------------------------------------------------
namespace {

// Achieved fraction of a NIC's per-direction bandwidth in collectives across domains. Estimate: NCCL's own
// tuning model (src/graph/tuning.cc, ncclTopoTuneModel, commit b6475625) prices the Simple protocol over
// the network at the NIC's full speed (bus bandwidth = channels x NIC bandwidth), and nccl-tests over one
// 400 Gb/s NIC per GPU commonly report 45-48 GB/s of bus bandwidth [unconfirmed: not in PUBLISHED.md]; we
// take 0.9. No measurement in ../shared/data was fitted for it: the vidur multi-node runs used a network
// that is not documented (docs/validation.md), and DeepEP's RDMA figures are held out to check it.
constexpr double kScaleOutEfficiency = 0.9;

// NCCL's tuning model (src/graph/tuning.cc, commit b6475625): the tree's bus bandwidth is 0.92 of the
// links' (Simple protocol) and its algorithm bandwidth half the bus bandwidth (each rank's data goes up
// and then down the double binary tree), so 0.46 of the link per byte of message.
constexpr double kTreeBandwidth = 0.5 * 0.92;

struct Shape {
  double n = 1, k = 1, m = 1;  // ranks, ranks per domain, domains
};

Shape shape_of(const CollectiveSpan& s) {
  Shape sh;
  sh.n = std::max(1, s.ranks);
  sh.k = std::clamp(s.ranks_per_domain, 1, std::max(1, s.ranks));
  sh.m = std::ceil(sh.n / sh.k);
  return sh;
}

// Seconds to push `bytes` per accelerator through the scale-up links, without the fixed cost.
double scale_up_transfer(const CollectiveSpan& s, double bytes, const CollectiveEfficiency& eff) {
  if (bytes <= 0.0) return 0.0;
  return bytes / (s.scale_up_bandwidth.value() * eff.scale_up.memory.at(bytes));
}

double scale_out_rate(const CollectiveSpan& s, const CollectiveEfficiency& eff) {
  return s.scale_out_bandwidth.value() * eff.scale_out;
}

double up_hops(const CollectiveSpan& s, const CollectiveEfficiency& eff, double steps) {
  return eff.scale_up_hops ? steps * s.scale_up_latency.value() : 0.0;
}

}  // namespace

// ---- span ------------------------------------------------------------------------------------------------

CollectiveSpan CollectiveSpan::within_domains(const catalog::Accelerator& accelerator, int ranks) {
  CollectiveSpan s;
  s.ranks = std::max(1, ranks);
  s.ranks_per_domain = std::min(s.ranks, std::max(1, accelerator.scale_up_domain_size));
  s.scale_up_bandwidth = accelerator.scale_up_bandwidth;
  s.scale_up_latency = accelerator.scale_up_latency;
  s.scale_out_bandwidth = accelerator.scale_out_bandwidth;
  s.scale_out_latency = accelerator.scale_out_latency;
  return s;
}

int CollectiveSpan::domains() const {
  return static_cast<int>(shape_of(*this).m);
}

CollectiveSpan CollectiveSpan::group(int group_ranks) const {
  CollectiveSpan g = *this;
  g.ranks = std::max(1, group_ranks);
  g.ranks_per_domain = std::min(g.ranks, std::max(1, ranks_per_domain));
  return g;
}

// ---- efficiency ------------------------------------------------------------------------------------------

CollectiveEfficiency CollectiveEfficiency::defaults(const catalog::Accelerator& accelerator) {
  CollectiveEfficiency e;
  // Fitted on aiconfigurator's NCCL and custom all-reduce kernels on 2-8 GPUs of one node (Hopper on
  // H100 SXM, Blackwell on B200; Ampere and Ascend borrow Hopper's): roofline_defaults.cpp.
  e.scale_up = family_curves(family_of(accelerator)).collective;
  e.scale_up_hops = false;
  e.scale_out = kScaleOutEfficiency;
  e.tree_bandwidth = kTreeBandwidth;
  return e;
}

// ---- all-reduce ------------------------------------------------------------------------------------------

Seconds ring_all_reduce(const CollectiveSpan& span, Bytes bytes, const CollectiveEfficiency& eff) {
  const Shape sh = shape_of(span);
  if (sh.n <= 1.0) return Seconds(0.0);
  const double steps = 2.0 * (sh.n - 1.0);
  const double sent = steps / sh.n * bytes.value();  // along the ring, per rank
  if (sh.m <= 1.0)
    return Seconds(eff.scale_up.time(0.0, sent, 1.0, span.scale_up_bandwidth.value()) + up_hops(span, eff, steps));
  // One channel per accelerator of a domain, each crossing the domain boundary through its own NIC: the
  // ring runs at the slower of its scale-up links and the domain's NICs together.
  const double t_up = sh.k > 1.0 ? scale_up_transfer(span, sent, eff) : 0.0;
  const double t_out = sent / (sh.k * scale_out_rate(span, eff));
  // NCCL counts 2 x nodes of the ring's steps as network steps (tuning.cc).
  const double inter_steps = std::min(2.0 * sh.m, steps);
  return Seconds(eff.scale_up.overhead_s + std::max(t_up, t_out) + inter_steps * span.scale_out_latency.value() +
                 up_hops(span, eff, steps - inter_steps));
}

Seconds tree_all_reduce(const CollectiveSpan& span, Bytes bytes, const CollectiveEfficiency& eff) {
  const Shape sh = shape_of(span);
  if (sh.n <= 1.0) return Seconds(0.0);
  if (sh.m <= 1.0) return ring_all_reduce(span, bytes, eff);  // one domain: the chain is the ring
  const double b = bytes.value();
  // Reduce-scatter and all-gather inside the domain move 2(k-1)/k of the message over scale-up.
  const double intra = sh.k > 1.0 ? scale_up_transfer(span, 2.0 * (sh.k - 1.0) / sh.k * b, eff) : 0.0;
  // Each rank's 1/k shard is all-reduced with its peers of the other domains over its own NIC.
  const double inter = (b / sh.k) / (scale_out_rate(span, eff) * eff.tree_bandwidth);
  const double depth = std::ceil(std::log2(sh.m));
  return Seconds(eff.scale_up.overhead_s + intra + inter + 2.0 * depth * span.scale_out_latency.value() +
                 up_hops(span, eff, 2.0 * (sh.k - 1.0)));
}

Seconds all_reduce(const CollectiveSpan& span, Bytes bytes, const CollectiveEfficiency& eff) {
  return std::min(ring_all_reduce(span, bytes, eff), tree_all_reduce(span, bytes, eff));
}

// ---- all-to-all and point-to-point -----------------------------------------------------------------------

Seconds all_to_all(const CollectiveSpan& span, Bytes sent, const CollectiveEfficiency& eff) {
  const Shape sh = shape_of(span);
  if (sh.n <= 1.0) return Seconds(0.0);
  const double b = sent.value();
  const double intra = b * (sh.k - 1.0) / (sh.n - 1.0);  // to the other ranks of this domain
  const double inter = b - intra;                        // to ranks in other domains, through the NIC
  const double t_up = scale_up_transfer(span, intra, eff) + (intra > 0.0 ? up_hops(span, eff, 1.0) : 0.0);
  const double t_out = inter > 0.0 ? inter / scale_out_rate(span, eff) + span.scale_out_latency.value() : 0.0;
  return Seconds(eff.scale_up.overhead_s + std::max(t_up, t_out));
}

Seconds send(const CollectiveSpan& span, Bytes bytes, const CollectiveEfficiency& eff) {
  if (span.one_domain())
    return Seconds(eff.scale_up.time(0.0, bytes.value(), 1.0, span.scale_up_bandwidth.value()) +
                   up_hops(span, eff, 1.0));
  return Seconds(eff.scale_up.overhead_s + bytes.value() / scale_out_rate(span, eff) + span.scale_out_latency.value());
}

}  // namespace tf::perf
