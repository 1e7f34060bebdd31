// Test fixture for the wallet ledger: a small consortium at genesis (five members, two deposit
// tokens and a settlement asset), deterministic keys, operation builders, and block execution over
// an in-memory state that checks every invariant over the whole state after each block.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "ledger/executor.h"
#include "ledger/genesis_state.h"
#include "ledger/invariant.h"
#include "ledger/ledger_state.h"
#include "ledger/transaction.h"

namespace cl::ledger::testing {

inline constexpr const char* kChain = "test-chain";
inline constexpr uint64_t kGenesisTimeMs = 1'700'000'000'000;

// A deterministic key: secret = 31 zero bytes then n (n >= 1), offset so members and users differ.
inline crypto::PrivateKey Key(uint32_t n) {
  Bytes secret(32, 0);
  secret[27] = 0x5a;
  secret[28] = static_cast<uint8_t>(n >> 24);
  secret[29] = static_cast<uint8_t>(n >> 16);
  secret[30] = static_cast<uint8_t>(n >> 8);
  secret[31] = static_cast<uint8_t>(n);
  return *crypto::PrivateKey::FromBytes(secret);
}

inline std::string KeyBytes(const crypto::PrivateKey& k) {
  return std::string(AsStringView(k.GetPublicKey().span()));
}

// 16-byte id: 0x..00 || u64be(n); distinct n give distinct ids.
inline std::string Id(uint64_t n) {
  Bytes b(8, 0);
  AppendU64BE(b, n);
  return ToString(b);
}

inline pb::Controller Single(const crypto::PrivateKey& k) {
  pb::Controller c;
  c.set_threshold(1);
  c.add_keys(KeyBytes(k));
  return c;
}

inline pb::Controller KOfN(uint32_t k, const std::vector<crypto::PrivateKey>& keys) {
  pb::Controller c;
  c.set_threshold(k);
  for (const auto& key : keys)
    c.add_keys(KeyBytes(key));
  return c;
}

// Members 1..5: banks A, B, C, D (validators; A and B issuers) and a regulator (compliance).
inline constexpr uint32_t kBankA = 1, kBankB = 2, kBankC = 3, kBankD = 4, kRegulator = 5;
inline crypto::PrivateKey MemberKey(uint32_t member) {
  return Key(1000 + member);
}

// Asset issuer accounts.
inline const std::string kIssuerUsdA = Id(0xA0), kIssuerUsdB = Id(0xB0), kIssuerSet = Id(0xC0);
inline crypto::PrivateKey IssuerKey(uint32_t member) {
  return Key(2000 + member);
}

inline pb::Operation CreateAccountOp(const std::string& id, const std::string& asset,
                                     const pb::Controller& controller, uint32_t custodian) {
  pb::Operation op;
  auto* a = op.mutable_create_account();
  a->set_id(id);
  a->set_asset(asset);
  *a->mutable_controller() = controller;
  a->set_custodian(custodian);
  return op;
}

inline pb::Operation TransferOp(const std::string& id, const std::string& debit,
                                const std::string& credit, uint64_t amount) {
  pb::Operation op;
  auto* t = op.mutable_transfer();
  t->set_id(id);
  t->set_debit_account(debit);
  t->set_credit_account(credit);
  t->set_amount(amount);
  return op;
}

inline pb::Operation HoldOp(const std::string& id, const std::string& debit,
                            const std::string& credit, uint64_t amount, uint64_t timeout_s,
                            const std::string& hash_lock = "") {
  pb::Operation op = TransferOp(id, debit, credit, amount);
  op.mutable_transfer()->set_pending(true);
  op.mutable_transfer()->set_timeout_s(timeout_s);
  op.mutable_transfer()->set_hash_lock(hash_lock);
  return op;
}

inline pb::Operation PostOp(const std::string& id, const std::string& pending_id,
                            uint64_t amount = 0, const std::string& preimage = "") {
  pb::Operation op;
  auto* p = op.mutable_post_pending();
  p->set_id(id);
  p->set_pending_id(pending_id);
  p->set_amount(amount);
  p->set_preimage(preimage);
  return op;
}

inline pb::Operation VoidOp(const std::string& id, const std::string& pending_id) {
  pb::Operation op;
  op.mutable_void_pending()->set_id(id);
  op.mutable_void_pending()->set_pending_id(pending_id);
  return op;
}

inline pb::Operation Linked(pb::Operation op) {
  op.set_linked(true);
  return op;
}

inline GenesisState SampleGenesis() {
  GenesisState g;
  g.governance_threshold = 3;
  const char* names[] = {"", "Bank A", "Bank B", "Bank C", "Bank D", "Regulator"};
  for (uint32_t id = 1; id <= 5; ++id) {
    pb::MemberRecord m;
    m.set_id(id);
    m.set_name(names[id]);
    m.set_roles(id == kRegulator ? pb::ROLE_OBSERVER | pb::ROLE_COMPLIANCE
                : id <= 2        ? pb::ROLE_VALIDATOR | pb::ROLE_ISSUER
                                 : pb::ROLE_VALIDATOR);
    m.set_node_key(KeyBytes(Key(3000 + id)));
    *m.mutable_governance() = Single(MemberKey(id));
    g.members.push_back(m);
  }
  auto add_asset = [&](const char* code, uint32_t issuer, const std::string& account) {
    pb::AssetRecord a;
    a.set_code(code);
    a.set_scale(2);
    a.set_issuer(issuer);
    a.set_issuer_account(account);
    g.assets.push_back(a);
    GenesisAccount acc;
    acc.record.set_id(account);
    acc.record.set_asset(code);
    *acc.record.mutable_controller() = Single(IssuerKey(issuer));
    acc.record.set_custodian(issuer);
    acc.record.set_issuer(true);
    g.accounts.push_back(acc);
  };
  add_asset("USD.A", kBankA, kIssuerUsdA);
  add_asset("USD.B", kBankB, kIssuerUsdB);
  add_asset("SET", kBankC, kIssuerSet);
  return g;
}

class LedgerFixture : public ::testing::Test {
 protected:
  void SetUp() override { InitGenesis(SampleGenesis()); }

  void InitGenesis(const GenesisState& g) {
    auto changes = BuildGenesisState(g);
    ASSERT_TRUE(changes.has_value()) << changes.error().ToString();
    state_ = MapStateReader();
    state_.Apply(*changes);
    height_ = 0;
    time_ms_ = kGenesisTimeMs;
  }

  VerifiedTx Tx(std::vector<pb::Operation> ops, std::vector<crypto::PrivateKey> signers,
                uint64_t nonce = 0) {
    pb::TxBody body;
    body.set_chain_id(kChain);
    body.set_valid_until_height(height_ + 100);
    body.set_nonce(nonce == 0 ? ++nonce_ : nonce);
    for (auto& op : ops)
      *body.add_operations() = std::move(op);
    Bytes env = SignTransaction(body, signers);
    auto tx = VerifyEnvelope(env, kChain);
    EXPECT_TRUE(tx.has_value()) << tx.error().ToString();
    return std::move(*tx);
  }

  // Executes one block `advance_ms` after the previous one and returns its outcome.
  BlockOutcome Block(std::vector<VerifiedTx> txs, uint64_t advance_ms = 1000) {
    time_ms_ += advance_ms;
    BlockInfo info{kChain, height_ + 1, time_ms_};
    auto out = ExecuteBlock(state_, info, txs);
    EXPECT_TRUE(out.has_value()) << out.error().ToString();
    if (!out) return {};
    ++height_;
    state_.Apply(out->changes);
    auto st = CheckStateInvariants(state_.entries());
    EXPECT_TRUE(st.has_value()) << st.error().ToString();
    return std::move(*out);
  }

  // One transaction in its own block; returns its receipt.
  pb::Receipt Run(std::vector<pb::Operation> ops, std::vector<crypto::PrivateKey> signers) {
    auto out = Block({Tx(std::move(ops), std::move(signers))});
    EXPECT_EQ(out.receipts.size(), 1u);
    return out.receipts.empty() ? pb::Receipt() : out.receipts[0];
  }

  // The code of a single-operation transaction.
  ResultCode RunOne(pb::Operation op, std::vector<crypto::PrivateKey> signers) {
    pb::Receipt r = Run({std::move(op)}, std::move(signers));
    EXPECT_EQ(r.results_size(), 1);
    return r.results_size() == 1 ? static_cast<ResultCode>(r.results(0).code())
                                 : ResultCode::kInvalidField;
  }

  pb::AccountRecord Account(const std::string& id) {
    LedgerState st(state_);
    auto a = st.GetAccount(id);
    EXPECT_TRUE(a.has_value() && a->has_value());
    return (a && *a) ? **a : pb::AccountRecord();
  }
  int64_t Balance(const std::string& id) {
    pb::AccountRecord a = Account(id);
    return static_cast<int64_t>(a.credits_posted()) - static_cast<int64_t>(a.debits_posted());
  }
  pb::TransferRecord Transfer(const std::string& id) {
    LedgerState st(state_);
    auto t = st.GetTransfer(id);
    EXPECT_TRUE(t.has_value() && t->has_value());
    return (t && *t) ? **t : pb::TransferRecord();
  }

  // Opens a USD.A account for `owner` at Bank A and funds it with `amount` from the issuer.
  void OpenFunded(const std::string& id, const crypto::PrivateKey& owner, uint64_t amount,
                  const char* asset = "USD.A", uint32_t bank = kBankA) {
    const std::string& issuer = bank == kBankA   ? kIssuerUsdA
                                : bank == kBankB ? kIssuerUsdB
                                                 : kIssuerSet;
    ASSERT_EQ(RunOne(CreateAccountOp(id, asset, Single(owner), bank), {MemberKey(bank)}),
              ResultCode::kOk);
    if (amount > 0) {
      ASSERT_EQ(RunOne(TransferOp(Id(next_transfer_++), issuer, id, amount), {IssuerKey(bank)}),
                ResultCode::kOk);
    }
  }

  MapStateReader state_;
  uint64_t height_ = 0;
  uint64_t time_ms_ = kGenesisTimeMs;
  uint64_t nonce_ = 0;
  uint64_t next_transfer_ = 1'000'000;
};

inline ResultCode CodeOf(const pb::Receipt& r, int op) {
  return static_cast<ResultCode>(r.results(op).code());
}

}  // namespace cl::ledger::testing
