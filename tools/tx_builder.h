// Client-side transaction building for ledgerctl: turns an operation described as a JSON object
// (from command-line flags or from a legs file, docs/cli.md "Legs file") into a ledger operation,
// assembles a body, and signs it. Every error is one line naming the offending field, e.g.
//   "legs[1].amount: not a decimal string of minor units".
//
// Thread safety: pure functions (random ids come from the OS), safe from any thread.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "ledger/ledger.pb.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::tools {

namespace json = boost::json;

// Default validity window when --valid-until-height is not given: current height + this.
inline constexpr uint64_t kDefaultValidityBlocks = 1000;

// The operation names accepted in "op" (and as `ledgerctl tx <name>`):
//   create-account, freeze, unfreeze, set-freeze, change-controller, close-account, transfer,
//   post, void, create-asset, add-member, change-roles.
// Fields are documented in docs/cli.md. Ids left out are drawn at random; `path` prefixes every
// error message ("legs[0]" or "--" style names from the command line).
Result<ledger::pb::Operation> OperationFromJson(const json::object& leg, const std::string& path);

// A legs file: {"linked": true (default), "legs": [ {op...}, ... ]} or a bare array of legs.
// With linked, every leg but the last carries the linked flag (all-or-none).
Result<std::vector<ledger::pb::Operation>> ParseLegs(std::string_view json_text);

// The 16-byte id an operation names (account, transfer, post or void id), or empty.
Bytes OperationId(const ledger::pb::Operation& op);
// "transfer", "post", ...: the oneof's name as used in "op".
std::string OperationName(const ledger::pb::Operation& op);

struct BodyOptions {
  std::string chain_id;
  uint64_t valid_until_height = 0;  // required, >= 1
  uint64_t valid_until_time_ms = 0;
  uint64_t nonce = 0;  // 0: a random nonce
};
Result<ledger::pb::TxBody> BuildBody(const BodyOptions& options,
                                     std::vector<ledger::pb::Operation> ops);

// Signs and returns the envelope bytes with its tx id (checked by ledger::ParseTransaction).
struct SignedTx {
  Bytes envelope;
  Hash32 tx_id;
};
Result<SignedTx> SignBody(const ledger::pb::TxBody& body,
                          const std::vector<crypto::PrivateKey>& keys);

// Field parsers, exposed for tests.
Result<uint64_t> ParseAmount(std::string_view text, const std::string& field);
Result<Bytes> ParseId16(std::string_view hex, const std::string& field);      // 32 hex digits, != 0
Result<Bytes> ParseUetr(std::string_view text, const std::string& field);     // UUID or 32 hex
Result<uint32_t> ParseRoles(const json::value& v, const std::string& field);  // "a,b" or [..]

}  // namespace cl::tools
