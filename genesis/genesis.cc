#include "genesis/genesis.h"

#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

#include "crypto/sha256.h"
#include "genesis/json_keys.h"
#include "genesis/member_name.h"
#include "ledger/transaction.h"
#include "util/hex.h"
#include "util/text.h"

namespace cl::genesis {
namespace json = boost::json;
namespace pb = ledger::pb;

namespace {

__extension__ typedef __int128 Int128;  // wide enough for any sum of u64 balances

std::unexpected<Error> Bad(const std::string& path, const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, "genesis: " + path + ": " + what);
}

Result<const json::object*> AsObject(const json::value& v, const std::string& path,
                                     std::initializer_list<std::string_view> allowed) {
  if (!v.is_object()) return Bad(path, "must be an object");
  const json::object& o = v.as_object();
  for (const auto& kv : o) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(kv.key())) == allowed.end()) {
      return Bad(path + "." + EscapeText(kv.key()), "unknown field");
    }
  }
  return &o;
}

Result<const json::value*> Field(const json::object& o, const std::string& path,
                                 std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return Bad(path + "." + std::string(key), "missing");
  return &it->value();
}

Result<uint64_t> Uint(const json::value& v, const std::string& path, uint64_t max) {
  uint64_t out = 0;
  if (v.is_uint64()) {
    out = v.as_uint64();
  } else if (v.is_int64() && v.as_int64() >= 0) {
    out = static_cast<uint64_t>(v.as_int64());
  } else {
    return Bad(path, "must be a non-negative integer");
  }
  if (out > max) return Bad(path, "must be at most " + std::to_string(max));
  return out;
}

Result<std::string> Str(const json::value& v, const std::string& path) {
  if (!v.is_string()) return Bad(path, "must be a string");
  return std::string(v.as_string());
}

// Amounts are decimal strings (never JSON numbers): "1000" or, for an issuer, "-1000".
Result<std::pair<bool, uint64_t>> Amount(const json::value& v, const std::string& path) {
  if (!v.is_string()) return Bad(path, "must be a decimal string");
  std::string_view s = v.as_string();
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) {
    return Bad(path, "must be a decimal string");
  }
  uint64_t out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Bad(path, "must be a decimal string");
    if (__builtin_mul_overflow(out, 10u, &out) ||
        __builtin_add_overflow(out, static_cast<uint64_t>(c - '0'), &out)) {
      return Bad(path, "exceeds 2^64-1");
    }
  }
  if (negative && out == 0) return Bad(path, "must be a decimal string");
  return std::make_pair(negative, out);
}

Result<std::string> PublicKeyBytes(const json::value& v, const std::string& path) {
  if (!v.is_string()) return Bad(path, "must be a hex string");
  auto key = crypto::PublicKey::FromHex(v.as_string());
  if (!key) return Bad(path, "not a 33-byte compressed secp256k1 public key in hex");
  return ToString(key->span());
}

Result<std::string> AccountId(const json::value& v, const std::string& path) {
  if (!v.is_string()) return Bad(path, "must be 32 hex digits");
  auto bytes = FromHex(v.as_string());
  if (!bytes || bytes->size() != ledger::kIdBytes) return Bad(path, "must be 32 hex digits");
  if (std::all_of(bytes->begin(), bytes->end(), [](uint8_t b) { return b == 0; })) {
    return Bad(path, "must not be zero");
  }
  return ToString(*bytes);
}

// A controller: a single key as a hex string, or {"threshold": k, "keys": [hex, ...]}.
Result<pb::Controller> Controller(const json::value& v, const std::string& path) {
  pb::Controller c;
  if (v.is_string()) {
    auto key = PublicKeyBytes(v, path);
    if (!key) return std::unexpected(key.error());
    c.set_threshold(1);
    c.add_keys(*key);
    return c;
  }
  auto o = AsObject(v, path, {"threshold", "keys"});
  if (!o) return std::unexpected(o.error());
  auto keys = Field(**o, path, "keys");
  if (!keys) return std::unexpected(keys.error());
  if (!(*keys)->is_array()) return Bad(path + ".keys", "must be an array");
  const auto& arr = (*keys)->as_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    auto key = PublicKeyBytes(arr[i], path + ".keys[" + std::to_string(i) + "]");
    if (!key) return std::unexpected(key.error());
    c.add_keys(*key);
  }
  auto threshold = Field(**o, path, "threshold");
  if (!threshold) return std::unexpected(threshold.error());
  auto t = Uint(**threshold, path + ".threshold", ledger::kMaxControllerKeys);
  if (!t) return std::unexpected(t.error());
  c.set_threshold(static_cast<uint32_t>(*t));
  if (auto st = ledger::ValidateController(c); !st) return Bad(path, st.error().message);
  return c;
}

struct Parser {
  Genesis g;
  std::set<uint32_t> member_ids;
  std::set<uint32_t> issuers;  // members with the issuer role

  Status Members(const json::value& v) {
    if (!v.is_array()) return Bad("$.members", "must be an array");
    const auto& arr = v.as_array();
    if (arr.empty() || arr.size() > kMaxMembers)
      return Bad("$.members", "must hold 1..256 members");
    std::map<std::string, std::pair<uint32_t, std::string>> names;  // key -> id, name
    std::set<std::string> node_keys;
    std::map<std::string, uint32_t> governance_keys;  // key -> the member it governs
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string path = "$.members[" + std::to_string(i) + "]";
      auto o = AsObject(arr[i], path, {"id", "name", "roles", "node_key", "governance"});
      if (!o) return std::unexpected(o.error());
      pb::MemberRecord m;
      auto id_v = Field(**o, path, "id");
      if (!id_v) return std::unexpected(id_v.error());
      auto id = Uint(**id_v, path + ".id", UINT32_MAX);
      if (!id) return std::unexpected(id.error());
      if (*id == 0) return Bad(path + ".id", "must be non-zero");
      if (!member_ids.insert(static_cast<uint32_t>(*id)).second) {
        return Bad(path + ".id", "duplicate member id " + std::to_string(*id));
      }
      m.set_id(static_cast<uint32_t>(*id));
      auto name_v = Field(**o, path, "name");
      if (!name_v) return std::unexpected(name_v.error());
      auto name = Str(**name_v, path + ".name");
      if (!name) return std::unexpected(name.error());
      if (auto st = CheckMemberName(*name); !st) return Bad(path + ".name", st.error().message);
      if (auto [it, fresh] = names.emplace(MemberNameKey(*name), std::make_pair(m.id(), *name));
          !fresh) {
        return Bad(path + ".name", "duplicate name (same as member " +
                                       std::to_string(it->second.first) + "'s '" +
                                       EscapeText(it->second.second) +
                                       "' ignoring ASCII case and repeated spaces)");
      }
      m.set_name(*name);
      auto roles_v = Field(**o, path, "roles");
      if (!roles_v) return std::unexpected(roles_v.error());
      if (!(*roles_v)->is_array()) return Bad(path + ".roles", "must be an array");
      uint32_t roles = 0;
      const auto& roles_arr = (*roles_v)->as_array();
      for (size_t r = 0; r < roles_arr.size(); ++r) {
        std::string rpath = path + ".roles[" + std::to_string(r) + "]";
        auto role = Str(roles_arr[r], rpath);
        if (!role) return std::unexpected(role.error());
        if (*role == "validator")
          roles |= pb::ROLE_VALIDATOR;
        else if (*role == "observer")
          roles |= pb::ROLE_OBSERVER;
        else if (*role == "issuer")
          roles |= pb::ROLE_ISSUER;
        else if (*role == "compliance")
          roles |= pb::ROLE_COMPLIANCE;
        else
          return Bad(rpath, "unknown role '" + EscapeText(*role) +
                                "' (validator, observer, issuer, compliance)");
      }
      if ((roles & pb::ROLE_VALIDATOR) && (roles & pb::ROLE_OBSERVER)) {
        return Bad(path + ".roles", "a member is a validator or an observer, not both");
      }
      m.set_roles(roles);
      if (roles & pb::ROLE_ISSUER) issuers.insert(m.id());
      auto node_v = Field(**o, path, "node_key");
      if (!node_v) return std::unexpected(node_v.error());
      auto node_key = PublicKeyBytes(**node_v, path + ".node_key");
      if (!node_key) return std::unexpected(node_key.error());
      if (!node_keys.insert(*node_key).second) return Bad(path + ".node_key", "duplicate key");
      m.set_node_key(*node_key);
      auto gov_v = Field(**o, path, "governance");
      if (!gov_v) return std::unexpected(gov_v.error());
      auto gov = Controller(**gov_v, path + ".governance");
      if (!gov) return std::unexpected(gov.error());
      // One key, one member: the governance quorum counts members, so a shared key would let one
      // signature count for two (add_member refuses it too).
      for (const std::string& key : gov->keys()) {
        auto [it, fresh] = governance_keys.emplace(key, m.id());
        if (!fresh) {
          return Bad(path + ".governance", "key " + ToHex(AsSpan(key)) +
                                               " is also a governance key of member " +
                                               std::to_string(it->second));
        }
      }
      *m.mutable_governance() = *gov;
      g.state.members.push_back(m);
      if (roles & pb::ROLE_VALIDATOR) {
        g.validators.push_back(
            Validator{m.id(), m.name(), *crypto::PublicKey::Parse(AsSpan(*node_key))});
      }
    }
    std::sort(g.validators.begin(), g.validators.end(),
              [](const Validator& a, const Validator& b) { return a.member_id < b.member_id; });
    if (g.validators.size() < kMinValidators) {
      return Bad("$.members", "fewer than 4 validators (" + std::to_string(g.validators.size()) +
                                  "); PBFT needs at least 4 (f >= 1)");
    }
    if (g.validators.size() > kMaxValidators) {
      return Bad("$.members", "more than " + std::to_string(kMaxValidators) + " validators (" +
                                  std::to_string(g.validators.size()) + ")");
    }
    return OkStatus();
  }

  Status Assets(const json::value& v) {
    if (!v.is_array()) return Bad("$.assets", "must be an array");
    const auto& arr = v.as_array();
    std::set<std::string> codes;
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string path = "$.assets[" + std::to_string(i) + "]";
      auto o = AsObject(arr[i], path, {"code", "scale", "issuer", "issuer_account"});
      if (!o) return std::unexpected(o.error());
      pb::AssetRecord a;
      auto code_v = Field(**o, path, "code");
      if (!code_v) return std::unexpected(code_v.error());
      auto code = Str(**code_v, path + ".code");
      if (!code) return std::unexpected(code.error());
      pb::Operation probe;  // reuse the operation's field rules for the code and scale
      probe.mutable_create_asset()->set_code(*code);
      probe.mutable_create_asset()->set_issuer(1);
      probe.mutable_create_asset()->set_issuer_account(std::string(15, '\0') + '\1');
      *probe.mutable_create_asset()->mutable_issuer_controller() =
          g.state.members.front().governance();
      if (auto st = ledger::ValidateOperation(probe); !st) {
        return Bad(path + ".code", "must be 1..12 of A-Z 0-9 . _ -");
      }
      if (!codes.insert(*code).second) return Bad(path + ".code", "duplicate asset " + *code);
      a.set_code(*code);
      auto scale_v = Field(**o, path, "scale");
      if (!scale_v) return std::unexpected(scale_v.error());
      auto scale = Uint(**scale_v, path + ".scale", ledger::kMaxAssetScale);
      if (!scale) return std::unexpected(scale.error());
      a.set_scale(static_cast<uint32_t>(*scale));
      auto issuer_v = Field(**o, path, "issuer");
      if (!issuer_v) return std::unexpected(issuer_v.error());
      auto issuer = Uint(**issuer_v, path + ".issuer", UINT32_MAX);
      if (!issuer) return std::unexpected(issuer.error());
      if (!member_ids.contains(static_cast<uint32_t>(*issuer))) {
        return Bad(path + ".issuer", "unknown member " + std::to_string(*issuer));
      }
      if (!issuers.contains(static_cast<uint32_t>(*issuer))) {
        return Bad(path + ".issuer",
                   "member " + std::to_string(*issuer) + " lacks the issuer role");
      }
      a.set_issuer(static_cast<uint32_t>(*issuer));
      auto acct_v = Field(**o, path, "issuer_account");
      if (!acct_v) return std::unexpected(acct_v.error());
      auto acct = AccountId(**acct_v, path + ".issuer_account");
      if (!acct) return std::unexpected(acct.error());
      a.set_issuer_account(*acct);
      g.state.assets.push_back(a);
    }
    return OkStatus();
  }

  Status Accounts(const json::value& v) {
    if (!v.is_array()) return Bad("$.accounts", "must be an array");
    const auto& arr = v.as_array();
    if (arr.size() > kMaxGenesisAccounts) return Bad("$.accounts", "too many accounts");
    std::map<std::string, std::string> asset_of;  // account id -> its asset code
    std::map<std::string, Int128> sums;
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string path = "$.accounts[" + std::to_string(i) + "]";
      auto o = AsObject(arr[i], path,
                        {"id", "asset", "custodian", "controller", "balance", "flags",
                         "overdraft_limit", "max_per_transfer", "max_outflow_per_day"});
      if (!o) return std::unexpected(o.error());
      ledger::GenesisAccount acc;
      pb::AccountRecord& r = acc.record;
      auto id_v = Field(**o, path, "id");
      if (!id_v) return std::unexpected(id_v.error());
      auto id = AccountId(**id_v, path + ".id");
      if (!id) return std::unexpected(id.error());
      if (asset_of.contains(*id)) return Bad(path + ".id", "duplicate account id");
      r.set_id(*id);
      auto asset_v = Field(**o, path, "asset");
      if (!asset_v) return std::unexpected(asset_v.error());
      auto asset = Str(**asset_v, path + ".asset");
      if (!asset) return std::unexpected(asset.error());
      auto it = std::find_if(g.state.assets.begin(), g.state.assets.end(),
                             [&](const pb::AssetRecord& a) { return a.code() == *asset; });
      if (it == g.state.assets.end())
        return Bad(path + ".asset", "unknown asset " + EscapeText(*asset));
      r.set_asset(*asset);
      r.set_issuer(it->issuer_account() == *id);
      asset_of[*id] = *asset;
      auto cust_v = Field(**o, path, "custodian");
      if (!cust_v) return std::unexpected(cust_v.error());
      auto cust = Uint(**cust_v, path + ".custodian", UINT32_MAX);
      if (!cust) return std::unexpected(cust.error());
      if (!member_ids.contains(static_cast<uint32_t>(*cust))) {
        return Bad(path + ".custodian", "unknown member " + std::to_string(*cust));
      }
      // The issuer account is the issuer's, as create_asset makes it: its custodian could
      // otherwise take its controller (key recovery) and issue at will.
      if (r.issuer() && *cust != it->issuer()) {
        return Bad(path + ".custodian", "the issuer account of " + *asset +
                                            " must be kept by its issuer, member " +
                                            std::to_string(it->issuer()));
      }
      r.set_custodian(static_cast<uint32_t>(*cust));
      auto ctl_v = Field(**o, path, "controller");
      if (!ctl_v) return std::unexpected(ctl_v.error());
      auto ctl = Controller(**ctl_v, path + ".controller");
      if (!ctl) return std::unexpected(ctl.error());
      *r.mutable_controller() = *ctl;
      auto bal_v = Field(**o, path, "balance");
      if (!bal_v) return std::unexpected(bal_v.error());
      auto bal = Amount(**bal_v, path + ".balance");
      if (!bal) return std::unexpected(bal.error());
      if (bal->first && !r.issuer()) {
        return Bad(path + ".balance", "only the asset's issuer account may be negative");
      }
      acc.negative = bal->first;
      acc.balance = bal->second;
      sums[*asset] += acc.negative ? -static_cast<Int128>(acc.balance) : acc.balance;
      if (auto f = (*o)->find("flags"); f != (*o)->end()) {
        if (r.issuer()) return Bad(path + ".flags", "an issuer account has no flags or limits");
        if (!f->value().is_array()) return Bad(path + ".flags", "must be an array");
        for (const auto& flag : f->value().as_array()) {
          if (!flag.is_string() || flag.as_string() != "debits_must_not_exceed_credits") {
            return Bad(path + ".flags", "unknown flag (debits_must_not_exceed_credits)");
          }
          r.set_flags(r.flags() | pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS);
        }
      }
      for (const char* limit : {"overdraft_limit", "max_per_transfer", "max_outflow_per_day"}) {
        auto f = (*o)->find(limit);
        if (f == (*o)->end()) continue;
        if (r.issuer()) {
          return Bad(path + "." + limit, "an issuer account has no flags or limits");
        }
        auto amount = Amount(f->value(), path + "." + limit);
        if (!amount) return std::unexpected(amount.error());
        if (amount->first) return Bad(path + "." + limit, "must not be negative");
        if (std::string_view(limit) == "overdraft_limit") r.set_overdraft_limit(amount->second);
        if (std::string_view(limit) == "max_per_transfer") r.set_max_per_transfer(amount->second);
        if (std::string_view(limit) == "max_outflow_per_day") {
          r.set_max_outflow_per_day(amount->second);
        }
      }
      // An overdraft is credit in the asset, which only its issuer grants; a genesis file
      // carries no signatures, so the issuer must keep the account (create_account's rule).
      if (r.overdraft_limit() != 0 && r.custodian() != it->issuer()) {
        return Bad(path + ".overdraft_limit",
                   "an overdraft in " + *asset + " is credit that only its issuer, member " +
                       std::to_string(it->issuer()) + ", grants: the custodian must be member " +
                       std::to_string(it->issuer()));
      }
      g.state.accounts.push_back(acc);
    }
    for (size_t i = 0; i < g.state.assets.size(); ++i) {
      const auto& a = g.state.assets[i];
      std::string path = "$.assets[" + std::to_string(i) + "]";
      auto issuer_account = asset_of.find(a.issuer_account());
      if (issuer_account == asset_of.end()) {
        return Bad(path + ".issuer_account", "no such account in $.accounts");
      }
      if (issuer_account->second != a.code()) {
        return Bad(path + ".issuer_account", "account " + ToHex(AsSpan(a.issuer_account())) +
                                                 " holds " + issuer_account->second + ", not " +
                                                 a.code());
      }
      if (sums[a.code()] != 0) {
        return Bad(path, "balances of " + a.code() + " do not sum to zero");
      }
    }
    return OkStatus();
  }

  Status Consensus(const json::value& v) {
    auto o = AsObject(
        v, "$.consensus",
        {"max_block_txs", "max_block_bytes", "block_interval_ms", "view_change_timeout_ms"});
    if (!o) return std::unexpected(o.error());
    struct Item {
      const char* key;
      uint64_t min, max;
      uint64_t* out;
    };
    uint64_t max_txs = g.consensus.max_block_txs;
    Item items[] = {
        {"max_block_txs", 1, ledger::kMaxTxsPerBlock, &max_txs},
        {"max_block_bytes", kMinBlockBytes, ledger::kMaxBlockBytes, &g.consensus.max_block_bytes},
        {"block_interval_ms", 1, 3'600'000, &g.consensus.block_interval_ms},
        {"view_change_timeout_ms", 10, 3'600'000, &g.consensus.view_change_timeout_ms},
    };
    for (const Item& item : items) {
      auto f = Field(**o, "$.consensus", item.key);
      if (!f) return std::unexpected(f.error());
      std::string path = std::string("$.consensus.") + item.key;
      auto n = Uint(**f, path, item.max);
      if (!n) return std::unexpected(n.error());
      if (*n < item.min) return Bad(path, "must be at least " + std::to_string(item.min));
      *item.out = *n;
    }
    g.consensus.max_block_txs = static_cast<uint32_t>(max_txs);
    return OkStatus();
  }
};

}  // namespace

Result<Genesis> LoadGenesis(std::string_view text) {
  if (text.size() > kMaxGenesisFileBytes) return Bad("$", "file larger than 16 MiB");
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return Bad("$", "not valid JSON: " + ec.message());
  if (auto duplicate = FindDuplicateJsonKey(text)) return Bad(*duplicate, "key given twice");
  auto o = AsObject(root, "$",
                    {"chain_id", "genesis_time_ms", "governance_threshold", "consensus", "members",
                     "assets", "accounts"});
  if (!o) return std::unexpected(o.error());
  Parser p;
  auto chain_v = Field(**o, "$", "chain_id");
  if (!chain_v) return std::unexpected(chain_v.error());
  auto chain = Str(**chain_v, "$.chain_id");
  if (!chain) return std::unexpected(chain.error());
  if (chain->empty() || chain->size() > crypto::kChainIdMaxBytes) {
    return Bad("$.chain_id", "must be 1..64 bytes");
  }
  for (char c : *chain) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return Bad("$.chain_id", "must use only a-z 0-9 - _ .");
    }
  }
  p.g.chain_id = *chain;
  auto time_v = Field(**o, "$", "genesis_time_ms");
  if (!time_v) return std::unexpected(time_v.error());
  auto time = Uint(**time_v, "$.genesis_time_ms", uint64_t{1} << 53);
  if (!time) return std::unexpected(time.error());
  p.g.genesis_time_ms = *time;
  for (const char* section : {"consensus", "members", "assets", "accounts"}) {
    auto v = Field(**o, "$", section);
    if (!v) return std::unexpected(v.error());
    std::string_view s = section;
    Status st = s == "consensus" ? p.Consensus(**v)
                : s == "members" ? p.Members(**v)
                : s == "assets"  ? p.Assets(**v)
                                 : p.Accounts(**v);
    if (!st) return std::unexpected(st.error());
  }
  auto thr_v = Field(**o, "$", "governance_threshold");
  if (!thr_v) return std::unexpected(thr_v.error());
  auto thr = Uint(**thr_v, "$.governance_threshold", p.member_ids.size());
  if (!thr) return std::unexpected(thr.error());
  if (*thr == 0) return Bad("$.governance_threshold", "must be at least 1");
  p.g.state.governance_threshold = static_cast<uint32_t>(*thr);
  // Anything the JSON checks missed but the ledger's rules catch still fails here.
  auto changes = ledger::BuildGenesisState(p.g.state);
  if (!changes) return Bad("$", changes.error().message);
  p.g.hash = crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan(text));
  return std::move(p.g);
}

Result<Genesis> LoadGenesisFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kIoError, "genesis: cannot open " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  return LoadGenesis(buf.str());
}

Result<std::vector<ledger::StateChange>> GenesisStateChanges(const Genesis& genesis) {
  return ledger::BuildGenesisState(genesis.state);
}

Result<LocalConsortium> GenerateLocalConsortium(std::string_view chain_id, uint32_t banks,
                                                uint32_t partners, uint64_t genesis_time_ms) {
  if (banks < kMinValidators) {
    return MakeError(ErrorCode::kInvalidArgument, "a consortium needs at least 4 banks");
  }
  if (banks + partners > kMaxMembers) {
    return MakeError(ErrorCode::kInvalidArgument, "at most 256 members");
  }
  if (banks > kMaxValidators) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "at most " + std::to_string(kMaxValidators) + " banks (validators)");
  }
  LocalConsortium out;
  json::object root;
  root["chain_id"] = json::string(chain_id.data(), chain_id.size());
  root["genesis_time_ms"] = genesis_time_ms;
  root["governance_threshold"] = (banks * 2) / 3 + 1;
  const ConsensusParams defaults;
  root["consensus"] = json::object{{"max_block_txs", defaults.max_block_txs},
                                   {"max_block_bytes", defaults.max_block_bytes},
                                   {"block_interval_ms", defaults.block_interval_ms},
                                   {"view_change_timeout_ms", defaults.view_change_timeout_ms}};
  json::array members, assets, accounts;
  for (uint32_t id = 1; id <= banks + partners; ++id) {
    bool bank = id <= banks;
    crypto::PrivateKey node = crypto::PrivateKey::Generate();
    crypto::PrivateKey gov = crypto::PrivateKey::Generate();
    std::string name =
        bank ? "Bank " + std::to_string(id) : "Partner " + std::to_string(id - banks);
    out.keys.push_back(MemberKeys{id, name, Bytes(node.secret().begin(), node.secret().end()),
                                  Bytes(gov.secret().begin(), gov.secret().end())});
    json::array roles;
    if (bank) {
      roles = {"validator", "issuer"};
      if (id == 1) roles.push_back("compliance");
    } else {
      roles = {"observer"};
    }
    members.push_back(json::object{{"id", id},
                                   {"name", name},
                                   {"roles", roles},
                                   {"node_key", node.GetPublicKey().ToHex()},
                                   {"governance", gov.GetPublicKey().ToHex()}});
    if (bank) {
      Bytes issuer_id(15, 0);
      issuer_id.push_back(static_cast<uint8_t>(id));
      issuer_id[0] = 0xff;  // issuer accounts: ff00..00<member id>
      std::string code = "USD." + std::to_string(id);
      assets.push_back(json::object{
          {"code", code}, {"scale", 2}, {"issuer", id}, {"issuer_account", ToHex(issuer_id)}});
      accounts.push_back(json::object{{"id", ToHex(issuer_id)},
                                      {"asset", code},
                                      {"custodian", id},
                                      {"controller", gov.GetPublicKey().ToHex()},
                                      {"balance", "0"}});
    }
  }
  root["members"] = std::move(members);
  root["assets"] = std::move(assets);
  root["accounts"] = std::move(accounts);
  out.genesis_json = json::serialize(root);
  auto check = LoadGenesis(out.genesis_json);
  if (!check) return std::unexpected(check.error());
  return out;
}

}  // namespace cl::genesis
