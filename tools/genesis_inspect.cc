#include "tools/genesis_inspect.h"

#include <time.h>

#include <boost/json.hpp>
#include <sstream>

#include "genesis/genesis.h"
#include "util/hex.h"
#include "util/quorum.h"
#include "util/text.h"

namespace cl::tools {
namespace {

namespace json = boost::json;
namespace pb = ledger::pb;

// Every character outside printable ASCII as \uXXXX: two names that look alike on a screen (one
// with a zero-width space, a right-to-left override, a letter from another script) print
// differently, and nothing from the file reaches the terminal as a control sequence.
std::string Quoted(const std::string& text) {
  return "\"" + EscapeText(text) + "\"";
}

// "2026-12-07T17:00:00.000Z"
std::string UtcTime(uint64_t ms) {
  const time_t seconds = static_cast<time_t>(ms / 1000);
  tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &parts);
  char millis[8];
  std::snprintf(millis, sizeof(millis), ".%03uZ", static_cast<unsigned>(ms % 1000));
  return std::string(text) + millis;
}

std::string Roles(uint32_t roles) {
  std::string out;
  const std::pair<uint32_t, const char*> names[] = {{pb::ROLE_VALIDATOR, "validator"},
                                                    {pb::ROLE_OBSERVER, "observer"},
                                                    {pb::ROLE_ISSUER, "issuer"},
                                                    {pb::ROLE_COMPLIANCE, "compliance"}};
  for (const auto& [bit, name] : names) {
    if (roles & bit) out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out.empty() ? "(none)" : out;
}

std::string ControllerText(const pb::Controller& c) {
  std::string out = std::to_string(c.threshold()) + " of " + std::to_string(c.keys_size()) + ":";
  for (const std::string& key : c.keys())
    out += " " + ToHex(AsSpan(key));
  return out;
}

std::string MemberName(const genesis::Genesis& g, uint32_t id) {
  for (const pb::MemberRecord& m : g.state.members) {
    if (m.id() == id) return std::to_string(id) + " " + Quoted(m.name());
  }
  return std::to_string(id) + " (no such member)";
}

void Header(std::ostream& out, const genesis::Genesis& g, std::string_view file, size_t bytes) {
  const genesis::ConsensusParams& c = g.consensus;
  out << "genesis file          " << file << " (" << bytes << " bytes)\n"
      << "genesis hash          " << g.hash.ToHex() << "\n"
      << "chain id              " << g.chain_id << "\n"
      << "genesis time          " << UtcTime(g.genesis_time_ms) << " (" << g.genesis_time_ms
      << " ms)\n"
      << "governance threshold  " << g.state.governance_threshold << " of "
      << g.state.members.size() << " members\n"
      << "consensus             max_block_txs " << c.max_block_txs << "\n"
      << "                      max_block_bytes " << c.max_block_bytes << "\n"
      << "                      block_interval_ms " << c.block_interval_ms << "\n"
      << "                      view_change_timeout_ms " << c.view_change_timeout_ms
      << " (not used by the nodes: each node's consensus.view_timeout_ms in config.toml is its "
         "view-change timeout)\n";
}

void Members(std::ostream& out, const genesis::Genesis& g) {
  out << "\nmembers (" << g.state.members.size() << ")\n";
  for (const pb::MemberRecord& m : g.state.members) {
    out << "  member " << m.id() << "  " << Quoted(m.name()) << "\n"
        << "    roles       " << Roles(m.roles()) << "\n"
        << "    node key    " << ToHex(AsSpan(m.node_key())) << "\n"
        << "    governance  " << ControllerText(m.governance()) << "\n";
  }
}

void Validators(std::ostream& out, const genesis::Genesis& g) {
  const auto n = static_cast<uint32_t>(g.validators.size());
  out << "\nvalidator set (" << n << " validators; tolerates f = " << FaultsTolerated(n)
      << "; quorum " << QuorumSize(n) << ")\n";
  for (size_t i = 0; i < g.validators.size(); ++i) {
    const genesis::Validator& v = g.validators[i];
    out << "  index " << i << "  member " << v.member_id << "  " << Quoted(v.name) << "  "
        << v.node_key.ToHex() << "\n";
  }
}

void Assets(std::ostream& out, const genesis::Genesis& g) {
  out << "\nassets (" << g.state.assets.size() << ")\n";
  for (const pb::AssetRecord& a : g.state.assets) {
    out << "  " << a.code() << "  scale " << a.scale() << "  issuer member "
        << MemberName(g, a.issuer()) << "  issuer account " << ToHex(AsSpan(a.issuer_account()))
        << "\n";
  }
}

void Accounts(std::ostream& out, const genesis::Genesis& g) {
  out << "\naccounts (" << g.state.accounts.size() << ")\n";
  for (const ledger::GenesisAccount& account : g.state.accounts) {
    const pb::AccountRecord& r = account.record;
    out << "  " << ToHex(AsSpan(r.id())) << "  " << r.asset() << "  custodian member "
        << MemberName(g, r.custodian()) << (r.issuer() ? "  (issuer account)" : "") << "\n"
        << "    controller  " << ControllerText(r.controller()) << "\n"
        << "    balance     " << (account.negative ? "-" : "") << account.balance << "\n";
    if (r.flags() & pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS)
      out << "    flags       debits_must_not_exceed_credits\n";
    if (r.overdraft_limit() != 0) out << "    overdraft_limit      " << r.overdraft_limit() << "\n";
    if (r.max_per_transfer() != 0)
      out << "    max_per_transfer     " << r.max_per_transfer() << "\n";
    if (r.max_outflow_per_day() != 0)
      out << "    max_outflow_per_day  " << r.max_outflow_per_day() << "\n";
  }
}

}  // namespace

Result<std::string> InspectGenesis(std::string_view text, std::string_view file) {
  auto g = genesis::LoadGenesis(text);
  if (!g) return MakeError(g.error().code, std::string(file) + ": " + g.error().message);
  std::ostringstream out;
  Header(out, *g, file, text.size());
  Members(out, *g);
  Validators(out, *g);
  Assets(out, *g);
  Accounts(out, *g);
  return out.str();
}

}  // namespace cl::tools
