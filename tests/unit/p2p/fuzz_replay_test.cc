// Runs the libFuzzer entry (tests/fuzz/p2p_fuzz_entry.h) under the normal test build: the committed
// corpus, the generated seeds, and some thousands of seeded random mutations of a valid stream.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/fuzz/p2p_fuzz_entry.h"

namespace cl::p2p::fuzz {
namespace {

constexpr uint32_t kSeed = 20261123;  // printed on failure; change to explore
constexpr int kMutatedInputs = 3000;
constexpr int kRandomInputs = 2000;

Bytes Mutate(Bytes in, std::mt19937& rng) {
  std::uniform_int_distribution<int> op(0, 4);
  const int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds && !in.empty(); ++r) {
    const size_t at = rng() % in.size();
    switch (op(rng)) {
      case 0:
        in[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;  // flip a bit
      case 1:
        in[at] = static_cast<uint8_t>(rng());
        break;  // replace a byte
      case 2:
        in.resize(at);
        break;  // truncate
      case 3:
        in.insert(in.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(rng()));
        break;
      default: {  // duplicate a range (replay-like)
        const size_t n = std::min<size_t>(in.size() - at, 1 + rng() % 64);
        Bytes copy(in.begin() + static_cast<ptrdiff_t>(at),
                   in.begin() + static_cast<ptrdiff_t>(at + n));
        in.insert(in.end(), copy.begin(), copy.end());
      }
    }
  }
  return in;
}

TEST(P2pFuzzReplay, CommittedCorpusRunsCleanly) {
  const std::filesystem::path dir =
      std::filesystem::path(LEDGER_VECTORS_DIR) / ".." / "fuzz" / "corpus" / "p2p_session";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(FuzzSessionInput(data.data(), data.size()), 0) << entry.path();
    ++files;
  }
  EXPECT_GE(files, 6u);
}

TEST(P2pFuzzReplay, CommittedCorpusMatchesTheGeneratedSeeds) {
  // A wire-format change must regenerate the corpus (p2p_fuzz_seeds), or the fuzzer starts from
  // stale inputs that stop at the first frame.
  // To regenerate: LEDGER_WRITE_P2P_FUZZ_CORPUS=1 p2p_test --gtest_filter='*MatchesTheGenerated*'
  const auto seeds = SeedInputs();
  const std::filesystem::path dir =
      std::filesystem::path(LEDGER_VECTORS_DIR) / ".." / "fuzz" / "corpus" / "p2p_session";
  if (std::getenv("LEDGER_WRITE_P2P_FUZZ_CORPUS") != nullptr) {
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream out(dir / ("seed-" + std::to_string(i)), std::ios::binary);
      out.write(reinterpret_cast<const char*>(seeds[i].data()),
                static_cast<std::streamsize>(seeds[i].size()));
      ASSERT_TRUE(out.good());
    }
  }
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ifstream in(dir / ("seed-" + std::to_string(i)), std::ios::binary);
    Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(data, seeds[i]) << "seed-" << i;
  }
}

TEST(P2pFuzzReplay, SeededMutationsOfAValidStreamNeverBreakInvariants) {
  std::mt19937 rng(kSeed);
  const Bytes valid = ValidInitiatorStream(3, 4);
  ASSERT_EQ(FuzzSessionInput(valid.data(), valid.size()), 0);
  for (int i = 0; i < kMutatedInputs; ++i) {
    Bytes input = Mutate(valid, rng);
    input[0] = static_cast<uint8_t>(i);  // cycle through the splits
    SCOPED_TRACE("seed " + std::to_string(kSeed) + " input " + std::to_string(i));
    ASSERT_EQ(FuzzSessionInput(input.data(), input.size()), 0);
  }
}

TEST(P2pFuzzReplay, SeededRandomBytesNeverBreakInvariants) {
  std::mt19937 rng(kSeed + 1);
  for (int i = 0; i < kRandomInputs; ++i) {
    Bytes input(rng() % 300);
    for (auto& b : input)
      b = static_cast<uint8_t>(rng());
    if (input.size() > 4 && (i % 2 == 0)) {  // half of them with a plausible hello length
      input[1] = 0;
      input[2] = 0;
      input[3] = 0;
      input[4] = static_cast<uint8_t>(rng() % 200);
    }
    SCOPED_TRACE("seed " + std::to_string(kSeed + 1) + " input " + std::to_string(i));
    ASSERT_EQ(FuzzSessionInput(input.data(), input.size()), 0);
  }
}

}  // namespace
}  // namespace cl::p2p::fuzz
