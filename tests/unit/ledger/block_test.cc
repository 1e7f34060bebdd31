#include "ledger/block.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "ledger/block_store.h"
#include "ledger/memory_store.h"
#include "ledger/result_code.h"
#include "ledger/transaction.h"
#include "util/canonical_proto.h"

namespace cl::ledger {
namespace {

constexpr char kChain[] = "block-test";

Bytes MakeTx(const crypto::PrivateKey& key, uint64_t nonce) {
  pb::TxBody body;
  body.set_chain_id(kChain);
  body.set_valid_until_height(1000);
  body.set_nonce(nonce);
  auto* close = body.add_operations()->mutable_close_account();
  Bytes id(16, 0);
  id[15] = static_cast<uint8_t>(nonce + 1);
  close->set_account(id.data(), id.size());
  return SignTransaction(body, std::span<const crypto::PrivateKey>(&key, 1));
}

struct Fixture {
  crypto::PrivateKey key = crypto::PrivateKey::Generate();
  std::vector<Bytes> txs;
  std::vector<Hash32> ids;
  pb::BlockHeader header;

  explicit Fixture(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      txs.push_back(MakeTx(key, i));
      ids.push_back(ParseTransaction(txs.back(), kChain)->tx_id);
    }
    header.set_chain_id(kChain);
    header.set_height(7);
    header.set_prev_header_hash(std::string(32, '\x01'));
    header.set_timestamp_ms(1'700'000'000'000);
    header.set_validator_set_hash(std::string(32, '\x02'));
    header.set_proposer(1);
  }
};

TEST(Block, EncodeThenDecodeRoundTrips) {
  Fixture f(5);
  Bytes bytes = EncodeBlock(f.header, f.txs, f.ids);
  auto decoded = DecodeBlock(bytes, kChain);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  EXPECT_EQ(decoded->header.height(), 7u);
  EXPECT_EQ(decoded->header.tx_count(), 5u);
  EXPECT_EQ(decoded->tx_ids, f.ids);
  EXPECT_EQ(decoded->txs, f.txs);
  EXPECT_EQ(decoded->header_hash, HeaderHash(kChain, decoded->header_bytes));
  Hash32 root = TxRoot(f.ids);
  EXPECT_EQ(decoded->header.tx_root(), std::string(root.bytes.begin(), root.bytes.end()));
}

TEST(Block, EmptyBlockIsValid) {
  Fixture f(0);
  auto decoded = DecodeBlock(EncodeBlock(f.header, f.txs, f.ids), kChain);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(decoded->txs.empty());
}

TEST(Block, TxRootBindsOrderAndContent) {
  Fixture f(3);
  std::swap(f.ids[0], f.ids[1]);
  Hash32 swapped = TxRoot(f.ids);
  std::swap(f.ids[0], f.ids[1]);
  EXPECT_NE(swapped, TxRoot(f.ids));
  // A block whose transactions were reordered after the root was computed is refused.
  Bytes bytes = EncodeBlock(f.header, f.txs, f.ids);
  pb::Block block;
  ASSERT_TRUE(block.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  block.mutable_txs()->SwapElements(0, 2);
  std::string tampered = block.SerializeAsString();
  auto decoded = DecodeBlock(AsSpan(tampered), kChain);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "block tx_root does not match its txs");
}

TEST(Block, DecodeRejectsMalformedInput) {
  Fixture f(2);
  Bytes good = EncodeBlock(f.header, f.txs, f.ids);
  EXPECT_FALSE(DecodeBlock(good, "other-chain").has_value());
  Bytes garbage = {0xff, 0xff, 0xff};
  EXPECT_FALSE(DecodeBlock(garbage, kChain).has_value());
  // Every truncation fails cleanly.
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(DecodeBlock(ByteSpan(good.data(), n), kChain).has_value()) << n;
  pb::BlockHeader zero = f.header;
  zero.set_height(0);
  EXPECT_FALSE(DecodeBlock(EncodeBlock(zero, f.txs, f.ids), kChain).has_value());
}

// The block with envelope `index` replaced by `envelope`, the header unchanged.
Bytes WithEnvelope(const Bytes& block_bytes, size_t index, const Bytes& envelope) {
  pb::Block block;
  EXPECT_TRUE(block.ParseFromArray(block_bytes.data(), static_cast<int>(block_bytes.size())));
  block.set_txs(static_cast<int>(index), ToString(envelope));
  return ToBytes(CanonicalEncoding(block));
}

// The envelope with one byte of its first signature flipped.
Bytes WithFlippedSignatureByte(const Bytes& envelope_bytes) {
  pb::TxEnvelope envelope;
  EXPECT_TRUE(
      envelope.ParseFromArray(envelope_bytes.data(), static_cast<int>(envelope_bytes.size())));
  std::string* sig = envelope.mutable_signatures(0)->mutable_signature();
  (*sig)[10] = static_cast<char>((*sig)[10] ^ 0x01);
  return ToBytes(CanonicalEncoding(envelope));
}

// Issue 14 defect 10: the digest named only the bodies (tx ids), so a block with one signature byte
// flipped had the certified block's digest and executed differently (a null block).
TEST(Block, ASignatureByteFlippedChangesTheDigestAndIsRefused) {
  Fixture f(3);
  Bytes good = EncodeBlock(f.header, f.txs, f.ids);
  Bytes tampered = WithEnvelope(good, 1, WithFlippedSignatureByte(f.txs[1]));
  ASSERT_NE(good, tampered);
  auto good_hash = WellFormedHeaderHash(good, kChain);
  ASSERT_TRUE(good_hash.has_value());
  EXPECT_NE(WellFormedHeaderHash(tampered, kChain), good_hash);
  auto decoded = DecodeBlock(tampered, kChain);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "block witness_root does not match its txs");
}

// Two valid envelopes of one body (different signer sets) in the same header: the second block is
// not the certified one. A Byzantine primary can no longer send them to different backups under
// one digest.
TEST(Block, OneBodyWithAnotherSignatureSetIsAnotherBlock) {
  Fixture f(2);
  pb::TxEnvelope envelope;
  ASSERT_TRUE(envelope.ParseFromArray(f.txs[0].data(), static_cast<int>(f.txs[0].size())));
  pb::TxBody body;
  ASSERT_TRUE(body.ParseFromString(envelope.body()));
  const std::vector<crypto::PrivateKey> two = {f.key, crypto::PrivateKey::Generate()};
  Bytes cosigned = SignTransaction(body, two);
  ASSERT_TRUE(VerifyEnvelope(cosigned, kChain).has_value());
  ASSERT_EQ(ParseTransaction(cosigned, kChain)->tx_id, f.ids[0]);  // the same id
  Bytes good = EncodeBlock(f.header, f.txs, f.ids);
  Bytes other = WithEnvelope(good, 0, cosigned);
  EXPECT_FALSE(WellFormedHeaderHash(other, kChain).has_value());
  EXPECT_FALSE(DecodeBlock(other, kChain).has_value());
  // Built honestly, the other signature set gives another header, so another digest.
  std::vector<Bytes> txs = f.txs;
  txs[0] = cosigned;
  Bytes rebuilt = EncodeBlock(f.header, txs, f.ids);
  ASSERT_TRUE(WellFormedHeaderHash(rebuilt, kChain).has_value());
  EXPECT_NE(*WellFormedHeaderHash(rebuilt, kChain), *WellFormedHeaderHash(good, kChain));
}

// docs/protocol.md section 5: witness_root is the RFC 6962 root over H(0x24 || envelope bytes).
TEST(Block, WitnessRootIsTheRootOverTaggedEnvelopeHashes) {
  Fixture f(3);
  std::vector<Bytes> leaves;
  for (const Bytes& tx : f.txs) {
    Bytes data = {0x24};
    data.insert(data.end(), tx.begin(), tx.end());
    Hash32 h = crypto::Sha256Of(data);
    leaves.emplace_back(h.bytes.begin(), h.bytes.end());
  }
  EXPECT_EQ(WitnessRoot(f.txs), MerkleRoot(leaves));
  auto decoded = DecodeBlock(EncodeBlock(f.header, f.txs, f.ids), kChain);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->header.witness_root(), ToString(MerkleRoot(leaves).span()));
  EXPECT_EQ(WitnessRoot({}), MerkleRoot({}));  // the empty block: the RFC 6962 empty root
}

TEST(Block, AHeaderWithoutWitnessRootIsRefused) {
  Fixture f(1);
  Bytes good = EncodeBlock(f.header, f.txs, f.ids);
  pb::Block block;
  ASSERT_TRUE(block.ParseFromArray(good.data(), static_cast<int>(good.size())));
  pb::BlockHeader header;
  ASSERT_TRUE(header.ParseFromString(block.header()));
  header.clear_witness_root();
  block.set_header(CanonicalEncoding(header));
  Bytes old_format = ToBytes(CanonicalEncoding(block));
  EXPECT_FALSE(WellFormedHeaderHash(old_format, kChain).has_value());
  EXPECT_FALSE(DecodeBlock(old_format, kChain).has_value());
}

// Issue 14 defect 2: the Block and its header are parsed strictly. A payload with an unknown field
// would otherwise share the digest of the payload without it.
TEST(Block, UnknownFieldInTheBlockOrTheHeaderIsRefused) {
  Fixture f(2);
  Bytes good = EncodeBlock(f.header, f.txs, f.ids);
  const Bytes unknown_field = {0x48, 0x01};  // field 9, varint 1
  Bytes block_plus = good;
  block_plus.insert(block_plus.end(), unknown_field.begin(), unknown_field.end());
  EXPECT_FALSE(WellFormedHeaderHash(block_plus, kChain).has_value());
  auto decoded = DecodeBlock(block_plus, kChain);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "block: has an unknown field");

  pb::Block block;
  ASSERT_TRUE(block.ParseFromArray(good.data(), static_cast<int>(good.size())));
  std::string header = block.header() + std::string("\x50\x01", 2);  // field 10, varint 1
  block.set_header(header);
  Bytes header_plus = ToBytes(CanonicalEncoding(block));
  EXPECT_FALSE(WellFormedHeaderHash(header_plus, kChain).has_value());
  decoded = DecodeBlock(header_plus, kChain);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "block header: has an unknown field");
}

TEST(Block, NonCanonicalEncodingOfTheBlockOrTheHeaderIsRefused) {
  Fixture f(2);
  Bytes good = EncodeBlock(f.header, f.txs, f.ids);
  pb::Block block;
  ASSERT_TRUE(block.ParseFromArray(good.data(), static_cast<int>(good.size())));
  // The same Block with its fields out of order: the txs first, then the header.
  std::string reordered;
  for (const std::string& tx : block.txs()) {
    pb::Block only_tx;
    only_tx.add_txs(tx);
    reordered += only_tx.SerializeAsString();
  }
  pb::Block only_header;
  only_header.set_header(block.header());
  reordered += only_header.SerializeAsString();
  pb::Block check;
  ASSERT_TRUE(check.ParseFromString(reordered));
  ASSERT_EQ(CanonicalEncoding(check), ToString(good));
  EXPECT_FALSE(WellFormedHeaderHash(AsSpan(reordered), kChain).has_value());
  auto decoded = DecodeBlock(AsSpan(reordered), kChain);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "block: is not in canonical encoding");

  // The header with its height written as a non-minimal varint (0x87 0x00 instead of 0x07).
  std::string header = block.header();
  const std::string height = std::string("\x10\x07", 2);
  size_t at = header.find(height);
  ASSERT_NE(at, std::string::npos);
  header.replace(at, height.size(), std::string("\x10\x87\x00", 3));
  pb::BlockHeader parsed;
  ASSERT_TRUE(parsed.ParseFromString(header));
  ASSERT_EQ(parsed.height(), 7u);
  block.set_header(header);
  Bytes long_height = ToBytes(CanonicalEncoding(block));
  EXPECT_FALSE(WellFormedHeaderHash(long_height, kChain).has_value());
  decoded = DecodeBlock(long_height, kChain);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message, "block header: is not in canonical encoding");
}

TEST(BlockStore, StoresABlockAndItsIndexInOneBatch) {
  Fixture f(3);
  Bytes bytes = EncodeBlock(f.header, f.txs, f.ids);
  auto decoded = DecodeBlock(bytes, kChain);
  ASSERT_TRUE(decoded.has_value());
  MemoryStore kv;
  BlockStore store(&kv);
  EXPECT_EQ(store.LatestHeight().value(), 0u);
  pb::ReceiptList receipts;
  for (const Hash32& id : f.ids) {
    pb::Receipt* r = receipts.add_receipts();
    r->set_tx_id(id.data(), id.size());
    r->set_height(7);
  }
  pb::ExecutedBlock executed;
  executed.set_height(7);
  WriteBatch batch;
  store.AddCommitted(*decoded, bytes, AsSpan("cert"), receipts, executed, &batch);
  EXPECT_EQ(store.LatestHeight().value(), 0u);  // nothing visible before the batch is written
  ASSERT_TRUE(kv.Write(batch, true).has_value());
  EXPECT_EQ(store.LatestHeight().value(), 7u);
  EXPECT_EQ(store.GetBlock(7).value(), bytes);
  EXPECT_EQ(store.GetCommitCertificate(7).value(), ToBytes("cert"));
  EXPECT_FALSE(store.GetExecutionCertificate(7).value().has_value());
  EXPECT_EQ(store.GetReceipts(7).value()->receipts_size(), 3);
  auto location = store.FindTx(f.ids[2]).value();
  ASSERT_TRUE(location.has_value());
  EXPECT_EQ(location->height(), 7u);
  EXPECT_EQ(location->index(), 2u);
  EXPECT_FALSE(store.FindTx(Hash32{}).value().has_value());
  WriteBatch cert;
  store.AddExecutionCertificate(7, AsSpan("exec"), &cert);
  ASSERT_TRUE(kv.Write(cert, true).has_value());
  EXPECT_EQ(store.GetExecutionCertificate(7).value(), ToBytes("exec"));
}

TEST(BlockStore, ADuplicateInclusionKeepsTheFirstLocation) {
  Fixture f(2);
  MemoryStore kv;
  BlockStore store(&kv);
  for (uint64_t height : {7u, 8u}) {
    f.header.set_height(height);
    Bytes bytes = EncodeBlock(f.header, f.txs, f.ids);
    auto decoded = DecodeBlock(bytes, kChain);
    ASSERT_TRUE(decoded.has_value());
    pb::ReceiptList receipts;
    for (const Hash32& id : f.ids) {
      pb::Receipt* r = receipts.add_receipts();
      r->set_tx_id(id.data(), id.size());
      r->set_height(height);
      // At height 8 the same transactions come again: the executor reports them as duplicates.
      if (height == 8) r->set_code(static_cast<uint32_t>(ResultCode::kTxDuplicate));
    }
    pb::ExecutedBlock executed;
    executed.set_height(height);
    WriteBatch batch;
    store.AddCommitted(*decoded, bytes, AsSpan("cert"), receipts, executed, &batch);
    ASSERT_TRUE(kv.Write(batch, true).has_value());
  }
  EXPECT_EQ(store.FindTx(f.ids[0]).value()->height(), 7u);
  EXPECT_EQ(store.FindTx(f.ids[1]).value()->height(), 7u);
}

// A transaction refused as a whole (tx_expired, tx_duplicate: its receipt has a transaction-level
// code and no operation ran) was included but not executed: the tx index, which get_tx and
// transaction proofs read as "executed here", must not name it (issue 14, defect 23). One that ran
// and failed every operation (status rejected, code ok) was executed: its nonce is spent.
TEST(BlockStore, OnlyExecutedTransactionsAreIndexed) {
  Fixture f(3);
  Bytes bytes = EncodeBlock(f.header, f.txs, f.ids);
  auto decoded = DecodeBlock(bytes, kChain);
  ASSERT_TRUE(decoded.has_value());
  MemoryStore kv;
  BlockStore store(&kv);
  pb::ReceiptList receipts;
  for (const Hash32& id : f.ids) {
    pb::Receipt* r = receipts.add_receipts();
    r->set_tx_id(id.data(), id.size());
    r->set_height(7);
    r->set_status(static_cast<uint32_t>(TxStatus::kRejected));
  }
  receipts.mutable_receipts(0)->set_code(static_cast<uint32_t>(ResultCode::kTxExpired));
  receipts.mutable_receipts(1)->add_results()->set_code(
      static_cast<uint32_t>(ResultCode::kInsufficientFunds));
  receipts.mutable_receipts(2)->set_code(static_cast<uint32_t>(ResultCode::kTxDuplicate));
  pb::ExecutedBlock executed;
  executed.set_height(7);
  WriteBatch batch;
  store.AddCommitted(*decoded, bytes, AsSpan("cert"), receipts, executed, &batch);
  ASSERT_TRUE(kv.Write(batch, true).has_value());
  EXPECT_FALSE(store.FindTx(f.ids[0]).value().has_value()) << "an expired inclusion is indexed";
  ASSERT_TRUE(store.FindTx(f.ids[1]).value().has_value());
  EXPECT_EQ(store.FindTx(f.ids[1]).value()->index(), 1u);
  EXPECT_FALSE(store.FindTx(f.ids[2]).value().has_value());
  // TMP  EXPECT_FALSE(TxWasExecuted(receipts.receipts(0)));
  // TMP  EXPECT_TRUE(TxWasExecuted(receipts.receipts(1)));
}

TEST(BlockStore, CorruptRecordIsAnError) {
  MemoryStore kv;
  WriteBatch batch;
  batch.Put(ToBytes("bkM"), ToBytes("xyz"));
  Bytes key = ToBytes("bkR");
  AppendU64BE(key, 1);
  batch.Put(key, Bytes{0xff, 0xff});
  ASSERT_TRUE(kv.Write(batch, false).has_value());
  BlockStore store(&kv);
  EXPECT_EQ(store.LatestHeight().error().code, ErrorCode::kCorruption);
  EXPECT_EQ(store.GetReceipts(1).error().code, ErrorCode::kCorruption);
}

}  // namespace
}  // namespace cl::ledger
