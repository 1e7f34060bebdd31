// ledger-audit: the offline verifier of proof bundles (docs/proofs.md). It trusts only the genesis
// file given on the command line, uses no network, and links only crypto/, the ledger's proof code
// and the genesis loader (never node/, p2p/ or consensus/).
//
// Usage: ledger-audit verify --genesis GENESIS.json BUNDLE [--explain] [--json]
// Exit codes: 0 every check passed; 1 verification failed (one line names the failed check);
// 2 usage error or unreadable input.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "genesis/genesis.h"
#include "ledger/proof_bundle.h"
#include "util/hex.h"

namespace {

using namespace cl;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Usage() {
  std::fprintf(stderr,
               "usage: ledger-audit verify --genesis GENESIS.json BUNDLE [--explain] [--json]\n");
  return kExitUsage;
}

// Ids are shown as text when printable, else as hex.
std::string Show(const std::string& id) {
  for (unsigned char ch : id)
    if (ch < 0x21 || ch > 0x7e) return ToHex(AsSpan(id));
  return id;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

std::string Utc(uint64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char* KindName(ledger::pb::BundleKind k) {
  switch (k) {
    case ledger::pb::BUNDLE_KIND_ACCOUNT:
      return "account";
    case ledger::pb::BUNDLE_KIND_TRANSFER:
      return "transfer";
    case ledger::pb::BUNDLE_KIND_TRANSACTION:
      return "transaction";
    case ledger::pb::BUNDLE_KIND_NO_ACCOUNT:
      return "no_account";
    case ledger::pb::BUNDLE_KIND_NO_TRANSFER:
      return "no_transfer";
    case ledger::pb::BUNDLE_KIND_ASSET_SUPPLY:
      return "asset_supply";
    default:
      return "unknown";
  }
}

// The verified facts in plain words.
std::string Sentence(const ledger::VerifiedFacts& f) {
  std::string at =
      " at height " + std::to_string(f.height) + " (block time " + Utc(f.timestamp_ms) + ")";
  std::string subject = Show(ToString(f.subject));
  switch (f.kind) {
    case ledger::pb::BUNDLE_KIND_ACCOUNT:
      return "account " + subject + " (asset " + f.account->asset() +
             ") held a posted balance of " + f.amount + at;
    case ledger::pb::BUNDLE_KIND_TRANSFER:
      return "transfer " + subject + " existed, applied at height " +
             std::to_string(f.transfer->height()) + ", state " +
             ledger::pb::TransferState_Name(f.transfer->state()) + "," + at;
    case ledger::pb::BUNDLE_KIND_TRANSACTION:
      return "transaction " + subject + " was committed at index " + std::to_string(f.tx_index) +
             " with status " + std::to_string(f.receipt->status()) + " and code " +
             std::to_string(f.receipt->code()) + at;
    case ledger::pb::BUNDLE_KIND_NO_ACCOUNT:
      return "account " + subject + " did not exist" + at;
    case ledger::pb::BUNDLE_KIND_NO_TRANSFER:
      return "transfer " + subject + " did not exist" + at;
    case ledger::pb::BUNDLE_KIND_ASSET_SUPPLY:
      return "asset " + subject + " had a supply of " + f.amount + " (issuer account " +
             Show(f.account->id()) + ")" + at;
    default:
      return "";
  }
}

std::string Json(const ledger::VerifiedFacts& f) {
  std::string j = "{\"ok\":true,\"kind\":\"" + std::string(KindName(f.kind)) + "\"";
  j += ",\"subject\":" + JsonString(Show(ToString(f.subject)));
  j += ",\"height\":" + std::to_string(f.height);
  j += ",\"timestamp_ms\":" + std::to_string(f.timestamp_ms);
  j += ",\"time\":\"" + Utc(f.timestamp_ms) + "\"";
  j += ",\"header_hash\":\"" + f.header_hash.ToHex() + "\"";
  j += ",\"state_root\":\"" + f.state_root.ToHex() + "\"";
  if (f.account) {
    j += ",\"account\":" + JsonString(Show(f.account->id()));
    j += ",\"asset\":" + JsonString(f.account->asset());
  }
  if (f.kind == ledger::pb::BUNDLE_KIND_ACCOUNT) j += ",\"balance\":\"" + f.amount + "\"";
  if (f.kind == ledger::pb::BUNDLE_KIND_ASSET_SUPPLY) j += ",\"supply\":\"" + f.amount + "\"";
  if (f.transfer) {
    j += ",\"transfer_state\":\"" + ledger::pb::TransferState_Name(f.transfer->state()) + "\"";
    j += ",\"applied_height\":" + std::to_string(f.transfer->height());
  }
  if (f.receipt) {
    j += ",\"tx_index\":" + std::to_string(f.tx_index);
    j += ",\"status\":" + std::to_string(f.receipt->status());
    j += ",\"code\":" + std::to_string(f.receipt->code());
  }
  j += ",\"checks\":[";
  for (size_t i = 0; i < f.checks.size(); ++i)
    j += (i ? "," : "") + JsonString(f.checks[i]);
  return j + "],\"statement\":" + JsonString(Sentence(f)) + "}";
}

}  // namespace

int main(int argc, char** argv) {
  // Hostile bundles make protobuf log parse complaints; the verdict line is the only output.
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] != "verify") return Usage();
  std::string genesis_path, bundle_path;
  bool explain = false, json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--genesis" && i + 1 < args.size()) {
      genesis_path = args[++i];
    } else if (args[i] == "--explain") {
      explain = true;
    } else if (args[i] == "--json") {
      json = true;
    } else if (!args[i].starts_with("--") && bundle_path.empty()) {
      bundle_path = args[i];
    } else {
      return Usage();
    }
  }
  if (genesis_path.empty() || bundle_path.empty()) return Usage();

  Result<genesis::Genesis> g = genesis::LoadGenesisFile(genesis_path);
  if (!g) {
    std::fprintf(stderr, "ledger-audit: %s\n", g.error().message.c_str());
    return kExitUsage;
  }
  ledger::TrustAnchor anchor;
  anchor.chain_id = g->chain_id;
  anchor.genesis_hash = g->hash;
  for (const genesis::Validator& v : g->validators)
    anchor.validators.push_back(v.node_key);

  std::ifstream in(bundle_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "ledger-audit: cannot read %s\n", bundle_path.c_str());
    return kExitUsage;
  }
  Bytes bundle;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bundle.insert(bundle.end(), buf, buf + in.gcount());
    if (bundle.size() > ledger::kMaxProofBundleBytes) break;
  }

  Result<ledger::VerifiedFacts> f = ledger::VerifyProofBundle(anchor, bundle);
  if (!f) {
    if (json)
      std::printf("{\"ok\":false,\"error\":%s}\n", JsonString(f.error().message).c_str());
    else
      std::printf("FAILED: %s\n", f.error().message.c_str());
    return kExitFailed;
  }
  if (json) {
    std::printf("%s\n", Json(*f).c_str());
  } else if (explain) {
    for (const std::string& c : f->checks)
      std::printf("  ok  %s\n", c.c_str());
    std::printf("VERIFIED: %s\n", Sentence(*f).c_str());
  } else {
    std::printf("VERIFIED\n");
  }
  return 0;
}
