#pragma once
// A tiered cache of prompt prefixes, keyed by the trace's prefix-block hashes (Mooncake `hash_ids`: one
// hash per 512-token block; a block can be reused only if every block before it in the prompt is reused
// too). Tiers are ordered fastest first (HBM, host DRAM, SSD); each holds whole blocks, and a block lives in
// exactly one tier. Inserting or reusing a block moves it to the front of the first tier; a full tier evicts
// its least recently used block into the next tier, and the last tier drops it (LRU, the only eviction policy
// so far; a name registry keeps room for more).

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/units.hpp"

namespace tf::serving {

struct CacheTier {
  std::string name;              // "hbm", "dram", "ssd"
  int64_t capacity_blocks = -1;  // -1: unbounded
  BytesPerSecond bandwidth;      // reading a block back into HBM (0 for the HBM tier: no copy)
};

class PrefixCache {
 public:
  // tiers: fastest first; at least one.
  explicit PrefixCache(std::vector<CacheTier> tiers);

  struct Lookup {
    int64_t blocks = 0;             // length of the cached prefix, in blocks
    std::vector<int64_t> per_tier;  // of which found in each tier
  };
  // The longest prefix of `blocks` held in any tier. Does not change the cache.
  Lookup lookup(const std::vector<uint64_t>& blocks) const;
  // Makes every block of `blocks` most recently used in the first tier, evicting as needed.
  void insert(const std::vector<uint64_t>& blocks);

  const std::vector<CacheTier>& tiers() const { return tiers_; }
  int64_t size(size_t tier) const { return static_cast<int64_t>(lru_[tier].size()); }

 private:
  struct Where {
    uint32_t tier;
    std::list<uint64_t>::iterator pos;
  };
  void push_front(uint32_t tier, uint64_t block);

  std::vector<CacheTier> tiers_;
  std::vector<std::list<uint64_t>> lru_;  // front: most recently used
  std::unordered_map<uint64_t, Where> where_;
};

}  // namespace tf::serving
