// The `get_proof` RPC method: a self-contained proof bundle (ledger/proof_bundle.h, docs/proofs.md)
// for an account, a transfer, a transaction, the absence of an account or a transfer, or an asset's
// supply, at an execution-certified height.
//
// Thread safety: as RegisterRpcMethods; the handler only reads the block store and state tree.
#pragma once

#include "node/node.h"
#include "node/rpc_dispatch.h"

namespace cl::node {

// Registers `get_proof` on dispatcher. Call it beside RegisterRpcMethods, before serving.
void RegisterProofMethods(RpcDispatcher& dispatcher, Node& node);

}  // namespace cl::node
