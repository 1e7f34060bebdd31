// genesis (fuzz_entries.h): a genesis file through the loader and its checks.
#include "genesis/genesis.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/fuzz_fixture.h"
#include "util/assert.h"

namespace cl::fuzz {

int FuzzGenesis(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = genesis::LoadGenesis(text);
  if (!loaded) {
    LEDGER_ASSERT(!loaded.error().message.empty());
    return 0;
  }
  // A genesis the loader accepts is one every node can start from.
  LEDGER_ASSERT(loaded->validators.size() >= genesis::kMinValidators);
  LEDGER_ASSERT(loaded->validators.size() <= genesis::kMaxValidators);
  auto changes = genesis::GenesisStateChanges(*loaded);
  LEDGER_ASSERT(changes.has_value());
  return 0;
}

std::vector<Bytes> GenesisSeeds() {
  return {ToBytes(FixedConsortium().genesis_json),
          ReadFileBytes(std::string(LEDGER_VECTORS_DIR) + "/genesis/sample.json"),
          ReadFileBytes(std::string(LEDGER_VECTORS_DIR) + "/proofs/example-genesis.json")};
}

}  // namespace cl::fuzz
