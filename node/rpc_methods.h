// The node's JSON-RPC methods (docs/rpc.md): status, submit_tx, submit_txs, get_tx, get_block,
// get_account, get_transfer, get_asset, get_validators, and subscribe/unsubscribe over WebSocket
// for new blocks ("blocks"), a transaction's finality ("tx:<id>") and an account's transfers
// ("account:<id>"). Amounts are decimal strings; bytes are lower-case hex.
#pragma once

#include "node/ledger_app.h"
#include "node/rpc_dispatch.h"
#include "node/rpc_server.h"

namespace cl::node {

class Node;

// Registers every method on dispatcher; handlers call into node (thread-safe parts only).
void RegisterRpcMethods(RpcDispatcher& dispatcher, Node& node);

// Publishes a committed block to the subscription topics it concerns.
void PublishCommit(RpcServer& server, const Node& node, const CommitResult& result);

// A failed read of the node's own database, as answered to a client: -32603 "storage read failed
// (error id N)". The read's message names files under the data directory (absolute paths), which
// an unauthenticated client has no business seeing; it is logged with the same id, so an operator
// given the answer finds the detail. Thread-safe.
RpcError StorageReadFailed(const Error& error);

// Rendering shared with tools.
json::object RenderAccount(const ledger::pb::AccountRecord& account);
json::object RenderTransfer(const ledger::pb::TransferRecord& transfer);
json::object RenderReceipt(const ledger::pb::Receipt& receipt);

}  // namespace cl::node
