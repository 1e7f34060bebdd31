#include "bench/load_client.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ledger/transaction.h"
#include "tests/support/localnet_members.h"
#include "tests/support/process.h"
#include "tools/localnet.h"
#include "util/hex.h"

namespace cl::bench {

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// --- Processes -----------------------------------------------------------------------------------

Consortium::~Consortium() {
  Stop();
  if (dir_.empty()) return;
  if (keep_) {
    std::cerr << "kept " << dir_.string() << "\n";
  } else {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Status Consortium::Create(size_t validators, bool keep) {
  keep_ = keep;
  auto dir = test_support::MakeTempDir("ledger-bench");
  if (!dir) return std::unexpected(dir.error());
  dir_ = *dir;
  tools::LocalnetOptions lo;
  lo.dir = dir_;
  lo.validators = static_cast<uint32_t>(validators);
  lo.observers = 0;
  LEDGER_TRY(tools::InitLocalnet(lo));
  chain_id_ = lo.chain_id;
  auto members = test_support::ReadLocalnetMembers(dir_);
  if (!members) return std::unexpected(members.error());
  for (test_support::LocalnetMember& l : *members)
    members_.push_back(Member{std::move(l)});
  return OkStatus();
}

Status Consortium::StartAll(const std::string& ledgerd) {
  for (Member& m : members_) {
    const fs::path log = dir_ / (tools::MemberSlug(m.name) + ".log");
    pid_t pid = test_support::SpawnLogged({ledgerd, "--home", m.home.string()}, log);
    if (pid < 0) return MakeError(ErrorCode::kIoError, "fork");
    m.pid = pid;
  }
  const auto start = Clock::now();
  for (Member& m : members_) {
    while (true) {
      int status = 0;
      if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {
        m.pid = -1;
        return MakeError(ErrorCode::kUnavailable,
                         m.name + " exited at startup; see its log in " + dir_.string());
      }
      auto s = tools::RpcCall(m.rpc, "status", json::object{}, 1'000);
      if (s && s->at("peers_connected").to_number<int64_t>() + 1 >=
                   static_cast<int64_t>(members_.size()))
        break;
      if (MsBetween(start, Clock::now()) > kStartTimeoutMs)
        return MakeError(ErrorCode::kUnavailable, m.name + " not up with all peers within " +
                                                      std::to_string(kStartTimeoutMs) + " ms");
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
    }
  }
  return OkStatus();
}

void Consortium::Stop() {
  for (Member& m : members_)
    if (m.pid > 0) ::kill(m.pid, SIGTERM);
  const auto start = Clock::now();
  for (Member& m : members_) {
    if (m.pid <= 0) continue;
    int status = 0;
    while (::waitpid(m.pid, &status, WNOHANG) == 0) {
      if (MsBetween(start, Clock::now()) > kStopTimeoutMs) {
        ::kill(m.pid, SIGKILL);
        ::waitpid(m.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
    }
    m.pid = -1;
  }
}

// CPU seconds (user + system) used so far by member i, from /proc/<pid>/stat.
double Consortium::CpuSeconds(size_t i) const {
  if (members_[i].pid <= 0) return 0;
  return test_support::ProcCpuSeconds(members_[i].pid);
}

Status Consortium::Launch(size_t validators, const std::string& ledgerd, bool keep) {
  LEDGER_TRY(Create(validators, keep));
  std::cerr << "starting " << validators << " validators\n";
  return StartAll(ledgerd);
}

// --- Transactions --------------------------------------------------------------------------------

Bytes NewId() {
  Bytes id(ledger::kIdBytes);
  do {
    crypto::RandomBytes(id.data(), id.size());
    id[0] &= 0x7f;  // never the issuer pattern ff00..
  } while (std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; }));
  return id;
}

Bytes IssuerAccount(uint32_t member_id) {
  Bytes id(ledger::kIdBytes, 0);
  id[0] = 0xff;
  id[15] = static_cast<uint8_t>(member_id);
  return id;
}

ledger::pb::Operation TransferOp(const Bytes& debit, const Bytes& credit, uint64_t amount) {
  ledger::pb::Operation op;
  auto* t = op.mutable_transfer();
  t->set_id(ToString(NewId()));
  t->set_debit_account(ToString(debit));
  t->set_credit_account(ToString(credit));
  t->set_amount(amount);
  return op;
}

SignedTx Sign(const std::string& chain_id, const std::vector<ledger::pb::Operation>& ops,
              const crypto::PrivateKey& key) {
  ledger::pb::TxBody body;
  body.set_chain_id(chain_id);
  body.set_valid_until_height(kValidUntilHeight);
  uint64_t nonce = 0;
  crypto::RandomBytes(reinterpret_cast<uint8_t*>(&nonce), sizeof(nonce));
  body.set_nonce(nonce);
  for (const auto& op : ops)
    *body.add_operations() = op;
  std::vector<crypto::PrivateKey> keys{key};
  Bytes envelope = ledger::SignTransaction(body, keys);
  auto parsed = ledger::ParseTransaction(envelope, chain_id);
  if (!parsed) {
    std::cerr << program_invocation_short_name
              << ": cannot parse own transaction: " << parsed.error().message << "\n";
    std::exit(2);
  }
  return SignedTx{ToHex(envelope), parsed->tx_id.ToHex()};
}

// Opens `wallets` at their custodian and issues kFundEach to each, signed by the custodian's
// governance key (custodian approval for create_account, controller of the issuer account).
SignedTx OpenAndFund(const std::string& chain_id, const std::vector<const Wallet*>& wallets,
                     const crypto::PrivateKey& governance) {
  std::vector<ledger::pb::Operation> ops;
  for (const Wallet* w : wallets) {
    ledger::pb::Operation op;
    auto* c = op.mutable_create_account();
    c->set_id(ToString(w->id));
    c->set_asset("USD." + std::to_string(w->custodian));
    c->set_custodian(w->custodian);
    c->mutable_controller()->set_threshold(1);
    c->mutable_controller()->add_keys(ToString(w->key.GetPublicKey().span()));
    ops.push_back(std::move(op));
    ops.push_back(TransferOp(IssuerAccount(w->custodian), w->id, kFundEach));
  }
  return Sign(chain_id, ops, governance);
}

std::vector<SignedTx> SignTransfers(const std::string& chain, const std::vector<Wallet>& w,
                                    size_t count, size_t offset) {
  std::vector<SignedTx> txs(count);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> signers;
  for (unsigned t = 0; t < cores; ++t)
    signers.emplace_back([&, t] {
      for (size_t k = t; k < count; k += cores) {
        const size_t a = (k + offset) % w.size();
        txs[k] = Sign(chain, {TransferOp(w[a].id, w[a ^ 1].id, 1)}, w[a].key);
      }
    });
  for (auto& t : signers)
    t.join();
  return txs;
}

// --- Block watcher -------------------------------------------------------------------------------

RpcCaller NewConnectionPerCall(tools::RpcEndpoint endpoint) {
  return [endpoint = std::move(endpoint)](std::string_view method, const json::value& params,
                                          uint32_t timeout_ms) {
    return tools::RpcCall(endpoint, method, params, timeout_ms);
  };
}

void BlockWatcher::Start() {
  auto s = call_("status", json::object{}, kRpcTimeoutMs);
  next_ = s ? s->at("height").to_number<uint64_t>() + 1 : 1;
  thread_ = std::thread([this] { Run(); });
}

void BlockWatcher::StopThread() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::optional<Clock::time_point> BlockWatcher::SeenAt(const std::string& tx_id) {
  std::lock_guard lock(mu_);
  auto it = seen_.find(tx_id);
  if (it == seen_.end()) return std::nullopt;
  return it->second;
}

size_t BlockWatcher::CountSeen(const std::vector<SignedTx>& txs) {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const SignedTx& t : txs)
    n += seen_.contains(t.tx_id);
  return n;
}

std::vector<BlockSeen> BlockWatcher::Blocks() {
  std::lock_guard lock(mu_);
  return blocks_;
}

std::string BlockWatcher::last_error() {
  std::lock_guard lock(mu_);
  return last_error_;
}

void BlockWatcher::Run() {
  while (!stop_) {
    auto s = call_("status", json::object{}, kRpcTimeoutMs);
    if (!s) {
      std::lock_guard lock(mu_);
      last_error_ = s.error().message;
    } else {
      const uint64_t height = s->at("height").to_number<uint64_t>();
      for (; next_ <= height && !stop_; ++next_) {
        auto b = call_("get_block", json::object{{"height", next_}}, kRpcTimeoutMs);
        const auto now = Clock::now();
        if (!b) {
          std::lock_guard lock(mu_);
          last_error_ = b.error().message;
          break;  // retry this height
        }
        BlockSeen block{next_, 0, 0, now};
        std::lock_guard lock(mu_);
        if (const json::value* t = b->as_object().if_contains("timestamp_ms"))
          block.timestamp_ms = t->to_number<uint64_t>();
        if (const json::value* ids = b->as_object().if_contains("tx_ids")) {
          block.tx_count = ids->as_array().size();
          for (const json::value& id : ids->as_array())
            seen_.emplace(json::value_to<std::string>(id), now);
        }
        blocks_.push_back(block);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kWatchIntervalMs));
  }
}

// --- Setup ---------------------------------------------------------------------------------------

// Submits `txs` (setup) to one node in batches and waits until the watcher has seen them all.
Status SubmitAndWait(const tools::RpcEndpoint& endpoint, const std::vector<SignedTx>& txs,
                     size_t batch, BlockWatcher& watcher) {
  for (size_t off = 0; off < txs.size(); off += batch) {
    json::array hex;
    for (size_t k = off; k < std::min(txs.size(), off + batch); ++k)
      hex.push_back(json::value(txs[k].hex));
    auto r = tools::RpcCall(endpoint, "submit_txs", json::object{{"txs", hex}}, kRpcTimeoutMs);
    if (!r) return std::unexpected(r.error());
    for (const json::value& res : r->at("results").as_array()) {
      auto status = res.at("status").as_string();
      if (status != "admitted" && status != "duplicate")
        return MakeError(ErrorCode::kInternal, "setup tx not admitted: " + json::serialize(res));
    }
  }
  const auto start = Clock::now();
  while (watcher.CountSeen(txs) < txs.size()) {
    if (MsBetween(start, Clock::now()) > kSetupCommitTimeoutMs)
      return MakeError(ErrorCode::kUnavailable,
                       "setup transactions not committed within " +
                           std::to_string(kSetupCommitTimeoutMs) + " ms (" +
                           std::to_string(watcher.CountSeen(txs)) + "/" +
                           std::to_string(txs.size()) + "; " + watcher.last_error() + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  return OkStatus();
}

Result<std::vector<Wallet>> OpenWallets(Consortium& net, size_t count, size_t batch,
                                        BlockWatcher& watcher) {
  const std::vector<Member>& members = net.members();
  const std::string& chain = net.chain_id();
  std::vector<Wallet> w;
  for (size_t k = 0; k < count; ++k)
    w.push_back(Wallet{NewId(), crypto::PrivateKey::Generate(),
                       members[(k / 2) % members.size()].member_id});
  std::vector<SignedTx> setup;
  for (const Member& m : members) {
    std::vector<const Wallet*> group;
    for (const Wallet& x : w) {
      if (x.custodian != m.member_id) continue;
      group.push_back(&x);
      if (group.size() == kWalletsPerSetupTx) {
        setup.push_back(OpenAndFund(chain, group, m.governance));
        group.clear();
      }
    }
    if (!group.empty()) setup.push_back(OpenAndFund(chain, group, m.governance));
  }
  std::cerr << "opening " << count << " wallets in " << setup.size() << " transactions\n";
  LEDGER_TRY(SubmitAndWait(members[0].rpc, setup, batch, watcher));
  return w;
}

// --- Measurements --------------------------------------------------------------------------------

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  return "unknown";
}

json::array LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  return json::array{a, b, c};
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

double Round1(double x) {
  return std::round(x * 10) / 10;
}

// --- Command line --------------------------------------------------------------------------------

bool Args::Next() {
  if (++i_ >= argc_) return false;
  flag_ = argv_[i_];
  return true;
}

std::string Args::Value() {
  if (i_ + 1 >= argc_) {
    std::cerr << flag_ << " needs a value\n";
    std::exit(usage_());
  }
  return argv_[++i_];
}

}  // namespace cl::bench
