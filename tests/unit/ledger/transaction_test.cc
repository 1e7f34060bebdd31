#include "ledger/transaction.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "tests/unit/ledger/ledger_fixture.h"
#include "util/canonical_proto.h"

namespace cl::ledger {
namespace {

using namespace testing;

pb::TxBody Body(std::vector<pb::Operation> ops) {
  pb::TxBody body;
  body.set_chain_id(kChain);
  body.set_valid_until_height(10);
  for (auto& op : ops)
    *body.add_operations() = op;
  return body;
}

pb::Operation SimpleTransfer() {
  return TransferOp(Id(1), Id(2), Id(3), 5);
}

TEST(Transaction, SignatureCoversExactBodyBytesAndIdUsesTxIdTag) {
  auto key = Key(1);
  Bytes env_bytes = SignTransaction(Body({SimpleTransfer()}), std::vector{key});
  pb::TxEnvelope env;
  ASSERT_TRUE(env.ParseFromArray(env_bytes.data(), static_cast<int>(env_bytes.size())));
  Hash32 digest = crypto::SignedDigest(crypto::Domain::kTransaction, kChain, AsSpan(env.body()));
  auto sig = crypto::Signature::FromSpan(AsSpan(env.signatures(0).signature()));
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(crypto::Verify(key.GetPublicKey(), digest, *sig));
  auto tx = VerifyEnvelope(env_bytes, kChain);
  ASSERT_TRUE(tx.has_value()) << tx.error().ToString();
  EXPECT_EQ(tx->tx_id(), crypto::SignedDigest(crypto::Domain::kTxId, kChain, AsSpan(env.body())));
  EXPECT_TRUE(tx->SignedBy(key.GetPublicKey()));
  EXPECT_FALSE(tx->SignedBy(Key(2).GetPublicKey()));
}

TEST(Transaction, TamperedBodyFailsVerification) {
  Bytes env_bytes = SignTransaction(Body({SimpleTransfer()}), std::vector{Key(1)});
  pb::TxEnvelope env;
  ASSERT_TRUE(env.ParseFromArray(env_bytes.data(), static_cast<int>(env_bytes.size())));
  pb::TxBody body;
  ASSERT_TRUE(body.ParseFromString(env.body()));
  body.mutable_operations(0)->mutable_transfer()->set_amount(500);
  env.set_body(body.SerializeAsString());
  auto tx = VerifyEnvelope(AsSpan(env.SerializeAsString()), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().code, ErrorCode::kUnauthenticated);
}

TEST(Transaction, SignatureFromAnotherChainIsRejected) {
  Bytes env_bytes = SignTransaction(Body({SimpleTransfer()}), std::vector{Key(1)});
  auto tx = VerifyEnvelope(env_bytes, "other-chain");
  ASSERT_FALSE(tx.has_value());
  EXPECT_NE(tx.error().message.find("chain_id"), std::string::npos);
}

// An envelope over exactly these body bytes, validly signed by `key` (so only strict parsing can
// refuse it).
Bytes SignRawBody(const std::string& body_bytes, const crypto::PrivateKey& key) {
  Hash32 digest = crypto::SignedDigest(crypto::Domain::kTransaction, kChain, AsSpan(body_bytes));
  pb::TxEnvelope env;
  env.set_body(body_bytes);
  auto* s = env.add_signatures();
  s->set_public_key(ToString(key.GetPublicKey().span()));
  s->set_signature(ToString(key.Sign(digest).span()));
  return ToBytes(CanonicalEncoding(env));
}

// Issue 14 defect 2: envelopes and bodies are parsed strictly (docs/transactions.md).
TEST(Transaction, UnknownFieldInTheEnvelopeIsRefused) {
  Bytes env_bytes = SignTransaction(Body({SimpleTransfer()}), std::vector{Key(1)});
  ASSERT_TRUE(VerifyEnvelope(env_bytes, kChain).has_value());
  Bytes appended = env_bytes;
  appended.insert(appended.end(), {0x18, 0x01});  // field 3, varint 1
  auto tx = ParseTransaction(appended, kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(tx.error().message, "envelope: has an unknown field");
  // Inside a signature entry.
  pb::TxEnvelope env;
  ASSERT_TRUE(env.ParseFromArray(env_bytes.data(), static_cast<int>(env_bytes.size())));
  std::string signature_entry = env.signatures(0).SerializeAsString() + std::string("\x18\x01", 2);
  env.clear_signatures();
  std::string nested = CanonicalEncoding(env) + "\x12" +
                       std::string(1, static_cast<char>(signature_entry.size())) + signature_entry;
  tx = ParseTransaction(AsSpan(nested), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().message, "envelope: has an unknown field");
}

TEST(Transaction, UnknownFieldInTheSignedBodyIsRefused) {
  const std::string body = CanonicalEncoding(Body({SimpleTransfer()}));
  ASSERT_TRUE(VerifyEnvelope(SignRawBody(body, Key(1)), kChain).has_value());
  auto tx = VerifyEnvelope(SignRawBody(body + std::string("\x30\x01", 2), Key(1)), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().message, "envelope.body: has an unknown field");
  // Deep inside: an unknown field in the transfer of the first operation.
  pb::TxBody nested = Body({SimpleTransfer()});
  std::string transfer = nested.operations(0).transfer().SerializeAsString();
  transfer += std::string("\xf8\x07\x01", 3);  // field 127, varint 1
  pb::Operation op;
  ASSERT_TRUE(op.mutable_transfer()->ParseFromString(transfer));
  *nested.mutable_operations(0) = op;
  tx = VerifyEnvelope(SignRawBody(nested.SerializeAsString(), Key(1)), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().message, "envelope.body: has an unknown field");
}

TEST(Transaction, NonCanonicalEnvelopeOrBodyIsRefused) {
  // The body with a default value written out (nonce = 0): the same message, other bytes.
  const std::string body = CanonicalEncoding(Body({SimpleTransfer()}));
  pb::TxBody check;
  ASSERT_TRUE(check.ParseFromString(body + std::string("\x20\x00", 2)));
  auto tx = VerifyEnvelope(SignRawBody(body + std::string("\x20\x00", 2), Key(1)), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().message, "envelope.body: is not in canonical encoding");
  // The envelope with its signatures before its body.
  Bytes env_bytes = SignRawBody(body, Key(1));
  pb::TxEnvelope env;
  ASSERT_TRUE(env.ParseFromArray(env_bytes.data(), static_cast<int>(env_bytes.size())));
  pb::TxEnvelope signatures_only = env;
  signatures_only.clear_body();
  pb::TxEnvelope body_only;
  body_only.set_body(env.body());
  const std::string reordered = signatures_only.SerializeAsString() + body_only.SerializeAsString();
  tx = VerifyEnvelope(AsSpan(reordered), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().message, "envelope: is not in canonical encoding");
}

TEST(Transaction, TooManyOperationsIsRefusedNamingTheLimit) {
  std::vector<pb::Operation> ops(kMaxOpsPerTx + 1, SimpleTransfer());
  auto tx = VerifyEnvelope(SignTransaction(Body(ops), std::vector{Key(1)}), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(tx.error().message.find("kMaxOpsPerTx"), std::string::npos);
  std::vector<pb::Operation> max_ops(kMaxOpsPerTx, SimpleTransfer());
  EXPECT_TRUE(VerifyEnvelope(SignTransaction(Body(max_ops), std::vector{Key(1)}), kChain));
}

TEST(Transaction, OversizedEnvelopeIsRefused) {
  Bytes big(kMaxTxEnvelopeBytes + 1, 0);
  auto tx = VerifyEnvelope(big, kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_NE(tx.error().message.find("kMaxTxEnvelopeBytes"), std::string::npos);
}

TEST(Transaction, TooManySignaturesIsRefused) {
  std::vector<crypto::PrivateKey> keys;
  for (uint32_t i = 1; i <= kMaxSignaturesPerTx + 1; ++i)
    keys.push_back(Key(i));
  auto tx = VerifyEnvelope(SignTransaction(Body({SimpleTransfer()}), keys), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_NE(tx.error().message.find("kMaxSignaturesPerTx"), std::string::npos);
}

TEST(Transaction, DuplicateSignerIsRefused) {
  auto tx = VerifyEnvelope(SignTransaction(Body({SimpleTransfer()}), std::vector{Key(1), Key(1)}),
                           kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_NE(tx.error().message.find("duplicate signer"), std::string::npos);
}

TEST(Transaction, UnsignedEnvelopeIsRefused) {
  auto tx = VerifyEnvelope(SignTransaction(Body({SimpleTransfer()}), {}), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().code, ErrorCode::kUnauthenticated);
}

TEST(Transaction, FieldLimitsAreEnforcedNamingTheField) {
  struct Case {
    pb::Operation op;
    const char* field;
  };
  pb::Operation memo = SimpleTransfer();
  memo.mutable_transfer()->set_memo(std::string(kMaxMemoBytes + 1, 'm'));
  pb::Operation zero = SimpleTransfer();
  zero.mutable_transfer()->set_amount(0);
  pb::Operation short_id = SimpleTransfer();
  short_id.mutable_transfer()->set_id("short");
  pb::Operation uetr = SimpleTransfer();
  uetr.mutable_transfer()->set_uetr("123");
  pb::Operation timeout = HoldOp(Id(1), Id(2), Id(3), 5, kMaxHoldTimeoutS + 1);
  pb::Operation lock = HoldOp(Id(1), Id(2), Id(3), 5, 10, "abc");
  pb::Operation bad_controller = CreateAccountOp(Id(1), "USD.A", pb::Controller(), 1);
  pb::Operation bad_asset = CreateAccountOp(Id(1), "usd", Single(Key(1)), 1);
  std::vector<Case> cases = {{memo, "transfer.memo"},
                             {zero, "transfer.amount"},
                             {short_id, "transfer.id"},
                             {uetr, "transfer.uetr"},
                             {timeout, "transfer.timeout_s"},
                             {lock, "transfer.hash_lock"},
                             {bad_controller, "controller.keys"},
                             {bad_asset, "create_account.asset"},
                             {pb::Operation(), "operation"}};
  for (const auto& c : cases) {
    auto tx = VerifyEnvelope(SignTransaction(Body({c.op}), std::vector{Key(1)}), kChain);
    ASSERT_FALSE(tx.has_value()) << c.field;
    EXPECT_EQ(tx.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(tx.error().message.find(c.field), std::string::npos) << tx.error().message;
  }
  pb::Operation memo_ok = SimpleTransfer();
  memo_ok.mutable_transfer()->set_memo(std::string(kMaxMemoBytes, 'm'));
  EXPECT_TRUE(VerifyEnvelope(SignTransaction(Body({memo_ok}), std::vector{Key(1)}), kChain));
}

TEST(Transaction, MissingValidityBoundAndOpenLinkedChainAreRefused) {
  pb::TxBody body = Body({SimpleTransfer()});
  body.set_valid_until_height(0);
  EXPECT_FALSE(VerifyEnvelope(SignTransaction(body, std::vector{Key(1)}), kChain));
  auto tx = VerifyEnvelope(SignTransaction(Body({Linked(SimpleTransfer())}), std::vector{Key(1)}),
                           kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_NE(tx.error().message.find("linked"), std::string::npos);
}

TEST(Transaction, BatchVerdictMustCoverEverySignature) {
  Bytes env = SignTransaction(Body({SimpleTransfer()}), std::vector{Key(1), Key(2)});
  auto parsed = ParseTransaction(env, kChain);
  ASSERT_TRUE(parsed.has_value());
  bool one_bad[] = {true, false};
  EXPECT_FALSE(AcceptBatchVerdict(*parsed, one_bad).has_value());
  bool too_few[] = {true};
  EXPECT_FALSE(AcceptBatchVerdict(*parsed, too_few).has_value());
  bool all_ok[] = {true, true};
  auto tx = AcceptBatchVerdict(*parsed, all_ok);
  ASSERT_TRUE(tx.has_value());
  EXPECT_EQ(tx->signers().size(), 2u);
}

// The envelope of `body` signed by Key(1), with its signature's s replaced by n - s: the same
// signature in the high-S form the low-S rule refuses.
Bytes HighSEnvelope(const pb::TxBody& body) {
  Bytes env_bytes = SignTransaction(body, std::vector{Key(1)});
  pb::TxEnvelope env;
  EXPECT_TRUE(env.ParseFromArray(env_bytes.data(), static_cast<int>(env_bytes.size())));
  static constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                         0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                         0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
  std::string sig = env.signatures(0).signature();
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = kOrder[i] - static_cast<uint8_t>(sig[32 + i]) - borrow;
    borrow = v < 0;
    sig[32 + i] = static_cast<char>(v + (borrow ? 256 : 0));
  }
  env.mutable_signatures(0)->set_signature(sig);
  return ToBytes(env.SerializeAsString());
}

TEST(Transaction, HighSSignatureIsRefusedNamingTheLowSRule) {
  Bytes high = HighSEnvelope(Body({SimpleTransfer()}));
  auto tx = VerifyEnvelope(high, kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(tx.error().message,
            "envelope.signatures[0].signature: high-S (s > n/2); only low-S signatures are "
            "accepted");
  // The batch verifier's path (the mempool's) names the rule the same way.
  auto parsed = ParseTransaction(high, kChain);
  ASSERT_TRUE(parsed.has_value());
  bool refused[] = {false};
  auto batch = AcceptBatchVerdict(*parsed, refused);
  ASSERT_FALSE(batch.has_value());
  EXPECT_EQ(batch.error().message, tx.error().message);
}

TEST(Transaction, WrongSignatureSaysItDoesNotVerify) {
  Bytes env_bytes = SignTransaction(Body({SimpleTransfer()}), std::vector{Key(1)});
  env_bytes[env_bytes.size() - 5] ^= 0x01;  // inside s; still low-S
  auto tx = VerifyEnvelope(env_bytes, kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_EQ(tx.error().message, "envelope.signatures[0]: does not verify");
}

TEST(Transaction, KOfNControllerNeedsThresholdDistinctKeys) {
  pb::Controller c = KOfN(2, {Key(1), Key(2), Key(3)});
  auto signers = [](std::vector<crypto::PrivateKey> keys) {
    std::vector<crypto::PublicKey> out;
    for (auto& k : keys)
      out.push_back(k.GetPublicKey());
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_TRUE(ControllerSatisfied(c, signers({Key(1), Key(3)})));
  EXPECT_FALSE(ControllerSatisfied(c, signers({Key(2)})));
  EXPECT_FALSE(ControllerSatisfied(c, signers({Key(2), Key(4)})));
}

}  // namespace
}  // namespace cl::ledger
