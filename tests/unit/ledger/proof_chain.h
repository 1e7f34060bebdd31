// A one-block chain in memory for proof-bundle tests (ledger and tools): accounts kProofAccount,
// kProofOtherAccount and kProofIssuerAccount (issuer of USD.1), asset USD.1, transfer
// kProofTransfer and three transactions (the third rejected), with certificates signed by the
// given validator keys over the documented bodies (docs/consensus.md). Ids are real 16-byte ids
// (docs/transactions.md), written here in hex.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/block_store.h"
#include "ledger/executor.h"
#include "ledger/ledger_state.h"
#include "ledger/memory_store.h"
#include "ledger/proof_bundle.h"
#include "ledger/result_code.h"
#include "ledger/transaction.h"
#include "util/hex.h"

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

// A one-block chain in memory with accounts, an asset, a transfer and three transactions, and
// certificates signed by the test's validator keys over the documented bodies.
struct ProofChain {
  std::string chain;
  std::vector<crypto::PrivateKey> keys;
  TrustAnchor anchor;
  MemoryStore kv;
  StateTree tree{&kv};
  BlockStore blocks{&kv};
  std::vector<Hash32> tx_ids;
  Hash32 header_hash;
  Hash32 state_root;
  Hash32 receipt_root;

  // keys: the validators' node keys in replica order.
  ProofChain(std::string chain_id, std::vector<crypto::PrivateKey> validator_keys,
             const Hash32& genesis_hash)
      : chain(std::move(chain_id)), keys(std::move(validator_keys)) {
    anchor.chain_id = chain;
    anchor.genesis_hash = genesis_hash;
    for (const auto& k : keys)
      anchor.validators.push_back(k.GetPublicKey());

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
    tr.set_height(kProofHeight);
    std::vector<StateWrite> writes = {{keys::Account(kProofAccount), SerializeRecord(acc)},
                                      {keys::Account(kProofOtherAccount), SerializeRecord(other)},
                                      {keys::Account(kProofIssuerAccount), SerializeRecord(issuer)},
                                      {keys::Asset(kProofAsset), SerializeRecord(asset)},
                                      {keys::Transfer(kProofTransfer), SerializeRecord(tr)}};
    WriteBatch tb;
    state_root = tree.Apply(kProofHeight, writes, &tb).value();
    EXPECT_TRUE(kv.Write(tb, true).has_value());

    std::vector<Bytes> txs;
    for (uint64_t i = 0; i < 3; ++i) {
      txs.push_back(MakeProofTx(chain, keys[0], i));
      tx_ids.push_back(ParseTransaction(txs.back(), chain)->tx_id);
    }
    pb::BlockHeader header;
    header.set_chain_id(chain);
    header.set_height(kProofHeight);
    header.set_prev_header_hash(ToString(anchor.genesis_hash.span()));
    header.set_timestamp_ms(1'700'000'000'000);
    std::vector<Bytes> vkeys;
    for (const auto& k : anchor.validators)
      vkeys.emplace_back(k.bytes.begin(), k.bytes.end());
    header.set_validator_set_hash(ToString(MerkleRoot(vkeys).span()));
    Bytes block = EncodeBlock(header, txs, tx_ids);
    DecodedBlock decoded = DecodeBlock(block, chain).value();
    header_hash = decoded.header_hash;
    pb::ReceiptList receipts;
    for (const Hash32& id : tx_ids) {
      pb::Receipt* r = receipts.add_receipts();
      r->set_tx_id(ToString(id.span()));
      r->set_height(kProofHeight);
      r->add_results();  // ok
    }
    // The third was executed and refused: included, not applied.
    pb::Receipt* refused = receipts.mutable_receipts(2);
    refused->set_status(static_cast<uint32_t>(TxStatus::kRejected));
    refused->mutable_results(0)->set_code(static_cast<uint32_t>(ResultCode::kBalanceNotZero));
    receipt_root = ReceiptRoot(receipts);
    pb::ExecutedBlock executed;
    executed.set_height(kProofHeight);
    WriteBatch bb;
    // Four commit signers (a live 4-validator chain usually has all four), three execution
    // signers (the quorum): the every-byte-flip tests then cover a signer beyond the quorum.
    blocks.AddCommitted(decoded, block, CommitCert({0, 1, 2, 3}), receipts, executed, &bb);
    blocks.AddExecutionCertificate(kProofHeight, ExecCert({1, 2, 3}), &bb);
    EXPECT_TRUE(kv.Write(bb, true).has_value());
  }

  Bytes CommitCert(const std::vector<uint32_t>& signers) const {
    pb::BundleVoteBody vote;
    vote.set_view(0);
    vote.set_seq(kProofHeight);
    vote.set_digest(ToString(header_hash.span()));
    return SignProofCert(chain, keys, signers, crypto::Domain::kCommit, SerializeRecord(vote));
  }
  Bytes ExecCert(const std::vector<uint32_t>& signers) const {
    pb::BundleExecutionVoteBody body;
    body.set_height(kProofHeight);
    body.set_block_digest(ToString(header_hash.span()));
    body.set_state_root(ToString(state_root.span()));
    body.set_result_root(ToString(receipt_root.span()));
    return SignProofCert(chain, keys, signers, crypto::Domain::kExecutionVote,
                         SerializeRecord(body));
  }

  Bytes Build(pb::BundleKind kind, std::string_view subject) {
    ProofRequest req;
    req.kind = kind;
    req.subject = Bytes(subject.begin(), subject.end());
    Result<Bytes> b = BuildProofBundle(blocks, tree, chain, anchor.genesis_hash, req);
    EXPECT_TRUE(b.has_value()) << b.error().message;
    return b.value_or(Bytes{});
  }
  Bytes BuildTx(size_t i) {
    return Build(pb::BUNDLE_KIND_TRANSACTION, AsStringView(tx_ids[i].span()));
  }
};

}  // namespace cl::ledger
