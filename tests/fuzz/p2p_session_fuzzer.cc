// libFuzzer target for the p2p handshake and frame decoder (see p2p_fuzz_entry.h). Built only with
// -DLEDGER_FUZZ=ON and clang; the long-run command is in docs/protocol.md ("P2P sessions").
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/p2p_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cl::p2p::fuzz::FuzzSessionInput(data, size);
}
