// Proof bundles (docs/proofs.md, ledger/proof_bundle.proto): one self-contained file proving one
// fact (an account's record at a height, a transfer, a transaction's receipt, an account's or a
// transfer's absence, an asset's supply) against the genesis file alone. VerifyProofBundle is the
// offline verifier of `ledger-audit`: it depends only on crypto/ and the ledger's proof code
// (state_proof, merkle, block hashing), never on consensus/, p2p/ or node/. It re-implements the
// certificate check from the documented format (docs/consensus.md), with the one quorum formula
// of util/quorum.h, and parses every message strictly (util/canonical_proto.h). From the genesis
// validators it follows the bundle's chain of validator-set changes (docs/consensus.md "Epochs"),
// each certified by the set before it, to the set that certifies the bundle's height.
// BuildProofBundle is the node's side: it reads a height's header, certificates and proofs, and
// adds the chain of changes in force at that height from the node's epoch history.
//
// Thread safety: stateless functions over values; safe from any thread (the builder only reads
// the store, which allows concurrent readers).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "ledger/block_store.h"
#include "ledger/ledger.pb.h"
#include "ledger/proof_bundle.pb.h"
#include "ledger/state_tree.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// Version 1: no validator-set changes (the height is in epoch 0); version 2: at least one. A
// bundle's version is exactly the one its changes call for, so that one fact has one encoding and
// a verifier that predates epochs still reads every epoch-0 bundle.
inline constexpr uint32_t kProofBundleVersion = 1;
inline constexpr uint32_t kProofBundleVersionWithChanges = 2;
// Largest bundle the verifier reads (a bundle is a few KiB; the cap bounds hostile input).
inline constexpr size_t kMaxProofBundleBytes = 4u << 20;
// Largest validator set a certificate may name (genesis allows at most 64 validators,
// genesis::kMaxValidators).
inline constexpr size_t kMaxBundleValidators = 256;

// What the verifier trusts: taken from the genesis file (the validator keys in replica order, i.e.
// the genesis validators by member id).
struct TrustAnchor {
  std::string chain_id;
  Hash32 genesis_hash;
  std::vector<crypto::PublicKey> validators;
};

// One validator-set change of a bundle's chain, as verified (docs/proofs.md step 2).
struct VerifiedEpochChange {
  uint64_t epoch = 0;              // the epoch it starts: i for the bundle's i-th change
  uint64_t height = 0;             // the block that scheduled it
  uint64_t activation_height = 0;  // height + kEpochActivationDelay: epoch i's first height
  size_t validators = 0;           // validators of epoch i
  Hash32 set_hash;                 // their validator set hash, as the approval certifies it
  size_t previous_validators = 0;  // validators of epoch i-1
  size_t signers = 0;              // how many of them signed the approval (a quorum)
};

// The facts a bundle proves, once every check passed. Every field is taken from a checked value
// (the header whose hash the certificates sign, the key whose path was checked, the value whose
// hash was checked), never from the bundle's claims about them; render only these.
struct VerifiedFacts {
  pb::BundleKind kind = pb::BUNDLE_KIND_UNSPECIFIED;
  uint64_t height = 0;
  uint64_t timestamp_ms = 0;
  Hash32 header_hash;
  Hash32 state_root;
  Hash32 receipt_root;  // the execution certificate's result root
  // The id the fact is about: the account or transfer id (16 bytes) of the record or of the key
  // proven absent, the 32-byte tx id of the receipt, or the asset record's code (an asset code,
  // IsAssetCode). Display ids as hex; only an asset code is text.
  Bytes subject;
  // The epoch whose validators certify the height (= epoch_changes.size()), and the chain of
  // changes from genesis that proves that set, in order.
  uint64_t epoch = 0;
  std::vector<VerifiedEpochChange> epoch_changes;
  std::optional<pb::AccountRecord> account;    // ACCOUNT; ASSET_SUPPLY: the issuer account
  std::optional<pb::TransferRecord> transfer;  // TRANSFER
  std::optional<pb::AssetRecord> asset;        // ASSET_SUPPLY
  std::optional<pb::Receipt> receipt;          // TRANSACTION
  uint64_t tx_index = 0;                       // TRANSACTION: position in the block
  uint64_t tx_count = 0;                       // TRANSACTION: transactions in the block
  // ACCOUNT: credits_posted - debits_posted; ASSET_SUPPLY: the supply (-(issuer balance)).
  // Decimal, with a leading '-' when negative.
  std::string amount;
  // Each check as it passed, in order (for --explain).
  std::vector<std::string> checks;
};

// Verifies bundle bytes against the anchor. On failure the error message is one line naming the
// failed check (kUnauthenticated for a failed signature, quorum, link or proof; kInvalidArgument
// for a malformed bundle).
// The steps, in order, are those of docs/proofs.md "Verification, step by step"; the message
// starts with the failed step's name ("bundle", "chain" (a change's failure: "chain: change i:"),
// "header", "commit certificate",
// "execution certificate", "subject", or for step 7 the kind: "account", "transfer",
// "no_account", "no_transfer", "asset_supply", "transaction").
Result<VerifiedFacts> VerifyProofBundle(const TrustAnchor& anchor, ByteSpan bundle);

// Step 6: the subject has exactly the documented form for the kind: an account or transfer id is
// 16 bytes, not all zero (IsRecordId); a transaction id 32 bytes; an asset code IsAssetCode.
// kInvalidArgument "subject: ..." otherwise. The builder checks requests with it too.
Status CheckProofSubject(pb::BundleKind kind, ByteSpan subject);

// What to prove.
struct ProofRequest {
  pb::BundleKind kind = pb::BUNDLE_KIND_UNSPECIFIED;
  // ACCOUNT / NO_ACCOUNT: account id; TRANSFER / NO_TRANSFER: transfer id; TRANSACTION: the 32-byte
  // tx id; ASSET_SUPPLY: the asset code.
  Bytes subject;
  // 0 = the latest height with an execution certificate (TRANSACTION: the tx's own height).
  uint64_t height = 0;
};

// One validator-set change as the node keeps it (docs/consensus.md "Epochs").
struct EpochChange {
  uint64_t height = 0;                        // the block that scheduled it (its changed_height)
  std::vector<crypto::PublicKey> validators;  // the new set, in replica order
  // The execution certificate of block `height`, exactly as the node stores it (consensus
  // ExecutionCertificate bytes): signed by the previous epoch's validators, its body naming
  // epoch = the previous epoch, next_set_hash = ValidatorSetHash(validators) and
  // next_activation_height = height + kEpochActivationDelay.
  Bytes approval;
};

// The producer's half of the chain (docs/proofs.md "The chain of validator-set changes"):
// writes into bundle.validator_changes the changes of `history` in force at `height` (those with
// height + kEpochActivationDelay <= height of the bundle), in order, and sets bundle.version to
// what they call for (1 without changes, 2 with). `history` is the node's complete list of
// committed changes, epoch 1 first; changes scheduled but not yet in force at `height`, and any
// after them, are left out. Replaces whatever validator_changes held.
// Checks only what needs no trust anchor: kInvalidArgument when `history` is out of order (a
// change below the previous one's activation height, or at height 0), a set has fewer than
// kMinValidators or more than kMaxValidatorsPerSet keys, or an approval is not a canonical
// certificate with a body. It does not check signatures: a history that is not the ledger's
// yields a bundle that VerifyProofBundle refuses.
Status AddValidatorChanges(std::span<const EpochChange> history, uint64_t height,
                           pb::ProofBundle& bundle);

// Builds a bundle from the node's stores and its epoch history (as AddValidatorChanges takes
// it; empty while the ledger has had no change). kNotFound when the height has no execution
// certificate yet, the transaction is unknown, or (ACCOUNT, TRANSFER, ASSET_SUPPLY) the record is
// absent; kFailedPrecondition when the record exists for a NO_* request, or when the height's
// execution certificate is of another epoch than the number of changes in force at the height
// (the history is incomplete: the bundle would not verify).
Result<Bytes> BuildProofBundle(const BlockStore& blocks, const StateTree& tree,
                               const std::string& chain_id, const Hash32& genesis_hash,
                               const ProofRequest& request,
                               std::span<const EpochChange> epoch_history);

// Account balance as signed decimal: credits_posted - debits_posted.
std::string PostedBalance(const pb::AccountRecord& account);

}  // namespace cl::ledger
