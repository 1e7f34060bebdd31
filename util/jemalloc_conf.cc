// jemalloc's options for the programs that link it (CMake's ledger_allocator: ledgerd, the
// benchmarks and tests/unit/util/allocator_test.cc, which checks them), read by jemalloc when it
// starts. Compiled into those programs only.
//
// Freed pages are kept for reuse instead of being returned to the operating system on a timer
// (jemalloc's default, 10 s). A block's commit frees and allocates buffers of tens of megabytes;
// returning them made every block fault their pages in again and cost the state tree's update
// about 40 % (docs/performance.md, "The allocator"). The node's memory is bounded by its caches
// and its block limits, so keeping the peak costs no more than that bound.
extern "C" {
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
