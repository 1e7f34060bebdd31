// p2p_session (fuzz_entries.h): the existing p2p entry (p2p_fuzz_entry.h) under the common table.
#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/p2p_fuzz_entry.h"

namespace cl::fuzz {

int FuzzP2pSession(const uint8_t* data, size_t size) {
  return p2p::fuzz::FuzzSessionInput(data, size);
}

std::vector<Bytes> P2pSessionSeeds() {
  return p2p::fuzz::SeedInputs();
}

}  // namespace cl::fuzz
