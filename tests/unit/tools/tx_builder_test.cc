#include "tools/tx_builder.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "ledger/transaction.h"
#include "util/hex.h"

namespace cl::tools {
namespace {

namespace pb = ledger::pb;

constexpr const char* kChain = "test-chain";

json::object Leg(std::string_view text) {
  return json::parse(text).as_object();
}

std::string Key(const crypto::PrivateKey& k) {
  return k.GetPublicKey().ToHex();
}

// Signs a single-operation body and parses it back as a node would at admission.
Result<ledger::ParsedTx> RoundTrip(pb::Operation op, const crypto::PrivateKey& key) {
  std::vector<pb::Operation> ops{std::move(op)};
  auto body = BuildBody({kChain, 100, 0, 0}, std::move(ops));
  if (!body) return std::unexpected(body.error());
  auto signed_tx = SignBody(*body, {key});
  if (!signed_tx) return std::unexpected(signed_tx.error());
  auto parsed = ledger::ParseTransaction(signed_tx->envelope, kChain);
  if (parsed) {
    EXPECT_EQ(parsed->tx_id, signed_tx->tx_id);
  }
  return parsed;
}

TEST(TxBuilder, EveryOperationBuildsABodyTheNodeAccepts) {
  crypto::PrivateKey key = crypto::PrivateKey::Generate();
  std::string k = Key(key);
  std::string a = "00000000000000000000000000000001", b = "00000000000000000000000000000002";
  std::vector<std::string> legs = {
      R"({"op":"create-account","asset":"USD.1","custodian":1,"controller":")" + k + R"("})",
      R"({"op":"create-account","id":")" + a + R"(","asset":"USD.1","custodian":"1",
          "controller":{"threshold":1,"keys":[")" +
          k + R"("]},"debits_must_not_exceed_credits":true,
          "overdraft_limit":"5","max_per_transfer":"100","max_outflow_per_day":"1000"})",
      R"({"op":"freeze","account":")" + a + R"("})",
      R"({"op":"unfreeze","account":")" + a + R"("})",
      R"({"op":"set-freeze","account":")" + a + R"(","debits_frozen":true})",
      R"({"op":"change-controller","account":")" + a + R"(","controller":")" + k + R"("})",
      R"({"op":"close-account","account":")" + a + R"("})",
      R"({"op":"transfer","debit":")" + a + R"(","credit":")" + b + R"(","amount":"250",
          "uetr":"eb6305c9-1f7f-49de-aed0-16487c27b42d","end_to_end_id":"E2E-1","purpose":"SUPP",
          "memo":"invoice 7"})",
      R"({"op":"transfer","debit":")" + a + R"(","credit":")" + b + R"(","amount":"250",
          "timeout_s":60,"preimage":"73656372657431"})",
      R"({"op":"post","pending_id":")" + a + R"(","amount":"10","preimage":"00ff"})",
      R"({"op":"post","pending_id":")" + a + R"("})",
      R"({"op":"void","pending_id":")" + a + R"("})",
      R"({"op":"create-asset","code":"CNY","scale":2,"issuer":3,"issuer_account":")" + b +
          R"(","issuer_controller":")" + k + R"("})",
      R"({"op":"add-member","id":9,"name":"Bank 9","roles":"validator,issuer","node_key":")" + k +
          R"(","governance":")" + k + R"("})",
      R"({"op":"change-roles","id":9,"roles":["observer","compliance"]})",
  };
  for (const std::string& text : legs) {
    SCOPED_TRACE(text);
    auto op = OperationFromJson(Leg(text), "leg");
    ASSERT_TRUE(op.has_value()) << op.error().message;
    auto parsed = RoundTrip(*op, key);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->body.operations(0).kind_case(), op->kind_case());
  }
}

TEST(TxBuilder, FieldsLandInTheOperation) {
  std::string a = "0000000000000000000000000000000a", b = "0000000000000000000000000000000b";
  auto op = OperationFromJson(Leg(R"({"op":"transfer","id":"000000000000000000000000000000cc",
      "debit":")" + a + R"(","credit":")" +
                                  b + R"(","amount":"18446744073709551615",
      "uetr":"eb6305c9-1f7f-49de-aed0-16487c27b42d","memo":"hi"})"),
                              "");
  ASSERT_TRUE(op.has_value()) << op.error().message;
  const pb::Transfer& t = op->transfer();
  EXPECT_EQ(t.amount(), UINT64_MAX);
  EXPECT_EQ(ToHex(AsSpan(t.debit_account())), a);
  EXPECT_EQ(ToHex(AsSpan(t.credit_account())), b);
  EXPECT_EQ(ToHex(AsSpan(t.uetr())), "eb6305c91f7f49deaed016487c27b42d");
  EXPECT_EQ(t.memo(), "hi");
  EXPECT_FALSE(t.pending());
  EXPECT_EQ(ToHex(OperationId(*op)), "000000000000000000000000000000cc");
}

TEST(TxBuilder, PreimageDerivesTheHashLockOfAPendingTransfer) {
  auto op = OperationFromJson(Leg(R"({"op":"transfer","debit":"0000000000000000000000000000000a",
              "credit":"0000000000000000000000000000000b","amount":"5","timeout_s":"30",
              "preimage":"736563726574"})"),
                              "");
  ASSERT_TRUE(op.has_value()) << op.error().message;
  EXPECT_TRUE(op->transfer().pending());
  EXPECT_EQ(op->transfer().timeout_s(), 30u);
  Hash32 expected = crypto::Sha256Of(AsSpan("secret"));
  EXPECT_EQ(ToHex(AsSpan(op->transfer().hash_lock())), expected.ToHex());
}

TEST(TxBuilder, HashLockWithoutTimeoutIsRefused) {
  auto op = OperationFromJson(Leg(R"({"op":"transfer","debit":"0000000000000000000000000000000a",
              "credit":"0000000000000000000000000000000b","amount":"5","preimage":"00"})"),
                              "x");
  ASSERT_FALSE(op.has_value());
  EXPECT_EQ(op.error().message.rfind("x.timeout_s:", 0), 0u) << op.error().message;
}

TEST(TxBuilder, FreezeWithNeitherSideFreezesBoth) {
  auto op =
      OperationFromJson(Leg(R"({"op":"freeze","account":"0000000000000000000000000000000a"})"), "");
  ASSERT_TRUE(op.has_value());
  EXPECT_TRUE(op->set_freeze().debits_frozen());
  EXPECT_TRUE(op->set_freeze().credits_frozen());
  auto debits = OperationFromJson(
      Leg(R"({"op":"freeze","account":"0000000000000000000000000000000a","debits":true})"), "");
  ASSERT_TRUE(debits.has_value());
  EXPECT_TRUE(debits->set_freeze().debits_frozen());
  EXPECT_FALSE(debits->set_freeze().credits_frozen());
}

TEST(TxBuilder, RandomIdsAreDrawnWhenLeftOut) {
  std::string leg = R"({"op":"void","pending_id":"0000000000000000000000000000000a"})";
  auto x = OperationFromJson(Leg(leg), "");
  auto y = OperationFromJson(Leg(leg), "");
  ASSERT_TRUE(x && y);
  EXPECT_EQ(x->void_pending().id().size(), 16u);
  EXPECT_NE(x->void_pending().id(), y->void_pending().id());
}

TEST(TxBuilder, AmountsAreDecimalStringsOfMinorUnits) {
  EXPECT_EQ(ParseAmount("0", "a").value(), 0u);
  EXPECT_EQ(ParseAmount("18446744073709551615", "a").value(), UINT64_MAX);
  for (const char* bad : {"", "-1", "1.5", "1e3", " 1", "0x10", "18446744073709551616"}) {
    SCOPED_TRACE(bad);
    auto r = ParseAmount(bad, "amount");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message.rfind("amount:", 0), 0u);
  }
}

TEST(TxBuilder, BodyNeedsChainIdValidityAndAnUnlinkedLastOperation) {
  auto op = OperationFromJson(
      Leg(R"({"op":"close-account","account":"0000000000000000000000000000000a"})"), "");
  ASSERT_TRUE(op.has_value());
  EXPECT_FALSE(BuildBody({"", 10, 0, 0}, {*op}).has_value());
  EXPECT_FALSE(BuildBody({kChain, 0, 0, 0}, {*op}).has_value());
  EXPECT_FALSE(BuildBody({kChain, 10, 0, 0}, {}).has_value());
  pb::Operation linked = *op;
  linked.set_linked(true);
  EXPECT_FALSE(BuildBody({kChain, 10, 0, 0}, {linked}).has_value());
  auto body = BuildBody({kChain, 10, 0, 7}, {*op});
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->nonce(), 7u);
  EXPECT_EQ(body->valid_until_height(), 10u);
}

TEST(TxBuilder, KOfNSignaturesAreAllCarried) {
  auto k1 = crypto::PrivateKey::Generate(), k2 = crypto::PrivateKey::Generate();
  auto op = OperationFromJson(
      Leg(R"({"op":"close-account","account":"0000000000000000000000000000000a"})"), "");
  auto body = BuildBody({kChain, 10, 0, 0}, {*op});
  ASSERT_TRUE(body.has_value());
  auto signed_tx = SignBody(*body, {k1, k2});
  ASSERT_TRUE(signed_tx.has_value());
  auto parsed = ledger::ParseTransaction(signed_tx->envelope, kChain);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->keys.size(), 2u);
  EXPECT_FALSE(SignBody(*body, {k1, k1}).has_value());
  EXPECT_FALSE(SignBody(*body, {}).has_value());
}

TEST(LegsFile, LinksEveryLegButTheLast) {
  auto ops = ParseLegs(R"({"legs":[
    {"op":"transfer","debit":"0000000000000000000000000000000a","credit":"0000000000000000000000000000000b","amount":"100"},
    {"op":"transfer","debit":"0000000000000000000000000000000c","credit":"0000000000000000000000000000000d","amount":"700"}]})");
  ASSERT_TRUE(ops.has_value()) << ops.error().message;
  ASSERT_EQ(ops->size(), 2u);
  EXPECT_TRUE((*ops)[0].linked());
  EXPECT_FALSE((*ops)[1].linked());
  EXPECT_EQ((*ops)[1].transfer().amount(), 700u);
}

TEST(LegsFile, UnlinkedAndBareArrayForms) {
  std::string leg = R"({"op":"close-account","account":"0000000000000000000000000000000a"})";
  auto unlinked = ParseLegs(R"({"linked":false,"legs":[)" + leg + "," + leg + "]}");
  ASSERT_TRUE(unlinked.has_value());
  EXPECT_FALSE((*unlinked)[0].linked());
  auto bare = ParseLegs("[" + leg + "," + leg + "]");
  ASSERT_TRUE(bare.has_value());
  EXPECT_TRUE((*bare)[0].linked());
}

TEST(LegsFile, MalformedFilesGiveOneLineErrorsNamingTheField) {
  std::string ok = R"({"op":"close-account","account":"0000000000000000000000000000000a"})";
  struct Case {
    std::string text, prefix;
  };
  std::vector<Case> cases = {
      {"{not json", "legs file:"},
      {R"({"legs":[]})", "legs:"},
      {R"({"legs":{}})", "legs:"},
      {R"({"leggs":[]})", "leggs:"},
      {R"({"linked":"yes","legs":[]})", "linked:"},
      {"[" + ok + ",7]", "legs[1]:"},
      {"[" + ok + R"(,{"account":"0000000000000000000000000000000a"}])", "legs[1].op:"},
      {R"([{"op":"teleport"}])", "legs[0].op:"},
      {R"([{"op":"transfer","debit":"0000000000000000000000000000000a","credit":"0000000000000000000000000000000b"}])",
       "legs[0].amount:"},
      {R"([{"op":"transfer","debit":"0000000000000000000000000000000a","credit":"0000000000000000000000000000000b","amount":"1.5"}])",
       "legs[0].amount:"},
      {R"([{"op":"transfer","debit":"0a","credit":"0000000000000000000000000000000b","amount":"1"}])",
       "legs[0].debit:"},
      {R"([{"op":"transfer","debit":"0000000000000000000000000000000a","credit":"0000000000000000000000000000000b","amount":"1","amuont":"2"}])",
       "legs[0].amuont:"},
      {R"([{"op":"transfer","debit":"0000000000000000000000000000000a","credit":"0000000000000000000000000000000b","amount":"1","purpose":"TOOLONG"}])",
       "legs[0].purpose:"},
      {R"([{"op":"create-account","asset":"USD.1","custodian":1,"controller":"zz"}])",
       "legs[0].controller:"},
      {R"([{"op":"change-roles","id":2,"roles":"validator,king"}])", "legs[0].roles:"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = ParseLegs(c.text);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message.rfind(c.prefix, 0), 0u) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace cl::tools
