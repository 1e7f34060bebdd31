// An observer's block sync (docs/protocol.md section 7): the observer asks one validator at a time
// for the certified blocks after its height, and takes from a reply only what answers the request
// it has outstanding: from the validator it asked, starting at the height it asked for, no more
// blocks than it asked for. Anything else is dropped (and counted by the caller): any member can
// send any message, so an unsolicited reply must change nothing.
//
// Each block of a reply must be named by its commit and execution certificates, both for this
// height. The block digest commits to every byte of the payload (ledger/block.h), so a payload that
// matches is the one the validators executed; its execution must then give the certified roots,
// which LedgerApp::Commit checks before it writes anything.
//
// Thread safety: free functions; ApplySyncReply writes through the LedgerApp (its one writer).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "consensus/messages.h"
#include "crypto/keys.h"
#include "node/ledger_app.h"
#include "node/node.pb.h"
#include "util/status.h"

namespace cl::node {

// The sync request this node has outstanding.
struct SyncRequestSent {
  crypto::PublicKey peer;
  uint64_t from_height = 0;
  uint32_t max_blocks = 0;
};

// Whether `reply` from `from` answers `request` (nullptr: none outstanding): same peer, blocks
// consecutive from the requested height, at most the requested number. The error says why not.
Status MatchSyncReply(const SyncRequestSent* request, const crypto::PublicKey& from,
                      const pb::SyncReply& reply);

struct SyncReplyOutcome {
  size_t committed = 0;          // blocks executed and stored with their certificates
  std::optional<Error> dropped;  // the reply, or its rest, was refused: ask another validator
  std::optional<Error> fatal;    // this node cannot go on; the failing block was not stored
};

// Matches the reply with the request (MatchSyncReply), then verifies and commits its blocks in
// order, calling after_commit for each; stops at the first that does not verify. Certificate
// signatures are checked with `verifier` (the fuzz target passes one that memoises verdicts).
SyncReplyOutcome ApplySyncReply(
    LedgerApp& app, const consensus::ValidatorSet& validators, const SyncRequestSent* request,
    const crypto::PublicKey& from, const pb::SyncReply& reply, const TxResolver& resolve,
    const std::function<void(const CommitResult&)>& after_commit,
    consensus::SignatureVerifier& verifier = consensus::DefaultVerifier());

}  // namespace cl::node
