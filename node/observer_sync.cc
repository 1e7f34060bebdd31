#include "node/observer_sync.h"

namespace cl::node {
namespace {

Error Refused(std::string why) {
  return Error{ErrorCode::kInvalidArgument, "sync reply: " + std::move(why)};
}

}  // namespace

Status MatchSyncReply(const SyncRequestSent* request, const crypto::PublicKey& from,
                      const pb::SyncReply& reply) {
  if (request == nullptr) return std::unexpected(Refused("no request outstanding"));
  if (!(from == request->peer))
    return std::unexpected(Refused("from a peer this node did not ask"));
  if (reply.blocks_size() > static_cast<int>(request->max_blocks))
    return std::unexpected(Refused("more blocks than asked for"));
  for (int i = 0; i < reply.blocks_size(); ++i) {
    if (reply.blocks(i).height() != request->from_height + static_cast<uint64_t>(i))
      return std::unexpected(Refused("block " + std::to_string(i) + " is not at height " +
                                     std::to_string(request->from_height + i)));
  }
  return OkStatus();
}

SyncReplyOutcome ApplySyncReply(LedgerApp& app, const consensus::ValidatorSet& validators,
                                const SyncRequestSent* request, const crypto::PublicKey& from,
                                const pb::SyncReply& reply, const TxResolver& resolve,
                                const std::function<void(const CommitResult&)>& after_commit,
                                consensus::SignatureVerifier& verifier) {
  SyncReplyOutcome outcome;
  if (auto matched = MatchSyncReply(request, from, reply); !matched) {
    outcome.dropped = matched.error();
    return outcome;
  }
  const std::string& chain_id = app.chain_id();
  for (const consensus::pb::CertifiedBlock& block : reply.blocks()) {
    const uint64_t height = app.height() + 1;
    if (block.height() != height) {
      outcome.dropped = Refused("block at height " + std::to_string(block.height()) +
                                " does not follow this node's height");
      return outcome;
    }
    auto commit =
        consensus::VerifyCommitCertificate(validators, chain_id, block.commit_cert(), verifier);
    auto exec =
        consensus::VerifyExecutionCertificate(validators, chain_id, block.exec_cert(), verifier);
    const Hash32 digest = app.Digest(AsSpan(block.payload()));
    if (!commit || commit->seq != height || commit->digest != digest || !exec ||
        exec->height != height || exec->block_digest != digest) {
      outcome.dropped =
          Refused("block " + std::to_string(height) + " is not the block its certificates name");
      return outcome;
    }
    const std::string exec_cert = block.exec_cert().SerializeAsString();
    const CertifiedExecution certified{exec->state_root, exec->result_root, AsSpan(exec_cert)};
    auto result = app.Commit(height, AsSpan(block.payload()),
                             AsSpan(block.commit_cert().SerializeAsString()), resolve, &certified);
    if (!result) {
      outcome.fatal = result.error();
      return outcome;
    }
    ++outcome.committed;
    after_commit(*result);
  }
  return outcome;
}

}  // namespace cl::node
