#include "ledger/block.h"

#include <cstring>

#include "crypto/sha256.h"
#include "ledger/transaction.h"
#include "util/assert.h"
#include "util/canonical_proto.h"

namespace cl::ledger {
namespace {

bool SameHash(const Hash32& computed, const std::string& stored) {
  return stored.size() == Hash32::kSize &&
         std::memcmp(computed.data(), stored.data(), Hash32::kSize) == 0;
}

// The witness root over envelopes held as strings (a parsed pb::Block).
Hash32 WitnessRootOfStrings(const google::protobuf::RepeatedPtrField<std::string>& envelopes) {
  std::vector<Hash32> leaves;
  leaves.reserve(envelopes.size());
  for (const std::string& envelope : envelopes)
    leaves.push_back(MerkleLeafHash(TxWitnessHash(AsSpan(envelope)).span()));
  return MerkleRootOfLeafHashes(leaves);
}

}  // namespace

Hash32 HeaderHash(std::string_view chain_id, ByteSpan header_bytes) {
  return crypto::SignedDigest(crypto::Domain::kBlockHeader, chain_id, header_bytes);
}

Hash32 TxRoot(std::span<const Hash32> tx_ids) {
  std::vector<Hash32> leaves;
  leaves.reserve(tx_ids.size());
  for (const Hash32& id : tx_ids)
    leaves.push_back(MerkleLeafHash(id.span()));
  return MerkleRootOfLeafHashes(leaves);
}

Hash32 TxWitnessHash(ByteSpan envelope) {
  return crypto::TaggedHash(crypto::Domain::kTxWitness, envelope);
}

Hash32 WitnessRoot(std::span<const Bytes> envelopes) {
  std::vector<Hash32> leaves;
  leaves.reserve(envelopes.size());
  for (const Bytes& envelope : envelopes)
    leaves.push_back(MerkleLeafHash(TxWitnessHash(envelope).span()));
  return MerkleRootOfLeafHashes(leaves);
}

Bytes EncodeBlock(const pb::BlockHeader& header_without_roots, std::span<const Bytes> txs,
                  std::span<const Hash32> tx_ids) {
  LEDGER_ASSERT(txs.size() == tx_ids.size());
  LEDGER_ASSERT(txs.size() <= kMaxTxsPerBlock);
  pb::BlockHeader header = header_without_roots;
  Hash32 root = TxRoot(tx_ids);
  header.set_tx_root(root.data(), root.size());
  header.set_tx_count(static_cast<uint32_t>(txs.size()));
  Hash32 witness = WitnessRoot(txs);
  header.set_witness_root(witness.data(), witness.size());
  pb::Block block;
  block.set_header(CanonicalEncoding(header));
  for (const Bytes& tx : txs)
    block.add_txs(tx.data(), tx.size());
  std::string out = CanonicalEncoding(block);
  return Bytes(out.begin(), out.end());
}

std::optional<Hash32> WellFormedHeaderHash(ByteSpan bytes, std::string_view chain_id) {
  if (bytes.empty() || bytes.size() > kMaxBlockBytes) return std::nullopt;
  // Strict parsing: with a lenient one, a payload with an unknown field added to the Block would
  // share the digest of the payload without it, and the two could be executed differently.
  pb::Block block;
  if (!ParseCanonical(block, bytes, "block")) return std::nullopt;
  if (block.header().size() > kMaxHeaderBytes ||
      block.txs_size() > static_cast<int>(kMaxTxsPerBlock))
    return std::nullopt;
  pb::BlockHeader header;
  if (!ParseCanonical(header, block.header(), "block header") || header.chain_id() != chain_id ||
      header.height() == 0 || header.tx_count() != static_cast<uint32_t>(block.txs_size()))
    return std::nullopt;
  std::vector<Hash32> ids;
  ids.reserve(block.txs_size());
  for (const std::string& tx : block.txs()) {
    pb::TxEnvelope envelope;
    if (!ParseCanonical(envelope, tx, "envelope")) return std::nullopt;
    ids.push_back(crypto::SignedDigest(crypto::Domain::kTxId, chain_id, AsSpan(envelope.body())));
  }
  if (!SameHash(TxRoot(ids), header.tx_root()) ||
      !SameHash(WitnessRootOfStrings(block.txs()), header.witness_root()))
    return std::nullopt;
  return HeaderHash(chain_id, AsSpan(block.header()));
}

Result<DecodedBlock> DecodeBlock(ByteSpan bytes, std::string_view chain_id) {
  if (bytes.size() > kMaxBlockBytes)
    return MakeError(ErrorCode::kInvalidArgument, "block larger than kMaxBlockBytes");
  pb::Block block;
  LEDGER_TRY(ParseCanonical(block, bytes, "block"));
  if (block.header().size() > kMaxHeaderBytes)
    return MakeError(ErrorCode::kInvalidArgument, "block header larger than kMaxHeaderBytes");
  if (block.txs_size() > static_cast<int>(kMaxTxsPerBlock))
    return MakeError(ErrorCode::kInvalidArgument, "block has more than kMaxTxsPerBlock txs");
  DecodedBlock out;
  LEDGER_TRY(ParseCanonical(out.header, block.header(), "block header"));
  if (out.header.chain_id() != chain_id)
    return MakeError(ErrorCode::kInvalidArgument, "block is for another chain");
  if (out.header.height() == 0)
    return MakeError(ErrorCode::kInvalidArgument, "block height must be at least 1");
  if (out.header.prev_header_hash().size() != Hash32::kSize ||
      out.header.tx_root().size() != Hash32::kSize ||
      out.header.witness_root().size() != Hash32::kSize ||
      out.header.validator_set_hash().size() != Hash32::kSize)
    return MakeError(ErrorCode::kInvalidArgument, "block header hash fields must be 32 bytes");
  if (out.header.tx_count() != static_cast<uint32_t>(block.txs_size()))
    return MakeError(ErrorCode::kInvalidArgument, "block tx_count does not match its txs");
  out.header_bytes.assign(block.header().begin(), block.header().end());
  out.header_hash = HeaderHash(chain_id, out.header_bytes);
  out.txs.reserve(block.txs_size());
  out.tx_ids.reserve(block.txs_size());
  for (const std::string& tx : block.txs()) {
    auto parsed = ParseTransaction(AsSpan(tx), chain_id);
    if (!parsed)
      return MakeError(ErrorCode::kInvalidArgument, "block tx " + std::to_string(out.txs.size()) +
                                                        ": " + parsed.error().message);
    out.tx_ids.push_back(parsed->tx_id);
    out.txs.emplace_back(tx.begin(), tx.end());
  }
  if (!SameHash(TxRoot(out.tx_ids), out.header.tx_root()))
    return MakeError(ErrorCode::kInvalidArgument, "block tx_root does not match its txs");
  if (!SameHash(WitnessRoot(out.txs), out.header.witness_root()))
    return MakeError(ErrorCode::kInvalidArgument, "block witness_root does not match its txs");
  return out;
}

}  // namespace cl::ledger
