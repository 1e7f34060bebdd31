// ledgerctl: building, signing and submitting transactions, and queries.
#include "tools/ctl.h"

namespace cl::tools {

void RegisterTxCommands(CLI::App& app, CtlContext& context) {
  (void)app;
  (void)context;
}

}  // namespace cl::tools
