#include "ledger/transaction.h"

#include <algorithm>
#include <string>

#include "crypto/sha256.h"
#include "util/assert.h"
#include "util/canonical_proto.h"

namespace cl::ledger {
namespace {

Status FieldError(std::string_view field, std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": " + std::string(what));
}

bool IsAssetCodeChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

Status CheckId(std::string_view field, const std::string& id) {
  if (id.size() != kIdBytes) return FieldError(field, "must be 16 bytes");
  if (!IsRecordId(id)) return FieldError(field, "must not be zero");
  return OkStatus();
}

Status CheckAssetCode(std::string_view field, const std::string& code) {
  if (code.empty() || code.size() > kMaxAssetCodeBytes) {
    return FieldError(field, "must be 1..12 characters");
  }
  if (!IsAssetCode(code)) return FieldError(field, "must use only A-Z 0-9 . _ -");
  return OkStatus();
}

Status CheckTransfer(const pb::Transfer& t) {
  LEDGER_TRY(CheckId("transfer.id", t.id()));
  LEDGER_TRY(CheckId("transfer.debit_account", t.debit_account()));
  LEDGER_TRY(CheckId("transfer.credit_account", t.credit_account()));
  if (t.amount() == 0) return FieldError("transfer.amount", "must be positive");
  if (!t.uetr().empty() && t.uetr().size() != kUetrBytes) {
    return FieldError("transfer.uetr", "must be empty or 16 bytes");
  }
  if (t.end_to_end_id().size() > kMaxEndToEndIdBytes) {
    return FieldError("transfer.end_to_end_id", "longer than 35 bytes");
  }
  if (t.purpose().size() > kMaxPurposeBytes) {
    return FieldError("transfer.purpose", "longer than 4 bytes");
  }
  if (t.memo().size() > kMaxMemoBytes) {
    return FieldError("transfer.memo", "longer than kMaxMemoBytes (140)");
  }
  if (t.pending()) {
    if (t.timeout_s() == 0 || t.timeout_s() > kMaxHoldTimeoutS) {
      return FieldError("transfer.timeout_s", "must be 1..2592000 seconds for a pending transfer");
    }
    if (!t.hash_lock().empty() && t.hash_lock().size() != kHashLockBytes) {
      return FieldError("transfer.hash_lock", "must be empty or 32 bytes");
    }
  } else if (t.timeout_s() != 0 || !t.hash_lock().empty()) {
    return FieldError("transfer.timeout_s", "timeout and hash_lock are only for pending transfers");
  }
  return OkStatus();
}

// Why signature i failed. A high-S signature is refused by the low-S rule alone (so that no
// signature is malleable), which the message names: a signer whose library emits high-S
// signatures must normalise s to n - s, and "does not verify" would send them looking for a wrong
// key or digest instead.
std::unexpected<Error> SignatureError(size_t i, const crypto::Signature& sig) {
  const std::string field = "envelope.signatures[" + std::to_string(i) + "]";
  if (crypto::IsHighS(sig)) {
    return MakeError(ErrorCode::kUnauthenticated,
                     field + ".signature: high-S (s > n/2); only low-S signatures are accepted");
  }
  return MakeError(ErrorCode::kUnauthenticated, field + ": does not verify");
}

}  // namespace

bool IsRecordId(std::string_view id) {
  return id.size() == kIdBytes && !std::all_of(id.begin(), id.end(), [](char c) { return c == 0; });
}

bool IsAssetCode(std::string_view code) {
  return !code.empty() && code.size() <= kMaxAssetCodeBytes &&
         std::all_of(code.begin(), code.end(), IsAssetCodeChar);
}

Status ValidateController(const pb::Controller& c) {
  if (c.keys_size() == 0 || static_cast<size_t>(c.keys_size()) > kMaxControllerKeys) {
    return FieldError("controller.keys", "must hold 1..16 keys");
  }
  if (c.threshold() == 0 || c.threshold() > static_cast<uint32_t>(c.keys_size())) {
    return FieldError("controller.threshold", "must be 1..number of keys");
  }
  std::vector<std::string> seen;
  for (const auto& k : c.keys()) {
    if (!crypto::PublicKey::Parse(AsSpan(k))) {
      return FieldError("controller.keys", "not a 33-byte compressed secp256k1 key");
    }
    if (std::find(seen.begin(), seen.end(), k) != seen.end()) {
      return FieldError("controller.keys", "duplicate key");
    }
    seen.push_back(k);
  }
  return OkStatus();
}

Status ValidateOperation(const pb::Operation& op) {
  switch (op.kind_case()) {
    case pb::Operation::kCreateAccount: {
      const auto& a = op.create_account();
      LEDGER_TRY(CheckId("create_account.id", a.id()));
      LEDGER_TRY(CheckAssetCode("create_account.asset", a.asset()));
      LEDGER_TRY(ValidateController(a.controller()));
      if (a.custodian() == 0) return FieldError("create_account.custodian", "must be non-zero");
      if ((a.flags() & ~uint32_t{pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS}) != 0) {
        return FieldError("create_account.flags", "unknown flag bits");
      }
      return OkStatus();
    }
    case pb::Operation::kSetFreeze:
      return CheckId("set_freeze.account", op.set_freeze().account());
    case pb::Operation::kChangeController:
      LEDGER_TRY(CheckId("change_controller.account", op.change_controller().account()));
      return ValidateController(op.change_controller().controller());
    case pb::Operation::kCloseAccount:
      return CheckId("close_account.account", op.close_account().account());
    case pb::Operation::kTransfer:
      return CheckTransfer(op.transfer());
    case pb::Operation::kPostPending: {
      const auto& p = op.post_pending();
      LEDGER_TRY(CheckId("post_pending.id", p.id()));
      LEDGER_TRY(CheckId("post_pending.pending_id", p.pending_id()));
      if (p.preimage().size() > kMaxPreimageBytes) {
        return FieldError("post_pending.preimage", "longer than 64 bytes");
      }
      return OkStatus();
    }
    case pb::Operation::kVoidPending:
      LEDGER_TRY(CheckId("void_pending.id", op.void_pending().id()));
      return CheckId("void_pending.pending_id", op.void_pending().pending_id());
    case pb::Operation::kCreateAsset: {
      const auto& a = op.create_asset();
      LEDGER_TRY(CheckAssetCode("create_asset.code", a.code()));
      if (a.scale() > kMaxAssetScale) return FieldError("create_asset.scale", "must be <= 18");
      if (a.issuer() == 0) return FieldError("create_asset.issuer", "must be non-zero");
      LEDGER_TRY(CheckId("create_asset.issuer_account", a.issuer_account()));
      return ValidateController(a.issuer_controller());
    }
    case pb::Operation::kAddMember: {
      const auto& m = op.add_member();
      if (m.id() == 0) return FieldError("add_member.id", "must be non-zero");
      if (m.name().empty() || m.name().size() > kMaxMemberNameBytes) {
        return FieldError("add_member.name", "must be 1..64 bytes");
      }
      if (m.roles() & ~uint32_t{15}) return FieldError("add_member.roles", "unknown role bits");
      if (!crypto::PublicKey::Parse(AsSpan(m.node_key()))) {
        return FieldError("add_member.node_key", "not a 33-byte compressed secp256k1 key");
      }
      return ValidateController(m.governance());
    }
    case pb::Operation::kChangeRoles:
      if (op.change_roles().id() == 0) return FieldError("change_roles.id", "must be non-zero");
      if (op.change_roles().roles() & ~uint32_t{15}) {
        return FieldError("change_roles.roles", "unknown role bits");
      }
      return OkStatus();
    case pb::Operation::kRemoveMember:
      if (op.remove_member().id() == 0) return FieldError("remove_member.id", "must be non-zero");
      return OkStatus();
    case pb::Operation::kRotateNodeKey:
      if (op.rotate_node_key().id() == 0)
        return FieldError("rotate_node_key.id", "must be non-zero");
      if (!crypto::PublicKey::Parse(AsSpan(op.rotate_node_key().node_key()))) {
        return FieldError("rotate_node_key.node_key", "not a 33-byte compressed secp256k1 key");
      }
      return OkStatus();
    case pb::Operation::kSetGovernanceThreshold:
      if (op.set_governance_threshold().threshold() == 0) {
        return FieldError("set_governance_threshold.threshold", "must be non-zero");
      }
      return OkStatus();
    case pb::Operation::KIND_NOT_SET:
      break;
  }
  return FieldError("operation", "no operation set");
}

Result<ParsedTx> ParseTransaction(ByteSpan envelope, std::string_view chain_id) {
  if (envelope.size() > kMaxTxEnvelopeBytes) {
    return MakeError(ErrorCode::kResourceExhausted, "envelope is " +
                                                        std::to_string(envelope.size()) +
                                                        " bytes, over kMaxTxEnvelopeBytes (65536)");
  }
  // Strict: the envelope's bytes are what a block's witness_root commits to and what is stored,
  // and its body's bytes are what is signed; an unknown field or a second encoding of the same
  // message would be bytes no signature and no check looked at (docs/transactions.md).
  pb::TxEnvelope env;
  LEDGER_TRY(ParseCanonical(env, envelope, "envelope"));
  if (env.signatures_size() == 0) {
    return MakeError(ErrorCode::kUnauthenticated, "envelope.signatures: none");
  }
  if (static_cast<size_t>(env.signatures_size()) > kMaxSignaturesPerTx) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "envelope.signatures: " + std::to_string(env.signatures_size()) +
                         " over kMaxSignaturesPerTx (16)");
  }
  ParsedTx out;
  out.envelope_bytes = envelope.size();
  for (int i = 0; i < env.signatures_size(); ++i) {
    const auto& s = env.signatures(i);
    auto key = crypto::PublicKey::Parse(AsSpan(s.public_key()));
    if (!key) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "envelope.signatures[" + std::to_string(i) + "].public_key: invalid");
    }
    auto sig = crypto::Signature::FromSpan(AsSpan(s.signature()));
    if (!sig) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "envelope.signatures[" + std::to_string(i) + "].signature: not 64 bytes");
    }
    if (std::find(out.keys.begin(), out.keys.end(), *key) != out.keys.end()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "envelope.signatures[" + std::to_string(i) + "]: duplicate signer");
    }
    out.keys.push_back(*key);
    out.signatures.push_back(*sig);
  }
  LEDGER_TRY(ParseCanonical(out.body, env.body(), "envelope.body"));
  if (out.body.chain_id() != chain_id) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "body.chain_id: '" + out.body.chain_id() + "' is not this chain");
  }
  if (out.body.valid_until_height() == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "body.valid_until_height: required");
  }
  if (out.body.operations_size() == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "body.operations: empty");
  }
  if (static_cast<size_t>(out.body.operations_size()) > kMaxOpsPerTx) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "body.operations: " + std::to_string(out.body.operations_size()) +
                         " over kMaxOpsPerTx (64)");
  }
  for (int i = 0; i < out.body.operations_size(); ++i) {
    auto st = ValidateOperation(out.body.operations(i));
    if (!st) {
      return MakeError(st.error().code,
                       "body.operations[" + std::to_string(i) + "]." + st.error().message);
    }
  }
  if (out.body.operations(out.body.operations_size() - 1).linked()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "body.operations: the last operation must not be linked (open chain)");
  }
  ByteSpan body_bytes = AsSpan(env.body());
  out.signing_digest = crypto::SignedDigest(crypto::Domain::kTransaction, chain_id, body_bytes);
  out.tx_id = crypto::SignedDigest(crypto::Domain::kTxId, chain_id, body_bytes);
  return out;
}

VerifiedTx::VerifiedTx(ParsedTx&& parsed)
    : tx_id_(parsed.tx_id), body_(std::move(parsed.body)), signers_(std::move(parsed.keys)) {
  std::sort(signers_.begin(), signers_.end());
}

bool VerifiedTx::SignedBy(const crypto::PublicKey& key) const {
  return std::binary_search(signers_.begin(), signers_.end(), key);
}

Result<VerifiedTx> VerifyTransaction(ParsedTx parsed) {
  for (size_t i = 0; i < parsed.signatures.size(); ++i) {
    if (!crypto::Verify(parsed.keys[i], parsed.signing_digest, parsed.signatures[i])) {
      return SignatureError(i, parsed.signatures[i]);
    }
  }
  return VerifiedTx(std::move(parsed));
}

Result<VerifiedTx> AcceptBatchVerdict(ParsedTx parsed, std::span<const bool> sig_ok) {
  if (sig_ok.size() != parsed.signatures.size()) {
    return MakeError(ErrorCode::kInternal, "batch verdict: wrong number of verdicts");
  }
  for (size_t i = 0; i < sig_ok.size(); ++i) {
    if (!sig_ok[i]) return SignatureError(i, parsed.signatures[i]);
  }
  return VerifiedTx(std::move(parsed));
}

Result<VerifiedTx> VerifyEnvelope(ByteSpan envelope, std::string_view chain_id) {
  auto parsed = ParseTransaction(envelope, chain_id);
  if (!parsed) return std::unexpected(parsed.error());
  return VerifyTransaction(std::move(*parsed));
}

Bytes SignTransaction(const pb::TxBody& body, std::span<const crypto::PrivateKey> keys) {
  std::string body_bytes;
  LEDGER_ASSERT(body.SerializeToString(&body_bytes));
  Hash32 digest =
      crypto::SignedDigest(crypto::Domain::kTransaction, body.chain_id(), AsSpan(body_bytes));
  pb::TxEnvelope env;
  env.set_body(body_bytes);
  for (const auto& key : keys) {
    auto* s = env.add_signatures();
    crypto::PublicKey pub = key.GetPublicKey();
    crypto::Signature sig = key.Sign(digest);
    s->set_public_key(std::string(AsStringView(pub.span())));
    s->set_signature(std::string(AsStringView(sig.span())));
  }
  std::string out;
  LEDGER_ASSERT(env.SerializeToString(&out));
  return ToBytes(out);
}

bool ControllerSatisfied(const pb::Controller& controller,
                         const std::vector<crypto::PublicKey>& sorted_signers) {
  // Controller keys were validated (parsed, distinct) when stored, so bytes are compared without
  // re-parsing the curve point, which would cost more than the rest of a transfer.
  uint32_t approvals = 0;
  for (const auto& k : controller.keys()) {
    if (k.size() != crypto::kPublicKeyBytes) continue;
    crypto::PublicKey key;
    std::copy(k.begin(), k.end(), key.bytes.begin());
    if (std::binary_search(sorted_signers.begin(), sorted_signers.end(), key)) ++approvals;
  }
  return controller.threshold() > 0 && approvals >= controller.threshold();
}

bool ControllerSatisfied(uint32_t threshold, ByteSpan encoded_keys,
                         const std::vector<crypto::PublicKey>& sorted_signers) {
  // Entries are `0x12 || varint length || key`. A stored key is 33 bytes (one length byte); any
  // other length is skipped, as above.
  constexpr uint8_t kKeysTag = 2 << 3 | 2;
  uint32_t approvals = 0;
  ByteReader reader(encoded_keys);
  while (!reader.done()) {
    auto tag = reader.U8();
    auto size = reader.Varint();
    LEDGER_ASSERT(tag && *tag == kKeysTag && size);  // DecodeAccountFields checked the entries
    auto key_bytes = reader.Take(static_cast<size_t>(*size));
    LEDGER_ASSERT(key_bytes.has_value());
    if (key_bytes->size() != crypto::kPublicKeyBytes) continue;
    crypto::PublicKey key;
    std::copy(key_bytes->begin(), key_bytes->end(), key.bytes.begin());
    if (std::binary_search(sorted_signers.begin(), sorted_signers.end(), key)) ++approvals;
  }
  return threshold > 0 && approvals >= threshold;
}

}  // namespace cl::ledger
