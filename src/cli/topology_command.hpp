#pragma once
// `tokenfactory topology SCENARIO`: builds the scenario's network (cluster.topology and the pools' scale-up
// domains), places its instances, and prints what the fabric gives: sizes, switch and cable counts, diameter,
// bisection, oversubscription, latencies and what each pool's instances span (docs/topologies.md).

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace tf::cli {

struct TopologyOptions {
  std::string scenario;
  std::vector<std::string> sets;  // --set overrides, as for run
  bool json = false;              // one JSON document instead of the table
  // Hidden (tools/bench-platform): also lower the topology to SimGrid with one host per accelerator and print one
  // JSON line with the time and memory it took.
  bool lower = false;
};

CLI::App* add_topology_command(CLI::App& app, TopologyOptions& options);

// Returns the process exit code; bad input throws tf::ConfigError (exit code 2 in main).
int run_topology(const TopologyOptions& options);

}  // namespace tf::cli
