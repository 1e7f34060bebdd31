// The one table of hash domain tags. Every hashed object starts with exactly one of these bytes, so
// no object of one kind can be passed off as another. These values are hashed into everything the
// ledger stores and signs: DO NOT CHANGE OR REUSE A VALUE. Add new tags only in the named range.
// docs/protocol.md documents each tag's input layout.
#pragma once

#include <cstdint>

namespace cl::crypto {

enum class Domain : uint8_t {
  // 0x00-0x0f: Merkle structures. 0x00/0x01 as in RFC 6962 (leaf vs inner node).
  kMerkleLeaf = 0x00,   // RFC 6962 leaf; state-tree leaf: H(0x00 || key_hash || value_hash)
  kMerkleInner = 0x01,  // RFC 6962 inner node; state-tree inner node: H(0x01 || left || right)
  kStateKey = 0x02,     // state-tree key hash: H(0x02 || key bytes)
  kStateValue = 0x03,   // state-tree value hash: H(0x03 || value bytes)

  // 0x10-0x1f: keys and addresses.
  kAddress = 0x10,  // address = first 20 bytes of H(0x10 || compressed public key)

  // 0x20-0x2f: ledger objects (transactions, blocks, receipts).
  kTransaction = 0x20,  // signing digest of a transaction body (SignedDigest)
  kTxId = 0x21,         // transaction id: H(0x21 || chain-id framing || body bytes)
  kBlockHeader = 0x22,  // block header hash: H(0x22 || chain-id framing || header bytes)
  kReceipt = 0x23,      // receipt leaf content: H(0x23 || receipt bytes)
  kTxWitness = 0x24,    // a block's witness_root leaf data: H(0x24 || whole envelope bytes)

  // 0x30-0x3f: consensus messages and certificates.
  kPrePrepare = 0x30,
  kPrepare = 0x31,
  kCommit = 0x32,
  kExecutionVote = 0x33,
  kViewChange = 0x34,
  kNewView = 0x35,
  kStateTransfer = 0x36,
  kConsensusPayload =
      0x37,  // digest of an opaque block payload ordered by consensus: H(0x37 || payload)

  // 0x40-0x4f: p2p session handshake.
  kHandshakeTranscript = 0x40,

  // 0x50-0x5f: governance and membership.
  kGovernance = 0x50,
  kGenesis = 0x51,  // genesis hash: H(0x51 || genesis file bytes exactly as distributed)
};

}  // namespace cl::crypto
