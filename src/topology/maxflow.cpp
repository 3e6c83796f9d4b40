// bisection_maxflow (analysis.hpp), alone in this file: g++ 12 at -O3 reports a false -Wmaybe-uninitialized inside
// Boost's edge iterators as boykov_kolmogorov_max_flow instantiates them, and the warning can only be silenced for
// a whole translation unit (it is reported at the header's line, after inlining).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <boost/graph/boykov_kolmogorov_max_flow.hpp>

#include <cmath>
#include <vector>

#include "topology/analysis.hpp"

namespace tf::topology {

double bisection_maxflow(const Topology& t) {
  using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
  using FlowGraph = boost::adjacency_list<
      boost::vecS, boost::vecS, boost::directedS, boost::no_property,
      boost::property<boost::edge_capacity_t, int64_t,
                      boost::property<boost::edge_residual_capacity_t, int64_t,
                                      boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
  const auto& g = t.graph;
  const size_t n = boost::num_vertices(g);
  FlowGraph f(n + 2);
  const auto source = static_cast<Traits::vertex_descriptor>(n);
  const auto sink = static_cast<Traits::vertex_descriptor>(n + 1);
  auto capacity = boost::get(boost::edge_capacity, f);
  auto reverse = boost::get(boost::edge_reverse, f);
  // An arc u -> v of capacity c and its residual twin v -> u of capacity 0.
  auto arc = [&](Traits::vertex_descriptor u, Traits::vertex_descriptor v, int64_t c) {
    auto e = boost::add_edge(u, v, f).first;
    auto r = boost::add_edge(v, u, f).first;
    capacity[e] = c;
    capacity[r] = 0;
    reverse[e] = r;
    reverse[r] = e;
  };
  int64_t infinite = 1;
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    if (g[*e].kind == EdgeKind::scale_up) continue;
    auto c = static_cast<int64_t>(std::llround(g[*e].bandwidth.value()));
    infinite += c;
    arc(boost::source(*e, g), boost::target(*e, g), c);  // per direction: one arc each way
    arc(boost::target(*e, g), boost::source(*e, g), c);
  }
  const int64_t split = bisection_split(t);
  for (int64_t id = 0; id < t.accelerators(); ++id) {
    if (id < split)
      arc(source, t.accelerator_vertex(id), infinite);
    else
      arc(t.accelerator_vertex(id), sink, infinite);
  }
  std::vector<boost::default_color_type> color(n + 2);
  std::vector<int64_t> distance(n + 2);
  std::vector<Traits::edge_descriptor> pred(n + 2);
  auto index = boost::get(boost::vertex_index, f);
  auto flow = boost::boykov_kolmogorov_max_flow(
      f, capacity, boost::get(boost::edge_residual_capacity, f), reverse,
      boost::make_iterator_property_map(pred.begin(), index), boost::make_iterator_property_map(color.begin(), index),
      boost::make_iterator_property_map(distance.begin(), index), index, source, sink);
  return static_cast<double>(flow);
}

}  // namespace tf::topology
