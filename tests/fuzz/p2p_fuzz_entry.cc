#include "tests/fuzz/p2p_fuzz_entry.h"

#include <algorithm>

#include "p2p/session.h"
#include "util/assert.h"

namespace cl::p2p::fuzz {
namespace {

constexpr std::string_view kChainId = "fuzz-chain";
constexpr size_t kSplits[] = {1, 3, 64, SIZE_MAX};

crypto::PrivateKey FixedKey(uint8_t seed) {
  Bytes raw(32, 0x22);
  raw[31] = seed;
  return *crypto::PrivateKey::FromBytes(raw);
}

// Checks the session's promises while the fuzzer drives it.
struct CheckingSink : SessionSink {
  explicit CheckingSink(const Session& s, const crypto::PublicKey& expected)
      : session(s), expected_peer(expected) {}
  Status OnEstablished(const crypto::PublicKey& peer) override {
    LEDGER_ASSERT(!established);
    LEDGER_ASSERT(peer == expected_peer);  // the only member that can sign
    established = true;
    return OkStatus();
  }
  void OnMessage(ByteSpan message) override {
    LEDGER_ASSERT(established && session.established());  // never before Auth verified
    LEDGER_ASSERT(message.size() <= kMaxMessageBytes);
  }
  void OnKeepalive() override { LEDGER_ASSERT(established); }
  const Session& session;
  crypto::PublicKey expected_peer;
  bool established = false;
};

struct Keys {
  crypto::PrivateKey initiator = FixedKey(1), responder = FixedKey(2);
  crypto::PrivateKey initiator_ephemeral = FixedKey(3), responder_ephemeral = FixedKey(4);
  StaticMembership members{{initiator.GetPublicKey(), responder.GetPublicKey()}};
};

const Keys& FixedKeys() {
  static const Keys* keys = new Keys();
  return *keys;
}

}  // namespace

int FuzzSessionInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Keys& k = FixedKeys();
  Session responder(Role::kResponder, Identity::FromPrivateKey(k.responder), std::string(kChainId),
                    &k.members, k.responder_ephemeral);
  (void)responder.Start();
  CheckingSink sink(responder, k.initiator.GetPublicKey());
  const size_t split = kSplits[data[0] % std::size(kSplits)];
  ByteSpan rest(data + 1, size - 1);
  Bytes to_send;
  for (size_t i = 0; i < rest.size(); i += split) {
    auto st = responder.Receive(rest.subspan(i, std::min(split, rest.size() - i)), sink, to_send);
    if (!st) {
      LEDGER_ASSERT(!st.error().message.empty());            // every close has a reason to log
      LEDGER_ASSERT(!responder.Receive({}, sink, to_send));  // and stays closed
      break;
    }
  }
  return 0;
}

Bytes ValidInitiatorStream(uint8_t split, size_t messages_count) {
  const Keys& k = FixedKeys();
  Session initiator(Role::kInitiator, Identity::FromPrivateKey(k.initiator), std::string(kChainId),
                    &k.members, k.initiator_ephemeral);
  Session responder(Role::kResponder, Identity::FromPrivateKey(k.responder), std::string(kChainId),
                    &k.members, k.responder_ephemeral);
  struct Quiet : SessionSink {
    Status OnEstablished(const crypto::PublicKey&) override { return OkStatus(); }
    void OnMessage(ByteSpan) override {}
  } quiet;
  Bytes stream = {split};
  Bytes hello = initiator.Start(), responder_out = responder.Start(), initiator_out;
  Append(stream, hello);
  LEDGER_ASSERT(responder.Receive(hello, quiet, responder_out));          // += the responder's Auth
  LEDGER_ASSERT(initiator.Receive(responder_out, quiet, initiator_out));  // the initiator's Auth
  LEDGER_ASSERT(initiator.established());
  Append(stream, initiator_out);
  for (size_t i = 0; i < messages_count; ++i)
    LEDGER_ASSERT(initiator.SealMessage(Bytes(i * 7, static_cast<uint8_t>(i)), stream));
  LEDGER_ASSERT(initiator.SealKeepalive(stream));
  return stream;
}

std::vector<Bytes> SeedInputs() {
  std::vector<Bytes> seeds;
  for (uint8_t split = 0; split < 4; ++split)
    seeds.push_back(ValidInitiatorStream(split, 3));
  seeds.push_back(ValidInitiatorStream(3, 0));
  Bytes hello_only = ValidInitiatorStream(3, 0);
  hello_only.resize(1 + kFrameHeaderBytes + LoadU32BE(hello_only.data() + 1));
  seeds.push_back(hello_only);
  return seeds;
}

}  // namespace cl::p2p::fuzz
