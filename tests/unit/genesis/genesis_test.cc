#include "genesis/genesis.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <sstream>

#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/executor.h"
#include "ledger/genesis_state.h"
#include "ledger/invariant.h"
#include "ledger/ledger_state.h"

namespace cl::genesis {
namespace {

namespace json = boost::json;

std::string SamplePath() {
  return std::string(LEDGER_VECTORS_DIR) + "/genesis/sample.json";
}

std::string ReadSample() {
  std::ifstream in(SamplePath(), std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The sample's keys are small scalars (see tests/vectors/genesis/README.md).
crypto::PrivateKey SmallKey(uint32_t n) {
  Bytes secret(32, 0);
  secret[30] = static_cast<uint8_t>(n >> 8);
  secret[31] = static_cast<uint8_t>(n);
  return *crypto::PrivateKey::FromBytes(secret);
}

std::string AccountId(uint8_t n) {
  std::string id(16, '\0');
  id[15] = static_cast<char>(n);
  return id;
}

TEST(Genesis, LoadsTheSampleWithValidatorsAndHash) {
  std::string text = ReadSample();
  auto g = LoadGenesisFile(SamplePath());
  ASSERT_TRUE(g.has_value()) << g.error().ToString();
  EXPECT_EQ(g->chain_id, "consortium-sample");
  EXPECT_EQ(g->genesis_time_ms, 1700000000000u);
  EXPECT_EQ(g->state.governance_threshold, 4u);
  EXPECT_EQ(g->state.members.size(), 6u);
  EXPECT_EQ(g->state.assets.size(), 3u);
  EXPECT_EQ(g->state.accounts.size(), 6u);
  ASSERT_EQ(g->validators.size(), 4u);
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(g->validators[i].member_id, i + 1);
    EXPECT_EQ(g->validators[i].node_key, SmallKey(101 + i).GetPublicKey());
  }
  EXPECT_EQ(g->consensus.block_interval_ms, 500u);
  EXPECT_EQ(g->hash, crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan(text)));
  auto changes = GenesisStateChanges(*g);
  ASSERT_TRUE(changes.has_value());
  ledger::MapStateReader state;
  state.Apply(*changes);
  EXPECT_TRUE(ledger::CheckStateInvariants(state.entries()).has_value());
}

TEST(Genesis, HashCoversTheExactFileBytes) {
  std::string text = ReadSample();
  auto a = LoadGenesis(text);
  auto b = LoadGenesis(text + " ");
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(a->hash, b->hash);
}

TEST(Genesis, ExecutesBlocksFromTheGenesisState) {
  auto g = LoadGenesisFile(SamplePath());
  ASSERT_TRUE(g.has_value());
  ledger::MapStateReader state;
  state.Apply(*GenesisStateChanges(*g));
  ledger::pb::TxBody body;
  body.set_chain_id(g->chain_id);
  body.set_valid_until_height(10);
  auto* t = body.add_operations()->mutable_transfer();
  t->set_id(AccountId(77));
  t->set_debit_account(AccountId(1));
  t->set_credit_account(AccountId(2));
  t->set_amount(250);
  auto tx = ledger::VerifyEnvelope(ledger::SignTransaction(body, std::vector{SmallKey(601)}),
                                   g->chain_id);
  ASSERT_TRUE(tx.has_value());
  std::vector<ledger::VerifiedTx> txs = {*tx};
  auto out = ledger::ExecuteBlock(state, {g->chain_id, 1, g->genesis_time_ms + 500}, txs);
  ASSERT_TRUE(out.has_value()) << out.error().ToString();
  EXPECT_EQ(out->receipts[0].results(0).code(), 0u);
}

struct BrokenCase {
  const char* name;
  std::function<void(json::object&)> mutate;
  const char* expected;  // must appear in the one-line error
};

TEST(Genesis, RejectsBrokenFilesNamingTheField) {
  auto member = [](json::object& g, size_t i) -> json::object& {
    return g["members"].as_array()[i].as_object();
  };
  auto account = [](json::object& g, size_t i) -> json::object& {
    return g["accounts"].as_array()[i].as_object();
  };
  std::vector<BrokenCase> cases = {
      {"duplicate member", [&](json::object& g) { member(g, 1)["id"] = 1; },
       "$.members[1].id: duplicate member id 1"},
      {"bad node key", [&](json::object& g) { member(g, 2)["node_key"] = "02abcd"; },
       "$.members[2].node_key: not a 33-byte"},
      {"unknown role", [&](json::object& g) { member(g, 0)["roles"] = json::array{"king"}; },
       "$.members[0].roles[0]: unknown role"},
      {"unknown field", [&](json::object& g) { member(g, 0)["colour"] = "blue"; },
       "$.members[0].colour: unknown field"},
      {"three validators",
       [&](json::object& g) { member(g, 3)["roles"] = json::array{"observer"}; },
       "$.members: fewer than 4 validators"},
      {"unknown asset", [&](json::object& g) { account(g, 3)["asset"] = "EUR"; },
       "$.accounts[3].asset: unknown asset EUR"},
      {"unbalanced", [&](json::object& g) { account(g, 3)["balance"] = "1000001"; },
       "$.assets[0]: balances of USD.A do not sum to zero"},
      {"negative customer", [&](json::object& g) { account(g, 3)["balance"] = "-5"; },
       "$.accounts[3].balance: only the asset's issuer account may be negative"},
      {"numeric amount", [&](json::object& g) { account(g, 3)["balance"] = 1000000; },
       "$.accounts[3].balance: must be a decimal string"},
      {"duplicate account", [&](json::object& g) { account(g, 4)["id"] = account(g, 3)["id"]; },
       "$.accounts[4].id: duplicate account id"},
      {"unknown custodian", [&](json::object& g) { account(g, 3)["custodian"] = 42; },
       "$.accounts[3].custodian: unknown member 42"},
      {"issuer without role",
       [&](json::object& g) { g["assets"].as_array()[2].as_object()["issuer"] = 4; },
       "$.assets[2].issuer: member 4 lacks the issuer role"},
      // Names that could pass for another member's (review finding 1).
      {"invisible character in a name",
       [&](json::object& g) { member(g, 1)["name"] = "Bank A\u200b"; },
       "$.members[1].name: must not contain the invisible character U+200B"},
      {"right-to-left override in a name",
       [&](json::object& g) { member(g, 1)["name"] = "\u202eA knaB"; },
       "$.members[1].name: must not contain the invisible character U+202E"},
      {"C1 control in a name", [&](json::object& g) { member(g, 1)["name"] = "Bank\u009bB"; },
       "$.members[1].name: must not contain control characters"},
      {"DEL in a name", [&](json::object& g) { member(g, 1)["name"] = "Bank B\x7f"; },
       "$.members[1].name: must not contain control characters"},
      {"trailing space in a name", [&](json::object& g) { member(g, 1)["name"] = "Bank A "; },
       "$.members[1].name: must not begin or end with a space"},
      {"name differing only in case and spaces",
       [&](json::object& g) { member(g, 1)["name"] = "BANK  a"; },
       "$.members[1].name: duplicate name (same as member 1's 'Bank A' ignoring ASCII case and "
       "repeated spaces)"},
      {"threshold above members", [&](json::object& g) { g["governance_threshold"] = 7; },
       "$.governance_threshold: must be at most 6"},
      {"missing chain id", [&](json::object& g) { g.erase("chain_id"); }, "$.chain_id: missing"},
      {"bad controller",
       [&](json::object& g) { account(g, 4)["controller"].as_object()["threshold"] = 4; },
       "$.accounts[4].controller: controller.threshold"},
      {"zero interval",
       [&](json::object& g) { g["consensus"].as_object()["block_interval_ms"] = 0; },
       "$.consensus.block_interval_ms: must be at least 1"},
      // Genesis state the runtime would refuse (issue 14, defects 19 to 21).
      {"issuer account kept by another member",
       [&](json::object& g) { account(g, 0)["custodian"] = 2; },
       "$.accounts[0].custodian: the issuer account of USD.A must be kept by its issuer, member 1"},
      {"issuer account of another asset",
       [&](json::object& g) {
         g["assets"].as_array()[1].as_object()["issuer_account"] = account(g, 0)["id"];
       },
       "$.assets[1].issuer_account: account 000000000000000000000000000000a0 holds USD.A, not "
       "USD.B"},
      {"issuer account with limits",
       [&](json::object& g) { account(g, 0)["max_per_transfer"] = "5"; },
       "$.accounts[0].max_per_transfer: an issuer account has no flags or limits"},
      {"issuer account with flags",
       [&](json::object& g) {
         account(g, 1)["flags"] = json::array{"debits_must_not_exceed_credits"};
       },
       "$.accounts[1].flags: an issuer account has no flags or limits"},
      {"overdraft not granted by the issuer",
       [&](json::object& g) {
         account(g, 3)["custodian"] = 2;
         account(g, 3)["overdraft_limit"] = "10";
       },
       "$.accounts[3].overdraft_limit: an overdraft in USD.A is credit that only its issuer, "
       "member 1, grants: the custodian must be member 1"},
      {"shared governance key",
       [&](json::object& g) { member(g, 3)["governance"] = member(g, 1)["governance"]; },
       "$.members[3].governance: key "
       "036c0d1f1784e47ff04108c1d9049df6b3658aa6490ef4ef1ac1e4dbfd90ac0427 "
       "is also a governance key of member 2"},
      {"governance key shared inside a k-of-n",
       [&](json::object& g) {
         member(g, 4)["governance"] = member(g, 0)["governance"].as_object()["keys"].as_array()[2];
       },
       "$.members[4].governance: key "
       "0244770a338bf0aab83bb64e476eb6167a88156d168f13ce8626ee0912e59ad087 "
       "is also a governance key of member 1"},
  };
  std::string text = ReadSample();
  for (const auto& c : cases) {
    json::object g = json::parse(text).as_object();
    c.mutate(g);
    auto loaded = LoadGenesis(json::serialize(g));
    ASSERT_FALSE(loaded.has_value()) << c.name;
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument) << c.name;
    EXPECT_NE(loaded.error().message.find(c.expected), std::string::npos)
        << c.name << ": " << loaded.error().message;
    EXPECT_EQ(loaded.error().message.find('\n'), std::string::npos) << c.name;
    EXPECT_EQ(loaded.error().message.rfind("genesis: ", 0), 0u) << c.name;
  }
  auto not_json = LoadGenesis("{ not json");
  ASSERT_FALSE(not_json.has_value());
  EXPECT_NE(not_json.error().message.find("genesis: $: not valid JSON"), std::string::npos);
}

// A key given twice in one object is refused, naming it: with "last wins", a file could be read
// (and hashed, and inspected) differently by readers with other rules (review finding 3).
TEST(Genesis, RefusesAKeyGivenTwice) {
  const std::string text = ReadSample();
  ASSERT_TRUE(LoadGenesis(text).has_value());  // "name" in every member is no duplicate
  auto twice = [&](const std::string& from, const std::string& to) {
    std::string edited = text;
    const size_t at = edited.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    auto g = LoadGenesis(edited.replace(at, from.size(), to));
    return g ? std::string("(accepted)") : g.error().message;
  };
  EXPECT_EQ(
      twice("\"governance_threshold\":", "\"governance_threshold\": 1, \"governance_threshold\":"),
      "genesis: $.governance_threshold: key given twice");
  EXPECT_EQ(twice("\"name\": \"Bank B\"", "\"name\": \"Bank B\", \"name\": \"Bank Z\""),
            "genesis: $.members[1].name: key given twice");
}

// The consensus limits come from the code's: a block of more transactions or bytes than
// ledger/block.h allows would make the primary abort (EncodeBlock) or be refused by every backup.
TEST(Genesis, BlockLimitsAreTheCodesLimitsAtAndJustOver) {
  struct Limit {
    const char* key;
    uint64_t min, max;
  };
  const Limit limits[] = {
      {"max_block_txs", 1, ledger::kMaxTxsPerBlock},
      {"max_block_bytes", kMinBlockBytes, ledger::kMaxBlockBytes},
  };
  std::string text = ReadSample();
  for (const Limit& l : limits) {
    for (uint64_t value : {l.min, l.max}) {
      json::object g = json::parse(text).as_object();
      g["consensus"].as_object()[l.key] = value;
      auto loaded = LoadGenesis(json::serialize(g));
      ASSERT_TRUE(loaded.has_value()) << l.key << "=" << value << ": " << loaded.error().ToString();
    }
    json::object over = json::parse(text).as_object();
    over["consensus"].as_object()[l.key] = l.max + 1;
    auto too_big = LoadGenesis(json::serialize(over));
    ASSERT_FALSE(too_big.has_value()) << l.key;
    EXPECT_NE(too_big.error().message.find(std::string("$.consensus.") + l.key +
                                           ": must be at most " + std::to_string(l.max)),
              std::string::npos)
        << too_big.error().message;
    json::object under = json::parse(text).as_object();
    under["consensus"].as_object()[l.key] = l.min - 1;
    auto too_small = LoadGenesis(json::serialize(under));
    ASSERT_FALSE(too_small.has_value()) << l.key;
    EXPECT_NE(too_small.error().message.find(std::string("$.consensus.") + l.key +
                                             ": must be at least " + std::to_string(l.min)),
              std::string::npos)
        << too_small.error().message;
  }
  // One transaction of the largest size admitted fits in the smallest block, beside the room the
  // proposer keeps for the header and framing.
  EXPECT_GE(kMinBlockBytes, ledger::kMaxTxEnvelopeBytes + kProposerReserveBytes);
  EXPECT_LE(kMinBlockBytes, ledger::kMaxBlockBytes);
}

// A proposer fills a block with envelopes up to max_block_bytes - kProposerReserveBytes (node/
// MaybePropose); the encoded block, header and framing included, must still be within
// max_block_bytes, or its own replica drops it and every backup refuses it (a halt). The worst case
// is the most transactions the block may hold, each as large as the budget allows.
TEST(Genesis, AFullBlockWithinTheProposersBudgetStaysWithinTheLimit) {
  const std::string chain_id(crypto::kChainIdMaxBytes, 'c');
  ledger::pb::BlockHeader header;
  header.set_chain_id(chain_id);
  header.set_height(UINT64_MAX);
  header.set_prev_header_hash(std::string(32, 'p'));
  header.set_timestamp_ms(UINT64_MAX);
  header.set_validator_set_hash(std::string(32, 'v'));
  header.set_proposer(UINT32_MAX);
  for (uint64_t max_block_bytes : {kMinBlockBytes, uint64_t{ledger::kMaxBlockBytes}}) {
    const uint64_t budget = max_block_bytes - kProposerReserveBytes;
    for (uint64_t txs : {uint64_t{1}, uint64_t{ledger::kMaxTxsPerBlock}}) {
      const uint64_t each = std::min<uint64_t>(budget / txs, ledger::kMaxTxEnvelopeBytes);
      std::vector<Bytes> envelopes(txs, Bytes(each, 0xee));
      std::vector<Hash32> ids(txs);
      Bytes block = ledger::EncodeBlock(header, envelopes, ids);
      EXPECT_LE(block.size(), max_block_bytes) << txs << " txs of " << each << " bytes";
    }
  }
}

// The same checks hold for a GenesisState built by code (tests, tools), not only for JSON files.
TEST(Genesis, GenesisStateRefusesWhatTheRuntimeWouldRefuse) {
  auto base = LoadGenesisFile(SamplePath());
  ASSERT_TRUE(base.has_value());
  struct Case {
    const char* name;
    std::function<void(ledger::GenesisState&)> mutate;
    const char* expected;
  };
  std::vector<Case> cases = {
      {"issuer account kept by another member",
       [](ledger::GenesisState& s) { s.accounts[0].record.set_custodian(2); },
       "must be kept by its issuer"},
      {"issuer account of another asset",
       [](ledger::GenesisState& s) {
         s.assets[1].set_issuer_account(s.accounts[0].record.id());
         s.accounts[1].record.set_issuer(false);  // so that only the new check can catch it
       },
       "issuer account holds another asset"},
      {"issuer account with a limit",
       [](ledger::GenesisState& s) { s.accounts[0].record.set_max_outflow_per_day(5); },
       "an issuer account has no flags or limits"},
      {"overdraft not granted by the issuer",
       [](ledger::GenesisState& s) {
         s.accounts[3].record.set_custodian(2);
         s.accounts[3].record.set_overdraft_limit(10);
       },
       "only its issuer grants"},
      {"shared governance key",
       [](ledger::GenesisState& s) {
         *s.members[3].mutable_governance() = s.members[1].governance();
       },
       "governance key of member 2"},
      {"shared node key",
       [](ledger::GenesisState& s) { s.members[3].set_node_key(s.members[1].node_key()); },
       "node key of member 2"},
  };
  for (const Case& c : cases) {
    ledger::GenesisState s = base->state;
    c.mutate(s);
    auto built = ledger::BuildGenesisState(s);
    ASSERT_FALSE(built.has_value()) << c.name;
    EXPECT_NE(built.error().message.find(c.expected), std::string::npos)
        << c.name << ": " << built.error().message;
  }
  EXPECT_TRUE(ledger::BuildGenesisState(base->state).has_value());
}

TEST(Genesis, GeneratorBuildsALoadableLocalConsortium) {
  auto c = GenerateLocalConsortium("local-dev", 4, 2, 1700000000000);
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  auto g = LoadGenesis(c->genesis_json);
  ASSERT_TRUE(g.has_value()) << g.error().ToString();
  EXPECT_EQ(g->validators.size(), 4u);
  EXPECT_EQ(g->state.members.size(), 6u);
  EXPECT_EQ(g->state.assets.size(), 4u);
  EXPECT_EQ(g->state.governance_threshold, 3u);
  ASSERT_EQ(c->keys.size(), 6u);
  auto node = crypto::PrivateKey::FromBytes(c->keys[0].node_secret);
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->GetPublicKey(), g->validators[0].node_key);
  EXPECT_FALSE(GenerateLocalConsortium("local-dev", 3, 0, 0).has_value());
}

// Consensus bounds every view-change message by its largest validator set (kMaxValidators); a
// genesis with more validators would make every node abort when it builds the replica.
TEST(Genesis, RefusesMoreValidatorsThanConsensusRuns) {
  EXPECT_FALSE(GenerateLocalConsortium("big", kMaxValidators + 1, 0, 0).has_value());
  auto c = GenerateLocalConsortium("big", kMaxValidators, 1, 0);
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  auto g = LoadGenesis(c->genesis_json);
  ASSERT_TRUE(g.has_value()) << g.error().ToString();
  EXPECT_EQ(g->validators.size(), kMaxValidators);

  boost::json::value doc = boost::json::parse(c->genesis_json);
  boost::json::array& members = doc.at("members").as_array();
  boost::json::array roles;
  roles.emplace_back("validator");
  members.back().as_object()["roles"] = roles;
  auto over = LoadGenesis(boost::json::serialize(doc));
  ASSERT_FALSE(over.has_value());
  EXPECT_NE(over.error().message.find("more than 64 validators"), std::string::npos)
      << over.error().message;
}

}  // namespace
}  // namespace cl::genesis
