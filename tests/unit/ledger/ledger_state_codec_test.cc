// The hand-written record codecs of ledger_state.h against protobuf: on random records they give
// byte for byte what SerializeRecord gives, and on any other bytes (random corruptions and
// non-canonical encodings that protobuf accepts) they either decline or read exactly the record
// whose canonical encoding the bytes are.
#include <gtest/gtest.h>

#include "ledger/ledger_state.h"
#include "ledger/transaction.h"

namespace cl::ledger {
namespace {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return state_ >> 11 ^ state_ << 21;
  }
  // Zero often (proto3 omits it), small values, and values of every varint length.
  uint64_t Value() {
    switch (Next() % 4) {
      case 0:
        return 0;
      case 1:
        return Next() % 200;
      case 2:
        return Next() >> (Next() % 64);
      default:
        return Next();
    }
  }
  std::string Text(size_t max, bool ascii) {
    std::string s(Next() % (max + 1), '\0');
    for (char& c : s)
      c = static_cast<char>(ascii ? 'A' + Next() % 26 : Next());
    return s;
  }

 private:
  uint64_t state_;
};

pb::AccountRecord RandomAccount(Rng& rng) {
  pb::AccountRecord rec;
  rec.set_id(rng.Text(20, false));
  rec.set_asset(rng.Text(12, true));
  if (rng.Next() % 8 != 0) {
    rec.mutable_controller()->set_threshold(static_cast<uint32_t>(rng.Next() % 4));
    for (uint64_t k = rng.Next() % 4; k > 0; --k) {
      // Mostly real key sizes, sometimes empty or long ones (a length of two varint bytes).
      size_t size = rng.Next() % 4 == 0 ? rng.Next() % 200 : crypto::kPublicKeyBytes;
      rec.mutable_controller()->add_keys(std::string(size, static_cast<char>(rng.Next())));
    }
  }
  rec.set_custodian(static_cast<uint32_t>(rng.Value()));
  rec.set_flags(static_cast<uint32_t>(rng.Value()));
  rec.set_overdraft_limit(rng.Value());
  rec.set_max_per_transfer(rng.Value());
  rec.set_max_outflow_per_day(rng.Value());
  rec.set_issuer(rng.Next() % 3 == 0);
  rec.set_debits_frozen(rng.Next() % 3 == 0);
  rec.set_credits_frozen(rng.Next() % 3 == 0);
  rec.set_closed(rng.Next() % 3 == 0);
  rec.set_debits_posted(rng.Value());
  rec.set_credits_posted(rng.Value());
  rec.set_debits_pending(rng.Value());
  rec.set_credits_pending(rng.Value());
  rec.set_outflow_day(rng.Value());
  rec.set_outflow_today(rng.Value());
  rec.set_created_height(rng.Value());
  return rec;
}

pb::Transfer RandomTransfer(Rng& rng) {
  pb::Transfer t;
  t.set_id(rng.Text(20, false));
  t.set_debit_account(rng.Text(20, false));
  t.set_credit_account(rng.Text(20, false));
  t.set_amount(rng.Value());
  t.set_uetr(rng.Text(16, false));
  t.set_end_to_end_id(rng.Text(35, true));
  t.set_purpose(rng.Text(4, true));
  t.set_memo(rng.Text(rng.Next() % 2 ? 140 : 300, false));
  t.set_pending(rng.Next() % 2 == 0);
  t.set_timeout_s(rng.Value());
  t.set_hash_lock(rng.Text(32, false));
  return t;
}

void ExpectSameAccount(const AccountFields& f, const pb::AccountRecord& r) {
  EXPECT_EQ(f.id, r.id());
  EXPECT_EQ(f.asset, r.asset());
  EXPECT_EQ(f.has_controller, r.has_controller());
  EXPECT_EQ(f.controller_threshold, r.controller().threshold());
  EXPECT_EQ(f.custodian, r.custodian());
  EXPECT_EQ(f.flags, r.flags());
  EXPECT_EQ(f.overdraft_limit, r.overdraft_limit());
  EXPECT_EQ(f.max_per_transfer, r.max_per_transfer());
  EXPECT_EQ(f.max_outflow_per_day, r.max_outflow_per_day());
  EXPECT_EQ(f.issuer, r.issuer());
  EXPECT_EQ(f.debits_frozen, r.debits_frozen());
  EXPECT_EQ(f.credits_frozen, r.credits_frozen());
  EXPECT_EQ(f.closed, r.closed());
  EXPECT_EQ(f.debits_posted, r.debits_posted());
  EXPECT_EQ(f.credits_posted, r.credits_posted());
  EXPECT_EQ(f.debits_pending, r.debits_pending());
  EXPECT_EQ(f.credits_pending, r.credits_pending());
  EXPECT_EQ(f.outflow_day, r.outflow_day());
  EXPECT_EQ(f.outflow_today, r.outflow_today());
  EXPECT_EQ(f.created_height, r.created_height());
}

// Flips, drops or appends bytes.
void Corrupt(Rng& rng, Bytes& raw) {
  switch (rng.Next() % 3) {
    case 0:
      if (!raw.empty()) raw[rng.Next() % raw.size()] ^= static_cast<uint8_t>(1 + rng.Next() % 255);
      break;
    case 1:
      if (!raw.empty()) raw.resize(rng.Next() % raw.size());
      break;
    default:
      for (uint64_t k = 1 + rng.Next() % 4; k > 0; --k)
        raw.push_back(static_cast<uint8_t>(rng.Next()));
  }
}

// The codecs know every field of the messages they encode: a field added to one of them must be
// added to the codec (ledger_state.cc) before this test passes again.
TEST(RecordCodec, KnowsEveryFieldOfItsMessages) {
  EXPECT_EQ(pb::AccountRecord::descriptor()->field_count(), 19);
  EXPECT_EQ(pb::Controller::descriptor()->field_count(), 2);
  EXPECT_EQ(pb::Transfer::descriptor()->field_count(), 11);
  EXPECT_EQ(pb::TransferRecord::descriptor()->field_count(), 8);
}

TEST(RecordCodec, AccountRoundTripIsProtobufsEncoding) {
  Rng rng(11);
  for (int i = 0; i < 20000; ++i) {
    pb::AccountRecord rec = RandomAccount(rng);
    const Bytes raw = SerializeRecord(rec);
    AccountFields f;
    const bool decoded = DecodeAccountFields(raw, &f);
    // Only a non-ASCII asset is left to protobuf (its UTF-8 check).
    bool ascii = true;
    for (char c : rec.asset())
      ascii = ascii && !(c & 0x80);
    ASSERT_EQ(decoded, ascii) << "#" << i;
    if (!decoded) continue;
    ExpectSameAccount(f, rec);
    Bytes encoded;
    EncodeAccountFields(f, &encoded);
    ASSERT_EQ(encoded, raw) << "#" << i;
    // What a transfer changes, changed in both.
    f.debits_posted = rng.Value();
    f.credits_posted = rng.Value();
    f.debits_pending = rng.Value();
    f.credits_pending = rng.Value();
    f.outflow_day = rng.Value();
    f.outflow_today = rng.Value();
    rec.set_debits_posted(f.debits_posted);
    rec.set_credits_posted(f.credits_posted);
    rec.set_debits_pending(f.debits_pending);
    rec.set_credits_pending(f.credits_pending);
    rec.set_outflow_day(f.outflow_day);
    rec.set_outflow_today(f.outflow_today);
    EncodeAccountFields(f, &encoded);
    ASSERT_EQ(encoded, SerializeRecord(rec)) << "#" << i;
  }
}

// Whatever bytes the decoder accepts, protobuf parses to the same record and re-encodes to the
// same bytes: so the decoder never accepts a corrupt record, never reads one differently, and a
// record it re-encodes keeps every byte it did not change.
TEST(RecordCodec, AccountDecoderAcceptsOnlyProtobufsCanonicalBytes) {
  Rng rng(12);
  size_t accepted = 0, declined = 0;
  for (int i = 0; i < 40000; ++i) {
    Bytes raw = SerializeRecord(RandomAccount(rng));
    Corrupt(rng, raw);
    AccountFields f;
    if (!DecodeAccountFields(raw, &f)) {
      ++declined;
      continue;
    }
    ++accepted;
    pb::AccountRecord parsed;
    ASSERT_TRUE(parsed.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) << "#" << i;
    ASSERT_EQ(SerializeRecord(parsed), raw) << "#" << i;
    ExpectSameAccount(f, parsed);
    Bytes encoded;
    EncodeAccountFields(f, &encoded);
    ASSERT_EQ(encoded, raw) << "#" << i;
  }
  EXPECT_GT(accepted, 1000u);
  EXPECT_GT(declined, 10000u);
}

// Encodings protobuf parses but would not write are declined (the caller then uses protobuf).
TEST(RecordCodec, AccountDecoderDeclinesNonCanonicalEncodings) {
  pb::AccountRecord rec;
  rec.set_id("0123456789abcdef");
  rec.set_asset("USD");
  rec.set_credits_posted(5);
  const Bytes canonical = SerializeRecord(rec);
  AccountFields f;
  ASSERT_TRUE(DecodeAccountFields(canonical, &f));
  auto with = [&canonical](std::initializer_list<uint8_t> extra) {
    Bytes b = canonical;
    b.insert(b.end(), extra);
    return b;
  };
  const std::vector<Bytes> others = {
      with({13 << 3, 0}),                            // a zero written out (debits_posted = 0)
      with({14 << 3 | 0, 0x86, 0x00}),               // credits_posted again, as a padded varint
      with({9 << 3, 2}),                             // issuer = 2 (protobuf reads true, writes 1)
      with({4 << 3, 0x80, 0x80, 0x80, 0x80, 0x10}),  // custodian beyond 32 bits
      with({0xa8, 0x01, 7}),                         // field 21: unknown
      with({1 << 3 | 2, 0}),                         // id again (out of order), empty
  };
  for (size_t i = 0; i < others.size(); ++i) {
    pb::AccountRecord parsed;
    ASSERT_TRUE(parsed.ParseFromArray(others[i].data(), static_cast<int>(others[i].size()))) << i;
    EXPECT_FALSE(DecodeAccountFields(others[i], &f)) << i;
  }
}

TEST(RecordCodec, NewTransferRecordIsProtobufsEncoding) {
  Rng rng(13);
  const pb::TransferState states[] = {pb::TRANSFER_STATE_POSTED, pb::TRANSFER_STATE_PENDING};
  for (int i = 0; i < 20000; ++i) {
    const pb::Transfer op = RandomTransfer(rng);
    pb::TransferRecord rec;
    *rec.mutable_transfer() = op;
    rec.set_state(states[rng.Next() % 2]);
    rec.set_height(rng.Value());
    rec.set_deadline_s(rng.Value());
    Bytes encoded;
    ASSERT_TRUE(EncodeNewTransferRecord(op, rec.state(), rec.height(), rec.deadline_s(), &encoded));
    const Bytes raw = SerializeRecord(rec);
    ASSERT_EQ(encoded, raw) << "#" << i;
    TransferFields t;
    ASSERT_TRUE(DecodeTransferFields(raw, &t)) << "#" << i;
    EXPECT_EQ(t.id, op.id());
    EXPECT_EQ(t.debit_account, op.debit_account());
    EXPECT_EQ(t.credit_account, op.credit_account());
    EXPECT_EQ(t.amount, op.amount());
    EXPECT_EQ(t.state, rec.state());
  }
}

TEST(RecordCodec, NewTransferRecordDeclinesUnknownFields) {
  pb::Transfer op;
  op.set_id("0123456789abcdef");
  op.set_amount(3);
  Bytes with_unknown = SerializeRecord(op);
  with_unknown.insert(with_unknown.end(), {0xf8, 0x01, 9});  // field 31, varint 9
  ASSERT_TRUE(op.ParseFromArray(with_unknown.data(), static_cast<int>(with_unknown.size())));
  Bytes encoded;
  EXPECT_FALSE(EncodeNewTransferRecord(op, pb::TRANSFER_STATE_POSTED, 1, 0, &encoded));
}

// Resolved holds, posts and voids (every field set) decode as protobuf reads them; corruptions
// are declined or read as the record protobuf re-encodes to the same bytes.
TEST(RecordCodec, TransferDecoderAgreesWithProtobuf) {
  Rng rng(14);
  size_t accepted = 0, declined = 0;
  for (int i = 0; i < 40000; ++i) {
    pb::TransferRecord rec;
    *rec.mutable_transfer() = RandomTransfer(rng);
    rec.set_state(static_cast<pb::TransferState>(rng.Next() % 6));
    rec.set_height(rng.Value());
    rec.set_deadline_s(rng.Value());
    rec.set_resolved_height(rng.Value());
    rec.set_posted_amount(rng.Value());
    rec.set_pending_id(rng.Text(16, false));
    rec.set_preimage(rng.Text(64, false));
    Bytes raw = SerializeRecord(rec);
    if (i % 2 == 1) Corrupt(rng, raw);
    TransferFields t;
    if (!DecodeTransferFields(raw, &t)) {
      ASSERT_EQ(i % 2, 1) << "an intact record was declined, #" << i;
      ++declined;
      continue;
    }
    ++accepted;
    pb::TransferRecord parsed;
    ASSERT_TRUE(parsed.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) << "#" << i;
    ASSERT_EQ(SerializeRecord(parsed), raw) << "#" << i;
    EXPECT_EQ(t.id, parsed.transfer().id());
    EXPECT_EQ(t.debit_account, parsed.transfer().debit_account());
    EXPECT_EQ(t.credit_account, parsed.transfer().credit_account());
    EXPECT_EQ(t.amount, parsed.transfer().amount());
    EXPECT_EQ(t.state, parsed.state());
  }
  EXPECT_GT(accepted, 20000u);
  EXPECT_GT(declined, 5000u);
}

// The controller rule over encoded keys is the rule over the message.
TEST(RecordCodec, EncodedControllerKeysAreSatisfiedAsTheMessage) {
  std::vector<crypto::PublicKey> keys;
  for (uint8_t i = 1; i <= 4; ++i) {
    Bytes secret(32, 0);
    secret[31] = i;
    keys.push_back(crypto::PrivateKey::FromBytes(secret)->GetPublicKey());
  }
  Rng rng(15);
  for (int i = 0; i < 2000; ++i) {
    pb::AccountRecord rec;
    rec.set_id("0123456789abcdef");
    for (const auto& k : keys) {
      if (rng.Next() % 2) rec.mutable_controller()->add_keys(ToString(k.span()));
    }
    if (rng.Next() % 5 == 0) rec.mutable_controller()->add_keys("short");
    rec.mutable_controller()->set_threshold(static_cast<uint32_t>(rng.Next() % 4));
    std::vector<crypto::PublicKey> signers;
    for (const auto& k : keys) {
      if (rng.Next() % 2) signers.push_back(k);
    }
    std::sort(signers.begin(), signers.end());
    const Bytes raw = SerializeRecord(rec);
    AccountFields f;
    ASSERT_TRUE(DecodeAccountFields(raw, &f));
    EXPECT_EQ(ControllerSatisfied(f.controller_threshold, f.controller_keys, signers),
              ControllerSatisfied(rec.controller(), signers))
        << "#" << i;
  }
}

}  // namespace
}  // namespace cl::ledger
