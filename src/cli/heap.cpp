#include "cli/heap.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace tf::cli {

void prepare_heap() {
  constexpr int kMapThreshold = 32 << 20;  // glibc's largest allowed value on 64-bit
  constexpr int kReserve = 512 << 20;
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  mallopt(M_MMAP_THRESHOLD, kMapThreshold);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  // Grow the heap once by the reserve: a block larger than what is free at its top makes malloc extend it by the
  // block plus M_TOP_PAD. Then advise huge pages over what lies between the block and the heap's end.
  const int default_top_pad = 128 << 10;
  mallopt(M_TOP_PAD, kReserve);
  void* block = std::malloc(kHugePage * 2);
  mallopt(M_TOP_PAD, default_top_pad);
  if (block == nullptr) return;
  const auto begin = (reinterpret_cast<uintptr_t>(block) + kHugePage - 1) & ~(kHugePage - 1);
  const auto end = reinterpret_cast<uintptr_t>(sbrk(0)) & ~(kHugePage - 1);
  // The block is in the heap only if malloc could extend it (else it was mapped on its own; nothing to advise).
  if (end > begin && end - begin <= static_cast<uintptr_t>(kReserve) + 4 * kHugePage)
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  std::free(block);
}

}  // namespace tf::cli
