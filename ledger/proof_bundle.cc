#include "ledger/proof_bundle.h"

#include <limits>
#include <set>

#include "crypto/domain.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/epoch.h"
#include "ledger/executor.h"
#include "ledger/ledger_state.h"
#include "ledger/merkle.h"
#include "ledger/state_proof.h"
#include "ledger/transaction.h"
#include "util/canonical_proto.h"
#include "util/hex.h"
#include "util/quorum.h"

namespace cl::ledger {
namespace {

// Every failure message starts with the name of the step (docs/proofs.md "Verification, step by
// step") that failed, so that a reader, and the tests, can tell which check refused a bundle.
std::unexpected<Error> Fail(std::string_view step, std::string_view what) {
  return MakeError(ErrorCode::kUnauthenticated, std::string(step) + ": " + std::string(what));
}
std::unexpected<Error> Malformed(std::string_view step, std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument, std::string(step) + ": " + std::string(what));
}
// ParseCanonical's error already reads "<step>: <what>: <why>".
std::unexpected<Error> NotCanonical(const Status& s) {
  return std::unexpected(s.error());
}

std::optional<Hash32> ToHash(const std::string& s) {
  return Hash32::FromSpan(AsSpan(s));
}

std::string U64(uint64_t v) {
  return std::to_string(v);
}

// The validator set hash the header commits to: RFC 6962 root over the compressed keys, here
// over a change's keys as the bundle holds them (each is checked to be a key afterwards).
Hash32 KeyBytesRoot(const google::protobuf::RepeatedPtrField<std::string>& keys) {
  std::vector<Bytes> leaves;
  for (const std::string& k : keys)
    leaves.push_back(ToBytes(k));
  return MerkleRoot(leaves);
}

// What the steps pass on to the later ones: only values that a step has checked.
// The validator set of one epoch, as the chain of changes proves it (step 2).
struct EpochSet {
  uint64_t epoch = 0;
  uint64_t activation_height = 1;  // the first height it certifies (epoch 0: height 1)
  std::vector<crypto::PublicKey> keys;
};
struct CheckedHeader {
  pb::BlockHeader header;
  Hash32 hash;
  Hash32 tx_root;
};
struct CertifiedRoots {
  Hash32 state_root;
  Hash32 result_root;
  size_t signers = 0;  // how many validators signed them
};

// The kinds a bundle may have and the fields each carries.
struct KindShape {
  pb::BundleKind kind;
  int state_entries;
  bool transaction_fields;  // receipt, receipt_path, tx_path
};
constexpr KindShape kKindShapes[] = {
    {pb::BUNDLE_KIND_ACCOUNT, 1, false},     {pb::BUNDLE_KIND_TRANSFER, 1, false},
    {pb::BUNDLE_KIND_TRANSACTION, 0, true},  {pb::BUNDLE_KIND_NO_ACCOUNT, 1, false},
    {pb::BUNDLE_KIND_NO_TRANSFER, 1, false}, {pb::BUNDLE_KIND_ASSET_SUPPLY, 2, false},
};

// ---- Step 1. Bundle --------------------------------------------------------------------------
// At most kMaxProofBundleBytes; the canonical encoding of a ProofBundle (no unknown field at any
// depth: state entries, inclusion paths, validator changes and their approvals included); version
// 1 without validator changes, 2 with; a known kind with exactly the fields of that kind.
Result<pb::ProofBundle> ParseBundle(ByteSpan bytes) {
  constexpr std::string_view kStep = "bundle";
  if (bytes.size() > kMaxProofBundleBytes) return Malformed(kStep, "larger than the limit");
  pb::ProofBundle b;
  if (Status s = ParseCanonical(b, bytes, kStep); !s) return NotCanonical(s);
  if (b.version() == kProofBundleVersion) {
    if (b.validator_changes_size() != 0)
      return Malformed(kStep, "version 1 carries no validator set changes");
  } else if (b.version() == kProofBundleVersionWithChanges) {
    if (b.validator_changes_size() == 0)
      return Malformed(kStep, "version 2 without validator set changes (that is version 1)");
  } else {
    return Malformed(kStep, "unsupported version");
  }
  const KindShape* shape = nullptr;
  for (const KindShape& k : kKindShapes)
    if (k.kind == b.kind()) shape = &k;
  if (shape == nullptr) return Malformed(kStep, "unknown kind");
  if (b.state_size() != shape->state_entries) return Malformed(kStep, "wrong number of entries");
  const bool has_tx_fields = !b.receipt().empty() || b.has_receipt_path() || b.has_tx_path();
  if (has_tx_fields != shape->transaction_fields) {
    return Malformed(kStep, shape->transaction_fields ? "receipt or inclusion path missing"
                                                      : "fields of another kind");
  }
  return b;
}

// Steps 2, 4 and 5 share this (on a certificate they parsed strictly): every signer is an index
// into `keys` (the signing epoch's validators), listed once, whose signature verifies over
// SignedDigest(tag, chain id, body); at least QuorumSize(n) of them (util/quorum.h, the one quorum
// formula). Returns the number of signers.
Result<size_t> CheckSignatures(const std::string& chain_id,
                               const std::vector<crypto::PublicKey>& keys,
                               const pb::BundleCertificate& cert, crypto::Domain tag,
                               std::string_view step) {
  const size_t n = keys.size();
  const size_t quorum = QuorumSize(static_cast<uint32_t>(n));
  Hash32 digest = crypto::SignedDigest(tag, chain_id, AsSpan(cert.body()));
  std::set<uint32_t> seen;
  for (const pb::BundleSigner& s : cert.signers()) {
    if (s.replica() >= n)
      return Fail(step, "signer " + U64(s.replica()) + " is outside the validator set");
    if (!seen.insert(s.replica()).second)
      return Fail(step, "signer " + U64(s.replica()) + " repeated");
    Result<crypto::Signature> sig = crypto::Signature::FromSpan(AsSpan(s.signature()));
    if (!sig || !crypto::Verify(keys[s.replica()], digest, *sig))
      return Fail(step, "invalid signature by validator " + U64(s.replica()));
  }
  if (seen.size() < quorum)
    return Fail(step, U64(seen.size()) + " signatures, quorum is " + U64(quorum));
  return seen.size();
}

std::string QuorumText(size_t n) {
  return U64(QuorumSize(static_cast<uint32_t>(n)));
}

// ---- Step 2. Chain -----------------------------------------------------------------------------
// 2a. The changes' heights are in order: change 1 at a block (height >= 1), each later one at or
// above the previous one's activation height (the ledger schedules one change at a time). Checked
// on all heights before any signature, so a list out of order is named as such; step 2b then
// checks that each height is the one its approval certifies.
Status CheckChangeOrder(const pb::ProofBundle& b) {
  uint64_t previous_activation = 1;  // epoch 0 begins at height 1
  for (int i = 0; i < b.validator_changes_size(); ++i) {
    const std::string step = "chain: change " + U64(i + 1);
    const uint64_t h = b.validator_changes(i).height();
    if (h < previous_activation) {
      if (i == 0) return Fail(step, "height 0 is not a block");
      return Fail(step, "height " + U64(h) + " is below the activation height " +
                            U64(previous_activation) + " of change " + U64(i) +
                            " (changes out of order)");
    }
    if (h > std::numeric_limits<uint64_t>::max() - kEpochActivationDelay)
      return Malformed(step, "height out of range");
    previous_activation = h + kEpochActivationDelay;
  }
  return OkStatus();
}

// 2b. Change i, under the set of epoch i-1: its approval is an execution certificate by a quorum
// of that set (epoch i-1) of block `height`, naming the new set's hash and activation height; the
// keys are that set, 4 to 64 distinct valid compressed keys. Returns the set of epoch i.
Result<EpochSet> CheckValidatorChange(const std::string& chain_id, const EpochSet& previous,
                                      const pb::ValidatorSetChange& change, VerifiedFacts& f) {
  const uint64_t epoch = previous.epoch + 1;
  const std::string step = "chain: change " + U64(epoch);
  pb::BundleExecutionVoteBody body;
  if (Status s = ParseCanonical(body, change.approval().body(), step + ": approval: body"); !s)
    return NotCanonical(s);
  Result<size_t> signers = CheckSignatures(chain_id, previous.keys, change.approval(),
                                           crypto::Domain::kExecutionVote, step);
  if (!signers) return std::unexpected(signers.error());
  if (body.height() != change.height())
    return Fail(step, "the approval is for height " + U64(body.height()) +
                          ", not the change's height " + U64(change.height()));
  if (body.epoch() != previous.epoch)
    return Fail(step, "the approval is signed in epoch " + U64(body.epoch()) + ", not epoch " +
                          U64(previous.epoch) + " (a change is missing or out of place)");
  if (body.next_set_hash().empty())
    return Fail(step, "the approval schedules no validator set change");
  const Hash32 set_hash = KeyBytesRoot(change.validator_keys());
  if (body.next_set_hash() != ToString(set_hash.span()))
    return Fail(step, "the keys are not the set the approval certifies (next_set_hash differs)");
  const uint64_t activation = change.height() + kEpochActivationDelay;  // 2a bounded it
  if (body.next_activation_height() != activation)
    return Fail(step, "the approval's activation height is " + U64(body.next_activation_height()) +
                          ", not height + " + U64(kEpochActivationDelay) + " = " + U64(activation));
  const size_t n = static_cast<size_t>(change.validator_keys_size());
  if (n < kMinValidators || n > kMaxValidatorsPerSet)
    return Fail(step, "the new set has " + U64(n) + " validators, not " + U64(kMinValidators) +
                          " to " + U64(kMaxValidatorsPerSet));
  EpochSet next{epoch, activation, {}};
  std::set<crypto::PublicKey> distinct;
  for (size_t j = 0; j < n; ++j) {
    Result<crypto::PublicKey> key = crypto::PublicKey::Parse(AsSpan(change.validator_keys(j)));
    if (!key) return Fail(step, "key " + U64(j) + " is not a valid compressed key");
    if (!distinct.insert(*key).second) return Fail(step, "key " + U64(j) + " repeats a key");
    next.keys.push_back(*key);
  }
  f.checks.push_back(step + ": epoch " + U64(epoch) + " from height " + U64(activation) +
                     " (scheduled by block " + U64(change.height()) + "): " + U64(n) +
                     " validators, set hash " + set_hash.ToHex() + "; approved by " +
                     U64(*signers) + " of the " + U64(previous.keys.size()) +
                     " validators of epoch " + U64(previous.epoch) + " (quorum " +
                     QuorumText(previous.keys.size()) + ")");
  f.epoch_changes.push_back(VerifiedEpochChange{epoch, change.height(), activation, n, set_hash,
                                                previous.keys.size(), *signers});
  return next;
}

// The chain id and genesis, then (2a, 2b) the chain of validator-set changes from genesis's set.
// Returns the set that certifies the bundle's height: epoch k's for a bundle with k changes.
Result<EpochSet> CheckChain(const TrustAnchor& anchor, const pb::ProofBundle& b, VerifiedFacts& f) {
  constexpr std::string_view kStep = "chain";
  if (b.chain_id() != anchor.chain_id) return Fail(kStep, "bundle is for another chain id");
  if (b.genesis_hash() != ToString(anchor.genesis_hash.span()))
    return Fail(kStep, "bundle is for another genesis (genesis hash differs)");
  f.checks.push_back("genesis: chain id " + anchor.chain_id + ", genesis hash " +
                     anchor.genesis_hash.ToHex() + ", " + U64(anchor.validators.size()) +
                     " validators (quorum " + QuorumText(anchor.validators.size()) + ")");
  if (Status s = CheckChangeOrder(b); !s) return std::unexpected(s.error());
  EpochSet set{0, 1, anchor.validators};
  for (const pb::ValidatorSetChange& change : b.validator_changes()) {
    Result<EpochSet> next = CheckValidatorChange(anchor.chain_id, set, change, f);
    if (!next) return std::unexpected(next.error());
    set = std::move(*next);
  }
  return set;
}

// ---- Step 3. Header ----------------------------------------------------------------------------
// The header is in the chain's last epoch: at or above its activation height, committing to its
// validator set.
Result<CheckedHeader> CheckHeader(const TrustAnchor& anchor, const EpochSet& set,
                                  const pb::ProofBundle& b) {
  constexpr std::string_view kStep = "header";
  if (b.header().size() > kMaxHeaderBytes) return Malformed(kStep, "too large");
  CheckedHeader h;
  if (Status s = ParseCanonical(h.header, b.header(), kStep); !s) return NotCanonical(s);
  if (h.header.chain_id() != anchor.chain_id) return Fail(kStep, "chain id differs");
  if (h.header.height() == 0) return Fail(kStep, "height 0");
  if (h.header.height() < set.activation_height)
    return Fail(kStep, "height " + U64(h.header.height()) + " is below the activation height " +
                           U64(set.activation_height) + " of epoch " + U64(set.epoch));
  if (h.header.validator_set_hash() != ToString(ValidatorSetHash(set.keys).span())) {
    return Fail(kStep, set.epoch == 0 ? "validator set hash is not the genesis validator set"
                                      : "validator set hash is not the validator set of epoch " +
                                            U64(set.epoch));
  }
  std::optional<Hash32> tx_root = ToHash(h.header.tx_root());
  if (!tx_root) return Malformed(kStep, "tx root is not 32 bytes");
  h.tx_root = *tx_root;
  h.hash = HeaderHash(anchor.chain_id, AsSpan(b.header()));
  return h;
}

// ---- Step 4. Commit certificate ----------------------------------------------------------------
Result<size_t> CheckCommitCertificate(const TrustAnchor& anchor, const EpochSet& set,
                                      const pb::ProofBundle& b, const CheckedHeader& header) {
  constexpr std::string_view kStep = "commit certificate";
  pb::BundleCertificate cert;
  if (Status s = ParseCanonical(cert, b.commit_certificate(), kStep); !s) return NotCanonical(s);
  pb::BundleVoteBody vote;
  if (Status s = ParseCanonical(vote, cert.body(), "commit certificate: body"); !s)
    return NotCanonical(s);
  Result<size_t> signers =
      CheckSignatures(anchor.chain_id, set.keys, cert, crypto::Domain::kCommit, kStep);
  if (!signers) return signers;
  if (vote.seq() != header.header.height()) return Fail(kStep, "seq is not the header height");
  if (vote.digest() != ToString(header.hash.span()))
    return Fail(kStep, "digest is not the header hash");
  if (vote.epoch() != set.epoch)
    return Fail(kStep, "signed in epoch " + U64(vote.epoch()) +
                           ", but the bundle's chain ends in epoch " + U64(set.epoch));
  return signers;
}

// ---- Step 5. Execution certificate -------------------------------------------------------------
// Signed by the chain's last epoch, which the certificate names (so a bundle that leaves out a
// change in force fails here even where two epochs' sets coincide); a scheduled change the block
// made is well formed (it is not in force at this height, so it certifies nothing here).
Result<CertifiedRoots> CheckExecutionCertificate(const TrustAnchor& anchor, const EpochSet& set,
                                                 const pb::ProofBundle& b,
                                                 const CheckedHeader& header) {
  constexpr std::string_view kStep = "execution certificate";
  pb::BundleCertificate cert;
  if (Status s = ParseCanonical(cert, b.execution_certificate(), kStep); !s) return NotCanonical(s);
  pb::BundleExecutionVoteBody body;
  if (Status s = ParseCanonical(body, cert.body(), "execution certificate: body"); !s)
    return NotCanonical(s);
  Result<size_t> count =
      CheckSignatures(anchor.chain_id, set.keys, cert, crypto::Domain::kExecutionVote, kStep);
  if (!count) return std::unexpected(count.error());
  if (body.height() != header.header.height()) return Fail(kStep, "height is not the header's");
  if (body.block_digest() != ToString(header.hash.span()))
    return Fail(kStep, "block digest is not the header hash");
  std::optional<Hash32> state_root = ToHash(body.state_root());
  std::optional<Hash32> result_root = ToHash(body.result_root());
  if (!state_root || !result_root) return Malformed(kStep, "root is not 32 bytes");
  if (body.epoch() != set.epoch)
    return Fail(kStep, "signed in epoch " + U64(body.epoch()) +
                           ", but the bundle's chain ends in epoch " + U64(set.epoch));
  if (!body.next_set_hash().empty() && body.next_set_hash().size() != Hash32::kSize)
    return Malformed(kStep, "next set hash is not 32 bytes");
  const uint64_t height = body.height();
  const bool next_ok =
      body.next_set_hash().empty()
          ? body.next_activation_height() == 0
          : height <= std::numeric_limits<uint64_t>::max() - kEpochActivationDelay &&
                body.next_activation_height() == height + kEpochActivationDelay;
  if (!next_ok) return Malformed(kStep, "next activation height is not height + 65");
  return CertifiedRoots{*state_root, *result_root, *count};
}

// ---- Step 6. Subject ---------------------------------------------------------------------------
Status CheckSubject(const pb::ProofBundle& b) {
  return CheckProofSubject(b.kind(), AsSpan(b.subject()));
}

// ---- Step 7. The fact, by kind -----------------------------------------------------------------
// One state entry: its key is exactly `key`, it claims presence or absence as the kind says, and
// its proof shows that under the certified state root. Returns the value whose hash was checked
// (empty for an absent key).
Result<std::string> CheckStateEntry(const CertifiedRoots& roots, const pb::StateEntry& e,
                                    const Bytes& key, bool want_present, std::string_view step) {
  if (e.key() != ToString(key))
    return Fail(step, "the state entry proves another key than the subject");
  if (e.present() != want_present)
    return Fail(
        step, want_present ? "the state entry claims absence" : "the state entry claims presence");
  if (!e.present() && !e.value().empty()) return Malformed(step, "a value on an absent key");
  Result<StateProof> proof = StateProof::Decode(AsSpan(e.proof()));
  if (!proof) return Malformed(step, "the state proof is malformed");
  std::optional<ByteSpan> value;
  if (e.present()) value = AsSpan(e.value());
  if (Status s = VerifyStateProof(roots.state_root, AsSpan(e.key()), value, *proof); !s)
    return Fail(step, "the state proof does not verify against the certified state root");
  return e.value();
}

std::string KeyChecked(const Bytes& key, bool present) {
  return "state proof: key " + ToHex(key) + (present ? " holds the value" : " is absent") +
         " under the certified state root";
}

// The subject's account record: key 'a' || id present, value a canonical AccountRecord of that id.
Status CheckAccountFact(const pb::ProofBundle& b, const CertifiedRoots& roots, VerifiedFacts& f) {
  constexpr std::string_view kStep = "account";
  const Bytes key = keys::Account(b.subject());
  Result<std::string> value = CheckStateEntry(roots, b.state(0), key, true, kStep);
  if (!value) return std::unexpected(value.error());
  pb::AccountRecord rec;
  if (Status s = ParseCanonical(rec, *value, "account: record"); !s) return NotCanonical(s);
  if (rec.id() != b.subject()) return Fail(kStep, "the record is not the subject's");
  if (!IsAssetCode(rec.asset())) return Fail(kStep, "the record's asset is not an asset code");
  f.checks.push_back(KeyChecked(key, true));
  f.subject = ToBytes(rec.id());
  f.amount = PostedBalance(rec);
  f.account = std::move(rec);
  return OkStatus();
}

// The subject's transfer record: key 't' || id present, value a canonical TransferRecord of it.
Status CheckTransferFact(const pb::ProofBundle& b, const CertifiedRoots& roots, VerifiedFacts& f) {
  constexpr std::string_view kStep = "transfer";
  const Bytes key = keys::Transfer(b.subject());
  Result<std::string> value = CheckStateEntry(roots, b.state(0), key, true, kStep);
  if (!value) return std::unexpected(value.error());
  pb::TransferRecord rec;
  if (Status s = ParseCanonical(rec, *value, "transfer: record"); !s) return NotCanonical(s);
  if (rec.transfer().id() != b.subject()) return Fail(kStep, "the record is not the subject's");
  f.checks.push_back(KeyChecked(key, true));
  f.subject = ToBytes(rec.transfer().id());
  f.transfer = std::move(rec);
  return OkStatus();
}

// No record: key 'a' || id (no_account) or 't' || id (no_transfer) absent. The subject printed is
// the id inside the key whose absence was proven (step 6 fixed its length).
Status CheckAbsenceFact(const pb::ProofBundle& b, const CertifiedRoots& roots, VerifiedFacts& f) {
  const bool account = b.kind() == pb::BUNDLE_KIND_NO_ACCOUNT;
  const std::string_view step = account ? "no_account" : "no_transfer";
  const Bytes key = account ? keys::Account(b.subject()) : keys::Transfer(b.subject());
  Result<std::string> value = CheckStateEntry(roots, b.state(0), key, false, step);
  if (!value) return std::unexpected(value.error());
  f.checks.push_back(KeyChecked(key, false));
  f.subject.assign(key.begin() + 1, key.end());  // the key is one prefix byte || id
  return OkStatus();
}

// The asset record ('s' || code) and its issuer account ('a' || asset.issuer_account), which must
// be the asset's issuer account; supply = -(issuer balance).
Status CheckAssetSupplyFact(const pb::ProofBundle& b, const CertifiedRoots& roots,
                            VerifiedFacts& f) {
  constexpr std::string_view kStep = "asset_supply";
  const Bytes asset_key = keys::Asset(b.subject());
  Result<std::string> asset_value = CheckStateEntry(roots, b.state(0), asset_key, true, kStep);
  if (!asset_value) return std::unexpected(asset_value.error());
  pb::AssetRecord asset;
  if (Status s = ParseCanonical(asset, *asset_value, "asset_supply: asset record"); !s)
    return NotCanonical(s);
  if (asset.code() != b.subject()) return Fail(kStep, "the asset record is not the subject's");
  if (!IsRecordId(asset.issuer_account()))
    return Fail(kStep, "the asset record's issuer account is not an account id");
  f.checks.push_back(KeyChecked(asset_key, true));
  const Bytes issuer_key = keys::Account(asset.issuer_account());
  Result<std::string> issuer_value = CheckStateEntry(roots, b.state(1), issuer_key, true, kStep);
  if (!issuer_value) return std::unexpected(issuer_value.error());
  pb::AccountRecord issuer;
  if (Status s = ParseCanonical(issuer, *issuer_value, "asset_supply: issuer account record"); !s)
    return NotCanonical(s);
  if (issuer.id() != asset.issuer_account() || !issuer.issuer() || issuer.asset() != asset.code())
    return Fail(kStep, "the second record is not the asset's issuer account");
  f.checks.push_back(KeyChecked(issuer_key, true));
  // Supply = debits - credits of the issuer account = -(its posted balance).
  f.amount = issuer.debits_posted() >= issuer.credits_posted()
                 ? U64(issuer.debits_posted() - issuer.credits_posted())
                 : "-" + U64(issuer.credits_posted() - issuer.debits_posted());
  f.subject = ToBytes(asset.code());
  f.asset = std::move(asset);
  f.account = std::move(issuer);
  return OkStatus();
}

Result<MerkleInclusionProof> ToInclusionProof(const pb::InclusionPath& p, std::string_view step) {
  if (p.path_size() > static_cast<int>(kMerklePathMaxLength))
    return Malformed(step, "inclusion path too long");
  MerkleInclusionProof out;
  out.leaf_index = p.leaf_index();
  out.tree_size = p.tree_size();
  for (const std::string& h : p.path()) {
    std::optional<Hash32> hash = ToHash(h);
    if (!hash) return Malformed(step, "inclusion path hash is not 32 bytes");
    out.path.push_back(*hash);
  }
  return out;
}

// The transaction: its id is leaf `i` of `header.tx_count` under the header's tx root, and its
// receipt (canonical, naming the id and the height) is leaf `i` under the certified receipt root.
Status CheckTransactionFact(const pb::ProofBundle& b, const CheckedHeader& header,
                            const CertifiedRoots& roots, VerifiedFacts& f) {
  constexpr std::string_view kStep = "transaction";
  const Hash32 tx_id = *ToHash(b.subject());  // step 6 checked the length
  pb::Receipt receipt;
  if (Status s = ParseCanonical(receipt, b.receipt(), "transaction: receipt"); !s)
    return NotCanonical(s);
  if (receipt.tx_id() != b.subject()) return Fail(kStep, "the receipt is for another transaction");
  if (receipt.height() != header.header.height())
    return Fail(kStep, "the receipt is for another height");
  Result<MerkleInclusionProof> rp = ToInclusionProof(b.receipt_path(), kStep);
  if (!rp) return std::unexpected(rp.error());
  Result<MerkleInclusionProof> tp = ToInclusionProof(b.tx_path(), kStep);
  if (!tp) return std::unexpected(tp.error());
  if (rp->leaf_index != tp->leaf_index || rp->tree_size != tp->tree_size ||
      tp->tree_size != header.header.tx_count())
    return Fail(kStep, "the receipt's position differs from the transaction's");
  if (!VerifyMerkleInclusion(header.tx_root, tx_id.span(), *tp))
    return Fail(kStep, "the id is not included under the header's tx root");
  f.checks.push_back("transaction: id included at index " + U64(tp->leaf_index) + " of " +
                     U64(tp->tree_size) + " under the tx root");
  Hash32 leaf = crypto::TaggedHash(crypto::Domain::kReceipt, AsSpan(b.receipt()));
  if (!VerifyMerkleInclusion(roots.result_root, leaf.span(), *rp))
    return Fail(kStep, "the receipt is not included under the certified receipt root");
  f.checks.push_back("receipt: included under the certified receipt root");
  f.subject = ToBytes(receipt.tx_id());
  f.tx_index = tp->leaf_index;
  f.tx_count = tp->tree_size;
  f.receipt = std::move(receipt);
  return OkStatus();
}

Status CheckFact(const pb::ProofBundle& b, const CheckedHeader& header, const CertifiedRoots& roots,
                 VerifiedFacts& f) {
  switch (b.kind()) {
    case pb::BUNDLE_KIND_ACCOUNT:
      return CheckAccountFact(b, roots, f);
    case pb::BUNDLE_KIND_TRANSFER:
      return CheckTransferFact(b, roots, f);
    case pb::BUNDLE_KIND_NO_ACCOUNT:
    case pb::BUNDLE_KIND_NO_TRANSFER:
      return CheckAbsenceFact(b, roots, f);
    case pb::BUNDLE_KIND_ASSET_SUPPLY:
      return CheckAssetSupplyFact(b, roots, f);
    case pb::BUNDLE_KIND_TRANSACTION:
      return CheckTransactionFact(b, header, roots, f);
    default:
      return Malformed("bundle", "unknown kind");  // step 1 refused it already
  }
}

}  // namespace

std::string PostedBalance(const pb::AccountRecord& a) {
  if (a.credits_posted() >= a.debits_posted()) return U64(a.credits_posted() - a.debits_posted());
  return "-" + U64(a.debits_posted() - a.credits_posted());
}

Status CheckProofSubject(pb::BundleKind kind, ByteSpan subject) {
  constexpr std::string_view kStep = "subject";
  const std::string_view s = AsStringView(subject);
  switch (kind) {
    case pb::BUNDLE_KIND_ACCOUNT:
    case pb::BUNDLE_KIND_NO_ACCOUNT:
    case pb::BUNDLE_KIND_TRANSFER:
    case pb::BUNDLE_KIND_NO_TRANSFER:
      if (!IsRecordId(s))
        return Malformed(kStep, "an account or transfer id is 16 bytes, not all zero");
      return OkStatus();
    case pb::BUNDLE_KIND_TRANSACTION:
      if (subject.size() != Hash32::kSize) return Malformed(kStep, "a transaction id is 32 bytes");
      return OkStatus();
    case pb::BUNDLE_KIND_ASSET_SUPPLY:
      if (!IsAssetCode(s)) return Malformed(kStep, "an asset code is 1 to 12 of A-Z 0-9 . _ -");
      return OkStatus();
    default:
      return Malformed(kStep, "unknown kind");
  }
}

// docs/proofs.md "Verification, step by step", in its order. Each step reads only the bundle and
// what the earlier steps checked; the facts returned are taken from checked values only.
Result<VerifiedFacts> VerifyProofBundle(const TrustAnchor& anchor, ByteSpan bytes) {
  if (anchor.validators.empty() || anchor.validators.size() > kMaxBundleValidators)
    return MakeError(ErrorCode::kInvalidArgument, "genesis: validator set size out of range");
  VerifiedFacts f;
  auto pass = [&f](std::string s) { f.checks.push_back(std::move(s)); };

  Result<pb::ProofBundle> b = ParseBundle(bytes);  // 1
  if (!b) return std::unexpected(b.error());
  Result<EpochSet> set = CheckChain(anchor, *b, f);  // 2 (passes its own lines)
  if (!set) return std::unexpected(set.error());
  Result<CheckedHeader> header = CheckHeader(anchor, *set, *b);  // 3
  if (!header) return std::unexpected(header.error());
  pass("header: height " + U64(header->header.height()) + ", hash " + header->hash.ToHex() +
       (set->epoch == 0 ? std::string()
                        : ", in epoch " + U64(set->epoch) + " (" + U64(set->keys.size()) +
                              " validators, quorum " + QuorumText(set->keys.size()) + ")"));
  Result<size_t> commit_signers = CheckCommitCertificate(anchor, *set, *b, *header);  // 4
  if (!commit_signers) return std::unexpected(commit_signers.error());
  pass("commit certificate: " + U64(*commit_signers) +
       " valid validator signatures (quorum met) over seq " + U64(header->header.height()) +
       " naming the header hash");
  Result<CertifiedRoots> roots = CheckExecutionCertificate(anchor, *set, *b, *header);  // 5
  if (!roots) return std::unexpected(roots.error());
  pass("execution certificate: " + U64(roots->signers) +
       " valid validator signatures (quorum met); state root " + roots->state_root.ToHex() +
       ", receipt root " + roots->result_root.ToHex());
  if (Status s = CheckSubject(*b); !s) return std::unexpected(s.error());                   // 6
  if (Status s = CheckFact(*b, *header, *roots, f); !s) return std::unexpected(s.error());  // 7

  f.kind = b->kind();
  f.epoch = set->epoch;
  f.height = header->header.height();
  f.timestamp_ms = header->header.timestamp_ms();
  f.header_hash = header->hash;
  f.state_root = roots->state_root;
  f.receipt_root = roots->result_root;
  return f;
}

Status AddValidatorChanges(std::span<const EpochChange> history, uint64_t height,
                           pb::ProofBundle& bundle) {
  bundle.clear_validator_changes();
  uint64_t first_allowed = 1;  // change 1 at a block; each later one at the previous activation
  for (size_t i = 0; i < history.size(); ++i) {
    const EpochChange& c = history[i];
    const std::string what = "epoch history: change " + U64(i + 1) + ": ";
    if (c.height < first_allowed ||
        c.height > std::numeric_limits<uint64_t>::max() - kEpochActivationDelay)
      return MakeError(ErrorCode::kInvalidArgument, what + "out of order");
    const uint64_t activation = c.height + kEpochActivationDelay;
    first_allowed = activation;
    if (c.validators.size() < kMinValidators || c.validators.size() > kMaxValidatorsPerSet)
      return MakeError(ErrorCode::kInvalidArgument, what + "validator count out of range");
    pb::BundleCertificate approval;
    pb::BundleExecutionVoteBody body;
    if (!ParseCanonical(approval, c.approval, "approval") ||
        !ParseCanonical(body, approval.body(), "approval body"))
      return MakeError(ErrorCode::kInvalidArgument, what + "the approval is not a certificate");
    // Not in force at the bundle's height (nor, the history being in order, any later change);
    // they are still checked above so that a bad history is found early.
    if (activation > height) continue;
    pb::ValidatorSetChange* out = bundle.add_validator_changes();
    out->set_height(c.height);
    for (const crypto::PublicKey& k : c.validators)
      out->add_validator_keys(ToString(k.span()));
    *out->mutable_approval() = std::move(approval);
  }
  bundle.set_version(bundle.validator_changes_size() == 0 ? kProofBundleVersion
                                                          : kProofBundleVersionWithChanges);
  return OkStatus();
}

Result<Bytes> BuildProofBundle(const BlockStore& blocks, const StateTree& tree,
                               const std::string& chain_id, const Hash32& genesis_hash,
                               const ProofRequest& req,
                               std::span<const EpochChange> epoch_history) {
  // A bundle for a subject of another form would never verify (step 6): refuse the request.
  if (Status s = CheckProofSubject(req.kind, req.subject); !s) return std::unexpected(s.error());
  pb::ProofBundle b;
  b.set_version(kProofBundleVersion);
  b.set_kind(req.kind);
  b.set_chain_id(chain_id);
  b.set_genesis_hash(ToString(genesis_hash.span()));
  b.set_subject(ToString(req.subject));

  uint64_t height = req.height;
  std::optional<pb::TxLocation> loc;
  if (req.kind == pb::BUNDLE_KIND_TRANSACTION) {
    std::optional<Hash32> id = Hash32::FromSpan(req.subject);
    if (!id) return MakeError(ErrorCode::kInvalidArgument, "a transaction id has 32 bytes");
    Result<std::optional<pb::TxLocation>> found = blocks.FindTx(*id);
    if (!found) return std::unexpected(found.error());
    if (!*found) return MakeError(ErrorCode::kNotFound, "transaction not found");
    loc = **found;
    height = loc->height();
  }
  if (height == 0) {
    // The latest height whose execution certificate is stored.
    Result<uint64_t> latest = blocks.LatestHeight();
    if (!latest) return std::unexpected(latest.error());
    for (height = *latest; height > 0; --height) {
      Result<std::optional<Bytes>> e = blocks.GetExecutionCertificate(height);
      if (!e) return std::unexpected(e.error());
      if (*e) break;
    }
    if (height == 0) return MakeError(ErrorCode::kNotFound, "no certified height yet");
  }
  Result<std::optional<Bytes>> block = blocks.GetBlock(height);
  Result<std::optional<Bytes>> commit = blocks.GetCommitCertificate(height);
  Result<std::optional<Bytes>> exec = blocks.GetExecutionCertificate(height);
  if (!block || !commit || !exec) return MakeError(ErrorCode::kIoError, "block store read failed");
  if (!*block) return MakeError(ErrorCode::kNotFound, "no block at height " + U64(height));
  if (!*exec)
    return MakeError(ErrorCode::kNotFound, "height " + U64(height) + " not execution-certified");
  Result<DecodedBlock> decoded = DecodeBlock(**block, chain_id);
  if (!decoded) return std::unexpected(decoded.error());
  b.set_header(ToString(decoded->header_bytes));
  b.set_commit_certificate(commit->has_value() ? ToString(**commit) : std::string());
  b.set_execution_certificate(ToString(**exec));
  // The changes in force at the height; their number is the epoch the height's certificate names.
  if (Status s = AddValidatorChanges(epoch_history, height, b); !s)
    return std::unexpected(s.error());
  pb::BundleCertificate exec_cert;
  pb::BundleExecutionVoteBody exec_body;
  if (!exec_cert.ParseFromString(b.execution_certificate()) ||
      !exec_body.ParseFromString(exec_cert.body()))
    return MakeError(ErrorCode::kCorruption, "stored execution certificate does not parse");
  if (exec_body.epoch() != static_cast<uint64_t>(b.validator_changes_size()))
    return MakeError(ErrorCode::kFailedPrecondition,
                     "height " + U64(height) + " is certified in epoch " + U64(exec_body.epoch()) +
                         ", but the epoch history has " + U64(b.validator_changes_size()) +
                         " changes in force there");

  auto add_state = [&](const Bytes& key, bool want_present) -> Status {
    Result<StateProof> proof = tree.Prove(key, height);
    if (!proof) return std::unexpected(proof.error());
    bool present = proof->kind == StateProof::Kind::kInclusion;
    if (present != want_present)
      return MakeError(want_present ? ErrorCode::kNotFound : ErrorCode::kFailedPrecondition,
                       want_present ? "no such record" : "the record exists");
    pb::StateEntry* e = b.add_state();
    e->set_key(ToString(key));
    e->set_present(present);
    if (present) e->set_value(ToString(proof->value));
    e->set_proof(ToString(proof->Encode()));
    return OkStatus();
  };
  const std::string subject = ToString(req.subject);
  Status st = OkStatus();
  switch (req.kind) {
    case pb::BUNDLE_KIND_ACCOUNT:
      st = add_state(keys::Account(subject), true);
      break;
    case pb::BUNDLE_KIND_NO_ACCOUNT:
      st = add_state(keys::Account(subject), false);
      break;
    case pb::BUNDLE_KIND_TRANSFER:
      st = add_state(keys::Transfer(subject), true);
      break;
    case pb::BUNDLE_KIND_NO_TRANSFER:
      st = add_state(keys::Transfer(subject), false);
      break;
    case pb::BUNDLE_KIND_ASSET_SUPPLY: {
      st = add_state(keys::Asset(subject), true);
      if (!st) break;
      pb::AssetRecord asset;
      if (!asset.ParseFromString(b.state(0).value()))
        return MakeError(ErrorCode::kCorruption, "stored asset record does not parse");
      st = add_state(keys::Account(asset.issuer_account()), true);
      break;
    }
    case pb::BUNDLE_KIND_TRANSACTION: {
      Result<std::optional<pb::ReceiptList>> receipts = blocks.GetReceipts(height);
      if (!receipts) return std::unexpected(receipts.error());
      if (!*receipts || static_cast<int>(loc->index()) >= (*receipts)->receipts_size())
        return MakeError(ErrorCode::kNotFound, "receipt not stored");
      std::vector<Hash32> leaves;
      for (const pb::Receipt& r : (*receipts)->receipts())
        leaves.push_back(MerkleLeafHash(ReceiptHash(r).span()));
      Result<MerkleInclusionProof> rp = MerkleProveLeafHashes(leaves, loc->index());
      std::vector<Hash32> tx_leaves;
      for (const Hash32& id : decoded->tx_ids)
        tx_leaves.push_back(MerkleLeafHash(id.span()));
      Result<MerkleInclusionProof> tp = MerkleProveLeafHashes(tx_leaves, loc->index());
      if (!rp || !tp) return MakeError(ErrorCode::kCorruption, "stored tx index out of range");
      b.set_receipt(ToString(SerializeRecord((*receipts)->receipts(loc->index()))));
      auto fill = [](const MerkleInclusionProof& p, pb::InclusionPath* out) {
        out->set_leaf_index(p.leaf_index);
        out->set_tree_size(p.tree_size);
        for (const Hash32& h : p.path)
          out->add_path(ToString(h.span()));
      };
      fill(*rp, b.mutable_receipt_path());
      fill(*tp, b.mutable_tx_path());
      break;
    }
    default:
      return MakeError(ErrorCode::kInvalidArgument, "unknown proof kind");
  }
  if (!st) return std::unexpected(st.error());
  return SerializeRecord(b);
}

}  // namespace cl::ledger
