// The executor's authorization and idempotency rules that outside reviews found broken (issue 14,
// defects 19, 20 and 22): who may grant credit in an asset, how the governance quorum counts
// approvals, and that a reused id answers already_applied only when every field is the same.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "ledger/executor.h"
#include "tests/unit/ledger/ledger_fixture.h"

namespace cl::ledger {
namespace {

using namespace testing;

class ExecutorTrust : public LedgerFixture {
 protected:
  // The sample's governance threshold is 3 of members 1..5.
  std::vector<crypto::PrivateKey> Quorum() {
    return {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC)};
  }
  // Overwrites a member's record in the state directly (a state no operation can produce any more).
  void PutMember(const pb::MemberRecord& m) {
    state_.Apply({StateChange{keys::Member(m.id()), SerializeRecord(m)}});
  }
  pb::MemberRecord Member(uint32_t id) {
    LedgerState st(state_);
    auto m = st.GetRecord<pb::MemberRecord>(keys::Member(id));
    EXPECT_TRUE(m.has_value() && m->has_value());
    return (m && *m) ? **m : pb::MemberRecord();
  }
};

const auto kAlice = Key(1), kBob = Key(2);
const std::string kAliceAcct = Id(1), kBobAcct = Id(2), kLoot = Id(0x666);

// ---- Defect 19: credit in an asset is granted by its issuer only ---------------------------

// The attack as reported: Bank C (not USD.A's issuer) opens a USD.A account that it keeps itself,
// with an overdraft of 2^64-1, and pays from it. Before the fix the account was created and the
// payment went through, with every invariant still true.
TEST_F(ExecutorTrust, MemberCannotGrantItselfAnOverdraftInAnotherBanksAsset) {
  OpenFunded(kBobAcct, kBob, 0);
  pb::Operation create = CreateAccountOp(kLoot, "USD.A", Single(MemberKey(kBankC)), kBankC);
  create.mutable_create_account()->set_overdraft_limit(UINT64_MAX);
  EXPECT_EQ(RunOne(create, {MemberKey(kBankC)}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kLoot, kBobAcct, 1'000'000), {MemberKey(kBankC)}),
            ResultCode::kAccountNotFound);
  EXPECT_EQ(Balance(kBobAcct), 0);
  // The same with a non-zero overdraft of any size: 1 minor unit of credit is still credit.
  create.mutable_create_account()->set_overdraft_limit(1);
  EXPECT_EQ(RunOne(create, {MemberKey(kBankC)}), ResultCode::kUnauthorized);
  // With the overdraft-forbidding flag the limit still needs the issuer (the rule does not depend
  // on a flag that a later rule change might reinterpret).
  create.mutable_create_account()->set_flags(pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS);
  EXPECT_EQ(RunOne(create, {MemberKey(kBankC)}), ResultCode::kUnauthorized);
}

TEST_F(ExecutorTrust, AnyMemberMayKeepAnAccountWithoutCreditInAnyAsset) {
  // A USD.A account kept by Bank C can hold USD.A that someone paid it, and never go below zero.
  ASSERT_EQ(RunOne(CreateAccountOp(kLoot, "USD.A", Single(kAlice), kBankC), {MemberKey(kBankC)}),
            ResultCode::kOk);
  OpenFunded(kBobAcct, kBob, 0);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kLoot, kBobAcct, 1), {kAlice}),
            ResultCode::kInsufficientFunds);
}

TEST_F(ExecutorTrust, OverdraftNeedsTheIssuersApprovalOrTheIssuerAsCustodian) {
  OpenFunded(kBobAcct, kBob, 0);
  // Custodian Bank C, with USD.A's issuer (Bank A) co-signing: the issuer granted the credit.
  pb::Operation by_c = CreateAccountOp(kLoot, "USD.A", Single(kAlice), kBankC);
  by_c.mutable_create_account()->set_overdraft_limit(40);
  EXPECT_EQ(RunOne(by_c, {MemberKey(kBankC), MemberKey(kBankB)}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(by_c, {MemberKey(kBankC), MemberKey(kBankA)}), ResultCode::kOk);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kLoot, kBobAcct, 41), {kAlice}),
            ResultCode::kInsufficientFunds);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kLoot, kBobAcct, 40), {kAlice}), ResultCode::kOk);
  // The issuer's signature alone does not replace the custodian's.
  pb::Operation no_custodian = CreateAccountOp(Id(77), "USD.A", Single(kAlice), kBankC);
  no_custodian.mutable_create_account()->set_overdraft_limit(40);
  EXPECT_EQ(RunOne(no_custodian, {MemberKey(kBankA)}), ResultCode::kUnauthorized);
  // Custodian = issuer: the custodian's signature is the issuer's.
  pb::Operation by_a = CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA);
  by_a.mutable_create_account()->set_overdraft_limit(40);
  EXPECT_EQ(RunOne(by_a, {MemberKey(kBankA)}), ResultCode::kOk);
  // An account in USD.B kept by Bank A: Bank A is not USD.B's issuer.
  pb::Operation other = CreateAccountOp(Id(78), "USD.B", Single(kAlice), kBankA);
  other.mutable_create_account()->set_overdraft_limit(40);
  EXPECT_EQ(RunOne(other, {MemberKey(kBankA)}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(other, {MemberKey(kBankA), MemberKey(kBankB)}), ResultCode::kOk);
}

// Sibling: a governance quorum that leaves the named issuer out cannot create an asset in its name
// (whose issuer account, with a controller of the quorum's choosing, could then issue at will).
TEST_F(ExecutorTrust, CreateAssetNeedsTheNamedIssuersApproval) {
  pb::Operation asset;
  auto* a = asset.mutable_create_asset();
  a->set_code("USD.D");
  a->set_scale(2);
  a->set_issuer(kBankD);
  a->set_issuer_account(Id(0xD0));
  *a->mutable_issuer_controller() = Single(kAlice);
  EXPECT_EQ(RunOne(asset, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC)}),
            ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(asset, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankD)}),
            ResultCode::kOk);
}

// The floor is compared exactly: an issuer-granted overdraft of 2^64-1 on an account with credits
// lets its debits reach u64's limit and no further (overflow), never wraps.
TEST_F(ExecutorTrust, FloorWithTheLargestOverdraftIsExactNotSaturated) {
  pb::Operation create = CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA);
  create.mutable_create_account()->set_overdraft_limit(UINT64_MAX);
  ASSERT_EQ(RunOne(create, {MemberKey(kBankA)}), ResultCode::kOk);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(TransferOp(Id(9), kIssuerUsdA, kAliceAcct, 5), {IssuerKey(kBankA)}),
            ResultCode::kOk);
  EXPECT_EQ(RunOne(TransferOp(Id(10), kAliceAcct, kBobAcct, UINT64_MAX), {kAlice}),
            ResultCode::kOk);
  EXPECT_EQ(Account(kAliceAcct).debits_posted(), UINT64_MAX);
  EXPECT_EQ(RunOne(TransferOp(Id(11), kAliceAcct, kBobAcct, 1), {kAlice}), ResultCode::kOverflow);
}

// ---- Defect 20: the governance quorum counts distinct keys -----------------------------------

// A state in which two members share one governance key (what genesis and add_member accepted
// before): that key's one signature must count once.
TEST_F(ExecutorTrust, SharedGovernanceKeyCountsOnceTowardTheQuorum) {
  pb::MemberRecord c = Member(kBankC);
  *c.mutable_governance() = Single(MemberKey(kBankA));
  PutMember(c);
  pb::Operation asset;
  auto* a = asset.mutable_create_asset();
  a->set_code("EUR.A");
  a->set_scale(2);
  a->set_issuer(kBankA);
  a->set_issuer_account(Id(0xE0));
  *a->mutable_issuer_controller() = Single(IssuerKey(kBankA));
  // Members A and C both "approve" with A's key, B with its own: two keys, threshold 3.
  EXPECT_EQ(RunOne(asset, {MemberKey(kBankA), MemberKey(kBankB)}), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(asset, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankD)}),
            ResultCode::kOk);
}

// The same with k-of-n controllers that overlap in one key: the shared key serves one member.
TEST_F(ExecutorTrust, OverlappingGovernanceControllersDoNotShareASignature) {
  pb::MemberRecord b = Member(kBankB);
  *b.mutable_governance() = KOfN(2, {MemberKey(kBankB), Key(500)});
  PutMember(b);
  pb::MemberRecord c = Member(kBankC);
  *c.mutable_governance() = KOfN(2, {MemberKey(kBankC), Key(500)});
  PutMember(c);
  pb::Operation roles;
  roles.mutable_change_roles()->set_id(kBankD);
  roles.mutable_change_roles()->set_roles(pb::ROLE_VALIDATOR | pb::ROLE_ISSUER);
  EXPECT_EQ(RunOne(roles, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC), Key(500)}),
            ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(roles, {MemberKey(kBankA), MemberKey(kBankB), Key(500), MemberKey(kBankD)}),
            ResultCode::kOk);
}

pb::Operation AddMemberOp(uint32_t id, const pb::Controller& governance,
                          const std::string& node_key) {
  pb::Operation op;
  auto* m = op.mutable_add_member();
  m->set_id(id);
  m->set_name("Member " + std::to_string(id));
  m->set_roles(pb::ROLE_OBSERVER);
  m->set_node_key(node_key);
  *m->mutable_governance() = governance;
  return op;
}

TEST_F(ExecutorTrust, AddMemberRefusesAGovernanceOrNodeKeyAnotherMemberUses) {
  std::string fresh_node = KeyBytes(Key(3006));
  EXPECT_EQ(RunOne(AddMemberOp(6, Single(MemberKey(kBankA)), fresh_node), Quorum()),
            ResultCode::kKeyInUse);
  EXPECT_EQ(
      RunOne(AddMemberOp(6, KOfN(1, {MemberKey(6), MemberKey(kBankD)}), fresh_node), Quorum()),
      ResultCode::kKeyInUse);
  EXPECT_EQ(RunOne(AddMemberOp(6, Single(MemberKey(6)), KeyBytes(Key(3001))), Quorum()),
            ResultCode::kKeyInUse);
  ASSERT_EQ(RunOne(AddMemberOp(6, Single(MemberKey(6)), fresh_node), Quorum()), ResultCode::kOk);
  // Its retry is still already_applied (its own keys are not "another member's").
  EXPECT_EQ(RunOne(AddMemberOp(6, Single(MemberKey(6)), fresh_node), Quorum()),
            ResultCode::kAlreadyApplied);
  EXPECT_EQ(RunOne(AddMemberOp(7, Single(MemberKey(6)), KeyBytes(Key(3007))), Quorum()),
            ResultCode::kKeyInUse);
}

// ---- Defect 22: a reused id is already_applied only when every field is the same -------------

struct FieldChange {
  const char* field;
  std::function<void(pb::Operation&)> change;
};

class ExecutorIdempotency : public ExecutorTrust {
 protected:
  // Applies `op` once, checks that the same op again is already_applied, then that each change
  // (applied to a fresh copy) answers `mismatch` and changes nothing.
  void ExpectEveryFieldCompared(const pb::Operation& op, std::vector<crypto::PrivateKey> signers,
                                const std::vector<FieldChange>& changes, ResultCode mismatch) {
    ASSERT_EQ(RunOne(op, signers), ResultCode::kOk);
    EXPECT_EQ(RunOne(op, signers), ResultCode::kAlreadyApplied);
    for (const FieldChange& c : changes) {
      pb::Operation changed = op;
      c.change(changed);
      ASSERT_NE(SerializeRecord(changed), SerializeRecord(op)) << c.field;
      BytesMap<Bytes> before = state_.entries();
      pb::Receipt r = Run({changed}, signers);
      EXPECT_EQ(CodeOf(r, 0), mismatch) << c.field;
      // Only the transaction's seen-marker was written.
      EXPECT_EQ(state_.entries().size(), before.size() + 1) << c.field;
    }
  }
};

TEST_F(ExecutorIdempotency, CreateAccountComparesEveryField) {
  pb::Operation op = CreateAccountOp(kAliceAcct, "USD.A", Single(kAlice), kBankA);
  auto* a = op.mutable_create_account();
  a->set_flags(pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS);
  a->set_overdraft_limit(10);
  a->set_max_per_transfer(100);
  a->set_max_outflow_per_day(1000);
  // Bank A keeps, Bank B co-signs so that a change of asset or custodian is still authorized.
  ExpectEveryFieldCompared(
      op, {MemberKey(kBankA), MemberKey(kBankB)},
      {
          {"asset", [](pb::Operation& o) { o.mutable_create_account()->set_asset("USD.B"); }},
          {"controller",
           [](pb::Operation& o) {
             *o.mutable_create_account()->mutable_controller() = Single(kBob);
           }},
          {"controller threshold",
           [](pb::Operation& o) {
             *o.mutable_create_account()->mutable_controller() = KOfN(1, {kAlice, kBob});
           }},
          {"custodian",
           [](pb::Operation& o) { o.mutable_create_account()->set_custodian(kBankB); }},
          {"flags", [](pb::Operation& o) { o.mutable_create_account()->set_flags(0); }},
          {"overdraft_limit",
           [](pb::Operation& o) { o.mutable_create_account()->set_overdraft_limit(11); }},
          {"max_per_transfer",
           [](pb::Operation& o) { o.mutable_create_account()->set_max_per_transfer(101); }},
          {"max_outflow_per_day",
           [](pb::Operation& o) { o.mutable_create_account()->set_max_outflow_per_day(1001); }},
      },
      ResultCode::kIdExistsWithDifferentFields);
}

TEST_F(ExecutorIdempotency, TransferComparesEveryField) {
  OpenFunded(kAliceAcct, kAlice, 1000);
  OpenFunded(kBobAcct, kBob, 0);
  OpenFunded(Id(3), Key(3), 0);
  pb::Operation op = HoldOp(Id(20), kAliceAcct, kBobAcct, 10, 60, std::string(32, 'h'));
  auto* t = op.mutable_transfer();
  t->set_uetr(std::string(16, 'u'));
  t->set_end_to_end_id("e2e");
  t->set_purpose("SALA");
  t->set_memo("memo");
  auto tr = [](pb::Operation& o) { return o.mutable_transfer(); };
  ExpectEveryFieldCompared(
      op, {kAlice},
      {
          {"debit_account", [&](pb::Operation& o) { tr(o)->set_debit_account(Id(3)); }},
          {"credit_account", [&](pb::Operation& o) { tr(o)->set_credit_account(Id(3)); }},
          {"amount", [&](pb::Operation& o) { tr(o)->set_amount(11); }},
          {"uetr", [&](pb::Operation& o) { tr(o)->set_uetr(std::string(16, 'v')); }},
          {"end_to_end_id", [&](pb::Operation& o) { tr(o)->set_end_to_end_id("e2f"); }},
          {"purpose", [&](pb::Operation& o) { tr(o)->set_purpose("SALB"); }},
          {"memo", [&](pb::Operation& o) { tr(o)->set_memo("memp"); }},
          {"pending",
           [&](pb::Operation& o) {
             tr(o)->set_pending(false);
             tr(o)->set_timeout_s(0);
             tr(o)->clear_hash_lock();
           }},
          {"timeout_s", [&](pb::Operation& o) { tr(o)->set_timeout_s(61); }},
          {"hash_lock", [&](pb::Operation& o) { tr(o)->set_hash_lock(std::string(32, 'i')); }},
      },
      ResultCode::kIdExistsWithDifferentFields);
}

TEST_F(ExecutorIdempotency, PostPendingComparesEveryField) {
  OpenFunded(kAliceAcct, kAlice, 1000);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 50, 600), {kAlice}), ResultCode::kOk);
  ASSERT_EQ(RunOne(HoldOp(Id(21), kAliceAcct, kBobAcct, 50, 600), {kAlice}), ResultCode::kOk);
  ExpectEveryFieldCompared(
      PostOp(Id(30), Id(20), 20), {kAlice},
      {
          {"pending_id",
           [](pb::Operation& o) { o.mutable_post_pending()->set_pending_id(Id(21)); }},
          {"amount", [](pb::Operation& o) { o.mutable_post_pending()->set_amount(21); }},
          // 0 means "all of the hold" (50), not the 20 posted: a different post.
          {"amount 0 (all)", [](pb::Operation& o) { o.mutable_post_pending()->set_amount(0); }},
          {"preimage", [](pb::Operation& o) { o.mutable_post_pending()->set_preimage("x"); }},
      },
      ResultCode::kIdExistsWithDifferentFields);
}

// A post of "all" (amount 0) and a post that names the full held amount do the same thing.
TEST_F(ExecutorIdempotency, PostOfAllMatchesThePostOfTheFullAmount) {
  OpenFunded(kAliceAcct, kAlice, 1000);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 50, 600), {kAlice}), ResultCode::kOk);
  ASSERT_EQ(RunOne(PostOp(Id(30), Id(20), 0), {kAlice}), ResultCode::kOk);
  EXPECT_EQ(RunOne(PostOp(Id(30), Id(20), 0), {kAlice}), ResultCode::kAlreadyApplied);
  EXPECT_EQ(RunOne(PostOp(Id(30), Id(20), 50), {kAlice}), ResultCode::kAlreadyApplied);
  EXPECT_EQ(RunOne(PostOp(Id(30), Id(20), 49), {kAlice}), ResultCode::kIdExistsWithDifferentFields);
  EXPECT_EQ(Balance(kBobAcct), 50);
}

TEST_F(ExecutorIdempotency, VoidPendingComparesEveryField) {
  OpenFunded(kAliceAcct, kAlice, 1000);
  OpenFunded(kBobAcct, kBob, 0);
  ASSERT_EQ(RunOne(HoldOp(Id(20), kAliceAcct, kBobAcct, 50, 600), {kAlice}), ResultCode::kOk);
  ASSERT_EQ(RunOne(HoldOp(Id(21), kAliceAcct, kBobAcct, 50, 600), {kAlice}), ResultCode::kOk);
  ExpectEveryFieldCompared(
      VoidOp(Id(30), Id(20)), {kAlice},
      {
          {"pending_id",
           [](pb::Operation& o) { o.mutable_void_pending()->set_pending_id(Id(21)); }},
      },
      ResultCode::kIdExistsWithDifferentFields);
}

TEST_F(ExecutorIdempotency, CreateAssetComparesEveryField) {
  pb::Operation op;
  auto* a = op.mutable_create_asset();
  a->set_code("EUR.A");
  a->set_scale(2);
  a->set_issuer(kBankA);
  a->set_issuer_account(Id(0xE0));
  *a->mutable_issuer_controller() = Single(IssuerKey(kBankA));
  auto ca = [](pb::Operation& o) { return o.mutable_create_asset(); };
  ExpectEveryFieldCompared(
      op, Quorum(),
      {
          {"scale", [&](pb::Operation& o) { ca(o)->set_scale(3); }},
          {"issuer", [&](pb::Operation& o) { ca(o)->set_issuer(kBankB); }},
          {"issuer_account", [&](pb::Operation& o) { ca(o)->set_issuer_account(Id(0xE1)); }},
          {"issuer_controller",
           [&](pb::Operation& o) { *ca(o)->mutable_issuer_controller() = Single(kAlice); }},
          {"issuer_controller threshold",
           [&](pb::Operation& o) {
             *ca(o)->mutable_issuer_controller() = KOfN(1, {IssuerKey(kBankA), kAlice});
           }},
      },
      ResultCode::kAssetExists);
}

TEST_F(ExecutorIdempotency, AddMemberComparesEveryField) {
  pb::Operation op = AddMemberOp(6, Single(MemberKey(6)), KeyBytes(Key(3006)));
  op.mutable_add_member()->set_roles(pb::ROLE_OBSERVER | pb::ROLE_COMPLIANCE);
  auto am = [](pb::Operation& o) { return o.mutable_add_member(); };
  ExpectEveryFieldCompared(
      op, Quorum(),
      {
          {"name", [&](pb::Operation& o) { am(o)->set_name("Other"); }},
          {"roles", [&](pb::Operation& o) { am(o)->set_roles(pb::ROLE_OBSERVER); }},
          {"node_key", [&](pb::Operation& o) { am(o)->set_node_key(KeyBytes(Key(3007))); }},
          {"governance",
           [&](pb::Operation& o) { *am(o)->mutable_governance() = Single(MemberKey(7)); }},
          {"governance threshold",
           [&](pb::Operation& o) {
             *am(o)->mutable_governance() = KOfN(1, {MemberKey(6), MemberKey(7)});
           }},
      },
      ResultCode::kMemberExists);
}

}  // namespace
}  // namespace cl::ledger
