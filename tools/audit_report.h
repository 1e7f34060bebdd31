// What `ledger-audit` prints for a verified bundle (docs/proofs.md): the fact as one sentence and
// as JSON. Both are rendered from ledger::VerifiedFacts alone, i.e. from values the verifier
// checked, never from the bundle's claims; ids are hex, only asset codes (checked against the
// asset-code rule) are text. JSON keys and enum spellings are the RPC's (docs/rpc.md): the
// `account`, `transfer`, `asset` and `receipt` objects have exactly the keys of get_account,
// get_transfer, get_asset and get_tx's receipt (tests/unit/tools/audit_test.cc compares them).
//
// Thread safety: pure functions.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "ledger/proof_bundle.h"

namespace cl::tools {

// "account" ... "asset_supply": the RPC's get_proof kind names.
std::string_view BundleKindName(ledger::pb::BundleKind kind);

// The verified fact in plain words (after "VERIFIED: "); "at height H in epoch k" once the
// validator set has changed.
std::string AuditStatement(const ledger::VerifiedFacts& facts);

// The verified chain of validator-set changes, one object per change in order: epoch, height
// (the block that scheduled it), activation_height, validators, validator_set_hash, signers (of
// the previous epoch's previous_validators). Empty in epoch 0.
boost::json::array EpochChainJson(const ledger::VerifiedFacts& facts);

// The verified fact as one JSON object: {"ok":true,"kind",...,"epoch","epochs":[...],...,
// "checks":[...],"statement"}.
std::string AuditJson(const ledger::VerifiedFacts& facts);

// A failed verification as JSON: {"ok":false,"error":MESSAGE}.
std::string AuditFailureJson(const std::string& message);

}  // namespace cl::tools
