#include "ledger/invariant.h"

#include <gtest/gtest.h>

#include <functional>

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

// An account's credit terms and custody are fixed at creation, where the issuer approved them
// (docs/ledger.md): a block that raises an overdraft or moves the account to another custodian
// would grant credit nobody approved.
TEST_F(Invariant, CreditTermsAndCustodianNeverChange) {
  struct Change {
    const char* what;
    std::function<void(pb::AccountRecord&)> apply;
  };
  const Change changes[] = {
      {"overdraft_limit", [](pb::AccountRecord& a) { a.set_overdraft_limit(UINT64_MAX); }},
      {"custodian", [](pb::AccountRecord& a) { a.set_custodian(kBankC); }},
      {"flags",
       [](pb::AccountRecord& a) { a.set_flags(pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS); }},
  };
  for (const Change& c : changes) {
    LedgerState st(state_);
    pb::AccountRecord a = Account(Id(1));
    c.apply(a);
    st.PutAccount(a);
    ExpectViolation(CheckBlockInvariants(st), "changed its custodian or credit terms");
  }
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

// Pending deltas are summed by the id a record names, even when it is stored under another
// account's key (only corruption does that): two records of one id whose deltas cancel pass, and
// one alone is caught.
TEST_F(Invariant, PendingDeltasAddUpByTheRecordsId) {
  pb::AccountRecord moved = Account(Id(2));  // credits_pending 30, from the live hold
  pb::AccountRecord emptied = moved;
  emptied.set_credits_pending(0);
  {
    LedgerState st(state_);
    st.PutAccount(emptied);                              // key Id(2): -30
    st.PutRecord(keys::Account(Id(9)), Account(Id(2)));  // key Id(9), id Id(2): +30
    EXPECT_TRUE(CheckBlockInvariants(st).has_value());
  }
  {
    LedgerState st(state_);
    st.PutRecord(keys::Account(Id(9)), moved);
    ExpectViolation(CheckBlockInvariants(st), "pending amounts differ");
  }
}

// The invariant check's allocation-free account decoder agrees with protobuf: on random records
// it decodes every field the check reads as protobuf parses it, and on random corruptions of them
// it never accepts bytes protobuf rejects or reads them differently.
TEST(InvariantDecoder, AccountDecoderAgreesWithProtobuf) {
  uint64_t rng = 5;
  auto next = [&rng] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 11;
  };
  auto big = [&next] { return next() % 4 == 0 ? next() << 11 | next() : next() % 1000; };
  size_t decoded = 0, fell_back = 0;
  for (int i = 0; i < 20000; ++i) {
    pb::AccountRecord rec;
    rec.set_id(std::string(16, static_cast<char>(next())));
    rec.set_asset(next() % 2 ? "USD" : "CNY.BANK");
    rec.mutable_controller()->set_threshold(static_cast<uint32_t>(next() % 3));
    for (uint64_t k = next() % 3; k > 0; --k)
      rec.mutable_controller()->add_keys(std::string(33, static_cast<char>(next())));
    rec.set_custodian(static_cast<uint32_t>(next()));
    rec.set_flags(static_cast<uint32_t>(next() % 4));
    rec.set_overdraft_limit(big());
    rec.set_max_per_transfer(big());
    rec.set_issuer(next() % 5 == 0);
    rec.set_debits_frozen(next() % 5 == 0);
    rec.set_closed(next() % 7 == 0);
    rec.set_debits_posted(big());
    rec.set_credits_posted(big());
    rec.set_debits_pending(big());
    rec.set_credits_pending(big());
    rec.set_outflow_today(big());
    rec.set_created_height(big());
    Bytes raw = SerializeRecord(rec);
    if (i % 2 == 1) {  // corrupt: flip, drop or append bytes
      switch (next() % 3) {
        case 0:
          raw[next() % raw.size()] ^= static_cast<uint8_t>(1 + next() % 255);
          break;
        case 1:
          raw.resize(next() % raw.size());
          break;
        default:
          for (uint64_t k = 1 + next() % 4; k > 0; --k)
            raw.push_back(static_cast<uint8_t>(next()));
      }
    }
    pb::AccountRecord parsed;
    const bool pb_ok = parsed.ParseFromArray(raw.data(), static_cast<int>(raw.size()));
    AccountFields b;
    if (!DecodeAccountFields(raw, &b)) {
      ++fell_back;
      EXPECT_TRUE(i % 2 == 1) << "a well-formed record was not decoded, #" << i;
      continue;
    }
    ++decoded;
    ASSERT_TRUE(pb_ok) << "decoded bytes protobuf rejects, #" << i;
    EXPECT_EQ(b.id, parsed.id());
    EXPECT_EQ(b.asset, parsed.asset());
    EXPECT_EQ(b.flags, parsed.flags());
    EXPECT_EQ(b.overdraft_limit, parsed.overdraft_limit());
    EXPECT_EQ(b.debits_posted, parsed.debits_posted());
    EXPECT_EQ(b.credits_posted, parsed.credits_posted());
    EXPECT_EQ(b.debits_pending, parsed.debits_pending());
    EXPECT_EQ(b.credits_pending, parsed.credits_pending());
    EXPECT_EQ(b.issuer, parsed.issuer());
    EXPECT_EQ(b.closed, parsed.closed());
  }
  EXPECT_GT(decoded, 10000u);  // every intact record, and corrupt ones that still parse
  EXPECT_GT(fell_back, 1000u);
}

}  // namespace
}  // namespace cl::ledger
