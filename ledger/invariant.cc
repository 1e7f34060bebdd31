#include "ledger/invariant.h"

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

namespace cl::ledger {
namespace {

__extension__ typedef __int128 Int128;  // wide enough for any sum of u64 balances

Status Violation(const std::string& what) {
  return MakeError(ErrorCode::kInternal, "invariant: " + what);
}

template <class Record>
Result<std::optional<Record>> Parse(const std::optional<Bytes>& raw) {
  if (!raw) return std::optional<Record>();
  Record rec;
  if (!rec.ParseFromArray(raw->data(), static_cast<int>(raw->size()))) {
    return MakeError(ErrorCode::kCorruption, "state record does not parse");
  }
  return std::optional<Record>(std::move(rec));
}

// Parses records into one reused message, so that checking a block's tens of thousands of records
// does not allocate and free every record's strings and sub-messages.
template <class Record>
class ReusedRecord {
 public:
  // nullptr when the record is absent.
  Result<const Record*> Parse(const std::optional<Bytes>& raw) {
    if (!raw) return nullptr;
    if (!rec_.ParseFromArray(raw->data(), static_cast<int>(raw->size()))) {
      return MakeError(ErrorCode::kCorruption, "state record does not parse");
    }
    return &rec_;
  }

 private:
  Record rec_;
};

// An account record's fields: decoded in place when canonical (DecodeAccountFields: every record
// this node writes), else parsed by protobuf into a reused message (whose strings the views then
// point into).
class AccountDecoder {
 public:
  // nullptr when the record is absent.
  Result<const AccountFields*> Decode(const std::optional<Bytes>& raw) {
    if (!raw) return nullptr;
    if (DecodeAccountFields(*raw, &fields_)) return &fields_;
    auto rec = record_.Parse(raw);
    if (!rec) return std::unexpected(rec.error());
    fields_ = AccountFieldsOf(**rec);
    return &fields_;
  }

 private:
  ReusedRecord<pb::AccountRecord> record_;
  AccountFields fields_;
};

// A transfer record's fields the check reads: decoded in place when canonical, else parsed by
// protobuf into a reused message (whose strings the views then point into).
class TransferDecoder {
 public:
  // nullptr when the record is absent.
  Result<const TransferFields*> Decode(const std::optional<Bytes>& raw) {
    if (!raw) return nullptr;
    if (DecodeTransferFields(*raw, &fields_)) return &fields_;
    auto rec = record_.Parse(raw);
    if (!rec) return std::unexpected(rec.error());
    const pb::TransferRecord& t = **rec;
    fields_.id = t.transfer().id();
    fields_.debit_account = t.transfer().debit_account();
    fields_.credit_account = t.transfer().credit_account();
    fields_.amount = t.transfer().amount();
    fields_.state = t.state();
    return &fields_;
  }

 private:
  ReusedRecord<pb::TransferRecord> record_;
  TransferFields fields_;
};

Int128 Balance(const AccountFields& a) {
  return static_cast<Int128>(a.credits_posted) - static_cast<Int128>(a.debits_posted);
}

Status CheckFloor(const AccountFields& a) {
  if (a.closed &&
      (a.debits_posted != a.credits_posted || a.debits_pending != 0 || a.credits_pending != 0)) {
    return Violation("closed account with a balance");
  }
  if (a.issuer) return OkStatus();
  Int128 allowed = a.credits_posted;
  if (!(a.flags & pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS)) allowed += a.overdraft_limit;
  if (static_cast<Int128>(a.debits_posted) + a.debits_pending > allowed) {
    return Violation("non-issuer account below its floor");
  }
  return OkStatus();
}

Int128 LiveAmount(const pb::TransferRecord* t) {
  if (!t || t->state() != pb::TRANSFER_STATE_PENDING) return 0;
  return t->transfer().amount();
}
Int128 LiveAmount(const TransferFields* t) {
  if (!t || t->state != pb::TRANSFER_STATE_PENDING) return 0;
  return t->amount;
}

struct PendingDelta {
  Int128 debits = 0;
  Int128 credits = 0;
  bool operator==(const PendingDelta&) const = default;
};

PendingDelta& HoldDeltaOf(std::map<std::string, PendingDelta, std::less<>>& deltas,
                          std::string_view id) {
  auto it = deltas.find(id);
  if (it == deltas.end()) it = deltas.emplace(std::string(id), PendingDelta{}).first;
  return it->second;
}

}  // namespace

Status CheckBlockInvariants(const LedgerState& state) {
  auto writes = state.SortedWrites();
  if (!writes) return std::unexpected(writes.error());
  return CheckBlockWrites(*writes);
}

Status CheckBlockWrites(const std::vector<LedgerState::Write>& writes) {
  std::map<std::string, Int128, std::less<>> asset_delta;
  // From account records, by id: a view of the key's suffix (keys outlive this check), or for a
  // record whose id is not its key's suffix, of a copy kept in other_ids. Accounts come in key
  // order, so the ids arrive sorted and distinct unless some record names another id (then the
  // list is sorted and merged after the loop).
  std::vector<std::pair<std::string_view, PendingDelta>> account_pending_delta;
  bool ids_sorted = true;
  std::deque<std::string> other_ids;
  std::map<std::string, PendingDelta, std::less<>> hold_delta;  // from hold records
  Int128 live_count_delta = 0;
  Int128 live_before = 0, live_after = 0;
  AccountDecoder account_before, account_after;
  TransferDecoder transfer_before, transfer_after;
  // Visited in key order, so that of several violations the same one is reported everywhere.
  // Key order is random order in memory: the records of writes a few places ahead are prefetched
  // (their slots first, then the bytes), or each decode would wait for memory.
  constexpr size_t kPrefetchSlotsAhead = 8;
  constexpr size_t kPrefetchBytesAhead = 4;
  for (size_t i = 0; i < writes.size(); ++i) {
    if (i + kPrefetchSlotsAhead < writes.size()) {
      __builtin_prefetch(writes[i + kPrefetchSlotsAhead].before);
      __builtin_prefetch(writes[i + kPrefetchSlotsAhead].after);
    }
    if (i + kPrefetchBytesAhead < writes.size()) {
      const LedgerState::Write& ahead = writes[i + kPrefetchBytesAhead];
      if (ahead.before->has_value()) __builtin_prefetch((*ahead.before)->data());
      if (ahead.after->has_value()) __builtin_prefetch((*ahead.after)->data());
    }
    const LedgerState::Write& w = writes[i];
    const std::string_view key = w.key;
    const std::optional<Bytes>& before_raw = *w.before;
    const std::optional<Bytes>& after_raw = *w.after;
    if (key.empty()) continue;
    if (static_cast<uint8_t>(key[0]) == keys::kAccount) {
      auto before = account_before.Decode(before_raw);
      auto after = account_after.Decode(after_raw);
      if (!before) return std::unexpected(before.error());
      if (!after) return std::unexpected(after.error());
      if (!*after) return Violation("an account was deleted");
      const AccountFields& a = **after;
      const AccountFields* b = *before;
      if (b != nullptr && (b->asset != a.asset || b->issuer != a.issuer)) {
        return Violation("an account changed asset or issuer flag");
      }
      // Custody and credit terms are fixed when the account is created, where the custodian and,
      // for an overdraft, the asset's issuer approved them; no operation changes them.
      if (b != nullptr && (b->custodian != a.custodian || b->flags != a.flags ||
                           b->overdraft_limit != a.overdraft_limit)) {
        return Violation("an account changed its custodian or credit terms");
      }
      Int128 before_balance = b != nullptr ? Balance(*b) : 0;
      auto asset = asset_delta.find(a.asset);
      if (asset == asset_delta.end()) asset = asset_delta.emplace(std::string(a.asset), 0).first;
      asset->second += Balance(a) - before_balance;
      LEDGER_TRY(CheckFloor(a));
      std::string_view id = key.substr(1);
      if (id != a.id) id = other_ids.emplace_back(a.id);
      if (!account_pending_delta.empty() && !(account_pending_delta.back().first < id)) {
        ids_sorted = false;
      }
      PendingDelta d;
      d.debits = static_cast<Int128>(a.debits_pending) - (b != nullptr ? b->debits_pending : 0);
      d.credits = static_cast<Int128>(a.credits_pending) - (b != nullptr ? b->credits_pending : 0);
      account_pending_delta.emplace_back(id, d);
    } else if (static_cast<uint8_t>(key[0]) == keys::kTransfer) {
      auto before = transfer_before.Decode(before_raw);
      auto after = transfer_after.Decode(after_raw);
      if (!before) return std::unexpected(before.error());
      if (!after) return std::unexpected(after.error());
      if (!*after) return Violation("a transfer was deleted");
      if (*before && (*before)->state != pb::TRANSFER_STATE_PENDING && before_raw != after_raw) {
        return Violation("a resolved transfer or hold changed (resolved twice?)");
      }
      Int128 delta = LiveAmount(*after) - LiveAmount(*before);
      if (delta != 0) {
        HoldDeltaOf(hold_delta, (*after)->debit_account).debits += delta;
        HoldDeltaOf(hold_delta, (*after)->credit_account).credits += delta;
      }
      live_count_delta += (LiveAmount(*after) != 0) - (LiveAmount(*before) != 0);
    } else if (key.size() == 1 && static_cast<uint8_t>(key[0]) == keys::kHoldMeta) {
      auto meta_before = Parse<pb::HoldIndexMeta>(before_raw);
      auto meta_after = Parse<pb::HoldIndexMeta>(after_raw);
      if (!meta_before) return std::unexpected(meta_before.error());
      if (!meta_after) return std::unexpected(meta_after.error());
      live_before = *meta_before ? (*meta_before)->live_holds() : 0;
      live_after = *meta_after ? (*meta_after)->live_holds() : 0;
    }
  }
  if (!ids_sorted) {
    std::stable_sort(account_pending_delta.begin(), account_pending_delta.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    std::vector<std::pair<std::string_view, PendingDelta>> merged;
    for (const auto& [id, delta] : account_pending_delta) {
      if (!merged.empty() && merged.back().first == id) {
        merged.back().second.debits += delta.debits;
        merged.back().second.credits += delta.credits;
      } else {
        merged.emplace_back(id, delta);
      }
    }
    account_pending_delta = std::move(merged);
  }
  auto account_written = [&account_pending_delta](std::string_view id) {
    auto it =
        std::lower_bound(account_pending_delta.begin(), account_pending_delta.end(), id,
                         [](const auto& entry, std::string_view v) { return entry.first < v; });
    return it != account_pending_delta.end() && it->first == id;
  };
  for (const auto& [asset, delta] : asset_delta) {
    if (delta != 0) return Violation("balances of asset " + asset + " do not sum to zero");
  }
  for (const auto& [id, delta] : account_pending_delta) {
    auto it = hold_delta.find(id);
    PendingDelta expected = it == hold_delta.end() ? PendingDelta{} : it->second;
    if (!(expected == delta)) return Violation("pending amounts differ from live holds");
  }
  for (const auto& [id, delta] : hold_delta) {
    if (!account_written(id) && !(delta == PendingDelta{})) {
      return Violation("a hold changed without its account");
    }
  }
  // An unwritten hold index keeps its count: its delta is zero.
  if (live_after - live_before != live_count_delta) {
    return Violation("live hold count differs from the holds");
  }
  return OkStatus();
}

Status CheckStateInvariants(const BytesMap<Bytes>& state) {
  std::map<std::string, Int128> asset_sum;
  std::map<std::string, PendingDelta> account_pending;
  std::map<std::string, PendingDelta> live;
  uint64_t live_count = 0;
  uint64_t meta_live = 0;
  for (const auto& [key, raw] : state) {
    if (key.empty()) continue;
    if (key[0] == keys::kAccount) {
      auto a = Parse<pb::AccountRecord>(raw);
      if (!a) return std::unexpected(a.error());
      const AccountFields balances = AccountFieldsOf(**a);
      asset_sum[(*a)->asset()] += Balance(balances);
      LEDGER_TRY(CheckFloor(balances));
      account_pending[(*a)->id()] = PendingDelta{(*a)->debits_pending(), (*a)->credits_pending()};
    } else if (key[0] == keys::kTransfer) {
      auto t = Parse<pb::TransferRecord>(raw);
      if (!t) return std::unexpected(t.error());
      Int128 amount = *t ? LiveAmount(&**t) : 0;
      if (amount != 0) {
        live[(*t)->transfer().debit_account()].debits += amount;
        live[(*t)->transfer().credit_account()].credits += amount;
        ++live_count;
      }
    } else if (key == keys::HoldMeta()) {
      auto m = Parse<pb::HoldIndexMeta>(raw);
      if (!m) return std::unexpected(m.error());
      meta_live = (*m)->live_holds();
    }
  }
  for (const auto& [asset, sum] : asset_sum) {
    if (sum != 0) return Violation("balances of asset " + asset + " do not sum to zero");
  }
  for (const auto& [id, pending] : account_pending) {
    auto it = live.find(id);
    PendingDelta expected = it == live.end() ? PendingDelta{} : it->second;
    if (!(expected == pending)) return Violation("pending amounts differ from live holds");
  }
  for (const auto& [id, amounts] : live) {
    if (!account_pending.contains(id)) return Violation("a live hold names a missing account");
  }
  if (meta_live != live_count) return Violation("live hold count differs from the holds");
  return OkStatus();
}

}  // namespace cl::ledger
