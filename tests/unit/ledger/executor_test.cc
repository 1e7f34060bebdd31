#include "ledger/executor.h"

#include <gtest/gtest.h>

#include "tests/unit/ledger/ledger_fixture.h"

namespace cl::ledger {
namespace {

using namespace testing;

class Executor : public LedgerFixture {};

const auto kAlice = Key(1), kBob = Key(2), kCarol = Key(3), kMallory = Key(66);
const std::string kAliceAcct = Id(1), kBobAcct = Id(2), kCarolAcct = Id(3);

TEST_F(Executor, CreateAccountNeedsCustodianSignature) {
  EXPECT_EQ(RunOne(CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA), {kAlice}),
            ResultCode::kUnauthorized);
  EXPECT_EQ(
      RunOne(CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA), {MemberKey(kBankB)}),
      ResultCode::kUnauthorized);
  EXPECT_EQ(
      RunOne(CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA), {MemberKey(kBankA)}),
      ResultCode::kOk);
  pb::AccountRecord a = Account(kAliceAcct);
  EXPECT_EQ(a.asset(), "USD.A");
  EXPECT_EQ(a.custodian(), kBankA);
  EXPECT_EQ(a.created_height(), height_);
}

TEST_F(Executor, CreateAccountFailureCodes) {
  EXPECT_EQ(RunOne(CreateAccountOp(kAliceAcct, "EUR", Single(kAlice), kBankA), {MemberKey(kBankA)}),
            ResultCode::kAssetNotFound);
  EXPECT_EQ(RunOne(CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), 77), {MemberKey(kBankA)}),
            ResultCode::kMemberNotFound);
}

TEST_F(Executor, ResubmittedCreateIsAlreadyAppliedAndDifferentFieldsAreAnError) {
  ASSERT_EQ(
      RunOne(CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA), {MemberKey(kBankA)}),
      ResultCode::kOk);
  uint64_t created = height_;
  pb::Receipt again =
      Run({CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA)}, {MemberKey(kBankA)});
  EXPECT_EQ(CodeOf(again, 0), ResultCode::kAlreadyApplied);
  EXPECT_EQ(again.results(0).original_height(), created);
  EXPECT_EQ(RunOne(CreateAccountOp(kAliceAcct, "USD.A", Single(kBob), kBankA), {MemberKey(kBankA)}),
            ResultCode::kIdExistsWithDifferentFields);
  // An issuer account id can never be reused by a customer account.
  EXPECT_EQ(
      RunOne(CreateAccountOp(kIssuerUsdA, "USD.A", Single(kAlice), kBankA), {MemberKey(kBankA)}),
      ResultCode::kIdExistsWithDifferentFields);
}

TEST_F(Executor, IssueTransferAndRedeemKeepSupplyBalanced) {
  OpenFunded(kAliceAcct, kAlice, 1000);
  OpenFunded(kBobAcct, kBob, 0);
  EXPECT_EQ(Balance(kIssuerUsdA), -1000);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 300), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(Balance(kAliceAcct), 700);
  EXPECT_EQ(Balance(kBobAcct), 300);
  // Redeem: back to the issuer's account.
  EXPECT_EQ(RunOne(TransferOp(Id(11), kBobAcct, kIssuerUsdA, 100), {kBob}), ResultCode::kOk);
  EXPECT_EQ(Balance(kIssuerUsdA), -900);
  pb::TransferRecord t = Transfer(Id(10));
  EXPECT_EQ(t.state(), pb::TRANSFER_STATE_POSTED);
  EXPECT_EQ(t.transfer().amount(), 300u);
}

TEST_F(Executor, TransferFailureCodes) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  OpenFunded(kCarolAcct, kCarol, 0, "USD.B", kBankB);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 101), {kAlice}),
            ResultCode::kInsufficientFunds);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kBob}),
            ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kCarolAcct, 10), {kAlice}),
            ResultCode::kAssetMismatch);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kAliceAcct, 10), {kAlice}),
            ResultCode::kSameAccount);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, Id(999), 10), {kAlice}),
            ResultCode::kAccountNotFound);
  EXPECT_EQ(Balance(kAliceAcct), 100);
  // A non-issuer account cannot issue: it is held to its floor.
  EXPECT_EQ(RunOne(TransferOp(Id(10), kBobAcct, kAliceAcct, 1), {kBob}),
            ResultCode::kInsufficientFunds);
}

TEST_F(Executor, ReplayedTransferIdReportsOriginalHeightAndChangedFieldsFail) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kAlice}), ResultCode::kOk);
  uint64_t applied = height_;
  pb::Receipt r = Run({TransferOp(Id(10), kAliceAcct, kBobAcct, 10)}, {kAlice});
  EXPECT_EQ(CodeOf(r, 0), ResultCode::kAlreadyApplied);
  EXPECT_EQ(r.results(0).original_height(), applied);
  EXPECT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kCommitted));
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 11), {kAlice}),
            ResultCode::kIdExistsWithDifferentFields);
  EXPECT_EQ(Balance(kBobAcct), 10);
}

TEST_F(Executor, SameEnvelopeTwiceIsADuplicateTransaction) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  VerifiedTx tx = Tx({TransferOp(Id(10), kAliceAcct, kBobAcct, 10)}, {kAlice});
  auto first = Block({tx});
  EXPECT_EQ(first.receipts[0].status(), static_cast<uint32_t>(TxStatus::kCommitted));
  auto second = Block({tx});
  EXPECT_EQ(second.receipts[0].code(), static_cast<uint32_t>(ResultCode::kTxDuplicate));
  EXPECT_EQ(second.receipts[0].status(), static_cast<uint32_t>(TxStatus::kRejected));
}

TEST_F(Executor, TransactionPastItsValidityBoundIsExpired) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  pb::TxBody body;
  body.set_chain_id(kChain);
  body.set_valid_until_height(height_);  // the next block is past it
  *body.add_operations() = TransferOp(Id(10), kAliceAcct, kBobAcct, 10);
  auto tx = VerifyEnvelope(SignTransaction(body, std::vector{kAlice}), kChain);
  ASSERT_TRUE(tx.has_value());
  auto out = Block({*tx});
  EXPECT_EQ(out.receipts[0].code(), static_cast<uint32_t>(ResultCode::kTxExpired));
  EXPECT_EQ(Balance(kBobAcct), 0);
}

TEST_F(Executor, AmountsOverflowIsCheckedNotWrapped) {
  OpenFunded(kAliceAcct, kAlice, UINT64_MAX);
  OpenFunded(kBobAcct, kBob, 0);
  // The issuer's debits are already at u64 max: one more unit would wrap.
  EXPECT_EQ(RunOne(TransferOp(Id(10), kIssuerUsdA, kBobAcct, 1), {IssuerKey(kBankA)}),
            ResultCode::kOverflow);
  ASSERT_EQ(RunOne(TransferOp(Id(11), kAliceAcct, kBobAcct, 5), {kAlice}), ResultCode::kOk);
  // Alice's credits would be u64 max + 5: refused, nothing moves.
  EXPECT_EQ(RunOne(TransferOp(Id(12), kBobAcct, kAliceAcct, 5), {kBob}), ResultCode::kOverflow);
  EXPECT_EQ(Balance(kBobAcct), 5);
  EXPECT_EQ(Account(kAliceAcct).credits_posted(), UINT64_MAX);
}

TEST_F(Executor, KOfNControllerShortByOneIsUnauthorized) {
  ASSERT_EQ(RunOne(CreateAccountOp(kAliceAcct, "USD.A", KOfN(2, {kAlice, kBob, kCarol}), kBankA),
                   {MemberKey(kBankA)}),
            ResultCode::kOk);
  ASSERT_EQ(RunOne(TransferOp(Id(5), kIssuerUsdA, kAliceAcct, 50), {IssuerKey(kBankA)}),
            ResultCode::kOk);
  OpenFunded(kBobAcct, kBob, 0);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kAlice}),
            ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kAlice, kMallory}),
            ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kCarol, kAlice}),
            ResultCode::kOk);
}

TEST_F(Executor, FrozenAccountCannotPayOrBePaidUntilUnfrozen) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 100);
  pb::Operation freeze;
  freeze.mutable_set_freeze()->set_account(kAliceAcct);
  freeze.mutable_set_freeze()->set_debits_frozen(true);
  EXPECT_EQ(RunOne(freeze, {kAlice}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(freeze, {MemberKey(kBankB)}), ResultCode::kUnauthorized);
  // The regulator (compliance role) may freeze any account.
  EXPECT_EQ(RunOne(freeze, {MemberKey(kRegulator)}), ResultCode::kOk);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kAlice}),
            ResultCode::kDebitsFrozen);
  EXPECT_EQ(RunOne(TransferOp(Id(11), kBobAcct, kAliceAcct, 10), {kBob}), ResultCode::kOk);
  pb::Operation freeze_credits = freeze;
  freeze_credits.mutable_set_freeze()->set_credits_frozen(true);
  EXPECT_EQ(RunOne(freeze_credits, {MemberKey(kBankA)}), ResultCode::kOk);  // the custodian
  EXPECT_EQ(RunOne(TransferOp(Id(12), kBobAcct, kAliceAcct, 10), {kBob}),
            ResultCode::kCreditsFrozen);
  pb::Operation unfreeze;
  unfreeze.mutable_set_freeze()->set_account(kAliceAcct);
  EXPECT_EQ(RunOne(unfreeze, {MemberKey(kBankA)}), ResultCode::kOk);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kAlice}), ResultCode::kOk);
}

TEST_F(Executor, ChangeControllerRotatesKeys) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  pb::Operation rotate;
  rotate.mutable_change_controller()->set_account(kAliceAcct);
  *rotate.mutable_change_controller()->mutable_controller() = Single(kCarol);
  EXPECT_EQ(RunOne(rotate, {kMallory}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(rotate, {kAlice}), ResultCode::kOk);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kAlice}),
            ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 10), {kCarol}), ResultCode::kOk);
  // The custodian bank can recover a lost key.
  *rotate.mutable_change_controller()->mutable_controller() = Single(kAlice);
  EXPECT_EQ(RunOne(rotate, {MemberKey(kBankA)}), ResultCode::kOk);
}

TEST_F(Executor, CloseAccountOnlyAtZeroBalance) {
  OpenFunded(kAliceAcct, kAlice, 100);
  pb::Operation close;
  close.mutable_close_account()->set_account(kAliceAcct);
  EXPECT_EQ(RunOne(close, {kAlice}), ResultCode::kBalanceNotZero);
  ASSERT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kIssuerUsdA, 100), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(RunOne(close, {kMallory}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(close, {kAlice}), ResultCode::kOk);
  EXPECT_EQ(RunOne(close, {kAlice}), ResultCode::kAccountClosed);
  EXPECT_EQ(RunOne(TransferOp(Id(11), kIssuerUsdA, kAliceAcct, 1), {IssuerKey(kBankA)}),
            ResultCode::kAccountClosed);
  pb::Operation close_issuer;
  close_issuer.mutable_close_account()->set_account(kIssuerUsdA);
  EXPECT_EQ(RunOne(close_issuer, {IssuerKey(kBankA)}), ResultCode::kIssuerAccountCannotClose);
}

TEST_F(Executor, LimitsPerTransferAndDailyOutflowByBlockTime) {
  pb::Operation create = CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA);
  create.mutable_create_account()->set_max_per_transfer(50);
  create.mutable_create_account()->set_max_outflow_per_day(100);
  ASSERT_EQ(RunOne(create, {MemberKey(kBankA)}), ResultCode::kOk);
  ASSERT_EQ(RunOne(TransferOp(Id(5), kIssuerUsdA, kAliceAcct, 1000), {IssuerKey(kBankA)}),
            ResultCode::kOk);
  OpenFunded(kBobAcct, kBob, 0);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 51), {kAlice}),
            ResultCode::kExceedsMaxPerTransfer);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 50), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(RunOne(TransferOp(Id(11), kAliceAcct, kBobAcct, 50), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(RunOne(TransferOp(Id(12), kAliceAcct, kBobAcct, 1), {kAlice}),
            ResultCode::kExceedsDailyOutflow);
  Block({}, kSecondsPerDay * 1000);  // the next day by block time
  EXPECT_EQ(RunOne(TransferOp(Id(12), kAliceAcct, kBobAcct, 1), {kAlice}), ResultCode::kOk);
}

TEST_F(Executor, OverdraftAndDebitsMustNotExceedCreditsFlag) {
  pb::Operation create = CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA);
  create.mutable_create_account()->set_overdraft_limit(30);
  ASSERT_EQ(RunOne(create, {MemberKey(kBankA)}), ResultCode::kOk);
  pb::Operation strict = CreateAccountOp(kCarolAcct, "USD.A", Single(kCarol), kBankA);
  strict.mutable_create_account()->set_overdraft_limit(30);
  strict.mutable_create_account()->set_flags(pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS);
  ASSERT_EQ(RunOne(strict, {MemberKey(kBankA)}), ResultCode::kOk);
  OpenFunded(kBobAcct, kBob, 0);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 31), {kAlice}),
            ResultCode::kInsufficientFunds);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, 30), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(Balance(kAliceAcct), -30);
  EXPECT_EQ(RunOne(TransferOp(Id(11), kCarolAcct, kBobAcct, 1), {kCarol}),
            ResultCode::kInsufficientFunds);
}

TEST_F(Executor, LinkedChainIsAllOrNoneAndNamesTheFailingOperation) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  OpenFunded(kCarolAcct, kCarol, 0);
  pb::Receipt r = Run({Linked(TransferOp(Id(10), kAliceAcct, kBobAcct, 60)),
                       Linked(TransferOp(Id(11), kBobAcct, kCarolAcct, 60)),
                       TransferOp(Id(12), kAliceAcct, kCarolAcct, 60)},  // fails: 40 left
                      {kAlice, kBob});
  EXPECT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kRejected));
  EXPECT_EQ(CodeOf(r, 0), ResultCode::kLinkedOperationFailed);
  EXPECT_EQ(r.results(0).failed_op_index(), 2u);
  EXPECT_EQ(CodeOf(r, 1), ResultCode::kLinkedOperationFailed);
  EXPECT_EQ(CodeOf(r, 2), ResultCode::kInsufficientFunds);
  EXPECT_EQ(Balance(kAliceAcct), 100);
  EXPECT_EQ(Balance(kBobAcct), 0);
  EXPECT_EQ(Balance(kCarolAcct), 0);
  // The ids of a rolled-back chain stay unused.
  pb::Receipt ok = Run({Linked(TransferOp(Id(10), kAliceAcct, kBobAcct, 60)),
                        TransferOp(Id(11), kBobAcct, kCarolAcct, 60)},
                       {kAlice, kBob});
  EXPECT_EQ(ok.status(), static_cast<uint32_t>(TxStatus::kCommitted));
  EXPECT_EQ(Balance(kCarolAcct), 60);
}

TEST_F(Executor, UnlinkedOperationsApplyIndependently) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  pb::Receipt r = Run(
      {TransferOp(Id(10), kAliceAcct, kBobAcct, 60), TransferOp(Id(11), kAliceAcct, kBobAcct, 60)},
      {kAlice});
  EXPECT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kPartial));
  EXPECT_EQ(CodeOf(r, 0), ResultCode::kOk);
  EXPECT_EQ(CodeOf(r, 1), ResultCode::kInsufficientFunds);
  EXPECT_EQ(Balance(kBobAcct), 60);
}

TEST_F(Executor, LaterOperationsSeeEarlierOnesInTheSameTransaction) {
  pb::Receipt r = Run({Linked(CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA)),
                       TransferOp(Id(10), kIssuerUsdA, kAliceAcct, 5)},
                      {MemberKey(kBankA), IssuerKey(kBankA)});
  EXPECT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kCommitted));
  EXPECT_EQ(Balance(kAliceAcct), 5);
}

TEST_F(Executor, HeldFundsCannotBeSpentAndPostMovesThem) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 80, 60), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(Account(kAliceAcct).debits_pending(), 80u);
  EXPECT_EQ(Account(kBobAcct).credits_pending(), 80u);
  EXPECT_EQ(RunOne(TransferOp(Id(21), kAliceAcct, kBobAcct, 21), {kAlice}),
            ResultCode::kInsufficientFunds);
  EXPECT_EQ(RunOne(PostOp(Id(22), Id(20)), {kBob}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(PostOp(Id(22), Id(20)), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(Balance(kAliceAcct), 20);
  EXPECT_EQ(Balance(kBobAcct), 80);
  EXPECT_EQ(Account(kAliceAcct).debits_pending(), 0u);
  EXPECT_EQ(Transfer(Id(20)).state(), pb::TRANSFER_STATE_POSTED_PENDING);
  // Resolves at most once.
  EXPECT_EQ(RunOne(PostOp(Id(23), Id(20)), {kAlice}), ResultCode::kPendingAlreadyPosted);
  EXPECT_EQ(RunOne(VoidOp(Id(24), Id(20)), {kBob}), ResultCode::kPendingAlreadyPosted);
  pb::Receipt again = Run({PostOp(Id(22), Id(20))}, {kAlice});
  EXPECT_EQ(CodeOf(again, 0), ResultCode::kAlreadyApplied);
  EXPECT_EQ(RunOne(PostOp(Id(25), Id(21)), {kAlice}), ResultCode::kPendingNotFound);
  EXPECT_EQ(RunOne(PostOp(Id(25), Id(22)), {kAlice}), ResultCode::kPendingNotFound);
}

TEST_F(Executor, PartialPostReleasesTheRemainder) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 80, 60), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(RunOne(PostOp(Id(21), Id(20), 81), {kAlice}), ResultCode::kAmountExceedsPending);
  EXPECT_EQ(RunOne(PostOp(Id(21), Id(20), 30), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(Balance(kAliceAcct), 70);
  EXPECT_EQ(Balance(kBobAcct), 30);
  EXPECT_EQ(Account(kAliceAcct).debits_pending(), 0u);
  EXPECT_EQ(Transfer(Id(20)).posted_amount(), 30u);
}

TEST_F(Executor, VoidReleasesTheHold) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 80, 60), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(RunOne(VoidOp(Id(21), Id(20)), {kMallory}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(VoidOp(Id(21), Id(20)), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(Balance(kAliceAcct), 100);
  EXPECT_EQ(Account(kAliceAcct).debits_pending(), 0u);
  EXPECT_EQ(RunOne(PostOp(Id(22), Id(20)), {kAlice}), ResultCode::kPendingAlreadyVoided);
}

TEST_F(Executor, HoldExpiresAtFirstBlockPastItsDeadline) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 80, 10), {kAlice}), ResultCode::kOk);
  uint64_t deadline_s = Transfer(Id(20)).deadline_s();
  EXPECT_EQ(deadline_s, time_ms_ / 1000 + 10);
  // A block within the deadline second leaves it live.
  auto within = Block({}, (deadline_s * 1000 + 999) - time_ms_);
  EXPECT_EQ(within.holds_expired, 0u);
  EXPECT_EQ(Transfer(Id(20)).state(), pb::TRANSFER_STATE_PENDING);
  auto past = Block({}, 1);
  EXPECT_EQ(past.holds_expired, 1u);
  EXPECT_EQ(Transfer(Id(20)).state(), pb::TRANSFER_STATE_EXPIRED);
  EXPECT_EQ(Transfer(Id(20)).resolved_height(), height_);
  EXPECT_EQ(Account(kAliceAcct).debits_pending(), 0u);
  EXPECT_EQ(RunOne(PostOp(Id(21), Id(20)), {kAlice}), ResultCode::kPendingExpired);
  EXPECT_EQ(Balance(kAliceAcct), 100);
}

TEST_F(Executor, ManyHoldsExpireAcrossALongGapAndPostedOnesStayPosted) {
  OpenFunded(kAliceAcct, kAlice, 1000);
  OpenFunded(kBobAcct, kBob, 0);
  std::vector<pb::Operation> holds;
  for (uint64_t i = 0; i < 10; ++i)
    holds.push_back(HoldOp(Id(100 + i), kAliceAcct, kBobAcct, 10, 5 + i));
  ASSERT_EQ(Run(holds, {kAlice}).status(), static_cast<uint32_t>(TxStatus::kCommitted));
  ASSERT_EQ(RunOne(PostOp(Id(200), Id(103)), {kAlice}), ResultCode::kOk);
  auto out = Block({}, 3600 * 1000);
  EXPECT_EQ(out.holds_expired, 9u);
  EXPECT_EQ(Balance(kBobAcct), 10);
  EXPECT_EQ(Account(kAliceAcct).debits_pending(), 0u);
  // The expiry index is gone from state once swept.
  for (const auto& [k, v] : state_.entries()) {
    EXPECT_NE(k[0], keys::kExpiryItem);
    EXPECT_NE(k[0], keys::kExpiryCount);
  }
}

TEST_F(Executor, HashLockedEscrowIsClaimedWithThePreimage) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  std::string preimage = "open sesame";
  Hash32 lock = crypto::Sha256Of(AsSpan(preimage));
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 50, 60, ToString(lock.span())), {kAlice}),
            ResultCode::kOk);
  // The payer cannot take an escrow back before its timeout.
  EXPECT_EQ(RunOne(VoidOp(Id(21), Id(20)), {kAlice}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(PostOp(Id(22), Id(20), 0, "wrong"), {kBob}), ResultCode::kPreimageMismatch);
  EXPECT_EQ(RunOne(PostOp(Id(22), Id(20), 0, ""), {kBob}), ResultCode::kPreimageMismatch);
  EXPECT_EQ(RunOne(PostOp(Id(22), Id(20), 0, preimage), {kMallory}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(PostOp(Id(22), Id(20), 0, preimage), {kBob}), ResultCode::kOk);
  EXPECT_EQ(Balance(kBobAcct), 50);
  EXPECT_EQ(Transfer(Id(22)).preimage(), preimage);
}

TEST_F(Executor, HashLockedEscrowTimesOutBackToThePayer) {
  OpenFunded(kAliceAcct, kAlice, 100);
  OpenFunded(kBobAcct, kBob, 0);
  Hash32 lock = crypto::Sha256Of(AsSpan("secret"));
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 50, 30, ToString(lock.span())), {kAlice}),
            ResultCode::kOk);
  auto out = Block({}, 31 * 1000);
  EXPECT_EQ(out.holds_expired, 1u);
  EXPECT_EQ(RunOne(PostOp(Id(22), Id(20), 0, "secret"), {kBob}), ResultCode::kPendingExpired);
  EXPECT_EQ(Balance(kAliceAcct), 100);
  EXPECT_EQ(Balance(kBobAcct), 0);
}

TEST_F(Executor, GovernanceQuorumCreatesAssetsAndMembers) {
  pb::Operation asset;
  asset.mutable_create_asset()->set_code("CNY.B");
  asset.mutable_create_asset()->set_scale(2);
  asset.mutable_create_asset()->set_issuer(kBankB);
  asset.mutable_create_asset()->set_issuer_account(Id(0xD0));
  *asset.mutable_create_asset()->mutable_issuer_controller() = Single(IssuerKey(kBankB));
  // Threshold 3: two members are short by one.
  EXPECT_EQ(RunOne(asset, {MemberKey(kBankA), MemberKey(kBankB)}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(asset, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC)}),
            ResultCode::kOk);
  EXPECT_TRUE(Account(Id(0xD0)).issuer());
  pb::Receipt again = Run({asset}, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC)});
  EXPECT_EQ(CodeOf(again, 0), ResultCode::kAlreadyApplied);
  asset.mutable_create_asset()->set_scale(3);
  EXPECT_EQ(RunOne(asset, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC)}),
            ResultCode::kAssetExists);

  pb::Operation member;
  auto* m = member.mutable_add_member();
  m->set_id(6);
  m->set_name("Partner FX");
  m->set_roles(pb::ROLE_OBSERVER);
  m->set_node_key(KeyBytes(Key(3006)));
  *m->mutable_governance() = Single(MemberKey(6));
  EXPECT_EQ(RunOne(member, {MemberKey(kBankA), MemberKey(kBankB)}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(member, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankD)}),
            ResultCode::kOk);
  m->set_name("Other");
  EXPECT_EQ(RunOne(member, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankD)}),
            ResultCode::kMemberExists);
  pb::Operation roles;
  roles.mutable_change_roles()->set_id(6);
  roles.mutable_change_roles()->set_roles(pb::ROLE_COMPLIANCE);
  EXPECT_EQ(RunOne(roles, {MemberKey(6)}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(roles, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankD)}),
            ResultCode::kOk);
  roles.mutable_change_roles()->set_id(60);
  EXPECT_EQ(RunOne(roles, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankD)}),
            ResultCode::kMemberNotFound);
  // The new member now has the compliance role and can freeze.
  OpenFunded(kAliceAcct, kAlice, 0);
  pb::Operation freeze;
  freeze.mutable_set_freeze()->set_account(kAliceAcct);
  freeze.mutable_set_freeze()->set_debits_frozen(true);
  EXPECT_EQ(RunOne(freeze, {MemberKey(6)}), ResultCode::kOk);
}

TEST_F(Executor, SameBlocksGiveSameChangesAndReceipts) {
  auto run = [&]() {
    InitGenesis(SampleGenesis());
    nonce_ = 0;
    next_transfer_ = 1'000'000;
    OpenFunded(kAliceAcct, kAlice, 100);
    OpenFunded(kBobAcct, kBob, 0);
    Block({Tx({HoldOp(Id(20), kAliceAcct, kBobAcct, 10, 2)}, {kAlice}),
           Tx({TransferOp(Id(21), kAliceAcct, kBobAcct, 5)}, {kAlice})});
    Block({}, 5000);
    auto last = Block({Tx({PostOp(Id(22), Id(20))}, {kAlice})}, 0);
    std::vector<Hash32> receipts;
    for (const auto& r : last.receipts)
      receipts.push_back(ReceiptHash(r));
    return std::make_pair(state_.entries(), receipts);
  };
  auto first = run();
  auto second = run();
  EXPECT_TRUE(first.first == second.first);
  EXPECT_EQ(first.second, second.second);
}

TEST_F(Executor, ReceiptHashCoversResults) {
  pb::Receipt a;
  a.set_tx_id("x");
  pb::Receipt b = a;
  b.add_results()->set_code(3);
  EXPECT_NE(ReceiptHash(a), ReceiptHash(b));
  EXPECT_EQ(ReceiptHash(a), ReceiptHash(a));
}

}  // namespace
}  // namespace cl::ledger

namespace cl::ledger {
namespace {

using namespace testing;

class ExecutorCodes : public LedgerFixture {};

TEST_F(ExecutorCodes, PostAndVoidIdsAreIdempotentToo) {
  OpenFunded(Id(1), Key(1), 100);
  OpenFunded(Id(2), Key(2), 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), Id(1), Id(2), 50, 60), {Key(1)}), ResultCode::kOk);
  ASSERT_EQ(RunOne(HoldOp(Id(21), Id(1), Id(2), 10, 60), {Key(1)}), ResultCode::kOk);
  ASSERT_EQ(RunOne(PostOp(Id(30), Id(20), 20), {Key(1)}), ResultCode::kOk);
  EXPECT_EQ(RunOne(PostOp(Id(30), Id(20), 21), {Key(1)}), ResultCode::kIdExistsWithDifferentFields);
  EXPECT_EQ(RunOne(PostOp(Id(30), Id(20), 20), {Key(1)}), ResultCode::kAlreadyApplied);
  ASSERT_EQ(RunOne(VoidOp(Id(31), Id(21)), {Key(2)}), ResultCode::kOk);
  pb::Receipt again = Run({VoidOp(Id(31), Id(21))}, {Key(2)});
  EXPECT_EQ(CodeOf(again, 0), ResultCode::kAlreadyApplied);
  EXPECT_EQ(again.results(0).original_height(), height_ - 1);
  EXPECT_EQ(RunOne(VoidOp(Id(31), Id(20)), {Key(2)}), ResultCode::kIdExistsWithDifferentFields);
  // A hold's id used for a post, and a post's id used for a transfer, are different operations.
  EXPECT_EQ(RunOne(PostOp(Id(20), Id(21)), {Key(1)}), ResultCode::kIdExistsWithDifferentFields);
  EXPECT_EQ(RunOne(TransferOp(Id(30), Id(1), Id(2), 20), {Key(1)}),
            ResultCode::kIdExistsWithDifferentFields);
}

TEST_F(ExecutorCodes, PostIntoAFrozenAccountIsRefused) {
  OpenFunded(Id(1), Key(1), 100);
  OpenFunded(Id(2), Key(2), 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), Id(1), Id(2), 50, 60), {Key(1)}), ResultCode::kOk);
  pb::Operation freeze;
  freeze.mutable_set_freeze()->set_account(Id(2));
  freeze.mutable_set_freeze()->set_credits_frozen(true);
  ASSERT_EQ(RunOne(freeze, {MemberKey(kRegulator)}), ResultCode::kOk);
  EXPECT_EQ(RunOne(PostOp(Id(30), Id(20)), {Key(1)}), ResultCode::kCreditsFrozen);
  // Expiry still releases a hold on a frozen account.
  Block({}, 61'000);
  EXPECT_EQ(Transfer(Id(20)).state(), pb::TRANSFER_STATE_EXPIRED);
}

TEST_F(ExecutorCodes, ClosedAccountRefusesFreezeAndRotation) {
  OpenFunded(Id(1), Key(1), 0);
  pb::Operation close;
  close.mutable_close_account()->set_account(Id(1));
  ASSERT_EQ(RunOne(close, {Key(1)}), ResultCode::kOk);
  pb::Operation freeze;
  freeze.mutable_set_freeze()->set_account(Id(1));
  EXPECT_EQ(RunOne(freeze, {MemberKey(kBankA)}), ResultCode::kAccountClosed);
  pb::Operation rotate;
  rotate.mutable_change_controller()->set_account(Id(1));
  *rotate.mutable_change_controller()->mutable_controller() = Single(Key(2));
  EXPECT_EQ(RunOne(rotate, {Key(1)}), ResultCode::kAccountClosed);
  EXPECT_EQ(RunOne(freeze, {MemberKey(kBankA)}), ResultCode::kAccountClosed);
  pb::Operation missing;
  missing.mutable_set_freeze()->set_account(Id(99));
  EXPECT_EQ(RunOne(missing, {MemberKey(kBankA)}), ResultCode::kAccountNotFound);
  // The closed id stays used forever.
  EXPECT_EQ(RunOne(CreateAccountOp(Id(1), "USD.A", Single(Key(1)), kBankA), {MemberKey(kBankA)}),
            ResultCode::kAlreadyApplied);
}

TEST_F(ExecutorCodes, CreateAssetNeedsAKnownIssuerAndAFreshIssuerAccount) {
  auto governance = std::vector{MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC)};
  pb::Operation asset;
  asset.mutable_create_asset()->set_code("EUR.A");
  asset.mutable_create_asset()->set_issuer(42);
  asset.mutable_create_asset()->set_issuer_account(Id(0xE0));
  *asset.mutable_create_asset()->mutable_issuer_controller() = Single(IssuerKey(kBankA));
  EXPECT_EQ(RunOne(asset, governance), ResultCode::kMemberNotFound);
  asset.mutable_create_asset()->set_issuer(kBankA);
  asset.mutable_create_asset()->set_issuer_account(kIssuerUsdB);
  EXPECT_EQ(RunOne(asset, governance), ResultCode::kIdExistsWithDifferentFields);
}

TEST_F(ExecutorCodes, TransactionPastItsTimeBoundIsExpired) {
  OpenFunded(Id(1), Key(1), 100);
  OpenFunded(Id(2), Key(2), 0);
  pb::TxBody body;
  body.set_chain_id(kChain);
  body.set_valid_until_height(height_ + 10);
  body.set_valid_until_time_ms(time_ms_ + 500);  // the next block is 1 s later
  *body.add_operations() = TransferOp(Id(10), Id(1), Id(2), 10);
  auto tx = VerifyEnvelope(SignTransaction(body, std::vector{Key(1)}), kChain);
  ASSERT_TRUE(tx.has_value());
  auto out = Block({*tx});
  EXPECT_EQ(out.receipts[0].code(), static_cast<uint32_t>(ResultCode::kTxExpired));
  EXPECT_EQ(out.receipts[0].status(), static_cast<uint32_t>(TxStatus::kRejected));
}

TEST_F(ExecutorCodes, SameTransactionTwiceInOneBlockRunsOnce) {
  OpenFunded(Id(1), Key(1), 100);
  OpenFunded(Id(2), Key(2), 0);
  VerifiedTx tx = Tx({TransferOp(Id(10), Id(1), Id(2), 10)}, {Key(1)});
  auto out = Block({tx, tx});
  EXPECT_EQ(out.receipts[0].status(), static_cast<uint32_t>(TxStatus::kCommitted));
  EXPECT_EQ(out.receipts[1].code(), static_cast<uint32_t>(ResultCode::kTxDuplicate));
  EXPECT_EQ(Balance(Id(2)), 10);
}

TEST_F(ExecutorCodes, EveryResultCodeHasAName) {
  for (uint32_t c = 0; c <= 28; ++c) {
    EXPECT_NE(ResultCodeName(static_cast<ResultCode>(c)), "unknown") << c;
  }
  EXPECT_EQ(ResultCodeName(ResultCode::kTxExpired), "tx_expired");
  EXPECT_EQ(ResultCodeName(ResultCode::kTxDuplicate), "tx_duplicate");
  // Pinned values: they are stored in receipts.
  EXPECT_EQ(static_cast<uint32_t>(ResultCode::kInsufficientFunds), 11u);
  EXPECT_EQ(static_cast<uint32_t>(ResultCode::kIssuerAccountCannotClose), 27u);
}

}  // namespace
}  // namespace cl::ledger
