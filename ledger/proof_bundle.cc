#include "ledger/proof_bundle.h"

#include <set>

#include "crypto/domain.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/executor.h"
#include "ledger/ledger_state.h"
#include "ledger/merkle.h"
#include "ledger/state_proof.h"
#include "util/hex.h"

namespace cl::ledger {
namespace {

std::unexpected<Error> Fail(std::string what) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(what));
}
std::unexpected<Error> Malformed(std::string what) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(what));
}

// Parses `bytes` as msg and insists on the one canonical encoding (deterministic serialization,
// no unknown fields), so that no byte of a bundle can change without changing what it says.
bool ParseCanonical(ByteSpan bytes, google::protobuf::Message* msg) {
  if (!msg->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  Bytes again = SerializeRecord(*msg);
  return again.size() == bytes.size() && std::equal(again.begin(), again.end(), bytes.begin());
}

std::optional<Hash32> ToHash(const std::string& s) {
  return Hash32::FromSpan(AsSpan(s));
}

// The validator set hash the header commits to: RFC 6962 root over the compressed keys.
Hash32 ValidatorKeysRoot(const std::vector<crypto::PublicKey>& keys) {
  std::vector<Bytes> leaves;
  for (const crypto::PublicKey& k : keys)
    leaves.emplace_back(k.bytes.begin(), k.bytes.end());
  return MerkleRoot(leaves);
}

// 2f+1 distinct validators, every listed signature valid over SignedDigest(tag, chain id, body).
Status CheckCertificate(const TrustAnchor& anchor, const pb::BundleCertificate& cert,
                        crypto::Domain tag, const char* name) {
  const size_t n = anchor.validators.size();
  const size_t quorum = 2 * ((n - 1) / 3) + 1;
  Hash32 digest = crypto::SignedDigest(tag, anchor.chain_id, AsSpan(cert.body()));
  std::set<uint32_t> seen;
  for (const pb::BundleSigner& s : cert.signers()) {
    if (s.replica() >= n)
      return Fail(std::string(name) + ": signer " + std::to_string(s.replica()) +
                  " is outside the validator set");
    if (!seen.insert(s.replica()).second)
      return Fail(std::string(name) + ": signer " + std::to_string(s.replica()) + " repeated");
    Result<crypto::Signature> sig = crypto::Signature::FromSpan(AsSpan(s.signature()));
    if (!sig || !crypto::Verify(anchor.validators[s.replica()], digest, *sig))
      return Fail(std::string(name) + ": invalid signature by validator " +
                  std::to_string(s.replica()));
  }
  if (seen.size() < quorum)
    return Fail(std::string(name) + ": " + std::to_string(seen.size()) + " signatures, quorum is " +
                std::to_string(quorum));
  return OkStatus();
}

Result<pb::BundleCertificate> ParseCert(const std::string& bytes, const char* name) {
  pb::BundleCertificate cert;
  if (!ParseCanonical(AsSpan(bytes), &cert))
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": malformed");
  return cert;
}

Status CheckPath(const pb::InclusionPath& p, MerkleInclusionProof* out) {
  if (p.path_size() > static_cast<int>(kMerklePathMaxLength)) return Malformed("path too long");
  out->leaf_index = p.leaf_index();
  out->tree_size = p.tree_size();
  for (const std::string& h : p.path()) {
    std::optional<Hash32> hash = ToHash(h);
    if (!hash) return Malformed("path hash is not 32 bytes");
    out->path.push_back(*hash);
  }
  return OkStatus();
}

std::string U64(uint64_t v) {
  return std::to_string(v);
}

}  // namespace

std::string PostedBalance(const pb::AccountRecord& a) {
  if (a.credits_posted() >= a.debits_posted()) return U64(a.credits_posted() - a.debits_posted());
  return "-" + U64(a.debits_posted() - a.credits_posted());
}

Result<VerifiedFacts> VerifyProofBundle(const TrustAnchor& anchor, ByteSpan bytes) {
  if (anchor.validators.empty() || anchor.validators.size() > kMaxBundleValidators)
    return MakeError(ErrorCode::kInvalidArgument, "genesis: validator set size out of range");
  if (bytes.size() > kMaxProofBundleBytes)
    return MakeError(ErrorCode::kInvalidArgument, "bundle: larger than the limit");
  pb::ProofBundle b;
  if (!ParseCanonical(bytes, &b))
    return MakeError(ErrorCode::kInvalidArgument, "bundle: malformed (not canonical protobuf)");
  VerifiedFacts f;
  f.kind = b.kind();
  f.subject.assign(b.subject().begin(), b.subject().end());
  auto pass = [&f](std::string s) { f.checks.push_back(std::move(s)); };

  if (b.version() != kProofBundleVersion)
    return MakeError(ErrorCode::kInvalidArgument, "bundle: unsupported version");
  // 1. The chain.
  if (b.chain_id() != anchor.chain_id) return Fail("chain: bundle is for another chain id");
  if (b.genesis_hash() != ToString(anchor.genesis_hash.span()))
    return Fail("chain: bundle is for another genesis (genesis hash differs)");
  if (b.validator_changes_size() != 0)
    return Fail("validator set: changes are not supported by this verifier version");
  pass("genesis: chain id " + anchor.chain_id + ", genesis hash " + anchor.genesis_hash.ToHex() +
       ", " + std::to_string(anchor.validators.size()) + " validators");

  // 2. The header.
  if (b.header().size() > kMaxHeaderBytes) return Malformed("header: too large");
  pb::BlockHeader header;
  if (!ParseCanonical(AsSpan(b.header()), &header)) return Malformed("header: malformed");
  if (header.chain_id() != anchor.chain_id) return Fail("header: chain id differs");
  if (header.height() == 0) return Fail("header: height 0");
  if (header.validator_set_hash() != ToString(ValidatorKeysRoot(anchor.validators).span()))
    return Fail("header: validator set hash is not the genesis validator set");
  f.height = header.height();
  f.timestamp_ms = header.timestamp_ms();
  f.header_hash = HeaderHash(anchor.chain_id, AsSpan(b.header()));
  pass("header: height " + U64(f.height) + ", hash " + f.header_hash.ToHex());

  // 3. The commit certificate.
  Result<pb::BundleCertificate> commit = ParseCert(b.commit_certificate(), "commit certificate");
  if (!commit) return std::unexpected(commit.error());
  pb::BundleVoteBody vote;
  if (!ParseCanonical(AsSpan(commit->body()), &vote))
    return Malformed("commit certificate: malformed body");
  if (Status s = CheckCertificate(anchor, *commit, crypto::Domain::kCommit, "commit certificate");
      !s)
    return std::unexpected(s.error());
  if (vote.seq() != f.height) return Fail("commit certificate: seq is not the header height");
  if (vote.digest() != ToString(f.header_hash.span()))
    return Fail("commit certificate: digest is not the header hash");
  pass("commit certificate: " + std::to_string(commit->signers_size()) +
       " valid validator signatures (quorum met) over seq " + U64(vote.seq()) +
       " naming the header hash");

  // 4. The execution certificate.
  Result<pb::BundleCertificate> exec =
      ParseCert(b.execution_certificate(), "execution certificate");
  if (!exec) return std::unexpected(exec.error());
  pb::BundleExecutionVoteBody ev;
  if (!ParseCanonical(AsSpan(exec->body()), &ev))
    return Malformed("execution certificate: malformed body");
  if (Status s =
          CheckCertificate(anchor, *exec, crypto::Domain::kExecutionVote, "execution certificate");
      !s)
    return std::unexpected(s.error());
  if (ev.height() != f.height) return Fail("execution certificate: height is not the header's");
  if (ev.block_digest() != ToString(f.header_hash.span()))
    return Fail("execution certificate: block digest is not the header hash");
  std::optional<Hash32> state_root = ToHash(ev.state_root());
  std::optional<Hash32> result_root = ToHash(ev.result_root());
  if (!state_root || !result_root) return Malformed("execution certificate: root not 32 bytes");
  f.state_root = *state_root;
  pass("execution certificate: " + std::to_string(exec->signers_size()) +
       " valid validator signatures (quorum met); state root " + state_root->ToHex());

  // 5. The subject.
  auto state_entry = [&](int i, const Bytes& key, bool want_present) -> Status {
    if (b.state_size() <= i) return Malformed("state: entry missing");
    const pb::StateEntry& e = b.state(i);
    if (e.key() != ToString(key)) return Fail("state proof: proves another key than the subject");
    if (e.present() != want_present)
      return Fail(want_present ? "state proof: entry claims absence"
                               : "state proof: entry claims presence");
    if (!e.present() && !e.value().empty()) return Malformed("state: value on an absent key");
    Result<StateProof> proof = StateProof::Decode(AsSpan(e.proof()));
    if (!proof) return Malformed("state proof: malformed");
    std::optional<ByteSpan> value;
    if (e.present()) value = AsSpan(e.value());
    if (Status s = VerifyStateProof(f.state_root, AsSpan(e.key()), value, *proof); !s)
      return Fail("state proof: does not verify against the certified state root");
    pass(std::string("state proof: key ") + ToHex(key) +
         (want_present ? " holds the value" : " is absent") + " under the state root");
    return OkStatus();
  };
  auto expect_entries = [&](int n) -> Status {
    if (b.state_size() != n) return Malformed("state: wrong number of entries");
    if (!b.receipt().empty() || b.has_receipt_path() || b.has_tx_path())
      return Malformed("bundle: fields of another kind");
    return OkStatus();
  };
  const std::string& subject = b.subject();
  switch (b.kind()) {
    case pb::BUNDLE_KIND_ACCOUNT:
    case pb::BUNDLE_KIND_NO_ACCOUNT:
    case pb::BUNDLE_KIND_TRANSFER:
    case pb::BUNDLE_KIND_NO_TRANSFER: {
      const bool account =
          b.kind() == pb::BUNDLE_KIND_ACCOUNT || b.kind() == pb::BUNDLE_KIND_NO_ACCOUNT;
      const bool present =
          b.kind() == pb::BUNDLE_KIND_ACCOUNT || b.kind() == pb::BUNDLE_KIND_TRANSFER;
      if (Status s = expect_entries(1); !s) return std::unexpected(s.error());
      Bytes key = account ? keys::Account(subject) : keys::Transfer(subject);
      if (Status s = state_entry(0, key, present); !s) return std::unexpected(s.error());
      if (present && account) {
        pb::AccountRecord rec;
        if (!ParseCanonical(AsSpan(b.state(0).value()), &rec) || rec.id() != subject)
          return Fail("value: not the account record of the subject");
        f.amount = PostedBalance(rec);
        f.account = std::move(rec);
      } else if (present) {
        pb::TransferRecord rec;
        if (!ParseCanonical(AsSpan(b.state(0).value()), &rec) || rec.transfer().id() != subject)
          return Fail("value: not the transfer record of the subject");
        f.transfer = std::move(rec);
      }
      break;
    }
    case pb::BUNDLE_KIND_ASSET_SUPPLY: {
      if (Status s = expect_entries(2); !s) return std::unexpected(s.error());
      if (Status s = state_entry(0, keys::Asset(subject), true); !s)
        return std::unexpected(s.error());
      pb::AssetRecord asset;
      if (!ParseCanonical(AsSpan(b.state(0).value()), &asset) || asset.code() != subject)
        return Fail("value: not the asset record of the subject");
      if (Status s = state_entry(1, keys::Account(asset.issuer_account()), true); !s)
        return std::unexpected(s.error());
      pb::AccountRecord issuer;
      if (!ParseCanonical(AsSpan(b.state(1).value()), &issuer) ||
          issuer.id() != asset.issuer_account() || !issuer.issuer() || issuer.asset() != subject)
        return Fail("value: not the issuer account of the asset");
      std::string bal = PostedBalance(issuer);
      f.amount = bal == "0" ? bal : (bal[0] == '-' ? bal.substr(1) : "-" + bal);
      f.asset = std::move(asset);
      f.account = std::move(issuer);
      break;
    }
    case pb::BUNDLE_KIND_TRANSACTION: {
      if (b.state_size() != 0) return Malformed("bundle: fields of another kind");
      std::optional<Hash32> tx_id = ToHash(subject);
      if (!tx_id) return Malformed("subject: a transaction id has 32 bytes");
      pb::Receipt receipt;
      if (!ParseCanonical(AsSpan(b.receipt()), &receipt)) return Malformed("receipt: malformed");
      if (receipt.tx_id() != subject) return Fail("receipt: for another transaction");
      if (receipt.height() != f.height) return Fail("receipt: for another height");
      MerkleInclusionProof rp, tp;
      if (Status s = CheckPath(b.receipt_path(), &rp); !s) return std::unexpected(s.error());
      if (Status s = CheckPath(b.tx_path(), &tp); !s) return std::unexpected(s.error());
      if (rp.leaf_index != tp.leaf_index || rp.tree_size != tp.tree_size ||
          tp.tree_size != header.tx_count())
        return Fail("receipt: position differs from the transaction's");
      std::optional<Hash32> tx_root = ToHash(header.tx_root());
      if (!tx_root) return Malformed("header: tx root not 32 bytes");
      if (!VerifyMerkleInclusion(*tx_root, tx_id->span(), tp))
        return Fail("transaction: not included under the header's tx root");
      pass("transaction: id included at index " + U64(tp.leaf_index) + " of " + U64(tp.tree_size) +
           " under the tx root");
      Hash32 leaf = crypto::TaggedHash(crypto::Domain::kReceipt, AsSpan(b.receipt()));
      if (!VerifyMerkleInclusion(*result_root, leaf.span(), rp))
        return Fail("receipt: not included under the certified receipt root");
      pass("receipt: included under the certified receipt root");
      f.tx_index = static_cast<uint32_t>(tp.leaf_index);
      f.receipt = std::move(receipt);
      break;
    }
    default:
      return Malformed("bundle: unknown kind");
  }
  return f;
}

Result<Bytes> BuildProofBundle(const BlockStore& blocks, const StateTree& tree,
                               const std::string& chain_id, const Hash32& genesis_hash,
                               const ProofRequest& req) {
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
