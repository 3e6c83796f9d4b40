#pragma once
// Small topologies of every builder, shared by the topology tests (formula against max-flow) and the engine's
// platform tests (SimGrid routes against graph paths). Accelerators are made here, with catalog-like figures, so
// that the tests do not depend on models/hardware.

#include <string>
#include <vector>

#include "catalog/accelerator.hpp"
#include "config/scenario.hpp"
#include "topology/topology.hpp"

namespace tf::test {

inline catalog::Accelerator make_accelerator(const std::string& name, int domain, double nic, double scale_up) {
  catalog::Accelerator a;
  a.name = name;
  a.scale_up_domain_size = domain;
  a.scale_up_bandwidth = BytesPerSecond(scale_up);
  a.scale_up_latency = Seconds(5e-6);
  a.scale_out_bandwidth = BytesPerSecond(nic);
  a.scale_out_latency = Seconds(5e-6);
  return a;
}

// 8-GPU NVLink node, 400 Gb/s NIC per GPU.
inline const catalog::Accelerator& h100() {
  static const auto a = make_accelerator("h100", 8, 50e9, 450e9);
  return a;
}
// NVL72 rack, 800 Gb/s per GPU.
inline const catalog::Accelerator& gb200() {
  static const auto a = make_accelerator("gb200", 72, 100e9, 900e9);
  return a;
}
// CloudMatrix384 supernode, 400 Gb/s per NPU.
inline const catalog::Accelerator& ascend() {
  static const auto a = make_accelerator("ascend", 384, 50e9, 392e9);
  return a;
}

inline config::TopologyConfig fabric(const std::string& kind, int tiers = 2, int radix = 64,
                                     std::vector<double> oversubscription = {}) {
  config::TopologyConfig c;
  c.kind = kind;
  c.tiers = tiers;
  c.radix = radix;
  c.oversubscription = std::move(oversubscription);
  return c;
}

inline topology::PoolSpec pool(const catalog::Accelerator& a, int64_t count, const std::string& scale_up = "") {
  return {a.name, &a, count, scale_up};
}

struct Shape {
  std::string name;
  config::TopologyConfig config;
  std::vector<topology::PoolSpec> pools;
};

// Every builder, with and without oversubscription, every domain kind, partial pods and mixed pools.
inline std::vector<Shape> small_shapes() {
  return {
      {"ideal, 5 nodes", fabric("ideal"), {pool(h100(), 40)}},
      {"ideal, partial supernode and nodes", fabric("ideal"), {pool(ascend(), 96), pool(h100(), 16)}},
      {"clos 2 tiers", fabric("clos", 2, 16), {pool(h100(), 64)}},
      {"clos 2 tiers oversubscribed 3:1", fabric("clos", 2, 32, {3}), {pool(h100(), 200)}},
      {"clos 2 tiers, 12 nodes per leaf at 3:1", fabric("clos", 2, 16, {3}), {pool(h100(), 96)}},
      {"clos 3 tiers", fabric("clos", 3, 8), {pool(h100(), 128)}},
      {"clos 3 tiers oversubscribed 2:1 and 3:1, partial pod", fabric("clos", 3, 12, {2, 3}), {pool(h100(), 160)}},
      {"rail 2 tiers", fabric("rail", 2, 16), {pool(h100(), 128)}},
      {"rail 3 tiers", fabric("rail", 3, 32), {pool(h100(), 640)}},
      {"rail 2 tiers, nvl72 trays of 4", fabric("rail", 2, 64), {pool(gb200(), 216)}},
      {"clos 2 tiers, nvl72", fabric("clos", 2, 32), {pool(gb200(), 144)}},
      {"clos 3 tiers, ub-supernode", fabric("clos", 3, 64), {pool(ascend(), 1152)}},
      {"clos 2 tiers, partial supernode beside nodes", fabric("clos", 2, 64), {pool(ascend(), 96), pool(h100(), 112)}},
  };
}

inline topology::Topology build(const Shape& s) {
  return topology::build(s.config, s.pools);
}

}  // namespace tf::test
