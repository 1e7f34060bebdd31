// FaultEnv: a LevelDB Env that injects the storage failures a node must survive, for tests (and a
// test build of ledgerd). It wraps another Env (the default one unless told) and counts the
// operations that change files: Append, Flush and Sync on writable files. One fault is armed at a
// time, by kind and by occurrence (the n-th Append or Sync counted from when it is armed):
//
//   kAppendError  that Append returns an IOError and writes nothing; later operations work.
//   kSyncError    that Sync returns an IOError (the data may or may not be on disk: LevelDB then
//                 refuses every later write, its "background error"); later operations work.
//   kDiskFull     that Append writes only its first disk_full_fit_bytes (the rest of the disk's
//                 byte budget) and fails with "No space left on device", as write(2) does on a
//                 full disk; every later Append fails the same way (the disk stays full).
//   kTornWrite    that Append writes only the first half of its bytes and the process "crashes":
//                 that operation and every later one that would change a file fails, so nothing
//                 else reaches the disk, as if the process died in the middle of the write.
//
// Reads are never faulted. What was appended stays in the files (a process crash keeps the page
// cache), so reopening the directory with the real Env sees every byte that reached the files.
//
// Thread safety: every method may be called from several threads (LevelDB appends from the writer
// and from its compaction thread).
#pragma once

#include <leveldb/env.h>

#include <cstdint>
#include <mutex>
#include <string>

namespace cl::ledger {

// kReadError and kReadCorruption fail a read: the occurrence-th NewRandomAccessFile or
// RandomAccessFile::Read (of a table file; LevelDB reads its logs only when it opens) answers an
// I/O error or a corruption (a checksum that does not match). Only that one read fails.
enum class FaultKind {
  kNone,
  kAppendError,
  kSyncError,
  kDiskFull,
  kTornWrite,
  kReadError,
  kReadCorruption
};

std::string_view FaultKindName(FaultKind kind);

// What FaultEnv saw, counted since construction.
struct FaultEnvCounts {
  uint64_t appends = 0;         // Append calls (failed ones too)
  uint64_t appended_bytes = 0;  // bytes that reached a file
  uint64_t flushes = 0;
  uint64_t syncs = 0;
  uint64_t reads = 0;  // NewRandomAccessFile and RandomAccessFile::Read calls
  // File-changing operations that reached the target Env after the armed fault fired.
  uint64_t changes_after_fault = 0;
};

class FaultEnv final : public leveldb::EnvWrapper {
 public:
  explicit FaultEnv(leveldb::Env* target = leveldb::Env::Default());

  // Arms one fault: `kind` at the occurrence-th (0-based) Append (kAppendError, kDiskFull,
  // kTornWrite) or Sync (kSyncError) from now. For kDiskFull, disk_full_fit_bytes of that Append
  // still fit on the disk. With a file_filter, only operations on files whose paths contain it
  // count and fail (".ldb": the tables LevelDB's compactions write in the background; ".log": the
  // write-ahead logs; "/state/": the node's state database). Replaces any earlier plan; a crash or
  // a full disk stays.
  void Arm(FaultKind kind, uint64_t occurrence, uint64_t disk_full_fit_bytes = 0,
           std::string file_filter = "");
  // Whether the armed fault has fired.
  bool fired() const;
  // Whether a torn write "crashed" the process (every later file change fails).
  bool crashed() const;
  FaultEnvCounts counts() const;

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** file) override;
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** file) override;
  leveldb::Status NewRandomAccessFile(const std::string& name,
                                      leveldb::RandomAccessFile** file) override;
  leveldb::Status RemoveFile(const std::string& name) override;
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override;

 private:
  class File;
  friend class File;
  class ReadFile;
  friend class ReadFile;
  // Called before each read operation (opening a file for reads, or a read of it).
  leveldb::Status PlanRead(const std::string& file);
  // What the file wrapper does with one Append: how many bytes go to the file, and the error to
  // return (ok when all of them go).
  struct AppendPlan {
    size_t write_bytes = 0;
    leveldb::Status status;
  };
  AppendPlan PlanAppend(const std::string& file, size_t size);
  leveldb::Status PlanSync(const std::string& file);
  bool Targets(const std::string& file) const;  // under mu_
  leveldb::Status PlanFlush(const std::string& file);
  // Called before a file-changing operation other than Append, Sync and Flush.
  leveldb::Status PlanOther(const std::string& file);
  // Bytes that reached a file; part_of_fault for the prefix a faulted Append wrote.
  void Wrote(size_t bytes, bool part_of_fault);

  mutable std::mutex mu_;
  FaultKind kind_ = FaultKind::kNone;
  uint64_t remaining_ = 0;  // occurrences of the faulted operation before the fault
  uint64_t disk_full_fit_bytes_ = 0;
  std::string file_filter_;
  bool fired_ = false;
  bool crashed_ = false;
  bool disk_full_ = false;
  FaultEnvCounts counts_;
};

}  // namespace cl::ledger
