// The ledger's invariants (DESIGN decision 9), checked after every block before anything is
// written:
//   1. for each asset, the sum of all account balances (credits posted - debits posted) is zero;
//   2. no account other than an issuer's is below its floor (-overdraft), counting held debits;
//   3. each account's pending debits and credits equal the sum of its live holds;
//   4. a hold resolves at most once, and a resolved or immediate transfer never changes again;
//      an account's asset, issuer flag, custodian, flags and overdraft limit never change.
// A violation is returned as an ErrorCode::kInternal error whose message starts "invariant:"; the
// caller must treat it as fatal (stop the node without writing the block).
//
// Thread safety: pure functions.
#pragma once

#include <map>
#include <string_view>
#include <vector>

#include "ledger/ledger_state.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// Checks the invariants on what one block changed, against the committed state it started from.
// Together with a genesis state that satisfies CheckStateInvariants, this keeps them true for the
// whole state at every height, at a cost proportional to the block's writes.
Status CheckBlockInvariants(const LedgerState& state);
// The same check on the block's writes as LedgerState::SortedWrites returns them (the executor
// takes the writes once for this check and for the block's changes).
Status CheckBlockWrites(const std::vector<LedgerState::Write>& writes);

// Checks the invariants over a whole state (every key and value), e.g. genesis or a test's model.
Status CheckStateInvariants(const BytesMap<Bytes>& state);

}  // namespace cl::ledger
