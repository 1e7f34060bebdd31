#include "ledger/block.h"

#include <gtest/gtest.h>

#include "ledger/block_store.h"
#include "ledger/memory_store.h"
#include "ledger/result_code.h"
#include "ledger/transaction.h"

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
