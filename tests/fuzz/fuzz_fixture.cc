#include "tests/fuzz/fuzz_fixture.h"

#include <boost/json.hpp>
#include <fstream>
#include <iterator>

#include "crypto/sha256.h"
#include "ledger/transaction.h"
#include "util/assert.h"
#include "util/hex.h"

namespace cl::fuzz {
namespace {

namespace json = boost::json;

constexpr uint32_t kBanks = 4;
constexpr uint32_t kPartners = 1;

Bytes AccountId(uint8_t first, uint32_t n) {
  Bytes id(16, 0);
  id[0] = first;
  id[12] = static_cast<uint8_t>(n >> 24);
  id[13] = static_cast<uint8_t>(n >> 16);
  id[14] = static_cast<uint8_t>(n >> 8);
  id[15] = static_cast<uint8_t>(n);
  return id;
}

Consortium* MakeConsortium() {
  auto generated = genesis::GenerateLocalConsortium(kFuzzChainId, kBanks, kPartners, 1'000);
  LEDGER_ASSERT(generated.has_value());
  json::value root = json::parse(generated->genesis_json);
  auto* c = new Consortium();
  for (uint32_t i = 0; i < kBanks + kPartners; ++i) {
    c->node_keys.push_back(FixedKey("node", i));
    c->gov_keys.push_back(FixedKey("gov", i));
  }
  // Replace the generated keys with the fixed ones (members are in id order, banks first; each
  // bank's issuer account is controlled by its governance key, as generated).
  json::array& members = root.at("members").as_array();
  LEDGER_ASSERT(members.size() == kBanks + kPartners);
  for (uint32_t i = 0; i < members.size(); ++i) {
    members[i].as_object()["node_key"] = c->node_keys[i].GetPublicKey().ToHex();
    members[i].as_object()["governance"] = c->gov_keys[i].GetPublicKey().ToHex();
  }
  json::array& accounts = root.at("accounts").as_array();
  LEDGER_ASSERT(accounts.size() == kBanks);
  for (uint32_t i = 0; i < accounts.size(); ++i)
    accounts[i].as_object()["controller"] = c->gov_keys[i].GetPublicKey().ToHex();
  c->genesis_json = json::serialize(root);
  auto loaded = genesis::LoadGenesis(c->genesis_json);
  LEDGER_ASSERT(loaded.has_value());
  c->genesis = std::move(*loaded);
  for (const genesis::Validator& v : c->genesis.validators)
    c->validator_keys.push_back(v.node_key);
  return c;
}

ledger::pb::TxBody BodyFor(uint64_t nonce) {
  ledger::pb::TxBody body;
  body.set_chain_id(std::string(kFuzzChainId));
  body.set_valid_until_height(1'000);
  body.set_nonce(nonce);
  return body;
}

class MemoisingVerifier final : public consensus::SignatureVerifier {
 public:
  bool Verify(const crypto::PublicKey& key, const Hash32& digest,
              const crypto::Signature& sig) override {
    crypto::Sha256 h;
    h.Update(key.span()).Update(digest.span()).Update(sig.span());
    const Hash32 k = h.Final();
    if (const bool* ok = verdicts_.Find(k)) return *ok;
    return verdicts_.Put(k, crypto::Verify(key, digest, sig));
  }

 private:
  FixedMemo<bool> verdicts_{1u << 16};
};

}  // namespace

consensus::SignatureVerifier& MemoVerifier() {
  static auto* verifier = new MemoisingVerifier();
  return *verifier;
}

crypto::PrivateKey FixedKey(std::string_view label, uint32_t index) {
  std::string text(label);
  text.append("-");
  text.append(std::to_string(index));
  Hash32 secret = crypto::Sha256Of(AsSpan(text));
  return *crypto::PrivateKey::FromBytes(secret.span());
}

const Consortium& FixedConsortium() {
  static const Consortium* consortium = MakeConsortium();
  return *consortium;
}

Bytes CreateAccountTx(uint32_t n) {
  ledger::pb::TxBody body = BodyFor(n);
  auto* create = body.add_operations()->mutable_create_account();
  const Bytes id = AccountId(0, n);
  create->set_id(id.data(), id.size());
  create->set_asset("USD.1");
  create->set_custodian(1);
  auto* controller = create->mutable_controller();
  controller->set_threshold(1);
  const auto pub = FixedKey("user", 0).GetPublicKey();
  controller->add_keys(pub.bytes.data(), pub.bytes.size());
  const crypto::PrivateKey key = FixedKey("user", 0);
  return ledger::SignTransaction(body, std::span<const crypto::PrivateKey>(&key, 1));
}

Bytes IssueTx(uint32_t n, uint64_t amount) {
  ledger::pb::TxBody body = BodyFor(1'000'000 + n);
  auto* transfer = body.add_operations()->mutable_transfer();
  const Bytes id = AccountId(0x77, n), from = AccountId(0xff, 1), to = AccountId(0, n);
  transfer->set_id(id.data(), id.size());
  transfer->set_debit_account(from.data(), from.size());
  transfer->set_credit_account(to.data(), to.size());
  transfer->set_amount(amount);
  const crypto::PrivateKey& key = FixedConsortium().gov_keys[0];
  return ledger::SignTransaction(body, std::span<const crypto::PrivateKey>(&key, 1));
}

Bytes ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace cl::fuzz
