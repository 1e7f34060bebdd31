// Blocks: building a header over a list of transaction envelopes, hashing it, and decoding a block
// from untrusted bytes with every limit checked (a proposal from a peer is one). The format is in
// ledger/block.proto and docs/protocol.md.
//
// What the header hash covers: every header field, and through tx_root (over transaction ids, for
// proofs of inclusion) and witness_root (over whole envelopes) every byte of every transaction,
// signatures included. The block and its header are parsed strictly (util/canonical_proto.h), so
// the block digest names exactly one payload: two payloads with the same digest are the same bytes,
// and the block every replica executes is the block the certificate names.
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

// H(0x24 || envelope bytes): a transaction's witness, its whole envelope as stored.
Hash32 TxWitnessHash(ByteSpan envelope);
// The RFC 6962 root over the envelopes' witness hashes (each leaf's data is the 32-byte hash).
Hash32 WitnessRoot(std::span<const Bytes> envelopes);

// Builds the block bytes: sets tx_count, tx_root and witness_root. tx_ids must be the ids of txs
// (the caller has parsed them).
Bytes EncodeBlock(const pb::BlockHeader& header_without_roots, std::span<const Bytes> txs,
                  std::span<const Hash32> tx_ids);

// The header hash of a well-formed block: the block, the header and each envelope parse strictly,
// the chain id matches, tx_count is the number of envelopes, tx_root is the root over their ids
// and witness_root the root over their bytes (each envelope's body is hashed, its operations are
// not parsed, so this is cheap). nullopt for anything else. It checks less than DecodeBlock (no
// operation is parsed and no signer key is checked to be on the curve): a block DecodeBlock takes
// is well-formed with the same hash, but a well-formed block may fail DecodeBlock (it then commits
// as a null block, under its header hash, which commits to every byte of it).
std::optional<Hash32> WellFormedHeaderHash(ByteSpan bytes, std::string_view chain_id);

// Decodes and checks the structure: strict encoding, sizes, chain id, tx count, tx root and
// witness root (each transaction's id is computed from its envelope; envelopes that fail to parse
// make the block invalid). Signatures and state rules are checked elsewhere.
Result<DecodedBlock> DecodeBlock(ByteSpan bytes, std::string_view chain_id);

}  // namespace cl::ledger
