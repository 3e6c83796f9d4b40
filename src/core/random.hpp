#pragma once
// Seeded random streams. There is no global generator: each consumer derives its own stream from the
// scenario seed and a stable name, so adding a consumer never changes another's numbers.

#include <cstdint>
#include <random>
#include <string_view>

namespace tf {

// splitmix64 finaliser: a well-mixed 64-bit value from any 64-bit input.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Stable FNV-1a hash of a name (not std::hash, which may differ between builds).
constexpr uint64_t stable_hash(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// A generator for the stream `name` (and optional index) of a run with `seed`.
inline std::mt19937_64 random_stream(uint64_t seed, std::string_view name, uint64_t index = 0) {
  return std::mt19937_64(mix64(seed ^ mix64(stable_hash(name) + mix64(index))));
}

// Uniform double in [0, 1) computed from the generator's bits, identical on every platform
// (std::uniform_real_distribution is not specified bit-for-bit).
inline double uniform01(std::mt19937_64& g) {
  return static_cast<double>(g() >> 11) * 0x1.0p-53;
}

}  // namespace tf
