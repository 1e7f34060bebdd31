#include "tools/tx_builder.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "crypto/sha256.h"
#include "ledger/transaction.h"
#include "util/hex.h"

// Binds `var` to the value of a Result-yielding expression or returns its error.
#define CTL_ASSIGN(var, expr)                                        \
  auto var##_result_ = (expr);                                       \
  if (!var##_result_) return std::unexpected(var##_result_.error()); \
  auto var = std::move(*var##_result_)

namespace cl::tools {
namespace {

namespace pb = ledger::pb;

Error Bad(const std::string& field, const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, field + ": " + what).error();
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Reads a leg's fields and remembers which were used, so unknown (mistyped) ones are reported.
class Fields {
 public:
  Fields(const json::object& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  std::string Name(std::string_view key) const { return Join(path_, key); }
  bool Has(std::string_view key) {
    used_.insert(std::string(key));
    return obj_.contains(key);
  }
  const json::value* Get(std::string_view key) {
    used_.insert(std::string(key));
    return obj_.if_contains(key);
  }
  Result<std::string> String(std::string_view key, bool required) {
    const json::value* v = Get(key);
    if (v == nullptr) {
      if (required) return std::unexpected(Bad(Name(key), "required"));
      return std::string();
    }
    if (!v->is_string()) return std::unexpected(Bad(Name(key), "must be a string"));
    return std::string(v->get_string());
  }
  // A u64 as a JSON integer or a decimal string.
  Result<uint64_t> Uint(std::string_view key, bool required, uint64_t max = UINT64_MAX) {
    const json::value* v = Get(key);
    if (v == nullptr) {
      if (required) return std::unexpected(Bad(Name(key), "required"));
      return 0;
    }
    uint64_t out = 0;
    if (v->is_uint64()) {
      out = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      out = static_cast<uint64_t>(v->get_int64());
    } else if (v->is_string()) {
      CTL_ASSIGN(parsed, ParseAmount(v->get_string(), Name(key)));
      out = parsed;
    } else {
      return std::unexpected(Bad(Name(key), "must be a non-negative integer or decimal string"));
    }
    if (out > max) return std::unexpected(Bad(Name(key), "at most " + std::to_string(max)));
    return out;
  }
  Result<bool> Bool(std::string_view key, bool fallback) {
    const json::value* v = Get(key);
    if (v == nullptr) return fallback;
    if (!v->is_bool()) return std::unexpected(Bad(Name(key), "must be true or false"));
    return v->get_bool();
  }
  // A 16-byte id in hex; random when absent and allowed.
  Result<Bytes> Id(std::string_view key, bool random_if_absent) {
    const json::value* v = Get(key);
    if (v == nullptr) {
      if (!random_if_absent) return std::unexpected(Bad(Name(key), "required"));
      Bytes id(ledger::kIdBytes);
      do {
        crypto::RandomBytes(id.data(), id.size());
      } while (std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; }));
      return id;
    }
    if (!v->is_string()) return std::unexpected(Bad(Name(key), "must be a hex string"));
    return ParseId16(v->get_string(), Name(key));
  }
  Result<Bytes> Hex(std::string_view key, size_t exact_bytes, size_t max_bytes) {
    const json::value* v = Get(key);
    if (v == nullptr) return Bytes();
    if (!v->is_string()) return std::unexpected(Bad(Name(key), "must be a hex string"));
    auto bytes = FromHex(v->get_string());
    if (!bytes) return std::unexpected(Bad(Name(key), "not hex"));
    if (exact_bytes != 0 && bytes->size() != exact_bytes)
      return std::unexpected(Bad(Name(key), "must be " + std::to_string(exact_bytes) + " bytes"));
    if (max_bytes != 0 && bytes->size() > max_bytes)
      return std::unexpected(Bad(Name(key), "longer than " + std::to_string(max_bytes) + " bytes"));
    return std::move(*bytes);
  }
  Result<pb::Controller> Controller(std::string_view key) {
    const json::value* v = Get(key);
    if (v == nullptr) return std::unexpected(Bad(Name(key), "required"));
    pb::Controller c;
    std::vector<std::string> keys;
    if (v->is_string()) {
      keys.emplace_back(v->get_string());
      c.set_threshold(1);
    } else if (v->is_object()) {
      const json::object& o = v->get_object();
      for (const auto& [k, unused] : o) {
        (void)unused;
        if (k != "threshold" && k != "keys")
          return std::unexpected(Bad(Name(key), "unknown field " + std::string(k)));
      }
      const json::value* t = o.if_contains("threshold");
      const json::value* ks = o.if_contains("keys");
      if (ks == nullptr || !ks->is_array() || ks->get_array().empty())
        return std::unexpected(Bad(Name(key) + ".keys", "must be a non-empty array of hex keys"));
      for (const json::value& k : ks->get_array()) {
        if (!k.is_string()) return std::unexpected(Bad(Name(key) + ".keys", "must be hex strings"));
        keys.emplace_back(k.get_string());
      }
      uint64_t threshold = 1;
      if (t != nullptr) {
        if (!t->is_int64() && !t->is_uint64())
          return std::unexpected(Bad(Name(key) + ".threshold", "must be an integer"));
        threshold = t->to_number<uint64_t>();
      }
      if (threshold == 0 || threshold > keys.size())
        return std::unexpected(
            Bad(Name(key) + ".threshold", "must be 1.." + std::to_string(keys.size())));
      c.set_threshold(static_cast<uint32_t>(threshold));
    } else {
      return std::unexpected(
          Bad(Name(key), "must be a public key in hex or {\"threshold\": k, \"keys\": [...]}"));
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      auto pub = crypto::PublicKey::FromHex(keys[i]);
      if (!pub)
        return std::unexpected(
            Bad(Name(key),
                "key " + std::to_string(i) + " is not a 33-byte compressed public key in hex"));
      c.add_keys(std::string(pub->bytes.begin(), pub->bytes.end()));
    }
    return c;
  }
  Status CheckNoUnknown() const {
    for (const auto& [k, unused] : obj_) {
      (void)unused;
      if (!used_.contains(std::string(k))) return std::unexpected(Bad(Name(k), "unknown field"));
    }
    return OkStatus();
  }

 private:
  const json::object& obj_;
  std::string path_;
  std::set<std::string> used_;
};

std::string Str(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

Result<pb::Operation> BuildOp(const std::string& name, Fields& f) {
  pb::Operation op;
  if (name == "create-account" || name == "create_account") {
    auto* a = op.mutable_create_account();
    CTL_ASSIGN(id, f.Id("id", true));
    CTL_ASSIGN(asset, f.String("asset", true));
    CTL_ASSIGN(controller, f.Controller("controller"));
    CTL_ASSIGN(custodian, f.Uint("custodian", true, UINT32_MAX));
    CTL_ASSIGN(no_overdraft, f.Bool("debits_must_not_exceed_credits", false));
    CTL_ASSIGN(overdraft, f.Uint("overdraft_limit", false));
    CTL_ASSIGN(max_per, f.Uint("max_per_transfer", false));
    CTL_ASSIGN(max_day, f.Uint("max_outflow_per_day", false));
    a->set_id(Str(id));
    a->set_asset(asset);
    *a->mutable_controller() = controller;
    a->set_custodian(static_cast<uint32_t>(custodian));
    a->set_flags(no_overdraft ? pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS : 0);
    a->set_overdraft_limit(overdraft);
    a->set_max_per_transfer(max_per);
    a->set_max_outflow_per_day(max_day);
  } else if (name == "freeze" || name == "unfreeze" || name == "set-freeze" ||
             name == "set_freeze") {
    auto* s = op.mutable_set_freeze();
    CTL_ASSIGN(account, f.Id("account", false));
    s->set_account(Str(account));
    if (name == "freeze") {
      CTL_ASSIGN(debits, f.Bool("debits", false));
      CTL_ASSIGN(credits, f.Bool("credits", false));
      if (!debits && !credits) debits = credits = true;  // neither named: freeze both
      s->set_debits_frozen(debits);
      s->set_credits_frozen(credits);
    } else if (name == "unfreeze") {
      s->set_debits_frozen(false);
      s->set_credits_frozen(false);
    } else {
      CTL_ASSIGN(debits, f.Bool("debits_frozen", false));
      CTL_ASSIGN(credits, f.Bool("credits_frozen", false));
      s->set_debits_frozen(debits);
      s->set_credits_frozen(credits);
    }
  } else if (name == "change-controller" || name == "change_controller") {
    auto* c = op.mutable_change_controller();
    CTL_ASSIGN(account, f.Id("account", false));
    CTL_ASSIGN(controller, f.Controller("controller"));
    c->set_account(Str(account));
    *c->mutable_controller() = controller;
  } else if (name == "close-account" || name == "close_account") {
    CTL_ASSIGN(account, f.Id("account", false));
    op.mutable_close_account()->set_account(Str(account));
  } else if (name == "transfer") {
    auto* t = op.mutable_transfer();
    CTL_ASSIGN(id, f.Id("id", true));
    CTL_ASSIGN(debit, f.Id("debit", false));
    CTL_ASSIGN(credit, f.Id("credit", false));
    CTL_ASSIGN(amount, f.Uint("amount", true));
    if (amount == 0) return std::unexpected(Bad(f.Name("amount"), "must be positive"));
    CTL_ASSIGN(uetr_text, f.String("uetr", false));
    CTL_ASSIGN(e2e, f.String("end_to_end_id", false));
    CTL_ASSIGN(purpose, f.String("purpose", false));
    CTL_ASSIGN(memo, f.String("memo", false));
    CTL_ASSIGN(timeout_s, f.Uint("timeout_s", false, ledger::kMaxHoldTimeoutS));
    CTL_ASSIGN(hash_lock, f.Hex("hash_lock", ledger::kHashLockBytes, 0));
    CTL_ASSIGN(preimage, f.Hex("preimage", 0, ledger::kMaxPreimageBytes));
    if (e2e.size() > ledger::kMaxEndToEndIdBytes)
      return std::unexpected(Bad(f.Name("end_to_end_id"), "longer than 35 bytes"));
    if (purpose.size() > ledger::kMaxPurposeBytes)
      return std::unexpected(Bad(f.Name("purpose"), "longer than 4 characters"));
    if (memo.size() > ledger::kMaxMemoBytes)
      return std::unexpected(Bad(f.Name("memo"), "longer than 140 bytes"));
    if (f.Has("preimage")) {
      if (!hash_lock.empty())
        return std::unexpected(Bad(f.Name("preimage"), "give either hash_lock or preimage"));
      Hash32 h = crypto::Sha256Of(preimage);
      hash_lock.assign(h.bytes.begin(), h.bytes.end());
    }
    if (!hash_lock.empty() && timeout_s == 0)
      return std::unexpected(Bad(f.Name("timeout_s"), "a hash-locked hold needs a timeout"));
    t->set_id(Str(id));
    t->set_debit_account(Str(debit));
    t->set_credit_account(Str(credit));
    t->set_amount(amount);
    if (!uetr_text.empty()) {
      CTL_ASSIGN(uetr, ParseUetr(uetr_text, f.Name("uetr")));
      t->set_uetr(Str(uetr));
    }
    t->set_end_to_end_id(e2e);
    t->set_purpose(purpose);
    t->set_memo(memo);
    if (timeout_s != 0) {
      t->set_pending(true);
      t->set_timeout_s(timeout_s);
      t->set_hash_lock(Str(hash_lock));
    }
  } else if (name == "post") {
    auto* p = op.mutable_post_pending();
    CTL_ASSIGN(id, f.Id("id", true));
    CTL_ASSIGN(pending, f.Id("pending_id", false));
    CTL_ASSIGN(amount, f.Uint("amount", false));
    CTL_ASSIGN(preimage, f.Hex("preimage", 0, ledger::kMaxPreimageBytes));
    p->set_id(Str(id));
    p->set_pending_id(Str(pending));
    p->set_amount(amount);
    p->set_preimage(Str(preimage));
  } else if (name == "void") {
    auto* v = op.mutable_void_pending();
    CTL_ASSIGN(id, f.Id("id", true));
    CTL_ASSIGN(pending, f.Id("pending_id", false));
    v->set_id(Str(id));
    v->set_pending_id(Str(pending));
  } else if (name == "create-asset" || name == "create_asset") {
    auto* a = op.mutable_create_asset();
    CTL_ASSIGN(code, f.String("code", true));
    CTL_ASSIGN(scale, f.Uint("scale", true, ledger::kMaxAssetScale));
    CTL_ASSIGN(issuer, f.Uint("issuer", true, UINT32_MAX));
    CTL_ASSIGN(account, f.Id("issuer_account", true));
    CTL_ASSIGN(controller, f.Controller("issuer_controller"));
    a->set_code(code);
    a->set_scale(static_cast<uint32_t>(scale));
    a->set_issuer(static_cast<uint32_t>(issuer));
    a->set_issuer_account(Str(account));
    *a->mutable_issuer_controller() = controller;
  } else if (name == "add-member" || name == "add_member") {
    auto* m = op.mutable_add_member();
    CTL_ASSIGN(id, f.Uint("id", true, UINT32_MAX));
    CTL_ASSIGN(member_name, f.String("name", true));
    const json::value* roles_v = f.Get("roles");
    if (roles_v == nullptr) return std::unexpected(Bad(f.Name("roles"), "required"));
    CTL_ASSIGN(roles, ParseRoles(*roles_v, f.Name("roles")));
    CTL_ASSIGN(node_key_hex, f.String("node_key", true));
    auto node_key = crypto::PublicKey::FromHex(node_key_hex);
    if (!node_key)
      return std::unexpected(Bad(f.Name("node_key"), "not a 33-byte compressed public key in hex"));
    CTL_ASSIGN(governance, f.Controller("governance"));
    m->set_id(static_cast<uint32_t>(id));
    m->set_name(member_name);
    m->set_roles(roles);
    m->set_node_key(std::string(node_key->bytes.begin(), node_key->bytes.end()));
    *m->mutable_governance() = governance;
  } else if (name == "change-roles" || name == "change_roles") {
    auto* c = op.mutable_change_roles();
    CTL_ASSIGN(id, f.Uint("id", true, UINT32_MAX));
    const json::value* roles_v = f.Get("roles");
    if (roles_v == nullptr) return std::unexpected(Bad(f.Name("roles"), "required"));
    CTL_ASSIGN(roles, ParseRoles(*roles_v, f.Name("roles")));
    c->set_id(static_cast<uint32_t>(id));
    c->set_roles(roles);
  } else if (name == "remove-member" || name == "remove_member") {
    CTL_ASSIGN(id, f.Uint("id", true, UINT32_MAX));
    op.mutable_remove_member()->set_id(static_cast<uint32_t>(id));
  } else if (name == "rotate-node-key" || name == "rotate_node_key") {
    auto* r = op.mutable_rotate_node_key();
    CTL_ASSIGN(id, f.Uint("id", true, UINT32_MAX));
    CTL_ASSIGN(node_key_hex, f.String("node_key", true));
    auto node_key = crypto::PublicKey::FromHex(node_key_hex);
    if (!node_key)
      return std::unexpected(Bad(f.Name("node_key"), "not a 33-byte compressed public key in hex"));
    r->set_id(static_cast<uint32_t>(id));
    r->set_node_key(std::string(node_key->bytes.begin(), node_key->bytes.end()));
  } else if (name == "set-governance-threshold" || name == "set_governance_threshold") {
    CTL_ASSIGN(threshold, f.Uint("threshold", true, UINT32_MAX));
    op.mutable_set_governance_threshold()->set_threshold(static_cast<uint32_t>(threshold));
  } else {
    return std::unexpected(Bad(f.Name("op"), "unknown operation \"" + name + "\""));
  }
  return op;
}

}  // namespace

Result<uint64_t> ParseAmount(std::string_view text, const std::string& field) {
  uint64_t value = 0;
  if (text.empty() || text.size() > 20 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::unexpected(Bad(field, "not a decimal string of minor units"));
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size())
    return std::unexpected(Bad(field, "out of range for u64"));
  return value;
}

Result<Bytes> ParseId16(std::string_view hex, const std::string& field) {
  auto bytes = FromHex(hex);
  if (!bytes || bytes->size() != ledger::kIdBytes)
    return std::unexpected(Bad(field, "must be 32 hex digits (a 16-byte id)"));
  if (std::all_of(bytes->begin(), bytes->end(), [](uint8_t b) { return b == 0; }))
    return std::unexpected(Bad(field, "must not be zero"));
  return std::move(*bytes);
}

Result<Bytes> ParseUetr(std::string_view text, const std::string& field) {
  std::string digits;
  for (char c : text)
    if (c != '-') digits.push_back(c);
  auto bytes = FromHex(digits);
  if (!bytes || bytes->size() != ledger::kUetrBytes)
    return std::unexpected(Bad(field, "must be a UUID (8-4-4-4-12 hex) or 32 hex digits"));
  return std::move(*bytes);
}

Result<uint32_t> ParseRoles(const json::value& v, const std::string& field) {
  std::vector<std::string> names;
  if (v.is_string()) {
    std::string_view s = v.get_string();
    size_t start = 0;
    while (start <= s.size()) {
      size_t comma = s.find(',', start);
      if (comma == std::string_view::npos) comma = s.size();
      if (comma > start) names.emplace_back(s.substr(start, comma - start));
      start = comma + 1;
    }
  } else if (v.is_array()) {
    for (const json::value& r : v.get_array()) {
      if (!r.is_string()) return std::unexpected(Bad(field, "roles must be strings"));
      names.emplace_back(r.get_string());
    }
  } else {
    return std::unexpected(Bad(field, "must be \"validator,issuer\" or an array of role names"));
  }
  uint32_t roles = 0;
  for (const std::string& n : names) {
    if (n == "validator")
      roles |= ledger::pb::ROLE_VALIDATOR;
    else if (n == "observer")
      roles |= ledger::pb::ROLE_OBSERVER;
    else if (n == "issuer")
      roles |= ledger::pb::ROLE_ISSUER;
    else if (n == "compliance")
      roles |= ledger::pb::ROLE_COMPLIANCE;
    else
      return std::unexpected(
          Bad(field, "unknown role \"" + n + "\" (validator, observer, issuer, compliance)"));
  }
  return roles;
}

Result<ledger::pb::Operation> OperationFromJson(const json::object& leg, const std::string& path) {
  Fields f(leg, path);
  CTL_ASSIGN(name, f.String("op", true));
  CTL_ASSIGN(op, BuildOp(name, f));
  LEDGER_TRY(f.CheckNoUnknown());
  auto valid = ledger::ValidateOperation(op);
  if (!valid) return std::unexpected(Bad(path.empty() ? name : path, valid.error().message));
  return op;
}

Result<std::vector<ledger::pb::Operation>> ParseLegs(std::string_view json_text) {
  boost::system::error_code ec;
  json::value root = json::parse(json_text, ec);
  if (ec) return std::unexpected(Bad("legs file", "not JSON: " + ec.message()));
  bool linked = true;
  const json::array* legs = nullptr;
  if (root.is_array()) {
    legs = &root.get_array();
  } else if (root.is_object()) {
    const json::object& o = root.get_object();
    for (const auto& [k, unused] : o) {
      (void)unused;
      if (k != "legs" && k != "linked")
        return std::unexpected(Bad(std::string(k), "unknown field"));
    }
    if (const json::value* l = o.if_contains("linked")) {
      if (!l->is_bool()) return std::unexpected(Bad("linked", "must be true or false"));
      linked = l->get_bool();
    }
    const json::value* v = o.if_contains("legs");
    if (v == nullptr) return std::unexpected(Bad("legs", "required"));
    if (!v->is_array()) return std::unexpected(Bad("legs", "must be an array"));
    legs = &v->get_array();
  } else {
    return std::unexpected(Bad("legs file", "must be an object {\"legs\": [...]} or an array"));
  }
  if (legs->empty()) return std::unexpected(Bad("legs", "must not be empty"));
  if (legs->size() > ledger::kMaxOpsPerTx)
    return std::unexpected(
        Bad("legs", "more than " + std::to_string(ledger::kMaxOpsPerTx) + " operations"));
  std::vector<ledger::pb::Operation> ops;
  for (size_t i = 0; i < legs->size(); ++i) {
    std::string path = "legs[" + std::to_string(i) + "]";
    if (!(*legs)[i].is_object()) return std::unexpected(Bad(path, "must be an object"));
    CTL_ASSIGN(op, OperationFromJson((*legs)[i].get_object(), path));
    op.set_linked(linked && i + 1 < legs->size());
    ops.push_back(std::move(op));
  }
  return ops;
}

Bytes OperationId(const ledger::pb::Operation& op) {
  std::string id;
  switch (op.kind_case()) {
    case pb::Operation::kCreateAccount:
      id = op.create_account().id();
      break;
    case pb::Operation::kSetFreeze:
      id = op.set_freeze().account();
      break;
    case pb::Operation::kChangeController:
      id = op.change_controller().account();
      break;
    case pb::Operation::kCloseAccount:
      id = op.close_account().account();
      break;
    case pb::Operation::kTransfer:
      id = op.transfer().id();
      break;
    case pb::Operation::kPostPending:
      id = op.post_pending().id();
      break;
    case pb::Operation::kVoidPending:
      id = op.void_pending().id();
      break;
    case pb::Operation::kCreateAsset:
      id = op.create_asset().issuer_account();
      break;
    default:
      break;
  }
  return Bytes(id.begin(), id.end());
}

std::string OperationName(const ledger::pb::Operation& op) {
  switch (op.kind_case()) {
    case pb::Operation::kCreateAccount:
      return "create_account";
    case pb::Operation::kSetFreeze:
      return "set_freeze";
    case pb::Operation::kChangeController:
      return "change_controller";
    case pb::Operation::kCloseAccount:
      return "close_account";
    case pb::Operation::kTransfer:
      return "transfer";
    case pb::Operation::kPostPending:
      return "post";
    case pb::Operation::kVoidPending:
      return "void";
    case pb::Operation::kCreateAsset:
      return "create_asset";
    case pb::Operation::kAddMember:
      return "add_member";
    case pb::Operation::kChangeRoles:
      return "change_roles";
    case pb::Operation::kRemoveMember:
      return "remove_member";
    case pb::Operation::kRotateNodeKey:
      return "rotate_node_key";
    case pb::Operation::kSetGovernanceThreshold:
      return "set_governance_threshold";
    default:
      return "none";
  }
}

Result<ledger::pb::TxBody> BuildBody(const BodyOptions& options,
                                     std::vector<ledger::pb::Operation> ops) {
  if (options.chain_id.empty()) return std::unexpected(Bad("chain_id", "required"));
  if (options.valid_until_height == 0)
    return std::unexpected(Bad("valid_until_height", "must be at least 1"));
  if (ops.empty()) return std::unexpected(Bad("operations", "none given"));
  if (ops.size() > ledger::kMaxOpsPerTx)
    return std::unexpected(Bad("operations", "more than " + std::to_string(ledger::kMaxOpsPerTx)));
  if (ops.back().linked())
    return std::unexpected(Bad("operations", "the last operation must not be linked"));
  pb::TxBody body;
  body.set_chain_id(options.chain_id);
  body.set_valid_until_height(options.valid_until_height);
  body.set_valid_until_time_ms(options.valid_until_time_ms);
  uint64_t nonce = options.nonce;
  if (nonce == 0) crypto::RandomBytes(reinterpret_cast<uint8_t*>(&nonce), sizeof(nonce));
  body.set_nonce(nonce);
  for (auto& op : ops)
    *body.add_operations() = std::move(op);
  return body;
}

Result<SignedTx> SignBody(const ledger::pb::TxBody& body,
                          const std::vector<crypto::PrivateKey>& keys) {
  if (keys.empty())
    return std::unexpected(Bad("keys", "no signing key (--key FILE or --secret HEX)"));
  if (keys.size() > ledger::kMaxSignaturesPerTx)
    return std::unexpected(
        Bad("keys", "more than " + std::to_string(ledger::kMaxSignaturesPerTx) + " signers"));
  std::set<crypto::PublicKey> distinct;
  for (const auto& k : keys)
    if (!distinct.insert(k.GetPublicKey()).second)
      return std::unexpected(Bad("keys", "the same key is given twice"));
  SignedTx out;
  out.envelope = ledger::SignTransaction(body, keys);
  auto parsed = ledger::ParseTransaction(out.envelope, body.chain_id());
  if (!parsed) return std::unexpected(Bad("transaction", parsed.error().message));
  out.tx_id = parsed->tx_id;
  return out;
}

}  // namespace cl::tools
