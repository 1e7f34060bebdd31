// ledgerd and the benchmarks link jemalloc (CMake's ledger_allocator) with the options of
// util/jemalloc_conf.cc. This binary links the same way and checks that jemalloc is the process's
// allocator and that it took those options: were the options lost (a renamed symbol, a jemalloc
// built with a prefix), freed pages would go back to the kernel and the state tree's update would
// slow by about 40 % without any error (docs/performance.md, "The allocator").
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdlib>

namespace {

using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);

ssize_t ReadDecayMs(Mallctl mallctl, const char* name) {
  ssize_t value = 0;
  size_t size = sizeof(value);
  EXPECT_EQ(mallctl(name, &value, &size, nullptr, 0), 0) << name;
  return value;
}

TEST(Allocator, JemallocRunsWithTheProjectsOptions) {
  auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  ASSERT_NE(mallctl, nullptr) << "jemalloc is not linked into this process";
  EXPECT_EQ(ReadDecayMs(mallctl, "opt.dirty_decay_ms"), -1);
  EXPECT_EQ(ReadDecayMs(mallctl, "opt.muzzy_decay_ms"), -1);
  // malloc is jemalloc's: the block is counted in its statistics of allocated bytes.
  uint64_t epoch = 1;
  size_t epoch_size = sizeof(epoch);
  size_t before = 0, after = 0, size = sizeof(size_t);
  ASSERT_EQ(mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size), 0);
  ASSERT_EQ(mallctl("stats.allocated", &before, &size, nullptr, 0), 0);
  // volatile: the compiler may not drop an allocation whose pointer is never read.
  void* volatile block = std::malloc(size_t{64} << 20);
  ASSERT_NE(block, nullptr);
  ASSERT_EQ(mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size), 0);
  ASSERT_EQ(mallctl("stats.allocated", &after, &size, nullptr, 0), 0);
  std::free(block);
  EXPECT_GE(after, before + (size_t{64} << 20));
}

}  // namespace
