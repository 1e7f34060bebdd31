// Replays every fuzz target (tests/fuzz/fuzz_entries.h) under the normal test build, so CI (g++,
// Release and ASan+UBSan) runs them without libFuzzer: the committed corpus, the committed crash
// inputs (each a bug once found, fixed since), the generated seeds, and some thousands of seeded
// random mutations of the seeds. A failure names the file, or the seed and input number that
// reproduce it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/fuzz_fixture.h"

namespace cl::fuzz {

// For gtest's listing (and CTest's test names): the target's name, not its bytes.
void PrintTo(const Target& target, std::ostream* os) {
  *os << target.name;
}

namespace {

constexpr uint32_t kSeed = 20261207;  // printed on failure; change to explore
// Mutations per target; the slowest targets (a signature check or a ledger per input) set the
// budget: the whole binary stays within seconds in Release.
constexpr int kMutationsPerTarget = 2000;
// The replica target runs a replica over up to 256 signed messages per input (about 1 ms each in
// Release): fewer of its inputs, so the set stays within seconds under the sanitizers too.
constexpr int kMutationsOfReplicaInputs = 1000;

std::filesystem::path FuzzDir() {
  return std::filesystem::path(LEDGER_VECTORS_DIR) / ".." / "fuzz";
}

std::vector<std::filesystem::path> FilesIn(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename().string()[0] != '.')
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

Bytes Mutate(Bytes in, std::mt19937& rng) {
  const int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    if (in.empty()) {
      in.push_back(static_cast<uint8_t>(rng()));
      continue;
    }
    const size_t at = rng() % in.size();
    switch (rng() % 6) {
      case 0:  // flip a bit
        in[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // replace a byte, often with an edge value
        in[at] = (rng() % 2) ? static_cast<uint8_t>(rng()) : uint8_t{0xff};
        break;
      case 2:  // truncate
        in.resize(at);
        break;
      case 3:  // insert a byte
        in.insert(in.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(rng()));
        break;
      case 4:  // erase a range
        in.erase(in.begin() + static_cast<ptrdiff_t>(at),
                 in.begin() + static_cast<ptrdiff_t>(std::min(in.size(), at + 1 + rng() % 16)));
        break;
      default: {  // duplicate a range
        const size_t n = std::min<size_t>(in.size() - at, 1 + rng() % 64);
        Bytes copy(in.begin() + static_cast<ptrdiff_t>(at),
                   in.begin() + static_cast<ptrdiff_t>(at + n));
        in.insert(in.begin() + static_cast<ptrdiff_t>(rng() % in.size()), copy.begin(), copy.end());
      }
    }
  }
  return in;
}

class FuzzReplay : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, CommittedCorpusAndCrashInputsRunCleanly) {
  const Target& t = GetParam();
  size_t corpus = 0;
  for (const auto& path : FilesIn(FuzzDir() / "corpus" / t.name)) {
    const Bytes data = ReadFileBytes(path.string());
    SCOPED_TRACE(path.string());
    EXPECT_EQ(t.entry(data.data(), data.size()), 0);
    ++corpus;
  }
  EXPECT_GE(corpus, t.seeds().size()) << "tests/fuzz/corpus/" << t.name;
  for (const auto& path : FilesIn(FuzzDir() / "crashes" / t.name)) {
    const Bytes data = ReadFileBytes(path.string());
    SCOPED_TRACE(path.string());
    EXPECT_EQ(t.entry(data.data(), data.size()), 0);
  }
}

// A format change must regenerate the seeds, or the fuzzer starts from inputs that stop at the
// first check. To regenerate:
//   LEDGER_WRITE_FUZZ_CORPUS=1 fuzz_test --gtest_filter='*MatchesTheGeneratedSeeds*'
TEST_P(FuzzReplay, CommittedCorpusMatchesTheGeneratedSeeds) {
  const Target& t = GetParam();
  const std::vector<Bytes> seeds = t.seeds();
  const std::filesystem::path dir = FuzzDir() / "corpus" / t.name;
  if (std::getenv("LEDGER_WRITE_FUZZ_CORPUS") != nullptr) {
    std::filesystem::create_directories(dir);
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream out(dir / ("seed-" + std::to_string(i)), std::ios::binary);
      out.write(reinterpret_cast<const char*>(seeds[i].data()),
                static_cast<std::streamsize>(seeds[i].size()));
      ASSERT_TRUE(out.good());
    }
  }
  for (size_t i = 0; i < seeds.size(); ++i) {
    EXPECT_FALSE(seeds[i].empty()) << t.name << " seed-" << i;
    EXPECT_EQ(ReadFileBytes((dir / ("seed-" + std::to_string(i))).string()), seeds[i])
        << "tests/fuzz/corpus/" << t.name << "/seed-" << i;
  }
}

TEST_P(FuzzReplay, SeededMutationsNeverBreakInvariants) {
  const Target& t = GetParam();
  const std::vector<Bytes> seeds = t.seeds();
  ASSERT_FALSE(seeds.empty());
  std::mt19937 rng(kSeed);
  const int mutations =
      t.name == "consensus_replica" ? kMutationsOfReplicaInputs : kMutationsPerTarget;
  for (int i = 0; i < mutations; ++i) {
    const Bytes input = Mutate(seeds[static_cast<size_t>(i) % seeds.size()], rng);
    SCOPED_TRACE("seed " + std::to_string(kSeed) + " input " + std::to_string(i));
    ASSERT_EQ(t.entry(input.data(), input.size()), 0);
  }
}

std::string TargetName(const ::testing::TestParamInfo<Target>& info) {
  return std::string(info.param.name);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(kTargets), TargetName);

}  // namespace
}  // namespace cl::fuzz
