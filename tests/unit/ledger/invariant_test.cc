#include "ledger/invariant.h"

#include <gtest/gtest.h>

#include "tests/unit/ledger/ledger_fixture.h"

namespace cl::ledger {
namespace {

using namespace testing;

class Invariant : public LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    OpenFunded(Id(1), Key(1), 100);
    OpenFunded(Id(2), Key(2), 0);
    ASSERT_EQ(RunOne(HoldOp(Id(20), Id(1), Id(2), 30, 60), {Key(1)}), ResultCode::kOk);
    ASSERT_EQ(RunOne(HoldOp(Id(21), Id(1), Id(2), 10, 60), {Key(1)}), ResultCode::kOk);
    ASSERT_EQ(RunOne(VoidOp(Id(22), Id(21)), {Key(2)}), ResultCode::kOk);
  }

  static void ExpectViolation(const Status& st, const std::string& what) {
    ASSERT_FALSE(st.has_value()) << "expected a violation: " << what;
    EXPECT_EQ(st.error().code, ErrorCode::kInternal);
    EXPECT_EQ(st.error().message.rfind("invariant: ", 0), 0u) << st.error().message;
    EXPECT_NE(st.error().message.find(what), std::string::npos) << st.error().message;
  }
};

TEST_F(Invariant, UntouchedAndConsistentBlocksPass) {
  LedgerState st(state_);
  EXPECT_TRUE(CheckBlockInvariants(st).has_value());
  EXPECT_TRUE(CheckStateInvariants(state_.entries()).has_value());
}

TEST_F(Invariant, MoneyCreatedFromNothingIsCaught) {
  LedgerState st(state_);
  pb::AccountRecord a = Account(Id(2));
  a.set_credits_posted(a.credits_posted() + 1);
  st.PutAccount(a);
  ExpectViolation(CheckBlockInvariants(st), "do not sum to zero");
  auto full = state_.entries();
  full[keys::Account(Id(2))] = SerializeRecord(a);
  ExpectViolation(CheckStateInvariants(full), "do not sum to zero");
}

TEST_F(Invariant, NonIssuerBelowFloorIsCaught) {
  LedgerState st(state_);
  pb::AccountRecord a = Account(Id(1));
  pb::AccountRecord issuer = Account(kIssuerUsdA);
  a.set_debits_posted(a.debits_posted() + 200);  // balanced by the issuer, but below zero
  issuer.set_credits_posted(issuer.credits_posted() + 200);
  st.PutAccount(a);
  st.PutAccount(issuer);
  ExpectViolation(CheckBlockInvariants(st), "below its floor");
}

TEST_F(Invariant, PendingWithoutAHoldIsCaught) {
  LedgerState st(state_);
  pb::AccountRecord a = Account(Id(1));
  a.set_debits_pending(a.debits_pending() + 5);
  st.PutAccount(a);
  ExpectViolation(CheckBlockInvariants(st), "pending amounts differ");
  auto full = state_.entries();
  full[keys::Account(Id(1))] = SerializeRecord(a);
  ExpectViolation(CheckStateInvariants(full), "pending amounts differ");
}

TEST_F(Invariant, HoldResolvedTwiceIsCaught) {
  LedgerState st(state_);
  pb::TransferRecord voided = Transfer(Id(21));
  ASSERT_EQ(voided.state(), pb::TRANSFER_STATE_VOIDED);
  voided.set_state(pb::TRANSFER_STATE_POSTED_PENDING);
  st.PutTransfer(voided);
  ExpectViolation(CheckBlockInvariants(st), "resolved");
}

TEST_F(Invariant, LiveHoldCountMustMatch) {
  LedgerState st(state_);
  auto meta = st.GetRecord<pb::HoldIndexMeta>(keys::HoldMeta());
  ASSERT_TRUE(meta.has_value() && meta->has_value());
  (*meta)->set_live_holds((*meta)->live_holds() + 1);
  st.PutRecord(keys::HoldMeta(), **meta);
  ExpectViolation(CheckBlockInvariants(st), "live hold count");
}

TEST_F(Invariant, DeletedTransferIsCaught) {
  LedgerState st(state_);
  st.Delete(keys::Transfer(Id(20)));
  ExpectViolation(CheckBlockInvariants(st), "deleted");
}

}  // namespace
}  // namespace cl::ledger
