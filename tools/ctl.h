// Shared pieces of ledgerctl's subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "tools/rpc_client.h"
#include "util/status.h"

namespace cl::tools {

struct CtlContext {
  int exit_code = 0;
};

// Prints "ledgerctl: <message>" to stderr and sets the exit code (1 unless given).
void Fail(CtlContext& context, const std::string& message, int code = 1);
// Prints a JSON value, pretty enough to read, to stdout.
void PrintJson(const json::value& value);

// keygen, localnet init, status, rpc.
void RegisterBasicCommands(CLI::App& app, CtlContext& context);
// Building, signing and submitting transactions, and queries.
void RegisterTxCommands(CLI::App& app, CtlContext& context);
void RegisterProofCommands(CLI::App& app, CtlContext& context);  // proof (tools/ctl_proof.cc)
// member init, genesis assemble|inspect, node init (tools/ctl_consortium.cc).
void RegisterConsortiumCommands(CLI::App& app, CtlContext& context);

}  // namespace cl::tools
