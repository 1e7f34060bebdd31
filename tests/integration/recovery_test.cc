// kill -9 of a (non-primary) validator while transactions stream in, then a restart from its data
// directory: it catches up from its peers, holds the same chain and state as the others, and no
// transaction acknowledged as committed before the kill is ever lost, on any node.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/harness.h"

namespace cl::integration {
namespace {

// Submits payments in small batches, round robin over the nodes marked alive, until stopped.
class Load {
 public:
  static constexpr size_t kBatch = 8;
  static constexpr uint32_t kPauseMs = 40;

  Load(const Cluster& c, const TxFactory& f, std::vector<Wallet> payers, std::vector<Wallet> payees)
      : c_(c), f_(f), payers_(std::move(payers)), payees_(std::move(payees)), alive_(c.size()) {
    for (auto& a : alive_)
      a = true;
  }
  ~Load() { Stop(); }

  void Begin() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void SetAlive(size_t i, bool alive) { alive_[i] = alive; }

  struct Sent {
    std::string tx_id;
    size_t payer;  // index into payers
  };
  std::vector<Sent> Admitted() const {
    std::lock_guard lock(mu_);
    return admitted_;
  }
  size_t errors() const { return errors_; }

 private:
  void Run() {
    size_t node = 0;
    size_t payer = 0;
    while (!stop_) {
      size_t target = node++ % c_.size();
      if (!alive_[target]) continue;
      json::array txs;
      std::vector<Sent> batch;
      for (size_t k = 0; k < kBatch; ++k) {
        const size_t from = payer++ % payers_.size();
        SignedTx tx = f_.Pay(payers_[from], payees_[from], 1);
        txs.push_back(json::value(tx.hex));
        batch.push_back({tx.tx_id, from});
      }
      auto r = c_.Call(target, "submit_txs", json::object{{"txs", std::move(txs)}});
      if (r) {
        const json::array& results = r->at("results").as_array();
        std::lock_guard lock(mu_);
        for (size_t k = 0; k < results.size() && k < batch.size(); ++k)
          if (results[k].at("status").as_string() == "admitted") admitted_.push_back(batch[k]);
      } else {
        errors_++;  // e.g. the node was killed between the check and the call
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kPauseMs));
    }
  }

  const Cluster& c_;
  const TxFactory& f_;
  const std::vector<Wallet> payers_, payees_;
  std::vector<std::atomic<bool>> alive_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> errors_{0};
  mutable std::mutex mu_;
  std::vector<Sent> admitted_;
  std::thread thread_;
};

std::vector<std::string> Ids(const std::vector<Load::Sent>& sent) {
  std::vector<std::string> out;
  for (const auto& s : sent)
    out.push_back(s.tx_id);
  return out;
}

TEST(Recovery, KilledValidatorRestartsCatchesUpAndLosesNoCommittedTransaction) {
  auto created = Cluster::Create({.validators = 4, .observers = 0});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  const std::vector<size_t> validators = c.validators();
  ASSERT_TRUE(WaitPeers(c, validators, 3));

  TxFactory f(c.chain_id());
  constexpr uint64_t kFunding = 1'000'000;
  std::vector<Wallet> payers, payees;
  std::vector<std::string> setup_ids;
  for (size_t v : validators) {
    const uint32_t bank = c.member(v).member_id;
    payers.push_back(TxFactory::NewWallet(bank));
    payees.push_back(TxFactory::NewWallet(bank));
    SignedTx open = f.OpenAndFund({payers.back()}, c.member(v).governance, kFunding);
    SignedTx open_payee = f.OpenAndFund({payees.back()}, c.member(v).governance, 0);
    IT_ASSERT_OK(Submit(c, v, open));
    IT_ASSERT_OK(Submit(c, v, open_payee));
    setup_ids.push_back(open.tx_id);
    setup_ids.push_back(open_payee.tx_id);
  }
  ASSERT_TRUE(WaitCommitted(c, validators[0], setup_ids));

  auto status = c.GetStatus(validators[0]);
  IT_ASSERT_OK(status);
  const size_t primary = static_cast<size_t>(status->at("primary").to_number<uint64_t>());
  const size_t victim = validators[(primary + 1) % validators.size()];
  const size_t witness = validators[(primary + 2) % validators.size()];

  Load load(c, f, payers, payees);
  load.Begin();
  // Let some load commit, then record what a client has seen committed.
  ASSERT_TRUE(WaitUntil([&] { return load.Admitted().size() >= 40; }, kCommitTimeoutMs,
                        "40 admitted transactions"));
  std::vector<std::string> acknowledged;
  {
    std::vector<std::string> ids = Ids(load.Admitted());
    ASSERT_TRUE(WaitCommitted(c, witness, {ids.begin(), ids.begin() + 20}));
    ids = Ids(load.Admitted());
    auto states = GetTxs(c, witness, ids);
    IT_ASSERT_OK(states);
    for (size_t k = 0; k < ids.size(); ++k)
      if ((*states)[k].status == "committed") acknowledged.push_back(ids[k]);
  }
  ASSERT_GE(acknowledged.size(), 20u);

  // kill -9 during load; the other three keep committing meanwhile.
  load.SetAlive(victim, false);
  c.Kill(victim);
  const uint64_t height_at_kill = HeightOf(c, witness);
  std::vector<size_t> others;
  for (size_t v : validators)
    if (v != victim) others.push_back(v);
  // Miss enough blocks that the restarted node must fetch committed blocks from its peers.
  constexpr uint64_t kBlocksMissed = 30;
  EXPECT_TRUE(WaitHeight(c, others, height_at_kill + kBlocksMissed));

  IT_ASSERT_OK(c.Start(victim));
  load.SetAlive(victim, true);
  // It catches up to where the others were when it came back, while load continues.
  const uint64_t height_at_restart = HeightOf(c, witness);
  EXPECT_TRUE(WaitHeight(c, {victim}, height_at_restart));
  load.Stop();
  EXPECT_GT(load.Admitted().size(), acknowledged.size());

  // Let the last admitted transactions commit, then compare every height on every node.
  const std::vector<Load::Sent> sent = load.Admitted();
  const uint64_t target = HeightOf(c, witness) + 2;
  ASSERT_TRUE(WaitHeight(c, validators, target));
  EXPECT_TRUE(SameChain(c, validators, 1, target))
      << "after the restart of " << c.member(victim).name;

  for (size_t v : validators) {
    auto states = GetTxs(c, v, acknowledged);
    IT_ASSERT_OK(states);
    size_t lost = 0;
    for (size_t k = 0; k < acknowledged.size(); ++k)
      if ((*states)[k].status != "committed" || (*states)[k].receipt_status != "committed") {
        if (lost++ < 3)
          ADD_FAILURE() << "acknowledged tx " << acknowledged[k] << " is " << (*states)[k].status
                        << " on " << c.member(v).name;
      }
    EXPECT_EQ(lost, 0u) << "acknowledged transactions lost on " << c.member(v).name;
  }

  // Balances at `target` on every node match the payments the witness reports committed at or
  // below that height (each payment moves 1 unit).
  auto on_witness = GetTxs(c, witness, Ids(sent));
  IT_ASSERT_OK(on_witness);
  std::vector<uint64_t> moved(payers.size(), 0);
  size_t committed = 0;
  for (size_t k = 0; k < sent.size(); ++k) {
    const TxState& s = (*on_witness)[k];
    if (s.status == "committed" && s.height <= target) {
      EXPECT_EQ(s.receipt_status, "committed") << sent[k].tx_id;
      moved[sent[k].payer]++;
      committed++;
    }
  }
  EXPECT_GE(committed, acknowledged.size());
  for (size_t v : validators) {
    for (size_t p = 0; p < payers.size(); ++p) {
      auto payee = Balance(c, v, payees[p].id, target);
      auto payer = Balance(c, v, payers[p].id, target);
      IT_ASSERT_OK(payee);
      IT_ASSERT_OK(payer);
      EXPECT_EQ(*payee, std::to_string(moved[p])) << c.member(v).name << " payee " << p;
      EXPECT_EQ(*payer, std::to_string(kFunding - moved[p])) << c.member(v).name << " payer " << p;
    }
  }
  std::cerr << "recovery: " << sent.size() << " admitted, " << committed << " committed by height "
            << target << ", " << acknowledged.size() << " acknowledged before the kill at height "
            << height_at_kill << "; " << load.errors() << " submit errors\n";
}

}  // namespace
}  // namespace cl::integration
