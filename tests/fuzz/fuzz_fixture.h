// What the fuzz targets (tests/fuzz/*_fuzz_entry.cc) share: one consortium with fixed keys, so
// every seed input (signed transactions, certificates, consensus messages) is a fixed byte string
// that the committed corpus can hold and the fuzzer can mutate past the signature checks.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/consensus.pb.h"
#include "consensus/messages.h"
#include "crypto/keys.h"
#include "genesis/genesis.h"
#include "ledger/block.h"
#include "ledger/transaction.h"
#include "util/bytes.h"

namespace cl::fuzz {

inline constexpr std::string_view kFuzzChainId = "fuzz-chain";

// Sha256("<label>-<index>") as a private key: fixed, distinct per (label, index).
crypto::PrivateKey FixedKey(std::string_view label, uint32_t index);

// 4 validator banks (member ids 1..4, each issuing USD.<id> from account ff00..00<id>) and one
// observer partner (id 5), chain kFuzzChainId, genesis time 1000 ms: GenerateLocalConsortium's
// layout with FixedKey("node", i) / FixedKey("gov", i) for member i + 1.
struct Consortium {
  std::string genesis_json;
  genesis::Genesis genesis;
  std::vector<crypto::PrivateKey> node_keys;  // by member index (validators first)
  std::vector<crypto::PrivateKey> gov_keys;
  std::vector<crypto::PublicKey> validator_keys;  // replica order
};
const Consortium& FixedConsortium();

// A create_account transaction for account 00..<n> in USD.1, controlled by FixedKey("user", 0),
// valid until height 1000, signed by that key.
Bytes CreateAccountTx(uint32_t n);
// A transfer of `amount` USD.1 from bank 1's issuer account to account 00..<n>, signed by bank 1's
// governance key (which controls the issuer account).
Bytes IssueTx(uint32_t n, uint64_t amount);

// Three certified blocks over the fixed genesis (accounts 1 and 2 created, 700 issued to account
// 1, an empty block), each with a commit and an execution certificate signed by validators 0..2
// (block_cert_fuzz_entry.cc).
std::vector<consensus::pb::CertifiedBlock> CertifiedChain();

// Verifies every envelope of a block (a node::TxResolver without a mempool).
Result<std::vector<ledger::VerifiedTx>> VerifyBlockTxs(const ledger::DecodedBlock& block);

// Remembers values of a pure function across inputs, keyed on a hash of everything the function
// reads: one slot per key hash modulo the size (a later key evicts an earlier one), allocated at
// construction. So remembering allocates nothing (for values that hold no heap memory): a run that
// only fills the memo does not end with more allocations than frees, which would make libFuzzer
// run the input a second time to look for a leak.
template <typename V>
class FixedMemo {
 public:
  explicit FixedMemo(size_t slots) : slots_(slots) {}
  const V* Find(const Hash32& key) const {
    const Slot& s = slots_[Index(key)];
    return s.value && s.key == key ? &*s.value : nullptr;
  }
  const V& Put(const Hash32& key, V value) {
    Slot& s = slots_[Index(key)];
    s.key = key;
    s.value = std::move(value);
    return *s.value;
  }

 private:
  struct Slot {
    Hash32 key;
    std::optional<V> value;
  };
  size_t Index(const Hash32& key) const {
    uint64_t x = 0;
    std::memcpy(&x, key.data(), sizeof(x));
    return x % slots_.size();
  }
  std::vector<Slot> slots_;
};

// Signature checks memoised on (key, digest, signature): each distinct signature (a mutated one
// included) is verified for real once; the fuzzer delivers the seeds' signed messages and
// certificates again and again. Shared by the block_cert and consensus_replica targets.
consensus::SignatureVerifier& MemoVerifier();

// Reads a whole file (empty if missing).
Bytes ReadFileBytes(const std::string& path);

}  // namespace cl::fuzz
