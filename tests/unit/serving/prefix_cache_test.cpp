#include <catch2/catch.hpp>

#include "serving/prefix_cache.hpp"

using namespace tf;

TEST_CASE("a prefix hit stops at the first block that is not cached") {
  serving::PrefixCache c({{"hbm", -1, BytesPerSecond(0)}});
  c.insert({1, 2, 3});
  CHECK(c.lookup({1, 2, 3, 4}).blocks == 3);
  CHECK(c.lookup({1, 9, 3}).blocks == 1);
  CHECK(c.lookup({9, 2, 3}).blocks == 0);
}

TEST_CASE("a full tier spills its least recently used blocks into the next tier, and the last tier drops them") {
  serving::PrefixCache c({{"hbm", 2, BytesPerSecond(0)}, {"dram", 2, BytesPerSecond(1e9)}});
  c.insert({1});
  c.insert({2});
  c.insert({3});  // 1 -> dram
  c.insert({4});  // 2 -> dram
  auto l = c.lookup({1});
  CHECK(l.per_tier[1] == 1);
  c.insert({5});  // 3 -> dram, 1 dropped
  CHECK(c.lookup({1}).blocks == 0);
  CHECK(c.size(0) == 2);
  CHECK(c.size(1) == 2);
}

TEST_CASE("reusing a block brings it back to the first tier") {
  serving::PrefixCache c({{"hbm", 1, BytesPerSecond(0)}, {"dram", 4, BytesPerSecond(1e9)}});
  c.insert({1});
  c.insert({2});
  CHECK(c.lookup({1}).per_tier[1] == 1);
  c.insert({1});
  CHECK(c.lookup({1}).per_tier[0] == 1);
}

TEST_CASE("a prompt's leading blocks are evicted last") {
  serving::PrefixCache c({{"hbm", 2, BytesPerSecond(0)}});
  c.insert({10, 11, 12});
  CHECK(c.lookup({10, 11}).blocks == 2);
}
