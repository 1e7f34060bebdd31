// The ledger state at height 0, built from a genesis description (genesis/ parses the JSON file
// into a GenesisState). Every check that protects an invariant is repeated here, so no genesis file
// can start a chain whose state breaks one.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "ledger/ledger.pb.h"
#include "ledger/state_reader.h"
#include "util/status.h"

namespace cl::ledger {

struct GenesisAccount {
  pb::AccountRecord record;  // id, asset, controller, custodian, flags, limits, issuer
  bool negative = false;     // only an issuer account may start below zero
  uint64_t balance = 0;      // magnitude, minor units
};

struct GenesisState {
  uint32_t governance_threshold = 0;
  std::vector<pb::MemberRecord> members;
  std::vector<pb::AssetRecord> assets;
  std::vector<GenesisAccount> accounts;  // must include each asset's issuer account
};

// The state writes of height 0, sorted by key; an error names the first problem.
Result<std::vector<StateChange>> BuildGenesisState(const GenesisState& genesis);

}  // namespace cl::ledger
