// Writes the p2p fuzz seeds into a directory: p2p_fuzz_seeds tests/fuzz/corpus/p2p_session
// (the committed corpus; rerun after a wire-format change).
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/fuzz/p2p_fuzz_entry.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const auto seeds = cl::p2p::fuzz::SeedInputs();
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream out(std::string(argv[1]) + "/seed-" + std::to_string(i), std::ios::binary);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
    if (!out) return 1;
  }
  std::printf("wrote %zu seeds\n", seeds.size());
  return 0;
}
