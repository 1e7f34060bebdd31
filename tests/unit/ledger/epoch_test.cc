// Epochs in the ledger (ledger/epoch.h, docs/consensus.md "Epochs"): the governance operations that
// change the validator set, the schedule they write into the state, the refusals, and the
// activation of the scheduled set at its height.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ledger/epoch.h"
#include "ledger/executor.h"
#include "ledger/merkle.h"
#include "tests/unit/ledger/ledger_fixture.h"

namespace cl::ledger {
namespace {

using namespace testing;

class Epochs : public LedgerFixture {
 protected:
  // The sample's governance threshold is 3 of members 1..5; A..D are validators, 5 an observer.
  std::vector<crypto::PrivateKey> Quorum() {
    return {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kBankC)};
  }
  pb::EpochRecord Record() {
    auto r = ReadEpochRecord(state_);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? *r : pb::EpochRecord();
  }
  bool StoredRecord() { return state_.entries().count(keys::Epoch()) != 0; }
  pb::MemberRecord Member(uint32_t id) {
    LedgerState st(state_);
    auto m = st.GetRecord<pb::MemberRecord>(keys::Member(id));
    EXPECT_TRUE(m.has_value() && m->has_value());
    return (m && *m) ? **m : pb::MemberRecord();
  }
  pb::GovernanceRecord Governance() {
    LedgerState st(state_);
    auto g = st.GetRecord<pb::GovernanceRecord>(keys::Governance());
    EXPECT_TRUE(g.has_value() && g->has_value());
    return (g && *g) ? **g : pb::GovernanceRecord();
  }
  static std::vector<uint32_t> Members(const pb::ValidatorSetRecord& set) {
    std::vector<uint32_t> ids;
    for (const auto& v : set.validators())
      ids.push_back(v.member());
    return ids;
  }
  // Empty blocks until the ledger is at `height`.
  void RunTo(uint64_t height) {
    while (height_ < height)
      Block({});
  }
};

pb::Operation Roles(uint32_t id, uint32_t roles) {
  pb::Operation op;
  op.mutable_change_roles()->set_id(id);
  op.mutable_change_roles()->set_roles(roles);
  return op;
}
pb::Operation Remove(uint32_t id) {
  pb::Operation op;
  op.mutable_remove_member()->set_id(id);
  return op;
}
pb::Operation Rotate(uint32_t id, const crypto::PrivateKey& key) {
  pb::Operation op;
  op.mutable_rotate_node_key()->set_id(id);
  op.mutable_rotate_node_key()->set_node_key(KeyBytes(key));
  return op;
}
pb::Operation Threshold(uint32_t threshold) {
  pb::Operation op;
  op.mutable_set_governance_threshold()->set_threshold(threshold);
  return op;
}
pb::Operation AddMember(uint32_t id, uint32_t roles) {
  pb::Operation op;
  auto* m = op.mutable_add_member();
  m->set_id(id);
  m->set_name("Member " + std::to_string(id));
  m->set_roles(roles);
  m->set_node_key(KeyBytes(Key(3000 + id)));
  *m->mutable_governance() = Single(MemberKey(id));
  return op;
}
constexpr uint32_t kPromoted = pb::ROLE_VALIDATOR | pb::ROLE_COMPLIANCE;

TEST_F(Epochs, GenesisIsEpochZeroWithNoStoredRecord) {
  pb::EpochRecord r = Record();
  EXPECT_FALSE(StoredRecord());
  EXPECT_EQ(r.current().epoch(), 0u);
  EXPECT_EQ(r.current().activation_height(), 1u);
  EXPECT_EQ(Members(r.current()), (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.current().validators(2).node_key(), KeyBytes(Key(3003)));
  EXPECT_FALSE(r.has_next());
  EXPECT_EQ(&SetForHeight(r, 1'000'000), &r.current());
}

TEST_F(Epochs, PromotionSchedulesTheNewSetAtTheActivationHeightAndActivatesIt) {
  ASSERT_EQ(RunOne(Roles(kRegulator, kPromoted), Quorum()), ResultCode::kOk);
  const uint64_t h = height_;
  pb::EpochRecord r = Record();
  ASSERT_TRUE(StoredRecord());
  EXPECT_EQ(Members(r.current()), (std::vector<uint32_t>{1, 2, 3, 4}));
  ASSERT_TRUE(r.has_next());
  EXPECT_EQ(r.next().epoch(), 1u);
  EXPECT_EQ(r.next().changed_height(), h);
  EXPECT_EQ(r.next().activation_height(), h + kEpochActivationDelay);
  EXPECT_EQ(Members(r.next()), (std::vector<uint32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(r.next().validators(4).node_key(), KeyBytes(Key(3005)));
  // Heights up to the activation height's predecessor stay with the old set.
  EXPECT_EQ(&SetForHeight(r, h + kEpochActivationDelay - 1), &r.current());
  EXPECT_EQ(&SetForHeight(r, h + kEpochActivationDelay), &r.next());
  EXPECT_EQ(Member(kRegulator).roles(), kPromoted);

  RunTo(h + kEpochActivationDelay - 1);
  EXPECT_TRUE(Record().has_next());
  Block({});  // the activation height
  r = Record();
  EXPECT_FALSE(r.has_next());
  EXPECT_EQ(r.current().epoch(), 1u);
  EXPECT_EQ(r.current().activation_height(), h + kEpochActivationDelay);
  EXPECT_EQ(Members(r.current()), (std::vector<uint32_t>{1, 2, 3, 4, 5}));
}

// The node executes nothing for a null block (an empty payload a view change filled in): when the
// activation height is one, the next executed block activates the set, and the set for every
// height is the same either way.
TEST_F(Epochs, ANullBlockAtTheActivationHeightDefersOnlyTheRecordsMove) {
  ASSERT_EQ(RunOne(Roles(kRegulator, kPromoted), Quorum()), ResultCode::kOk);
  const uint64_t activation = Record().next().activation_height();
  RunTo(activation - 1);
  height_ = activation;  // the block at the activation height was a null block
  Block({});
  pb::EpochRecord r = Record();
  EXPECT_FALSE(r.has_next());
  EXPECT_EQ(r.current().epoch(), 1u);
  EXPECT_EQ(r.current().activation_height(), activation);
  EXPECT_EQ(SetForHeight(r, activation).epoch(), 1u);
}

TEST_F(Epochs, OneSetChangeAtATime) {
  // Two in one block: the second is refused.
  auto out = Block(
      {Tx({Roles(kRegulator, kPromoted)}, Quorum()), Tx({Rotate(kBankA, Key(4001))}, Quorum())});
  ASSERT_EQ(out.receipts.size(), 2u);
  EXPECT_EQ(CodeOf(out.receipts[0], 0), ResultCode::kOk);
  EXPECT_EQ(CodeOf(out.receipts[1], 0), ResultCode::kEpochChangePending);
  const uint64_t activation = Record().next().activation_height();
  // While the change is pending: refused; an operation that changes no validator still applies.
  RunTo(activation - 3);
  EXPECT_EQ(RunOne(Roles(kBankA, pb::ROLE_OBSERVER), Quorum()), ResultCode::kEpochChangePending);
  EXPECT_EQ(RunOne(Roles(kBankA, pb::ROLE_VALIDATOR), Quorum()), ResultCode::kOk);
  EXPECT_EQ(Member(kBankA).node_key(), KeyBytes(Key(3001)));
  // From the activation height on, the next change is accepted.
  ASSERT_EQ(height_, activation - 1);
  EXPECT_EQ(RunOne(Rotate(kBankA, Key(4001)), Quorum()), ResultCode::kOk);
  pb::EpochRecord r = Record();
  EXPECT_EQ(r.current().epoch(), 1u);
  ASSERT_TRUE(r.has_next());
  EXPECT_EQ(r.next().epoch(), 2u);
  EXPECT_EQ(r.next().validators(0).node_key(), KeyBytes(Key(4001)));
}

TEST_F(Epochs, ADemotionThatLeavesFewerThanFourValidatorsIsRefusedAndChangesNothing) {
  EXPECT_EQ(RunOne(Roles(kBankD, pb::ROLE_OBSERVER), Quorum()), ResultCode::kTooFewValidators);
  EXPECT_EQ(Member(kBankD).roles(), pb::ROLE_VALIDATOR);
  EXPECT_EQ(RunOne(Remove(kBankD), Quorum()), ResultCode::kTooFewValidators);
  EXPECT_EQ(Member(kBankD).removed_height(), 0u);
  EXPECT_FALSE(StoredRecord());
  // With a fifth validator in force, one may go.
  ASSERT_EQ(RunOne(Roles(kRegulator, kPromoted), Quorum()), ResultCode::kOk);
  RunTo(Record().next().activation_height());
  ASSERT_EQ(RunOne(Roles(kBankD, pb::ROLE_OBSERVER), Quorum()), ResultCode::kOk);
  EXPECT_EQ(Members(Record().next()), (std::vector<uint32_t>{1, 2, 3, 5}));
}

TEST_F(Epochs, SetChangesNeedTheGovernanceQuorum) {
  std::vector<crypto::PrivateKey> two = {MemberKey(kBankA), MemberKey(kBankB)};
  EXPECT_EQ(RunOne(Roles(kRegulator, kPromoted), two), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(Rotate(kBankA, Key(4001)), two), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(Remove(kRegulator), two), ResultCode::kUnauthorized);
  EXPECT_EQ(RunOne(Threshold(2), two), ResultCode::kUnauthorized);
  EXPECT_FALSE(StoredRecord());
}

TEST_F(Epochs, RotatingAValidatorKeyKeepsItsIndexAndRefusesAKeyInUse) {
  // Another member's node key, another member's governance key: refused.
  EXPECT_EQ(RunOne(Rotate(kBankA, Key(3002)), Quorum()), ResultCode::kKeyInUse);
  EXPECT_EQ(RunOne(Rotate(kBankA, MemberKey(kBankB)), Quorum()), ResultCode::kKeyInUse);
  // Its own current key: already applied, at the height the member got it.
  pb::Receipt same = Run({Rotate(kBankA, Key(3001))}, Quorum());
  EXPECT_EQ(CodeOf(same, 0), ResultCode::kAlreadyApplied);
  EXPECT_EQ(same.results(0).original_height(), 0u);  // a genesis member
  EXPECT_EQ(RunOne(Rotate(kBankB, Key(4002)), Quorum()), ResultCode::kOk);
  const uint64_t h = height_;
  pb::EpochRecord r = Record();
  EXPECT_EQ(Members(r.next()), (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.next().validators(1).node_key(), KeyBytes(Key(4002)));
  EXPECT_EQ(r.current().validators(1).node_key(), KeyBytes(Key(3002)));
  EXPECT_EQ(Member(kBankB).key_changed_height(), h);
  // The retry reports the rotation's height.
  pb::Receipt retry = Run({Rotate(kBankB, Key(4002))}, Quorum());
  EXPECT_EQ(CodeOf(retry, 0), ResultCode::kAlreadyApplied);
  EXPECT_EQ(retry.results(0).original_height(), h);
}

// A node key rotated away is never used again: not by another member, not by the same one (review
// finding: while the rotation was pending, another member could take the key that still signed in
// the set in force).
TEST_F(Epochs, ARotatedAwayNodeKeyIsNeverUsedAgain) {
  ASSERT_EQ(RunOne(Rotate(kBankA, Key(4001)), Quorum()), ResultCode::kOk);
  EXPECT_EQ(RunOne(Rotate(kRegulator, Key(3001)), Quorum()), ResultCode::kKeyInUse);
  pb::Operation taker = AddMember(6, pb::ROLE_OBSERVER);
  taker.mutable_add_member()->set_node_key(KeyBytes(Key(3001)));
  EXPECT_EQ(RunOne(taker, Quorum()), ResultCode::kKeyInUse);
  RunTo(Record().next().activation_height());
  EXPECT_EQ(RunOne(Rotate(kBankA, Key(3001)), Quorum()), ResultCode::kKeyInUse);
  EXPECT_EQ(RunOne(Rotate(kRegulator, Key(3001)), Quorum()), ResultCode::kKeyInUse);
}

TEST_F(Epochs, RotatingAnObserverKeyChangesNoSet) {
  EXPECT_EQ(RunOne(Rotate(kRegulator, Key(4005)), Quorum()), ResultCode::kOk);
  EXPECT_EQ(Member(kRegulator).node_key(), KeyBytes(Key(4005)));
  EXPECT_FALSE(StoredRecord());
}

TEST_F(Epochs, ARemovedMemberApprovesNothingAndItsKeysStayUsed) {
  ASSERT_EQ(RunOne(Remove(kRegulator), Quorum()), ResultCode::kOk);
  const uint64_t h = height_;
  EXPECT_FALSE(StoredRecord());  // an observer: no set change
  pb::MemberRecord m = Member(kRegulator);
  EXPECT_EQ(m.removed_height(), h);
  EXPECT_EQ(m.roles(), 0u);
  pb::GovernanceRecord g = Governance();
  EXPECT_EQ(std::vector<uint32_t>(g.members().begin(), g.members().end()),
            (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(std::vector<uint32_t>(g.removed().begin(), g.removed().end()),
            (std::vector<uint32_t>{5}));
  // Its retry is already_applied at the removal's height.
  pb::Receipt retry = Run({Remove(kRegulator)}, Quorum());
  EXPECT_EQ(CodeOf(retry, 0), ResultCode::kAlreadyApplied);
  EXPECT_EQ(retry.results(0).original_height(), h);
  // Its governance signature no longer counts toward a quorum.
  EXPECT_EQ(RunOne(Threshold(2), {MemberKey(kBankA), MemberKey(kBankB), MemberKey(kRegulator)}),
            ResultCode::kUnauthorized);
  // It is no custodian any more.
  EXPECT_EQ(RunOne(CreateAccountOp(Id(77), "USD.A", Single(Key(77)), kRegulator),
                   {MemberKey(kRegulator)}),
            ResultCode::kMemberNotFound);
  // Nor can its roles or key change, and nobody may take its keys.
  EXPECT_EQ(RunOne(Roles(kRegulator, pb::ROLE_OBSERVER), Quorum()), ResultCode::kMemberRemoved);
  EXPECT_EQ(RunOne(Rotate(kRegulator, Key(4005)), Quorum()), ResultCode::kMemberRemoved);
  EXPECT_EQ(RunOne(Rotate(kBankA, Key(3005)), Quorum()), ResultCode::kKeyInUse);
  pb::Operation taker = AddMember(6, pb::ROLE_OBSERVER);
  *taker.mutable_add_member()->mutable_governance() = Single(MemberKey(kRegulator));
  EXPECT_EQ(RunOne(taker, Quorum()), ResultCode::kKeyInUse);
  // Nor is its id reusable.
  pb::Operation again = AddMember(kRegulator, pb::ROLE_OBSERVER);
  EXPECT_EQ(RunOne(again, Quorum()), ResultCode::kMemberExists);
}

TEST_F(Epochs, RemovingAValidatorChangesTheSet) {
  ASSERT_EQ(RunOne(AddMember(6, pb::ROLE_VALIDATOR), Quorum()), ResultCode::kOk);
  pb::EpochRecord r = Record();
  EXPECT_EQ(Members(r.next()), (std::vector<uint32_t>{1, 2, 3, 4, 6}));
  RunTo(r.next().activation_height());
  ASSERT_EQ(RunOne(Remove(kBankC), Quorum()), ResultCode::kOk);
  r = Record();
  EXPECT_EQ(r.next().epoch(), 2u);
  EXPECT_EQ(Members(r.next()), (std::vector<uint32_t>{1, 2, 4, 6}));
}

TEST_F(Epochs, TheGovernanceThresholdStaysReachable) {
  EXPECT_EQ(RunOne(Threshold(6), Quorum()), ResultCode::kThresholdOutOfRange);
  ASSERT_EQ(RunOne(Threshold(5), Quorum()), ResultCode::kOk);
  EXPECT_EQ(Governance().threshold(), 5u);
  std::vector<crypto::PrivateKey> all;
  for (uint32_t id = 1; id <= 5; ++id)
    all.push_back(MemberKey(id));
  // Removing a member would leave 4 members for a threshold of 5.
  EXPECT_EQ(RunOne(Remove(kRegulator), all), ResultCode::kThresholdOutOfRange);
  ASSERT_EQ(RunOne(Threshold(3), all), ResultCode::kOk);
  EXPECT_EQ(RunOne(Remove(kRegulator), Quorum()), ResultCode::kOk);
  // Threshold 0 never reaches the executor: admission refuses it.
  pb::TxBody body;
  body.set_chain_id(kChain);
  body.set_valid_until_height(100);
  *body.add_operations() = Threshold(0);
  auto tx = VerifyEnvelope(SignTransaction(body, Quorum()), kChain);
  ASSERT_FALSE(tx.has_value());
  EXPECT_NE(tx.error().message.find("set_governance_threshold.threshold"), std::string::npos);
}

TEST_F(Epochs, AFailedLinkedChainSchedulesNothing) {
  pb::Receipt r = Run({Linked(Roles(kRegulator, kPromoted)), Remove(99)}, Quorum());
  EXPECT_EQ(CodeOf(r, 1), ResultCode::kMemberNotFound);
  EXPECT_EQ(CodeOf(r, 0), ResultCode::kLinkedOperationFailed);
  EXPECT_FALSE(StoredRecord());
  EXPECT_EQ(Member(kRegulator).roles(), pb::ROLE_OBSERVER | pb::ROLE_COMPLIANCE);
}

TEST_F(Epochs, NoMoreThanSixtyFourValidators) {
  // 60 more validators join through one change (a state no single operation makes: written
  // directly), then one more is refused.
  pb::GovernanceRecord g = Governance();
  std::vector<StateChange> changes;
  for (uint32_t id = 10; id < 70; ++id) {
    pb::MemberRecord m;
    m.set_id(id);
    m.set_name("V" + std::to_string(id));
    m.set_roles(pb::ROLE_VALIDATOR);
    m.set_node_key(KeyBytes(Key(3000 + id)));
    *m.mutable_governance() = Single(MemberKey(id));
    changes.push_back({keys::Member(id), SerializeRecord(m)});
    g.add_members(id);
  }
  changes.push_back({keys::Governance(), SerializeRecord(g)});
  state_.Apply(changes);
  ASSERT_EQ(Record().current().validators_size(), 64);
  EXPECT_EQ(RunOne(Roles(kRegulator, kPromoted), Quorum()), ResultCode::kTooManyValidators);
  EXPECT_EQ(RunOne(AddMember(80, pb::ROLE_VALIDATOR), Quorum()), ResultCode::kTooManyValidators);
  EXPECT_EQ(RunOne(AddMember(80, pb::ROLE_OBSERVER), Quorum()), ResultCode::kOk);
}

TEST_F(Epochs, ACorruptStoredRecordIsAnError) {
  pb::EpochRecord bad;
  bad.mutable_current()->set_epoch(1);
  auto* v = bad.mutable_current()->add_validators();
  v->set_member(1);
  v->set_node_key("not a key");
  state_.Apply({StateChange{keys::Epoch(), SerializeRecord(bad)}});
  auto r = ReadEpochRecord(state_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  state_.Apply({StateChange{keys::Epoch(), Bytes{0xff, 0xff}}});
  EXPECT_FALSE(ReadEpochRecord(state_).has_value());
}

TEST(EpochSetHash, IsTheMerkleRootOfTheKeysInOrder) {
  std::vector<crypto::PublicKey> keys = {Key(1).GetPublicKey(), Key(2).GetPublicKey()};
  std::vector<crypto::PublicKey> swapped = {keys[1], keys[0]};
  EXPECT_NE(ValidatorSetHash(keys), ValidatorSetHash(swapped));
  std::vector<Bytes> leaves = {Bytes(keys[0].bytes.begin(), keys[0].bytes.end()),
                               Bytes(keys[1].bytes.begin(), keys[1].bytes.end())};
  EXPECT_EQ(ValidatorSetHash(keys), MerkleRoot(leaves));
}

}  // namespace
}  // namespace cl::ledger
