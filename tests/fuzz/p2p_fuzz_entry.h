// The p2p handshake + frame decoder fuzz entry, shared by the libFuzzer target p2p_session_fuzzer
// (tests/fuzz/fuzz_target.cc, clang only) and the gtest that replays a corpus and random inputs
// under g++ (tests/unit/p2p/fuzz_replay_test.cc).
//
// Input: byte 0 picks how the rest is split into Receive calls (1, 3, 64 bytes, or whole); the rest
// is what a dialing peer sends to a fresh listening Session with fixed keys. Keys and ephemerals
// are fixed, so a valid stream (ValidInitiatorStream) is a fixed byte string the fuzzer can mutate,
// and mutations reach the sealed-frame decoder, not only the Hello parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "util/bytes.h"

namespace cl::p2p::fuzz {

// Runs one input; aborts (LEDGER_ASSERT) if the session breaks an invariant, returns 0 otherwise.
int FuzzSessionInput(const uint8_t* data, size_t size);

// A complete valid input: split byte, the initiator's Hello and Auth, then messages_count
// application messages and a keepalive.
Bytes ValidInitiatorStream(uint8_t split, size_t messages_count);

// The seeds committed under tests/fuzz/corpus/p2p_session (see fuzz_replay_test.cc to regenerate).
std::vector<Bytes> SeedInputs();

}  // namespace cl::p2p::fuzz
