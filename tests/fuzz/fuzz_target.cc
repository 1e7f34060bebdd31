// One libFuzzer binary per entry of fuzz_entries.h: CMake compiles this file once per target with
// LEDGER_FUZZ_ENTRY set to the entry's name (tests/fuzz/CMakeLists.txt). Built only with
// -DLEDGER_FUZZ=ON and clang; scripts/fuzz.sh runs them.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cl::fuzz::LEDGER_FUZZ_ENTRY(data, size);
}
