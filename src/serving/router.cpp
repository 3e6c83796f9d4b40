#include "serving/router.hpp"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "core/registry.hpp"

namespace tf::serving {

namespace {

// Cycles through each group's instances in order.
class RoundRobin final : public Router {
 public:
  explicit RoundRobin(std::vector<std::vector<uint32_t>> groups)
      : groups_(std::move(groups)), cursor_(groups_.size(), 0) {}
  uint32_t pick(uint32_t group) override {
    const auto& g = groups_[group];
    uint32_t i = g[cursor_[group]];
    cursor_[group] = (cursor_[group] + 1) % g.size();
    return i;
  }
  void load_changed(uint32_t, int64_t) override {}

 private:
  std::vector<std::vector<uint32_t>> groups_;
  std::vector<size_t> cursor_;
};

// The instance with the fewest outstanding requests; ties go to the lowest id. O(log n) per pick and
// per load change: each group keeps its instances ordered by (outstanding, id).
class LeastOutstanding final : public Router {
 public:
  LeastOutstanding(const std::vector<std::vector<uint32_t>>& groups, uint32_t instances)
      : index_(groups.size()), load_(instances, 0), group_of_(instances) {
    for (uint32_t g = 0; g < groups.size(); ++g)
      for (uint32_t i : groups[g]) {
        index_[g].insert({0, i});
        group_of_[i].push_back(g);
      }
  }
  uint32_t pick(uint32_t group) override { return index_[group].begin()->second; }
  void load_changed(uint32_t instance, int64_t outstanding) override {
    for (uint32_t g : group_of_[instance]) {
      index_[g].erase({load_[instance], instance});
      index_[g].insert({outstanding, instance});
    }
    load_[instance] = outstanding;
  }

 private:
  std::vector<std::set<std::pair<int64_t, uint32_t>>> index_;
  std::vector<int64_t> load_;
  std::vector<std::vector<uint32_t>> group_of_;
};

}  // namespace

const std::vector<RouterInfo>& routers() {
  static const std::vector<RouterInfo> all = {
      {"least-outstanding", "the instance with the fewest requests waiting or running (ties: lowest instance id)",
       [](const std::vector<std::vector<uint32_t>>& groups, uint32_t n) {
         return std::unique_ptr<Router>(new LeastOutstanding(groups, n));
       }},
      {"round-robin", "each instance in turn, regardless of load",
       [](const std::vector<std::vector<uint32_t>>& groups, uint32_t) {
         return std::unique_ptr<Router>(new RoundRobin(groups));
       }},
  };
  return all;
}

const RouterInfo& find_router(const std::string& name, const std::string& file, const std::string& where) {
  return find_registered(routers(), name, "router", file, where);
}

}  // namespace tf::serving
