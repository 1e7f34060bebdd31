// A backup validator stopped with SIGSTOP under a load of transfers and then continued rejoins the
// view the others run, and votes again: with it back, one more validator can fail and the chain
// still commits (issue 14, defect 6: the paused validator kept raising its view on its own).
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <thread>

#include "tests/integration/harness.h"

namespace cl::integration {
namespace {

// Longer than the node's view-change timeout with several backoffs, as in the report (10-20 s).
constexpr auto kPause = std::chrono::seconds(12);
// After SIGCONT, the bound within which every running validator is in one view, none changing
// view (re-admission waits 4 base timeouts at most, plus one view change).
constexpr uint32_t kSameViewTimeoutMs = 45'000;

struct ViewOf {
  uint64_t view = 0;
  bool changing = false;
  size_t primary = 0;
};

std::optional<ViewOf> StatusView(const Cluster& c, size_t v) {
  auto s = c.GetStatus(v);
  if (!s) return std::nullopt;
  return ViewOf{s->at("view").to_number<uint64_t>(), s->at("in_view_change").as_bool(),
                static_cast<size_t>(s->at("primary").to_number<uint64_t>())};
}

TEST(Pause, PausedBackupRejoinsTheCurrentViewAndCountsAgain) {
  auto created = Cluster::Create({.validators = 4, .observers = 0});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  const std::vector<size_t> validators = c.validators();
  ASSERT_TRUE(WaitPeers(c, validators, 3));

  TxFactory f(c.chain_id());
  std::vector<Wallet> payers, payees;
  std::vector<std::string> setup_ids;
  for (size_t v : validators) {
    const uint32_t bank = c.member(v).member_id;
    payers.push_back(TxFactory::NewWallet(bank));
    payees.push_back(TxFactory::NewWallet(bank));
    SignedTx tx = f.OpenAndFund({payers.back(), payees.back()}, c.member(v).governance, 10'000);
    IT_ASSERT_OK(Submit(c, v, tx));
    setup_ids.push_back(tx.tx_id);
  }
  ASSERT_TRUE(WaitCommitted(c, validators[0], setup_ids));

  auto before = StatusView(c, validators[0]);
  ASSERT_TRUE(before.has_value());
  const size_t primary = before->primary;
  const size_t paused = validators[(primary + 1) % validators.size()];

  // Transfers keep committing on the other three while the backup is stopped.
  ASSERT_EQ(::kill(c.member(paused).pid, SIGSTOP), 0);
  std::vector<std::string> during_ids;
  const auto resume_at = std::chrono::steady_clock::now() + kPause;
  for (uint64_t k = 0; std::chrono::steady_clock::now() < resume_at; ++k) {
    const size_t from = k % payers.size();
    const size_t via = validators[(paused + 1 + k % 3) % validators.size()];
    SignedTx tx = f.Pay(payers[from], payees[from], 1 + k);
    IT_ASSERT_OK(Submit(c, via, tx));
    during_ids.push_back(tx.tx_id);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_EQ(::kill(c.member(paused).pid, SIGCONT), 0);

  std::string views;
  EXPECT_TRUE(WaitUntil(
      [&] {
        views.clear();
        std::optional<uint64_t> common;
        bool same = true;
        for (size_t v : validators) {
          auto s = StatusView(c, v);
          if (!s) return false;
          views += c.member(v).name + ": view " + std::to_string(s->view) +
                   (s->changing ? " (changing)" : "") + "; ";
          same = same && !s->changing && (!common || *common == s->view);
          common = s->view;
        }
        return same;
      },
      kSameViewTimeoutMs, "every validator in one view after SIGCONT"))
      << views;
  ASSERT_TRUE(WaitCommitted(c, paused, during_ids)) << "the paused validator catches up";

  // Now one more validator fails (a backup other than the paused one): the paused one's vote is
  // needed for every quorum of 3, and the chain still commits.
  auto now_view = StatusView(c, paused);
  ASSERT_TRUE(now_view.has_value());
  size_t victim = validators.size();
  for (size_t v : validators) {
    if (v != paused && v != now_view->primary) victim = v;
  }
  ASSERT_LT(victim, validators.size());
  c.Kill(victim);
  std::vector<std::string> after_ids;
  for (size_t k = 0; k < 6; ++k) {
    const size_t from = k % payers.size();
    SignedTx tx = f.Pay(payers[from], payees[from], 100 + k);
    IT_ASSERT_OK(Submit(c, paused, tx));
    after_ids.push_back(tx.tx_id);
  }
  for (size_t v : validators) {
    if (v == victim) continue;
    EXPECT_TRUE(WaitCommitted(c, v, after_ids)) << "on " << c.member(v).name;
  }
}

}  // namespace
}  // namespace cl::integration
