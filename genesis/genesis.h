// The genesis file: the chain id, genesis time, consensus parameters, the consortium's members with
// their roles and keys, the governance threshold, and the initial assets and accounts. Loading
// checks everything and reports the first problem as one line naming its JSON path, e.g.
//   "genesis: $.members[2].node_key: not a 33-byte compressed secp256k1 public key in hex".
// docs/ledger.md describes the format; the sample is tests/vectors/genesis/sample.json.
//
// The genesis hash is TaggedHash(kGenesis, file bytes): auditors check a genesis file by its hash,
// so the bytes, not a re-serialization, are what count.
//
// Thread safety: pure functions; a Genesis is a plain value.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "ledger/block.h"
#include "ledger/genesis_state.h"
#include "ledger/transaction.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::genesis {

inline constexpr size_t kMaxGenesisFileBytes = 16 * 1024 * 1024;
inline constexpr size_t kMinValidators = 4;  // f = floor((n-1)/3) >= 1 (any n, util/quorum.h)
inline constexpr size_t kMaxMembers = 256;
// Largest validator set: consensus' limit (consensus::kMaxValidators, which bounds every message a
// view change produces; node/node.cc asserts the two agree). More validators would make a node
// abort.
inline constexpr size_t kMaxValidators = 64;
inline constexpr size_t kMaxGenesisAccounts = 100'000;

// The consensus limits a genesis file may set derive from what the code handles: a block holds at
// most ledger::kMaxTxsPerBlock transactions and ledger::kMaxBlockBytes encoded bytes (EncodeBlock
// asserts the first, every replica refuses a larger block).
//
// A proposer fills a block with envelopes up to max_block_bytes - kProposerReserveBytes (node/
// MaybePropose). The reserve is the most a block holds beside its envelopes: the header field (tag,
// 2-byte length, at most ledger::kMaxHeaderBytes) and each envelope's tag and length (1 + 3 bytes:
// an envelope of at most ledger::kMaxTxEnvelopeBytes has a 3-byte length), so a block built within
// the budget is never over max_block_bytes. The smallest block must still fit one transaction of
// the largest size admitted, or such a transaction would never be included.
inline constexpr uint64_t kBlockFramingBytesPerTx = 4;
inline constexpr uint64_t kProposerReserveBytes =
    3 + ledger::kMaxHeaderBytes + ledger::kMaxTxsPerBlock * kBlockFramingBytesPerTx;
inline constexpr uint64_t kMinBlockBytes = ledger::kMaxTxEnvelopeBytes + kProposerReserveBytes;
static_assert(ledger::kMaxTxEnvelopeBytes < (uint64_t{1} << 21), "a 3-byte varint length");
static_assert(ledger::kMaxHeaderBytes < (uint64_t{1} << 14), "a 2-byte varint length");
static_assert(kMinBlockBytes <= ledger::kMaxBlockBytes);

struct ConsensusParams {
  uint32_t max_block_txs = 5000;
  // 8 MiB, or less if the code's block limit is smaller.
  uint64_t max_block_bytes = std::min<uint64_t>(8 * 1024 * 1024, ledger::kMaxBlockBytes);
  uint64_t block_interval_ms = 500;
  uint64_t view_change_timeout_ms = 4000;
};

struct Validator {
  uint32_t member_id = 0;
  std::string name;
  crypto::PublicKey node_key;
};

struct Genesis {
  std::string chain_id;
  uint64_t genesis_time_ms = 0;
  ConsensusParams consensus;
  ledger::GenesisState state;
  std::vector<Validator> validators;  // members with the validator role, by member id
  Hash32 hash;
};

// Parses and checks a genesis file's text.
Result<Genesis> LoadGenesis(std::string_view json_text);
Result<Genesis> LoadGenesisFile(const std::string& path);

// The height-0 state writes (ledger::BuildGenesisState over genesis.state).
Result<std::vector<ledger::StateChange>> GenesisStateChanges(const Genesis& genesis);

// A local consortium for development and tests: `banks` validator banks (each issuing its own
// deposit token USD.<n>, bank 1 also compliance) and `partners` observer members.
struct MemberKeys {
  uint32_t member_id = 0;
  std::string name;
  Bytes node_secret;        // 32 bytes
  Bytes governance_secret;  // 32 bytes; also controls the member's issuer accounts
};
struct LocalConsortium {
  std::string genesis_json;
  std::vector<MemberKeys> keys;
};
Result<LocalConsortium> GenerateLocalConsortium(std::string_view chain_id, uint32_t banks,
                                                uint32_t partners, uint64_t genesis_time_ms);

}  // namespace cl::genesis
