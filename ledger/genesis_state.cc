#include "ledger/genesis_state.h"

#include <map>
#include <set>
#include <string>

#include "ledger/invariant.h"
#include "ledger/ledger_state.h"
#include "ledger/transaction.h"

namespace cl::ledger {
namespace {
__extension__ typedef __int128 Int128;
std::unexpected<Error> Invalid(const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, what);
}
}  // namespace

Result<std::vector<StateChange>> BuildGenesisState(const GenesisState& g) {
  BytesMap<Bytes> state;
  pb::GovernanceRecord gov;
  std::set<uint32_t> member_ids;
  // One key, one member (as add_member requires): the governance quorum counts members, and the
  // validator set is keyed by node key.
  std::map<std::string, uint32_t> governance_keys, node_keys;
  for (const auto& m : g.members) {
    if (m.id() == 0) return Invalid("member id 0");
    if (!member_ids.insert(m.id()).second) {
      return Invalid("duplicate member id " + std::to_string(m.id()));
    }
    auto st = ValidateController(m.governance());
    if (!st) return Invalid("member " + std::to_string(m.id()) + ": " + st.error().message);
    for (const std::string& key : m.governance().keys()) {
      auto [it, fresh] = governance_keys.emplace(key, m.id());
      if (!fresh) {
        return Invalid("member " + std::to_string(m.id()) +
                       ": a governance key is also a governance key of member " +
                       std::to_string(it->second));
      }
    }
    auto [it, fresh] = node_keys.emplace(m.node_key(), m.id());
    if (!fresh) {
      return Invalid("member " + std::to_string(m.id()) +
                     ": its node key is also the node key of member " + std::to_string(it->second));
    }
    state[keys::Member(m.id())] = SerializeRecord(m);
  }
  for (uint32_t id : member_ids)
    gov.add_members(id);
  if (g.governance_threshold == 0 || g.governance_threshold > member_ids.size()) {
    return Invalid("governance threshold must be 1..number of members");
  }
  gov.set_threshold(g.governance_threshold);
  state[keys::Governance()] = SerializeRecord(gov);

  std::set<std::string> account_ids;
  for (const auto& a : g.accounts) {
    if (a.record.id().size() != kIdBytes) return Invalid("account id must be 16 bytes");
    if (!account_ids.insert(a.record.id()).second) return Invalid("duplicate account id");
  }
  for (const auto& asset : g.assets) {
    Bytes key = keys::Asset(asset.code());
    if (state.contains(key)) return Invalid("duplicate asset " + asset.code());
    if (!member_ids.contains(asset.issuer())) {
      return Invalid("asset " + asset.code() + ": unknown issuer member");
    }
    state[key] = SerializeRecord(asset);
  }
  std::map<std::string, Int128> sums;
  for (const auto& a : g.accounts) {
    const pb::AccountRecord& r = a.record;
    auto asset_raw = state.find(keys::Asset(r.asset()));
    if (asset_raw == state.end()) return Invalid("account: unknown asset " + r.asset());
    pb::AssetRecord asset;
    asset.ParseFromArray(asset_raw->second.data(), static_cast<int>(asset_raw->second.size()));
    if (r.issuer() != (asset.issuer_account() == r.id())) {
      return Invalid("account: issuer flag must be set exactly on the asset's issuer account");
    }
    if (!member_ids.contains(r.custodian())) return Invalid("account: unknown custodian member");
    // What create_asset makes: the issuer keeps its issuer account, which has no flags or limits.
    if (r.issuer() && r.custodian() != asset.issuer()) {
      return Invalid("asset " + asset.code() + ": the issuer account must be kept by its issuer");
    }
    if (r.issuer() && (r.flags() != 0 || r.overdraft_limit() != 0 || r.max_per_transfer() != 0 ||
                       r.max_outflow_per_day() != 0)) {
      return Invalid("asset " + asset.code() + ": an issuer account has no flags or limits");
    }
    // create_account's rule: an overdraft is credit only the asset's issuer grants.
    if (r.overdraft_limit() != 0 && r.custodian() != asset.issuer()) {
      return Invalid("account: an overdraft in " + asset.code() +
                     " is credit only its issuer grants (custodian must be the issuer)");
    }
    auto st = ValidateController(r.controller());
    if (!st) return Invalid("account: " + st.error().message);
    if (a.negative && !r.issuer())
      return Invalid("account: only an issuer account may be negative");
    pb::AccountRecord rec = r;
    rec.set_debits_posted(a.negative ? a.balance : 0);
    rec.set_credits_posted(a.negative ? 0 : a.balance);
    rec.set_debits_pending(0);
    rec.set_credits_pending(0);
    rec.set_created_height(0);
    sums[r.asset()] += a.negative ? -static_cast<Int128>(a.balance) : a.balance;
    state[keys::Account(r.id())] = SerializeRecord(rec);
  }
  for (const auto& asset : g.assets) {
    if (!account_ids.contains(asset.issuer_account())) {
      return Invalid("asset " + asset.code() + ": issuer account missing from accounts");
    }
    const auto& issuer_account = state.at(keys::Account(asset.issuer_account()));
    pb::AccountRecord rec;
    rec.ParseFromArray(issuer_account.data(), static_cast<int>(issuer_account.size()));
    if (rec.asset() != asset.code()) {
      return Invalid("asset " + asset.code() + ": its issuer account holds another asset");
    }
    if (sums[asset.code()] != 0) {
      return Invalid("asset " + asset.code() + ": balances do not sum to zero");
    }
  }
  if (auto st = CheckStateInvariants(state); !st) return std::unexpected(st.error());
  std::vector<StateChange> out;
  for (auto& [k, v] : state)
    out.push_back(StateChange{k, v});
  return out;
}

}  // namespace cl::ledger
