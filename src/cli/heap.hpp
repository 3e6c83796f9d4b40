#pragma once
// How the process gets its memory (docs/performance.md, "Start-up").

namespace tf::cli {

// Called first thing in main(). A run at 100,000 accelerators allocates tens of megabytes of small objects
// at start-up (the topology graph, the measured tables, the instances), and on the virtual machines we run on
// a page fault costs about 5 µs: with 4 KiB pages, faults were half of the start-up's time. This
//   - keeps freed memory in the heap for reuse (no trimming; blocks up to 32 MiB come from the heap, not from
//     their own mappings that are unmapped when freed and faulted in again when the next one is allocated);
//   - reserves the heap's first 512 MiB of address space in one step and asks the kernel to back it with
//     transparent huge pages (2 MiB) where it can, which takes 512 times fewer faults per megabyte touched.
// Nothing is touched in advance: resident memory grows only as the program uses it (in 2 MiB steps within
// the reserved range). Where huge pages are unavailable the advice is ignored. Results do not depend on it.
void prepare_heap();

}  // namespace tf::cli
