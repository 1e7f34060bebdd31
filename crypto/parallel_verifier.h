// Checks a batch of ECDSA signatures on all cores and returns one verdict per item (DESIGN
// decision 14: signature checks dominate, so admission spreads them over every core).
//
// A ParallelVerifier owns a fixed pool of worker threads, started by the constructor and joined by
// the destructor. A batch is split into chunks that the workers (and the calling thread, which
// helps rather than sleeps) claim one at a time, so a batch uses every core and a slow chunk does
// not hold up the others. No allocation happens per item; verdicts are written into the caller's
// buffer.
//
// Thread safety: VerifyBatch may be called from several threads at once; concurrent batches share
// the pool, queued first come first served. The destructor must not run while a VerifyBatch call is
// in progress (the owner outlives its callers, as for any object).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "util/bytes.h"
#include "util/status.h"

namespace cl::crypto {

// One signature to check. The spans must stay valid until VerifyBatch returns.
struct VerifyItem {
  ByteSpan public_key;  // expected: 33-byte compressed secp256k1 key
  Hash32 digest;        // the 32-byte digest that was signed
  ByteSpan signature;   // expected: 64-byte compact r || s, low-S
};

// A verdict byte: kVerdictValid exactly when crypto::Verify would accept the item, i.e. the key is
// a 33-byte compressed point, the signature is 64 bytes, and it is a valid low-S signature of the
// digest. Anything malformed is kVerdictInvalid, never an error.
inline constexpr uint8_t kVerdictInvalid = 0;
inline constexpr uint8_t kVerdictValid = 1;

class ParallelVerifier {
 public:
  // Largest batch accepted by one call. A larger batch is kResourceExhausted: split it.
  static constexpr size_t kMaxBatchItems = 65'536;
  // Upper bound on the pool size a caller may ask for.
  static constexpr size_t kMaxThreads = 256;
  // A chunk is at least this many items (about 0.3 ms of work at ~40 us per check), so that the
  // cost of claiming a chunk is noise.
  static constexpr size_t kMinChunkItems = 8;
  // Chunks per thread for a large batch: more than one, so fast threads take over the work of a
  // thread that was descheduled.
  static constexpr size_t kChunksPerThread = 4;

  // num_threads == 0 means std::thread::hardware_concurrency() (at least 1); larger values are
  // capped at kMaxThreads. If the operating system refuses to start some threads the pool runs
  // with those it got (the calling thread always works too, so even zero workers is correct).
  explicit ParallelVerifier(size_t num_threads = 0);
  ~ParallelVerifier();
  ParallelVerifier(const ParallelVerifier&) = delete;
  ParallelVerifier& operator=(const ParallelVerifier&) = delete;

  // Worker threads actually running.
  size_t num_threads() const { return workers_.size(); }

  // Writes one verdict per item into verdicts (which must have items.size() elements). Errors:
  // kResourceExhausted past kMaxBatchItems, kInvalidArgument on a size mismatch. An empty batch is
  // fine.
  Status VerifyBatch(std::span<const VerifyItem> items, std::span<uint8_t> verdicts);
  // As above, returning the verdicts in a new vector.
  Result<std::vector<uint8_t>> VerifyBatch(std::span<const VerifyItem> items);

 private:
  // One VerifyBatch call's shared state; lives on the caller's stack. Fields other than items and
  // verdicts are guarded by mu_.
  struct Batch {
    std::span<const VerifyItem> items;
    std::span<uint8_t> verdicts;
    size_t chunk_items = 0;
    size_t num_chunks = 0;
    size_t next_chunk = 0;  // first chunk nobody has claimed
    size_t done_chunks = 0;
    Batch* next = nullptr;  // intrusive queue link: queueing allocates nothing
  };

  void WorkerLoop();
  // Claims the next chunk of the batch at the head of the queue; pops the batch once every chunk
  // is claimed. Requires mu_ held and a non-empty queue.
  size_t ClaimFromHeadLocked(Batch** batch);
  static void RunChunk(const Batch& batch, size_t chunk);

  std::mutex mu_;
  std::condition_variable work_cv_;  // signalled when a batch is queued or on shutdown
  std::condition_variable done_cv_;  // signalled when a batch's last chunk completes
  Batch* head_ = nullptr;            // queue of batches with unclaimed chunks, guarded by mu_
  Batch* tail_ = nullptr;
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace cl::crypto
