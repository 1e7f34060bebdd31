// Transactions: the signed envelope (DESIGN decision 3), its limits, stateless checks, signature
// verification, and the VerifiedTx type that the executor accepts.
//
// The envelope (ledger.proto TxEnvelope) carries the body as bytes; signatures cover
//   SignedDigest(Domain::kTransaction, chain_id, body_bytes)
// and the transaction id is SignedDigest(Domain::kTxId, chain_id, body_bytes). Nothing here
// re-serializes the body. docs/transactions.md describes the format byte for byte.
//
// A VerifiedTx can only be made by VerifyTransaction (which calls crypto::Verify for every
// signature) or by AcceptBatchVerdict (for the parallel verifier, which has already checked every
// signature of the ParsedTx); the executor takes nothing else, so execution never checks a
// signature.
//
// Thread safety: free functions are thread-safe; objects are plain values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "ledger/ledger.pb.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// Limits on a transaction; a transaction over any of them is refused at admission with an error
// that names the limit. Changing one changes which transactions are valid: a protocol change.
inline constexpr size_t kMaxTxEnvelopeBytes = 64 * 1024;
inline constexpr size_t kMaxOpsPerTx = 64;
inline constexpr size_t kMaxSignaturesPerTx = 16;
inline constexpr size_t kMaxMemoBytes = 140;
inline constexpr size_t kMaxEndToEndIdBytes = 35;  // ISO 20022 Max35Text
inline constexpr size_t kMaxPurposeBytes = 4;      // ISO 20022 ExternalPurpose1Code
inline constexpr size_t kUetrBytes = 16;
inline constexpr size_t kIdBytes = 16;  // account and transfer ids: 128 bits
inline constexpr size_t kHashLockBytes = 32;
inline constexpr size_t kMaxPreimageBytes = 64;
inline constexpr size_t kMaxControllerKeys = 16;
inline constexpr uint64_t kMaxHoldTimeoutS = 30 * 24 * 3600;  // 30 days of block time
inline constexpr size_t kMaxAssetCodeBytes = 12;
inline constexpr uint32_t kMaxAssetScale = 18;
inline constexpr size_t kMaxMemberNameBytes = 64;

// The forms of record ids and asset codes (docs/transactions.md), shared by the operation checks
// and the proof-bundle verifier: an account or transfer id is exactly kIdBytes bytes, not all zero;
// an asset code is 1..kMaxAssetCodeBytes characters of A-Z 0-9 . _ -.
bool IsRecordId(std::string_view id);
bool IsAssetCode(std::string_view code);

// Checks one operation's fields without looking at state (lengths, ranges, required fields).
// The error message names the field.
Status ValidateOperation(const pb::Operation& op);
// Checks a controller: 1..kMaxControllerKeys distinct valid keys, 1 <= threshold <= keys.
Status ValidateController(const pb::Controller& controller);

// A parsed envelope whose stateless checks passed but whose signatures are not yet checked.
struct ParsedTx {
  Hash32 tx_id;
  Hash32 signing_digest;
  pb::TxBody body;
  std::vector<crypto::PublicKey> keys;  // in envelope order, distinct
  std::vector<crypto::Signature> signatures;
  size_t envelope_bytes = 0;
};

// Parses an envelope and runs every stateless check: size, signature count and encoding, distinct
// signers, chain id, validity bound present, operation count and fields.
Result<ParsedTx> ParseTransaction(ByteSpan envelope, std::string_view chain_id);

class VerifiedTx;
// Checks every signature with crypto::Verify. kUnauthenticated names the first bad signature.
Result<VerifiedTx> VerifyTransaction(ParsedTx parsed);
// For the parallel verifier: sig_ok[i] is its verdict on parsed.signatures[i].
Result<VerifiedTx> AcceptBatchVerdict(ParsedTx parsed, std::span<const bool> sig_ok);
// Parse + verify in one call.
Result<VerifiedTx> VerifyEnvelope(ByteSpan envelope, std::string_view chain_id);

// A transaction whose every signature verified. Only the functions above construct one.
class VerifiedTx {
 public:
  const Hash32& tx_id() const { return tx_id_; }
  const pb::TxBody& body() const { return body_; }
  // The signers' keys, sorted and distinct.
  const std::vector<crypto::PublicKey>& signers() const { return signers_; }
  bool SignedBy(const crypto::PublicKey& key) const;

 private:
  friend Result<VerifiedTx> VerifyTransaction(ParsedTx parsed);
  friend Result<VerifiedTx> AcceptBatchVerdict(ParsedTx parsed, std::span<const bool> sig_ok);
  explicit VerifiedTx(ParsedTx&& parsed);

  Hash32 tx_id_;
  pb::TxBody body_;
  std::vector<crypto::PublicKey> signers_;
};

// Client side: serializes the body once and signs those bytes with each key.
Bytes SignTransaction(const pb::TxBody& body, std::span<const crypto::PrivateKey> keys);

// The controller is satisfied when at least `threshold` of its keys are among the signers.
bool ControllerSatisfied(const pb::Controller& controller,
                         const std::vector<crypto::PublicKey>& sorted_signers);
// The same rule over a controller's threshold and its `keys` entries as encoded (AccountFields:
// field tag, length, key; canonical), for the executor's flat account records.
bool ControllerSatisfied(uint32_t threshold, ByteSpan encoded_keys,
                         const std::vector<crypto::PublicKey>& sorted_signers);

}  // namespace cl::ledger
