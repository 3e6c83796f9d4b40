#include "serving/prefix_cache.hpp"

#include "core/error.hpp"

namespace tf::serving {

PrefixCache::PrefixCache(std::vector<CacheTier> tiers) : tiers_(std::move(tiers)), lru_(tiers_.size()) {
  TF_ASSERT(!tiers_.empty(), "a prefix cache needs at least one tier");
  for (const auto& t : tiers_)
    TF_ASSERT(t.capacity_blocks != 0, "a cache tier needs capacity");
}

PrefixCache::Lookup PrefixCache::lookup(const std::vector<uint64_t>& blocks) const {
  Lookup l;
  l.per_tier.assign(tiers_.size(), 0);
  for (uint64_t b : blocks) {
    auto it = where_.find(b);
    if (it == where_.end()) break;
    ++l.blocks;
    ++l.per_tier[it->second.tier];
  }
  return l;
}

void PrefixCache::push_front(uint32_t tier, uint64_t block) {
  lru_[tier].push_front(block);
  where_[block] = Where{tier, lru_[tier].begin()};
  // Spill the least recently used blocks down the tiers.
  for (uint32_t t = tier; t < tiers_.size(); ++t) {
    int64_t cap = tiers_[t].capacity_blocks;
    if (cap < 0 || static_cast<int64_t>(lru_[t].size()) <= cap) break;
    uint64_t victim = lru_[t].back();
    lru_[t].pop_back();
    if (t + 1 < tiers_.size()) {
      lru_[t + 1].push_front(victim);
      where_[victim] = Where{t + 1, lru_[t + 1].begin()};
    } else {
      where_.erase(victim);
    }
  }
}

void PrefixCache::insert(const std::vector<uint64_t>& blocks) {
  // Last block first, so that the prompt's leading blocks, the ones other prompts share, end up most
  // recently used and are evicted last.
  for (auto rit = blocks.rbegin(); rit != blocks.rend(); ++rit) {
    uint64_t b = *rit;
    auto it = where_.find(b);
    if (it != where_.end()) {
      lru_[it->second.tier].erase(it->second.pos);
      where_.erase(it);
    }
    push_front(0, b);
  }
}

}  // namespace tf::serving
