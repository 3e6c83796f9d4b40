#include "serving/router.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include "core/error.hpp"
#include "core/registry.hpp"

namespace tf::serving {

namespace {

using Groups = std::vector<std::vector<uint32_t>>;

// Instance speeds as the load-ranking routers use them: empty when none are given or all are equal, so that
// such a cluster ranks by load alone, exactly as a router without speeds does (same picks, same ties).
std::vector<double> speeds_for_ranking(const Groups& groups, const RouterParams& p) {
  if (p.speed.empty()) return {};
  for (double s : p.speed)
    TF_ASSERT(std::isfinite(s) && s > 0, "router: instance speeds must be positive and finite");
  for (const auto& g : groups)
    for (uint32_t i : g)
      TF_ASSERT(i < p.speed.size(), "router: no speed for instance " + std::to_string(i));
  bool uniform = std::all_of(p.speed.begin(), p.speed.end(), [&](double s) { return s == p.speed.front(); });
  return uniform ? std::vector<double>{} : p.speed;
}

// The rank of an instance in a load-ranking router: load / speed, then the faster instance (so an idle fast
// instance is taken before an idle slow one), then the lowest id. Without speeds: load, then the lowest id.
struct Rank {
  double load_per_speed = 0;
  double neg_speed = -1;
  uint32_t id = 0;
  friend bool operator<(const Rank& a, const Rank& b) {
    return std::tie(a.load_per_speed, a.neg_speed, a.id) < std::tie(b.load_per_speed, b.neg_speed, b.id);
  }
};

Rank rank_of(double load, uint32_t id, const std::vector<double>& speed) {
  if (speed.empty()) return {load, -1.0, id};
  return {load / speed[id], -speed[id], id};
}

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

// The instance with the fewest outstanding requests per unit of speed; ties go to the faster instance, then
// the lowest id. O(log n) per pick and per load change: each group keeps its instances ordered by rank.
class LeastOutstanding final : public Router {
 public:
  LeastOutstanding(const Groups& groups, const ClusterView& view, std::vector<double> speed)
      : view_(view), speed_(std::move(speed)), index_(groups.size()) {
    for (uint32_t g = 0; g < groups.size(); ++g)
      for (uint32_t i : groups[g]) {
        if (i >= load_.size()) {
          load_.resize(i + 1, 0);
          group_of_.resize(i + 1);
        }
        index_[g].insert(rank_of(0, i, speed_));
        group_of_[i].push_back(g);
      }
  }
  uint32_t pick(uint32_t group, const RouteRequest&) override { return index_[group].begin()->id; }
  void load_changed(uint32_t id) override {
    if (id >= load_.size() || group_of_[id].empty()) return;
    int64_t now = view_.instance(id).outstanding();
    if (now == load_[id]) return;
    Rank before = rank_of(static_cast<double>(load_[id]), id, speed_);
    Rank after = rank_of(static_cast<double>(now), id, speed_);
    for (uint32_t g : group_of_[id]) {
      // Moves the instance's node to its new place: no node freed and allocated per change.
      auto node = index_[g].extract(before);
      node.value() = after;
      index_[g].insert(std::move(node));
    }
    load_[id] = now;
  }

 private:
  const ClusterView& view_;
  std::vector<double> speed_;  // empty: all equal
  std::vector<std::set<Rank>> index_;
  std::vector<int64_t> load_;  // outstanding requests as last indexed
  std::vector<std::vector<uint32_t>> group_of_;
};

// Scans the group and takes the instance with the lowest score; ties go to the first in the group's order (its
// lowest id). With speeds, the score is divided by the instance's speed, and ties go to the faster instance.
class Scan final : public Router {
 public:
  using Score = std::function<double(const Instance&, const RouteRequest&)>;
  Scan(Groups groups, const ClusterView& view, Score score, std::vector<double> speed = {})
      : groups_(std::move(groups)), view_(view), score_(std::move(score)), speed_(std::move(speed)) {}
  uint32_t pick(uint32_t group, const RouteRequest& r) override {
    uint32_t best = groups_[group].front();
    double best_score = std::numeric_limits<double>::infinity();
    double best_speed = 0;
    for (uint32_t i : groups_[group]) {
      double speed = speed_.empty() ? 1.0 : speed_[i];
      double s = score_(view_.instance(i), r) / speed;
      if (s < best_score || (s == best_score && speed > best_speed)) {
        best_score = s;
        best_speed = speed;
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
  std::vector<double> speed_;  // empty: all equal
};

}  // namespace

const std::vector<RouterInfo>& routers() {
  static const std::vector<RouterInfo> all = {
      {"least-kv-load",
       "the instance whose KV cache is least full, counting the needs of its waiting prompts, per unit of "
       "instance speed (scan)",
       [](const Groups& g, const ClusterView& v, const RouterParams& p) {
         return std::unique_ptr<Router>(new Scan(
             g, v, [&v](const Instance& i, const RouteRequest&) { return i.kv_load(v.now()); },
             speeds_for_ranking(g, p)));
       }},
      {"least-outstanding",
       "the instance with the fewest requests waiting or running per unit of instance speed (indexed, O(log n))",
       [](const Groups& g, const ClusterView& v, const RouterParams& p) {
         return std::unique_ptr<Router>(new LeastOutstanding(g, v, speeds_for_ranking(g, p)));
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
      // Ranks by time, not load: each instance's prediction comes from its own perf model, so its speed is
      // already in it and dividing by the speed would count it twice.
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
