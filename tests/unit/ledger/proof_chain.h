// A one-block chain in memory for proof-bundle tests (ledger and tools): accounts kProofAccount,
// kProofOtherAccount and kProofIssuerAccount (issuer of USD.1), asset USD.1, transfer
// kProofTransfer and three transactions (the third rejected), with certificates signed by the
// given validator keys over the documented bodies (docs/consensus.md). Ids are real 16-byte ids
// (docs/transactions.md), written here in hex. Optionally the block is in a later epoch: the
// chain then has a history of validator-set changes, each approved by an execution certificate
// of the previous set, and the block's certificates are signed by the last set.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/block_store.h"
#include "ledger/epoch.h"
#include "ledger/executor.h"
#include "ledger/ledger_state.h"
#include "ledger/memory_store.h"
#include "ledger/proof_bundle.h"
#include "ledger/result_code.h"
#include "ledger/transaction.h"
#include "util/hex.h"
#include "util/quorum.h"

namespace cl::ledger {

inline constexpr uint64_t kProofHeight = 1;

// A 16-byte id from its 32 hex digits.
inline std::string ProofId(std::string_view hex) {
  return ToString(FromHex(hex).value());
}
inline const std::string kProofAccount = ProofId("a11ce000000000000000000000000001");
inline const std::string kProofOtherAccount = ProofId("a11ce000000000000000000000000002");
inline const std::string kProofIssuerAccount = ProofId("ff000000000000000000000000000001");
inline const std::string kProofTransfer = ProofId("7a000000000000000000000000000001");
inline const std::string kProofAbsentAccount = ProofId("a11ce000000000000000000000000009");
inline const std::string kProofAbsentTransfer = ProofId("7a000000000000000000000000000009");
inline constexpr char kProofAsset[] = "USD.1";

inline Bytes MakeProofTx(const std::string& chain, const crypto::PrivateKey& key, uint64_t nonce) {
  pb::TxBody body;
  body.set_chain_id(chain);
  body.set_valid_until_height(1000);
  body.set_nonce(nonce);
  auto* close = body.add_operations()->mutable_close_account();
  Bytes id(16, 0);
  id[15] = static_cast<uint8_t>(nonce + 1);
  close->set_account(id.data(), id.size());
  return SignTransaction(body, std::span<const crypto::PrivateKey>(&key, 1));
}

inline Bytes SignProofCert(const std::string& chain, const std::vector<crypto::PrivateKey>& keys,
                           const std::vector<uint32_t>& signers, crypto::Domain tag,
                           const Bytes& body) {
  pb::BundleCertificate cert;
  cert.set_body(ToString(body));
  Hash32 digest = crypto::SignedDigest(tag, chain, body);
  for (uint32_t i : signers) {
    pb::BundleSigner* s = cert.add_signers();
    s->set_replica(i);
    s->set_signature(ToString(keys[i % keys.size()].Sign(digest).span()));
  }
  return SerializeRecord(cert);
}

inline std::vector<crypto::PublicKey> PublicKeysOf(const std::vector<crypto::PrivateKey>& keys) {
  std::vector<crypto::PublicKey> out;
  for (const crypto::PrivateKey& k : keys)
    out.push_back(k.GetPublicKey());
  return out;
}

// The execution certificate of block `height` by `keys` (indices `signers`) as it approves a
// validator-set change: signed in `epoch`, naming next_set_hash and next_activation_height.
// The block digest and roots are stand-ins: an auditor checks only these fields of it.
inline Bytes SignProofApproval(const std::string& chain,
                               const std::vector<crypto::PrivateKey>& keys,
                               const std::vector<uint32_t>& signers, uint64_t height,
                               uint64_t epoch, const Hash32& next_set_hash,
                               uint64_t next_activation_height) {
  pb::BundleExecutionVoteBody body;
  body.set_height(height);
  body.set_block_digest(ToString(
      crypto::TaggedHash(crypto::Domain::kBlockHeader, AsSpan("block " + std::to_string(height)))
          .span()));
  body.set_state_root(std::string(32, 's'));
  body.set_result_root(std::string(32, 'r'));
  body.set_epoch(epoch);
  body.set_next_set_hash(ToString(next_set_hash.span()));
  body.set_next_activation_height(next_activation_height);
  return SignProofCert(chain, keys, signers, crypto::Domain::kExecutionVote, SerializeRecord(body));
}

// The epochs before the block: change i (1-based) is scheduled by block `height`, makes `keys`
// the set of epoch i, and is approved by `signers` (indices into the set of epoch i-1). The block
// is at `height` (at or above the last change's activation height).
struct ProofEpochs {
  struct Change {
    uint64_t height = 0;
    std::vector<crypto::PrivateKey> keys;
    std::vector<uint32_t> signers;
  };
  std::vector<Change> changes;
  uint64_t height = kProofHeight;
};

// A one-block chain in memory with accounts, an asset, a transfer and three transactions, and
// certificates signed by the test's validator keys over the documented bodies.
struct ProofChain {
  std::string chain;
  std::vector<crypto::PrivateKey> keys;               // the block's validators (the last epoch's)
  std::vector<std::vector<crypto::PrivateKey>> sets;  // sets[i]: the validators of epoch i
  std::vector<EpochChange> history;                   // what the node would keep
  uint64_t height = kProofHeight;
  TrustAnchor anchor;
  MemoryStore kv;
  StateTree tree{&kv};
  BlockStore blocks{&kv};
  std::vector<Hash32> tx_ids;
  Hash32 header_hash;
  Hash32 state_root;
  Hash32 receipt_root;

  // validator_keys: genesis's validators' node keys in replica order.
  ProofChain(std::string chain_id, std::vector<crypto::PrivateKey> validator_keys,
             const Hash32& genesis_hash, const ProofEpochs& epochs = {})
      : chain(std::move(chain_id)), keys(validator_keys), height(epochs.height) {
    anchor.chain_id = chain;
    anchor.genesis_hash = genesis_hash;
    anchor.validators = PublicKeysOf(validator_keys);
    sets.push_back(std::move(validator_keys));
    for (const ProofEpochs::Change& c : epochs.changes) {
      const std::vector<crypto::PublicKey> next = PublicKeysOf(c.keys);
      const uint64_t activation = c.height + kEpochActivationDelay;
      history.push_back({c.height, next,
                         SignProofApproval(chain, sets.back(), c.signers, c.height, sets.size() - 1,
                                           ValidatorSetHash(next), activation)});
      sets.push_back(c.keys);
    }
    keys = sets.back();

    pb::AccountRecord acc;
    acc.set_id(kProofAccount);
    acc.set_asset(kProofAsset);
    acc.set_credits_posted(500);
    acc.set_debits_posted(200);
    pb::AccountRecord other = acc;
    other.set_id(kProofOtherAccount);
    pb::AccountRecord issuer;
    issuer.set_id(kProofIssuerAccount);
    issuer.set_asset(kProofAsset);
    issuer.set_issuer(true);
    issuer.set_debits_posted(1000);
    pb::AssetRecord asset;
    asset.set_code(kProofAsset);
    asset.set_scale(2);
    asset.set_issuer(1);
    asset.set_issuer_account(kProofIssuerAccount);
    pb::TransferRecord tr;
    tr.mutable_transfer()->set_id(kProofTransfer);
    tr.mutable_transfer()->set_debit_account(kProofIssuerAccount);
    tr.mutable_transfer()->set_credit_account(kProofAccount);
    tr.mutable_transfer()->set_amount(500);
    tr.set_height(height);
    std::vector<StateWrite> writes = {{keys::Account(kProofAccount), SerializeRecord(acc)},
                                      {keys::Account(kProofOtherAccount), SerializeRecord(other)},
                                      {keys::Account(kProofIssuerAccount), SerializeRecord(issuer)},
                                      {keys::Asset(kProofAsset), SerializeRecord(asset)},
                                      {keys::Transfer(kProofTransfer), SerializeRecord(tr)}};
    WriteBatch tb;
    state_root = tree.Apply(height, writes, &tb).value();
    EXPECT_TRUE(kv.Write(tb, true).has_value());

    std::vector<Bytes> txs;
    for (uint64_t i = 0; i < 3; ++i) {
      txs.push_back(MakeProofTx(chain, keys[0], i));
      tx_ids.push_back(ParseTransaction(txs.back(), chain)->tx_id);
    }
    pb::BlockHeader header;
    header.set_chain_id(chain);
    header.set_height(height);
    header.set_prev_header_hash(ToString(anchor.genesis_hash.span()));
    header.set_timestamp_ms(1'700'000'000'000);
    header.set_validator_set_hash(ToString(ValidatorSetHash(PublicKeysOf(keys)).span()));
    Bytes block = EncodeBlock(header, txs, tx_ids);
    DecodedBlock decoded = DecodeBlock(block, chain).value();
    header_hash = decoded.header_hash;
    pb::ReceiptList receipts;
    for (const Hash32& id : tx_ids) {
      pb::Receipt* r = receipts.add_receipts();
      r->set_tx_id(ToString(id.span()));
      r->set_height(height);
      r->add_results();  // ok
    }
    // The third was executed and refused: included, not applied.
    pb::Receipt* refused = receipts.mutable_receipts(2);
    refused->set_status(static_cast<uint32_t>(TxStatus::kRejected));
    refused->mutable_results(0)->set_code(static_cast<uint32_t>(ResultCode::kBalanceNotZero));
    receipt_root = ReceiptRoot(receipts);
    pb::ExecutedBlock executed;
    executed.set_height(height);
    WriteBatch bb;
    // Every validator signs the commit certificate (a live 4-validator chain usually has all
    // four), a quorum the execution certificate (1, 2, 3 of 4): the every-byte-flip tests then
    // cover a signer beyond the quorum.
    std::vector<uint32_t> all, quorum;
    for (uint32_t i = 0; i < keys.size(); ++i)
      all.push_back(i);
    for (uint32_t i = 1; i <= QuorumSize(static_cast<uint32_t>(keys.size())); ++i)
      quorum.push_back(i);
    blocks.AddCommitted(decoded, block, CommitCert(all), receipts, executed, &bb);
    blocks.AddExecutionCertificate(height, ExecCert(quorum), &bb);
    EXPECT_TRUE(kv.Write(bb, true).has_value());
  }

  Bytes CommitCert(const std::vector<uint32_t>& signers) const {
    pb::BundleVoteBody vote;
    vote.set_view(0);
    vote.set_seq(height);
    vote.set_digest(ToString(header_hash.span()));
    vote.set_epoch(sets.size() - 1);  // the commit names its epoch, as the execution vote does
    return SignProofCert(chain, keys, signers, crypto::Domain::kCommit, SerializeRecord(vote));
  }
  // Signed in the last epoch unless `epoch` says otherwise.
  Bytes ExecCert(const std::vector<uint32_t>& signers,
                 std::optional<uint64_t> epoch = std::nullopt) const {
    pb::BundleExecutionVoteBody body;
    body.set_height(height);
    body.set_block_digest(ToString(header_hash.span()));
    body.set_state_root(ToString(state_root.span()));
    body.set_result_root(ToString(receipt_root.span()));
    body.set_epoch(epoch.value_or(sets.size() - 1));
    return SignProofCert(chain, keys, signers, crypto::Domain::kExecutionVote,
                         SerializeRecord(body));
  }

  Bytes Build(pb::BundleKind kind, std::string_view subject) {
    ProofRequest req;
    req.kind = kind;
    req.subject = Bytes(subject.begin(), subject.end());
    Result<Bytes> b = BuildProofBundle(blocks, tree, chain, anchor.genesis_hash, req, history);
    EXPECT_TRUE(b.has_value()) << b.error().message;
    return b.value_or(Bytes{});
  }
  Bytes BuildTx(size_t i) {
    return Build(pb::BUNDLE_KIND_TRANSACTION, AsStringView(tx_ids[i].span()));
  }
};

}  // namespace cl::ledger
