#include "serving/router.hpp"

#include <limits>
#include <set>
#include <utility>

#include "core/registry.hpp"

namespace tf::serving {

namespace {

using Groups = std::vector<std::vector<uint32_t>>;

// Cycles through each group's instances in order.
class RoundRobin final : public Router {
 public:
  explicit RoundRobin(Groups groups) : groups_(std::move(groups)), cursor_(groups_.size(), 0) {}
  uint32_t pick(uint32_t group, const RouteRequest&) override {
    const auto& g = groups_[group];
    uint32_t i = g[cursor_[group]];
    cursor_[group] = (cursor_[group] + 1) % g.size();
    return i;
  }
  void load_changed(uint32_t) override {}

 private:
  Groups groups_;
  std::vector<size_t> cursor_;
};

// The instance with the fewest outstanding requests; ties go to the lowest id. O(log n) per pick and per
// load change: each group keeps its instances ordered by (outstanding, id).
class LeastOutstanding final : public Router {
 public:
  LeastOutstanding(const Groups& groups, const ClusterView& view) : view_(view), index_(groups.size()) {
    for (uint32_t g = 0; g < groups.size(); ++g)
      for (uint32_t i : groups[g]) {
        if (i >= load_.size()) {
          load_.resize(i + 1, 0);
          group_of_.resize(i + 1);
        }
        index_[g].insert({0, i});
        group_of_[i].push_back(g);
      }
  }
  uint32_t pick(uint32_t group, const RouteRequest&) override { return index_[group].begin()->second; }
  void load_changed(uint32_t id) override {
    if (id >= load_.size() || group_of_[id].empty()) return;
    int64_t now = view_.instance(id).outstanding();
    if (now == load_[id]) return;
    for (uint32_t g : group_of_[id]) {
      index_[g].erase({load_[id], id});
      index_[g].insert({now, id});
    }
    load_[id] = now;
  }

 private:
  const ClusterView& view_;
  std::vector<std::set<std::pair<int64_t, uint32_t>>> index_;
  std::vector<int64_t> load_;
  std::vector<std::vector<uint32_t>> group_of_;
};

// Scans the group and takes the instance with the lowest score (ties: lowest id).
class Scan final : public Router {
 public:
  using Score = std::function<double(const Instance&, const RouteRequest&)>;
  Scan(Groups groups, const ClusterView& view, Score score)
      : groups_(std::move(groups)), view_(view), score_(std::move(score)) {}
  uint32_t pick(uint32_t group, const RouteRequest& r) override {
    uint32_t best = groups_[group].front();
    double best_score = std::numeric_limits<double>::infinity();
    for (uint32_t i : groups_[group]) {
      double s = score_(view_.instance(i), r);
      if (s < best_score) {
        best_score = s;
        best = i;
      }
    }
    return best;
  }
  void load_changed(uint32_t) override {}

 private:
  Groups groups_;
  const ClusterView& view_;
  Score score_;
};

}  // namespace

const std::vector<RouterInfo>& routers() {
  static const std::vector<RouterInfo> all = {
      {"least-kv-load", "the instance whose KV cache is least full, counting the needs of its waiting prompts (scan)",
       [](const Groups& g, const ClusterView& v, const RouterParams&) {
         return std::unique_ptr<Router>(
             new Scan(g, v, [](const Instance& i, const RouteRequest&) { return i.kv_load(); }));
       }},
      {"least-outstanding", "the instance with the fewest requests waiting or running (indexed, O(log n))",
       [](const Groups& g, const ClusterView& v, const RouterParams&) {
         return std::unique_ptr<Router>(new LeastOutstanding(g, v));
       }},
      {"prefix-affinity",
       "the instance holding the longest cached prefix of the prompt, discounted by its queue: maximises cached "
       "prompt tokens - queue_weight x queued prompt tokens (scan)",
       [](const Groups& g, const ClusterView& v, const RouterParams& p) {
         double w = p.queue_weight;
         return std::unique_ptr<Router>(new Scan(g, v, [w](const Instance& i, const RouteRequest& r) {
           double cached = static_cast<double>(i.cached_prefix_blocks(r.prefix_blocks)) * 512.0;
           return w * static_cast<double>(i.queued_prefill_tokens()) - cached;
         }));
       }},
      {"round-robin", "each instance in turn, regardless of load",
       [](const Groups& g, const ClusterView&, const RouterParams&) {
         return std::unique_ptr<Router>(new RoundRobin(g));
       }},
      {"slo-aware",
       "the instance with the earliest predicted end of the request's prefill: the iteration in progress, the "
       "queued prompt work and the request's own uncached prompt, from the perf model (scan)",
       [](const Groups& g, const ClusterView& v, const RouterParams&) {
         const ClusterView* view = &v;
         return std::unique_ptr<Router>(new Scan(g, v, [view](const Instance& i, const RouteRequest& r) {
           return i.predicted_prefill_done(r.input_tokens, r.prefix_blocks, view->now()).value();
         }));
       }},
  };
  return all;
}

const RouterInfo& find_router(const std::string& name, const std::string& file, const std::string& where) {
  return find_registered(routers(), name, "router", file, where);
}

}  // namespace tf::serving
