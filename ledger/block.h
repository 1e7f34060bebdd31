// Blocks: building a header over a list of transaction envelopes, hashing it, and decoding a block
// from untrusted bytes with every limit checked (a proposal from a peer is one). The format is in
// ledger/block.proto and docs/protocol.md.
//
// Thread safety: free functions, thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ledger/block.pb.h"
#include "ledger/merkle.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// Limits on a block; a proposal over any of them is invalid.
inline constexpr size_t kMaxTxsPerBlock = 10'000;
// A block travels whole in one consensus message inside one p2p frame (16 MiB), with its envelope
// and certificates: node/node.cc static_asserts kMaxBlockBytes <= consensus::kMaxPayloadBytes.
inline constexpr size_t kMaxBlockBytes = 15u << 20;
inline constexpr size_t kMaxHeaderBytes = 1024;

struct DecodedBlock {
  pb::BlockHeader header;
  Bytes header_bytes;
  Hash32 header_hash;
  std::vector<Bytes> txs;      // envelopes
  std::vector<Hash32> tx_ids;  // SignedDigest(kTxId, chain id, body) of each
};

// SignedDigest(kBlockHeader, chain_id, header_bytes).
Hash32 HeaderHash(std::string_view chain_id, ByteSpan header_bytes);

// The RFC 6962 root over the transaction ids (each leaf's data is the 32-byte id).
Hash32 TxRoot(std::span<const Hash32> tx_ids);

// Builds the block bytes. tx_ids must be the ids of txs (the caller has parsed them).
Bytes EncodeBlock(const pb::BlockHeader& header_without_root, std::span<const Bytes> txs,
                  std::span<const Hash32> tx_ids);

// The header hash of a well-formed block: the block and header parse, the chain id matches, and
// tx_root is the root over the ids of its envelopes (only each envelope's body is hashed; the
// operations are not parsed, so this is cheap). nullopt for anything else.
std::optional<Hash32> WellFormedHeaderHash(ByteSpan bytes, std::string_view chain_id);

// Decodes and checks the structure: sizes, chain id, tx count and root (each transaction's id is
// computed from its envelope; envelopes that fail to parse make the block invalid). Signatures and
// state rules are checked elsewhere.
Result<DecodedBlock> DecodeBlock(ByteSpan bytes, std::string_view chain_id);

}  // namespace cl::ledger
