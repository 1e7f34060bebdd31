#include "ledger/fault_env.h"

#include <algorithm>
#include <memory>

namespace cl::ledger {
namespace {

// Named like the default Env's errors ("<file>: <what>"), marked as injected.
leveldb::Status Injected(const std::string& file, const std::string& what) {
  return leveldb::Status::IOError(file, "injected fault: " + what);
}

leveldb::Status Crashed(const std::string& file) {
  return Injected(file, "the process crashed (torn write)");
}

}  // namespace

std::string_view FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone:
      return "none";
    case FaultKind::kAppendError:
      return "append_error";
    case FaultKind::kSyncError:
      return "sync_error";
    case FaultKind::kDiskFull:
      return "disk_full";
    case FaultKind::kTornWrite:
      return "torn_write";
    case FaultKind::kReadError:
      return "read_error";
    case FaultKind::kReadCorruption:
      return "read_corruption";
  }
  return "unknown";
}

// Every Append reaches the target file at once (Append then Flush), so the target never holds
// bytes in a buffer of its own that it would write later (when closed after a "crash").
class FaultEnv::File final : public leveldb::WritableFile {
 public:
  File(FaultEnv* env, std::string name, std::unique_ptr<leveldb::WritableFile> target)
      : env_(env), name_(std::move(name)), target_(std::move(target)) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    const AppendPlan plan = env_->PlanAppend(name_, data.size());
    if (plan.write_bytes > 0) {
      leveldb::Status s = target_->Append(leveldb::Slice(data.data(), plan.write_bytes));
      if (s.ok()) s = target_->Flush();
      if (!s.ok()) return s;
      env_->Wrote(plan.write_bytes, /*part_of_fault=*/!plan.status.ok());
    }
    return plan.status;
  }
  leveldb::Status Flush() override {
    leveldb::Status s = env_->PlanFlush(name_);
    if (!s.ok()) return s;
    return target_->Flush();
  }
  leveldb::Status Sync() override {
    leveldb::Status s = env_->PlanSync(name_);
    if (!s.ok()) return s;
    return target_->Sync();
  }
  leveldb::Status Close() override {
    // Its buffer is empty (see above), so closing writes nothing, crashed or not.
    return target_->Close();
  }

 private:
  FaultEnv* const env_;
  const std::string name_;
  const std::unique_ptr<leveldb::WritableFile> target_;
};

FaultEnv::FaultEnv(leveldb::Env* target) : leveldb::EnvWrapper(target) {}

void FaultEnv::Arm(FaultKind kind, uint64_t occurrence, uint64_t disk_full_fit_bytes,
                   std::string file_filter) {
  std::lock_guard lock(mu_);
  file_filter_ = std::move(file_filter);
  kind_ = kind;
  remaining_ = occurrence;
  disk_full_fit_bytes_ = disk_full_fit_bytes;
  fired_ = false;
}

bool FaultEnv::fired() const {
  std::lock_guard lock(mu_);
  return fired_;
}

bool FaultEnv::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}

FaultEnvCounts FaultEnv::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

bool FaultEnv::Targets(const std::string& file) const {
  return file.find(file_filter_) != std::string::npos;
}

FaultEnv::AppendPlan FaultEnv::PlanAppend(const std::string& file, size_t size) {
  std::lock_guard lock(mu_);
  counts_.appends++;
  if (crashed_) return {0, Crashed(file)};
  if (disk_full_) return {0, Injected(file, "No space left on device")};
  const bool armed = !fired_ && Targets(file) &&
                     (kind_ == FaultKind::kAppendError || kind_ == FaultKind::kDiskFull ||
                      kind_ == FaultKind::kTornWrite);
  if (armed && remaining_ > 0) {
    remaining_--;
  } else if (armed) {
    fired_ = true;
    switch (kind_) {
      case FaultKind::kAppendError:
        return {0, Injected(file, "Input/output error")};
      case FaultKind::kDiskFull: {
        disk_full_ = true;
        const size_t fit = static_cast<size_t>(std::min<uint64_t>(disk_full_fit_bytes_, size));
        return {fit, Injected(file, "No space left on device")};
      }
      case FaultKind::kTornWrite:
        crashed_ = true;
        return {size / 2, Crashed(file)};
      default:
        break;
    }
  }
  return {size, leveldb::Status::OK()};
}

void FaultEnv::Wrote(size_t bytes, bool part_of_fault) {
  std::lock_guard lock(mu_);
  counts_.appended_bytes += bytes;
  if (fired_ && !part_of_fault) counts_.changes_after_fault++;
}

leveldb::Status FaultEnv::PlanSync(const std::string& file) {
  std::lock_guard lock(mu_);
  counts_.syncs++;
  if (crashed_) return Crashed(file);
  if (!fired_ && kind_ == FaultKind::kSyncError && Targets(file)) {
    if (remaining_ > 0) {
      remaining_--;
    } else {
      fired_ = true;
      return Injected(file, "fsync: Input/output error");
    }
  }
  if (fired_) counts_.changes_after_fault++;
  return leveldb::Status::OK();
}

leveldb::Status FaultEnv::PlanFlush(const std::string& file) {
  std::lock_guard lock(mu_);
  counts_.flushes++;
  if (crashed_) return Crashed(file);
  return leveldb::Status::OK();
}

leveldb::Status FaultEnv::PlanOther(const std::string& file) {
  std::lock_guard lock(mu_);
  if (crashed_) return Crashed(file);
  if (fired_) counts_.changes_after_fault++;
  return leveldb::Status::OK();
}

leveldb::Status FaultEnv::NewWritableFile(const std::string& name, leveldb::WritableFile** file) {
  *file = nullptr;
  leveldb::Status s = PlanOther(name);
  if (!s.ok()) return s;
  leveldb::WritableFile* target = nullptr;
  s = EnvWrapper::NewWritableFile(name, &target);
  if (!s.ok()) return s;
  *file = new File(this, name, std::unique_ptr<leveldb::WritableFile>(target));
  return s;
}

leveldb::Status FaultEnv::NewAppendableFile(const std::string& name, leveldb::WritableFile** file) {
  *file = nullptr;
  leveldb::Status s = PlanOther(name);
  if (!s.ok()) return s;
  leveldb::WritableFile* target = nullptr;
  s = EnvWrapper::NewAppendableFile(name, &target);
  if (!s.ok()) return s;
  *file = new File(this, name, std::unique_ptr<leveldb::WritableFile>(target));
  return s;
}

leveldb::Status FaultEnv::PlanRead(const std::string& file) {
  std::lock_guard lock(mu_);
  counts_.reads++;
  const bool armed = !fired_ && Targets(file) &&
                     (kind_ == FaultKind::kReadError || kind_ == FaultKind::kReadCorruption);
  if (!armed) return leveldb::Status::OK();
  if (remaining_ > 0) {
    remaining_--;
    return leveldb::Status::OK();
  }
  fired_ = true;
  if (kind_ == FaultKind::kReadCorruption)
    return leveldb::Status::Corruption(file, "injected fault: block checksum mismatch");
  return Injected(file, "Input/output error");
}

class FaultEnv::ReadFile final : public leveldb::RandomAccessFile {
 public:
  ReadFile(FaultEnv* env, std::string name, std::unique_ptr<leveldb::RandomAccessFile> target)
      : env_(env), name_(std::move(name)), target_(std::move(target)) {}
  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    leveldb::Status planned = env_->PlanRead(name_);
    if (!planned.ok()) {
      *result = leveldb::Slice();
      return planned;
    }
    return target_->Read(offset, n, result, scratch);
  }

 private:
  FaultEnv* env_;
  std::string name_;
  std::unique_ptr<leveldb::RandomAccessFile> target_;
};

leveldb::Status FaultEnv::NewRandomAccessFile(const std::string& name,
                                              leveldb::RandomAccessFile** file) {
  *file = nullptr;
  leveldb::Status planned = PlanRead(name);
  if (!planned.ok()) return planned;
  leveldb::RandomAccessFile* opened = nullptr;
  leveldb::Status s = target()->NewRandomAccessFile(name, &opened);
  if (!s.ok()) return s;
  *file = new ReadFile(this, name, std::unique_ptr<leveldb::RandomAccessFile>(opened));
  return leveldb::Status::OK();
}

leveldb::Status FaultEnv::RemoveFile(const std::string& name) {
  leveldb::Status s = PlanOther(name);
  if (!s.ok()) return s;
  return EnvWrapper::RemoveFile(name);
}

leveldb::Status FaultEnv::RenameFile(const std::string& from, const std::string& to) {
  leveldb::Status s = PlanOther(from);
  if (!s.ok()) return s;
  return EnvWrapper::RenameFile(from, to);
}

}  // namespace cl::ledger
