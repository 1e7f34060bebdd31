// Randomized model test: thousands of random, partly invalid transactions run against the executor
// and against a deliberately simple reference model built on plain maps. After every block the
// receipts' codes, every account's amounts and the whole-state invariants must agree. A failure
// prints the seed; rerun with LEDGER_TEST_SEED=<seed> to reproduce it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "ledger/executor.h"
#include "tests/unit/ledger/ledger_fixture.h"

namespace cl::ledger {
namespace {

using namespace testing;

constexpr int kUsers = 8;
constexpr int kBlocks = 250;
constexpr int kMaxTxsPerBlock = 12;

struct MAccount {
  uint64_t dp = 0, cp = 0, dpend = 0, cpend = 0;
  bool issuer = false, debits_frozen = false, credits_frozen = false;
  uint32_t key = 0;  // Key(n) controls it
};

enum class Kind { kTransfer, kPost, kVoid };
enum class HoldState { kPending, kPosted, kVoided, kExpired };

struct MTransfer {
  Kind kind = Kind::kTransfer;
  pb::Transfer t;          // kTransfer: as submitted
  std::string pending_id;  // kPost / kVoid
  std::string preimage;    // kPost
  uint64_t amount = 0;     // kPost: amount posted
  HoldState state = HoldState::kPending;
  uint64_t height = 0, deadline_s = 0;
};

struct Model {
  std::map<std::string, MAccount> accounts;
  std::map<std::string, MTransfer> transfers;
};

struct Outcome {
  ResultCode code;
  uint64_t original_height = 0;
};

class ModelRunner {
 public:
  Model m;
  uint64_t height = 0, now_s = 0;
  std::vector<crypto::PublicKey> signers;

  bool Signed(uint32_t key) const {
    auto pub = Key(key).GetPublicKey();
    return std::find(signers.begin(), signers.end(), pub) != signers.end();
  }

  void Release(MTransfer& hold, HoldState state, uint64_t posted) {
    MAccount& d = m.accounts[hold.t.debit_account()];
    MAccount& c = m.accounts[hold.t.credit_account()];
    d.dpend -= hold.t.amount();
    c.cpend -= hold.t.amount();
    d.dp += posted;
    c.cp += posted;
    hold.state = state;
  }

  void Expire() {
    for (auto& [id, t] : m.transfers) {
      if (t.kind == Kind::kTransfer && t.t.pending() && t.state == HoldState::kPending &&
          t.deadline_s < now_s) {
        Release(t, HoldState::kExpired, 0);
      }
    }
  }

  Outcome Transfer(const pb::Transfer& t) {
    if (auto it = m.transfers.find(t.id()); it != m.transfers.end()) {
      if (it->second.kind == Kind::kTransfer &&
          SerializeRecord(it->second.t) == SerializeRecord(t)) {
        return {ResultCode::kAlreadyApplied, it->second.height};
      }
      return {ResultCode::kIdExistsWithDifferentFields};
    }
    if (t.debit_account() == t.credit_account()) return {ResultCode::kSameAccount};
    if (!m.accounts.contains(t.debit_account()) || !m.accounts.contains(t.credit_account())) {
      return {ResultCode::kAccountNotFound};
    }
    MAccount& d = m.accounts[t.debit_account()];
    MAccount& c = m.accounts[t.credit_account()];
    if (!Signed(d.key)) return {ResultCode::kUnauthorized};
    if (d.debits_frozen) return {ResultCode::kDebitsFrozen};
    if (c.credits_frozen) return {ResultCode::kCreditsFrozen};
    if (!d.issuer && d.dp + d.dpend + t.amount() > d.cp) return {ResultCode::kInsufficientFunds};
    MTransfer rec;
    rec.t = t;
    rec.height = height;
    if (t.pending()) {
      d.dpend += t.amount();
      c.cpend += t.amount();
      rec.deadline_s = now_s + t.timeout_s();
    } else {
      d.dp += t.amount();
      c.cp += t.amount();
      rec.state = HoldState::kPosted;
    }
    m.transfers[t.id()] = rec;
    return {ResultCode::kOk};
  }

  static ResultCode ResolvedCode(HoldState s) {
    switch (s) {
      case HoldState::kPosted:
        return ResultCode::kPendingAlreadyPosted;
      case HoldState::kVoided:
        return ResultCode::kPendingAlreadyVoided;
      case HoldState::kExpired:
        return ResultCode::kPendingExpired;
      case HoldState::kPending:
        break;
    }
    return ResultCode::kOk;
  }

  MTransfer* Hold(const std::string& id) {
    auto it = m.transfers.find(id);
    if (it == m.transfers.end() || it->second.kind != Kind::kTransfer || !it->second.t.pending()) {
      return nullptr;
    }
    return &it->second;
  }

  Outcome Post(const pb::PostPending& p) {
    if (auto it = m.transfers.find(p.id()); it != m.transfers.end()) {
      const MTransfer& e = it->second;
      bool same = e.kind == Kind::kPost && e.pending_id == p.pending_id() &&
                  e.preimage == p.preimage() && (p.amount() == 0 || p.amount() == e.amount);
      if (!same) return {ResultCode::kIdExistsWithDifferentFields};
      return {ResultCode::kAlreadyApplied, e.height};
    }
    MTransfer* hold = Hold(p.pending_id());
    if (!hold) return {ResultCode::kPendingNotFound};
    const MAccount& d = m.accounts[hold->t.debit_account()];
    const MAccount& c = m.accounts[hold->t.credit_account()];
    if (!Signed(d.key)) return {ResultCode::kUnauthorized};
    if (ResultCode rc = ResolvedCode(hold->state); rc != ResultCode::kOk) return {rc};
    uint64_t amount = p.amount() == 0 ? hold->t.amount() : p.amount();
    if (amount > hold->t.amount()) return {ResultCode::kAmountExceedsPending};
    if (d.debits_frozen) return {ResultCode::kDebitsFrozen};
    if (c.credits_frozen) return {ResultCode::kCreditsFrozen};
    Release(*hold, HoldState::kPosted, amount);
    MTransfer rec;
    rec.kind = Kind::kPost;
    rec.pending_id = p.pending_id();
    rec.preimage = p.preimage();
    rec.amount = amount;
    rec.height = height;
    m.transfers[p.id()] = rec;
    return {ResultCode::kOk};
  }

  Outcome Void(const pb::VoidPending& v) {
    if (auto it = m.transfers.find(v.id()); it != m.transfers.end()) {
      const MTransfer& e = it->second;
      if (e.kind != Kind::kVoid || e.pending_id != v.pending_id()) {
        return {ResultCode::kIdExistsWithDifferentFields};
      }
      return {ResultCode::kAlreadyApplied, e.height};
    }
    MTransfer* hold = Hold(v.pending_id());
    if (!hold) return {ResultCode::kPendingNotFound};
    const MAccount& d = m.accounts[hold->t.debit_account()];
    const MAccount& c = m.accounts[hold->t.credit_account()];
    if (!Signed(c.key) && !Signed(d.key)) return {ResultCode::kUnauthorized};
    if (ResultCode rc = ResolvedCode(hold->state); rc != ResultCode::kOk) return {rc};
    Release(*hold, HoldState::kVoided, 0);
    MTransfer rec;
    rec.kind = Kind::kVoid;
    rec.pending_id = v.pending_id();
    rec.height = height;
    m.transfers[v.id()] = rec;
    return {ResultCode::kOk};
  }

  Outcome Freeze(const pb::SetAccountFreeze& f) {
    if (!m.accounts.contains(f.account())) return {ResultCode::kAccountNotFound};
    if (!Signed(1000 + kBankA) && !Signed(1000 + kRegulator)) return {ResultCode::kUnauthorized};
    MAccount& a = m.accounts[f.account()];
    a.debits_frozen = f.debits_frozen();
    a.credits_frozen = f.credits_frozen();
    return {ResultCode::kOk};
  }

  Outcome Apply(const pb::Operation& op) {
    switch (op.kind_case()) {
      case pb::Operation::kTransfer:
        return Transfer(op.transfer());
      case pb::Operation::kPostPending:
        return Post(op.post_pending());
      case pb::Operation::kVoidPending:
        return Void(op.void_pending());
      case pb::Operation::kSetFreeze:
        return Freeze(op.set_freeze());
      default:
        break;
    }
    ADD_FAILURE() << "model has no such operation";
    return {ResultCode::kInvalidField};
  }

  // Returns the expected per-operation results of a transaction.
  std::vector<Outcome> Execute(const VerifiedTx& tx) {
    signers = tx.signers();
    const auto& ops = tx.body().operations();
    std::vector<Outcome> out(ops.size(), Outcome{ResultCode::kOk});
    for (int first = 0; first < ops.size();) {
      int last = first;
      while (last < ops.size() - 1 && ops[last].linked())
        ++last;
      Model saved = m;
      int failed = -1;
      for (int i = first; i <= last; ++i) {
        out[i] = Apply(ops[i]);
        if (out[i].code != ResultCode::kOk && out[i].code != ResultCode::kAlreadyApplied) {
          failed = i;
          break;
        }
      }
      if (failed >= 0) {
        m = std::move(saved);
        for (int i = first; i <= last; ++i) {
          if (i != failed) out[i] = Outcome{ResultCode::kLinkedOperationFailed};
        }
      }
      first = last + 1;
    }
    return out;
  }
};

class ExecutorModel : public LedgerFixture {};

TEST_F(ExecutorModel, RandomTransactionsAgreeWithReferenceModel) {
  uint64_t seed = 20261123;
  if (const char* env = std::getenv("LEDGER_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (rerun with LEDGER_TEST_SEED)");
  uint64_t rng_state = seed;
  auto rnd = [&](uint64_t n) {  // splitmix64, so the sequence is the same everywhere
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (z ^ (z >> 31)) % n;
  };

  ModelRunner model;
  model.m.accounts[kIssuerUsdA] = MAccount{.issuer = true, .key = 2000 + kBankA};
  std::vector<std::string> accounts = {kIssuerUsdA};
  {
    std::vector<pb::Operation> creates;
    for (int u = 0; u < kUsers; ++u) {
      std::string id = Id(100 + u);
      creates.push_back(CreateAccountOp(id, "USD.A", Single(Key(10 + u)), kBankA));
      model.m.accounts[id] = MAccount{.key = static_cast<uint32_t>(10 + u)};
      accounts.push_back(id);
    }
    ASSERT_EQ(Run(creates, {MemberKey(kBankA)}).status(),
              static_cast<uint32_t>(TxStatus::kCommitted));
  }
  std::vector<std::string> used_ids;
  std::vector<std::string> hold_ids;
  uint64_t next_id = 1;
  auto pick_id = [&]() {
    if (!used_ids.empty() && rnd(10) == 0) return used_ids[rnd(used_ids.size())];  // replay
    std::string id = Id(10'000 + next_id++);
    used_ids.push_back(id);
    return id;
  };
  auto key_of = [&](const std::string& acct) { return model.m.accounts[acct].key; };
  auto random_op = [&](std::vector<uint32_t>& keys) {
    pb::Operation op;
    const std::string& debit = accounts[rnd(accounts.size())];
    const std::string& credit = accounts[rnd(accounts.size())];
    uint64_t kind = rnd(100);
    if (kind < 45) {
      op = TransferOp(pick_id(), debit, rnd(50) == 0 ? Id(999'999) : credit, 1 + rnd(400));
      keys.push_back(rnd(10) == 0 ? key_of(credit) : key_of(debit));
    } else if (kind < 65) {
      std::string id = pick_id();
      op = HoldOp(id, debit, credit, 1 + rnd(300), 1 + rnd(5));
      hold_ids.push_back(id);
      keys.push_back(rnd(10) == 0 ? key_of(credit) : key_of(debit));
    } else if (kind < 80 && !hold_ids.empty()) {
      const std::string& pending = hold_ids[rnd(hold_ids.size())];
      op = PostOp(pick_id(), pending, rnd(2) == 0 ? 0 : 1 + rnd(300));
      auto it = model.m.transfers.find(pending);
      if (it != model.m.transfers.end() && it->second.kind == Kind::kTransfer) {
        keys.push_back(rnd(8) == 0 ? key_of(it->second.t.credit_account())
                                   : key_of(it->second.t.debit_account()));
      }
    } else if (kind < 92 && !hold_ids.empty()) {
      const std::string& pending = hold_ids[rnd(hold_ids.size())];
      op = VoidOp(pick_id(), pending);
      auto it = model.m.transfers.find(pending);
      if (it != model.m.transfers.end() && it->second.kind == Kind::kTransfer) {
        keys.push_back(rnd(3) == 0 ? 77 : key_of(it->second.t.credit_account()));
      }
    } else {
      op.mutable_set_freeze()->set_account(accounts[1 + rnd(kUsers)]);
      op.mutable_set_freeze()->set_debits_frozen(rnd(3) == 0);
      op.mutable_set_freeze()->set_credits_frozen(rnd(4) == 0);
      keys.push_back(rnd(4) == 0 ? 77 : 1000 + (rnd(2) == 0 ? kBankA : kRegulator));
    }
    return op;
  };

  size_t total_txs = 0, ok_ops = 0;
  for (int b = 0; b < kBlocks; ++b) {
    std::vector<VerifiedTx> txs;
    int n = static_cast<int>(rnd(kMaxTxsPerBlock + 1));
    for (int i = 0; i < n; ++i) {
      std::vector<uint32_t> keys;
      std::vector<pb::Operation> ops;
      int n_ops = 1 + static_cast<int>(rnd(3));
      for (int k = 0; k < n_ops; ++k) {
        ops.push_back(random_op(keys));
        if (k + 1 < n_ops && rnd(2) == 0) ops.back().set_linked(true);
      }
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      std::vector<crypto::PrivateKey> signers;
      for (uint32_t k : keys)
        signers.push_back(Key(k));
      if (signers.empty()) signers.push_back(Key(77));
      txs.push_back(Tx(ops, signers));
    }
    uint64_t advance_ms = rnd(20) == 0 ? 10'000 : rnd(2500);
    // The model runs the block first (expiry, then each transaction) on the same inputs.
    model.height = height_ + 1;
    model.now_s = (time_ms_ + advance_ms) / 1000;
    model.Expire();
    std::vector<std::vector<Outcome>> expected;
    for (const auto& tx : txs)
      expected.push_back(model.Execute(tx));
    BlockOutcome out = Block(txs, advance_ms);
    ASSERT_EQ(out.receipts.size(), txs.size()) << "block " << b;
    for (size_t t = 0; t < txs.size(); ++t) {
      const pb::Receipt& r = out.receipts[t];
      ASSERT_EQ(r.results_size(), static_cast<int>(expected[t].size()));
      for (size_t k = 0; k < expected[t].size(); ++k) {
        ASSERT_EQ(CodeOf(r, static_cast<int>(k)), expected[t][k].code)
            << "block " << b << " tx " << t << " op " << k << ": executor "
            << ResultCodeName(CodeOf(r, static_cast<int>(k))) << ", model "
            << ResultCodeName(expected[t][k].code);
        EXPECT_EQ(r.results(static_cast<int>(k)).original_height(), expected[t][k].original_height);
        ok_ops += expected[t][k].code == ResultCode::kOk;
      }
    }
    total_txs += txs.size();
    for (const auto& [id, a] : model.m.accounts) {
      pb::AccountRecord rec = Account(id);
      ASSERT_EQ(rec.debits_posted(), a.dp) << "block " << b;
      ASSERT_EQ(rec.credits_posted(), a.cp) << "block " << b;
      ASSERT_EQ(rec.debits_pending(), a.dpend) << "block " << b;
      ASSERT_EQ(rec.credits_pending(), a.cpend) << "block " << b;
    }
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(total_txs, 1000u);
  EXPECT_GE(ok_ops, total_txs / 6);  // the mix must exercise successes, not only failures
  std::cout << "model test: " << total_txs << " transactions, " << ok_ops << " ops applied\n";
}

}  // namespace
}  // namespace cl::ledger
