// ledgerctl: the client and operator command line. Every error is one line on stderr and a non-zero
// exit code. Subcommands are registered by tools/ctl_*.cc; see `ledgerctl --help`.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "tools/ctl.h"

int main(int argc, char** argv) {
  CLI::App app{"ledgerctl: Consortium Ledger client and operator tool"};
  app.require_subcommand(1);
  cl::tools::CtlContext context;
  cl::tools::RegisterBasicCommands(app, context);
  cl::tools::RegisterTxCommands(app, context);
  cl::tools::RegisterProofCommands(app, context);
  cl::tools::RegisterConsortiumCommands(app, context);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return context.exit_code;
}
