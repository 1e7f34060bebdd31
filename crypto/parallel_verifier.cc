#include "crypto/parallel_verifier.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <system_error>

#include "crypto/keys.h"
#include "util/assert.h"

namespace cl::crypto {
namespace {

// Same verdict as PublicKey::Parse + Signature::FromSpan + Verify, with one key parse instead of
// two: Verify parses the key itself and returns false if it is not a point, and for 33-byte input
// libsecp256k1 accepts exactly the compressed encodings that PublicKey::Parse accepts.
uint8_t VerifyOne(const VerifyItem& item) {
  if (item.public_key.size() != kPublicKeyBytes || item.signature.size() != kSignatureBytes)
    return kVerdictInvalid;
  if (item.public_key[0] != 0x02 && item.public_key[0] != 0x03) return kVerdictInvalid;
  PublicKey key;
  std::memcpy(key.bytes.data(), item.public_key.data(), kPublicKeyBytes);
  Signature sig;
  std::memcpy(sig.bytes.data(), item.signature.data(), kSignatureBytes);
  return Verify(key, item.digest, sig) ? kVerdictValid : kVerdictInvalid;
}

size_t CeilDiv(size_t a, size_t b) {
  return (a + b - 1) / b;
}

}  // namespace

ParallelVerifier::ParallelVerifier(size_t num_threads) {
  if (num_threads == 0) num_threads = std::max<size_t>(1, std::thread::hardware_concurrency());
  num_threads = std::min(num_threads, kMaxThreads);
  workers_.reserve(num_threads);
  for (size_t i = 0; i < num_threads; ++i) {
    try {
      workers_.emplace_back([this] { WorkerLoop(); });
    } catch (const std::system_error&) {
      break;  // run with the threads we got; callers still make progress on their own thread
    }
  }
}

ParallelVerifier::~ParallelVerifier() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_)
    t.join();
  // A batch still queued would mean a VerifyBatch call outlived the verifier.
  LEDGER_ASSERT(head_ == nullptr);
}

void ParallelVerifier::RunChunk(const Batch& batch, size_t chunk) {
  const size_t begin = chunk * batch.chunk_items;
  const size_t end = std::min(begin + batch.chunk_items, batch.items.size());
  for (size_t i = begin; i < end; ++i)
    batch.verdicts[i] = VerifyOne(batch.items[i]);
}

size_t ParallelVerifier::ClaimFromHeadLocked(Batch** batch) {
  Batch* b = head_;
  LEDGER_ASSERT(b != nullptr && b->next_chunk < b->num_chunks);
  const size_t chunk = b->next_chunk++;
  if (b->next_chunk == b->num_chunks) {  // fully claimed: nobody needs to find it any more
    head_ = b->next;
    if (head_ == nullptr) tail_ = nullptr;
    b->next = nullptr;
  }
  *batch = b;
  return chunk;
}

void ParallelVerifier::WorkerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [this] { return stopping_ || head_ != nullptr; });
    if (head_ == nullptr) return;  // stopping, and no work left
    Batch* batch = nullptr;
    const size_t chunk = ClaimFromHeadLocked(&batch);
    lock.unlock();
    RunChunk(*batch, chunk);
    lock.lock();
    // After this increment the owner may return and destroy *batch: do not touch it again.
    if (++batch->done_chunks == batch->num_chunks) done_cv_.notify_all();
  }
}

Status ParallelVerifier::VerifyBatch(std::span<const VerifyItem> items,
                                     std::span<uint8_t> verdicts) {
  if (items.size() > kMaxBatchItems)
    return MakeError(ErrorCode::kResourceExhausted,
                     "signature batch of " + std::to_string(items.size()) +
                         " items exceeds kMaxBatchItems (" + std::to_string(kMaxBatchItems) +
                         "); split it");
  if (verdicts.size() != items.size())
    return MakeError(ErrorCode::kInvalidArgument,
                     "verdict buffer has " + std::to_string(verdicts.size()) + " slots for " +
                         std::to_string(items.size()) + " items");
  if (items.empty()) return OkStatus();

  Batch batch;
  batch.items = items;
  batch.verdicts = verdicts;
  const size_t threads = workers_.size() + 1;  // the caller works too
  batch.chunk_items = std::max(kMinChunkItems, CeilDiv(items.size(), threads * kChunksPerThread));
  batch.num_chunks = CeilDiv(items.size(), batch.chunk_items);
  if (batch.num_chunks == 1 || workers_.empty()) {
    // Too small to be worth a hand-off.
    for (size_t c = 0; c < batch.num_chunks; ++c)
      RunChunk(batch, c);
    return OkStatus();
  }

  std::unique_lock lock(mu_);
  if (tail_ == nullptr) {
    head_ = tail_ = &batch;
  } else {
    tail_->next = &batch;
    tail_ = &batch;
  }
  work_cv_.notify_all();
  while (true) {
    if (batch.next_chunk < batch.num_chunks) {
      // Help with our own batch instead of sleeping.
      const size_t chunk = batch.next_chunk++;
      if (batch.next_chunk == batch.num_chunks) {
        // Fully claimed: unlink it (the queue is as long as the number of concurrent callers).
        Batch** link = &head_;
        Batch* prev = nullptr;
        while (*link != &batch) {
          prev = *link;
          link = &(*link)->next;
        }
        *link = batch.next;
        if (tail_ == &batch) tail_ = prev;
        batch.next = nullptr;
      }
      lock.unlock();
      RunChunk(batch, chunk);
      lock.lock();
      ++batch.done_chunks;
      continue;
    }
    if (batch.done_chunks == batch.num_chunks) break;
    done_cv_.wait(lock);
  }
  return OkStatus();
}

Result<std::vector<uint8_t>> ParallelVerifier::VerifyBatch(std::span<const VerifyItem> items) {
  if (items.size() > kMaxBatchItems)
    return MakeError(ErrorCode::kResourceExhausted,
                     "signature batch of " + std::to_string(items.size()) +
                         " items exceeds kMaxBatchItems (" + std::to_string(kMaxBatchItems) +
                         "); split it");
  std::vector<uint8_t> verdicts(items.size(), kVerdictInvalid);
  LEDGER_TRY(VerifyBatch(items, std::span<uint8_t>(verdicts)));
  return verdicts;
}

}  // namespace cl::crypto
