// Settlement scenarios, each written the way the business flow reads. Escrow, frozen-account and
// replay scenarios live in executor_test.cc (HashLockedEscrow*, FrozenAccount*, Replayed*).
#include <gtest/gtest.h>

#include "ledger/executor.h"
#include "tests/unit/ledger/ledger_fixture.h"

namespace cl::ledger {
namespace {

using namespace testing;

class Settlement : public LedgerFixture {
 protected:
  // Customers and the banks' settlement accounts.
  const crypto::PrivateKey alice = Key(1), bob = Key(2), chen = Key(3), fx_desk = Key(4);
  const crypto::PrivateKey bank_a_treasury = Key(11), bank_b_treasury = Key(12);
  const std::string alice_usd_a = Id(1), bob_usd_b = Id(2), chen_cny = Id(3);
  const std::string bank_a_set = Id(11), bank_b_set = Id(12);
  const std::string fx_usd_a = Id(21), fx_cny = Id(22);
  const std::string issuer_cny = Id(0xD0);

  void SetUp() override {
    LedgerFixture::SetUp();
    OpenFunded(alice_usd_a, alice, 1'000'00);
    OpenFunded(bob_usd_b, bob, 0, "USD.B", kBankB);
    // Settlement asset SET, issued by Bank C (the settlement operator); each bank holds an account.
    OpenFunded(bank_a_set, bank_a_treasury, 50'000'00, "SET", kBankC);
    OpenFunded(bank_b_set, bank_b_treasury, 50'000'00, "SET", kBankC);
    // CNY deposit tokens issued by Bank B, created by governance.
    pb::Operation cny;
    cny.mutable_create_asset()->set_code("CNY.B");
    cny.mutable_create_asset()->set_scale(2);
    cny.mutable_create_asset()->set_issuer(kBankB);
    cny.mutable_create_asset()->set_issuer_account(issuer_cny);
    *cny.mutable_create_asset()->mutable_issuer_controller() = Single(IssuerKey(kBankB));
    ASSERT_EQ(RunOne(cny, {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC)}),
              ResultCode::kOk);
    ASSERT_EQ(RunOne(CreateAccountOp(chen_cny, "CNY.B", Single(chen), kBankB), {MemberKey(kBankB)}),
              ResultCode::kOk);
    // The FX provider banks with A for dollars and B for yuan.
    ASSERT_EQ(
        RunOne(CreateAccountOp(fx_usd_a, "USD.A", Single(fx_desk), kBankA), {MemberKey(kBankA)}),
        ResultCode::kOk);
    ASSERT_EQ(
        RunOne(CreateAccountOp(fx_cny, "CNY.B", Single(fx_desk), kBankB), {MemberKey(kBankB)}),
        ResultCode::kOk);
    ASSERT_EQ(RunOne(TransferOp(Id(900), issuer_cny, fx_cny, 100'000'00), {IssuerKey(kBankB)}),
              ResultCode::kOk);
  }

  // Alice (bank A) pays Bob (bank B) `amount` dollars: her USD.A tokens are redeemed at bank A,
  // bank A pays bank B in the settlement asset, bank B issues USD.B to Bob. One linked transaction.
  pb::Receipt CrossBankPayment(uint64_t amount, uint64_t first_id) {
    return Run({Linked(TransferOp(Id(first_id), alice_usd_a, kIssuerUsdA, amount)),
                Linked(TransferOp(Id(first_id + 1), bank_a_set, bank_b_set, amount)),
                TransferOp(Id(first_id + 2), kIssuerUsdB, bob_usd_b, amount)},
               {alice, bank_a_treasury, IssuerKey(kBankB)});
  }
};

TEST_F(Settlement, CustomerOfBankAPaysCustomerOfBankBThroughTheSettlementAsset) {
  pb::Receipt r = CrossBankPayment(250'00, 100);
  ASSERT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kCommitted));
  EXPECT_EQ(Balance(alice_usd_a), 750'00);
  EXPECT_EQ(Balance(bob_usd_b), 250'00);
  EXPECT_EQ(Balance(bank_a_set), 49'750'00);
  EXPECT_EQ(Balance(bank_b_set), 50'250'00);
  // Supply follows the deposits: bank A's tokens shrank, bank B's grew.
  EXPECT_EQ(Balance(kIssuerUsdA), -750'00);
  EXPECT_EQ(Balance(kIssuerUsdB), -250'00);
}

TEST_F(Settlement, CrossBankPaymentIsAllOrNoneWhenTheSettlementLegFails) {
  // Bank A freezes nothing, but its settlement account is short.
  ASSERT_EQ(RunOne(TransferOp(Id(50), bank_a_set, bank_b_set, 49'900'00), {bank_a_treasury}),
            ResultCode::kOk);
  pb::Receipt r = CrossBankPayment(250'00, 100);
  EXPECT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kRejected));
  EXPECT_EQ(CodeOf(r, 1), ResultCode::kInsufficientFunds);
  EXPECT_EQ(CodeOf(r, 0), ResultCode::kLinkedOperationFailed);
  EXPECT_EQ(r.results(0).failed_op_index(), 1u);
  EXPECT_EQ(CodeOf(r, 2), ResultCode::kLinkedOperationFailed);
  EXPECT_EQ(Balance(alice_usd_a), 1'000'00);
  EXPECT_EQ(Balance(bob_usd_b), 0);
}

TEST_F(Settlement, UsdToCnyPaymentThroughAnFxProviderIsAPvP) {
  // Alice pays 100.00 USD to the FX desk; the desk pays Chen 720.00 CNY: both legs or neither.
  pb::Receipt r = Run({Linked(TransferOp(Id(200), alice_usd_a, fx_usd_a, 100'00)),
                       TransferOp(Id(201), fx_cny, chen_cny, 720'00)},
                      {alice, fx_desk});
  ASSERT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kCommitted));
  EXPECT_EQ(Balance(fx_usd_a), 100'00);
  EXPECT_EQ(Balance(chen_cny), 720'00);
  // Without the desk's signature the yuan leg fails and the dollar leg is undone.
  pb::Receipt unsigned_leg = Run({Linked(TransferOp(Id(202), alice_usd_a, fx_usd_a, 100'00)),
                                  TransferOp(Id(203), fx_cny, chen_cny, 720'00)},
                                 {alice});
  EXPECT_EQ(unsigned_leg.status(), static_cast<uint32_t>(TxStatus::kRejected));
  EXPECT_EQ(CodeOf(unsigned_leg, 1), ResultCode::kUnauthorized);
  EXPECT_EQ(Balance(alice_usd_a), 900'00);
  // Mixing assets in one leg is refused.
  EXPECT_EQ(RunOne(TransferOp(Id(204), alice_usd_a, chen_cny, 1), {alice}),
            ResultCode::kAssetMismatch);
}

TEST_F(Settlement, ReplayedPaymentIsReportedNotRepeated) {
  ASSERT_EQ(CrossBankPayment(100'00, 300).status(), static_cast<uint32_t>(TxStatus::kCommitted));
  uint64_t settled_at = height_;
  pb::Receipt retry = CrossBankPayment(100'00, 300);  // the hub's retry after a timeout
  EXPECT_EQ(retry.status(), static_cast<uint32_t>(TxStatus::kCommitted));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(CodeOf(retry, i), ResultCode::kAlreadyApplied);
    EXPECT_EQ(retry.results(i).original_height(), settled_at);
  }
  EXPECT_EQ(Balance(bob_usd_b), 100'00);
}

}  // namespace
}  // namespace cl::ledger
