// The rules for a member's name, shared by `ledgerctl member init`, the descriptor reader, genesis
// assembly and genesis loading: people pick the member they trust by its name (genesis inspect,
// peers.toml, config.toml's node.member), so no name may pass for another on a screen.
//
//   - 1..64 bytes of valid UTF-8;
//   - no control characters (C0, DEL, C1);
//   - no invisible or direction-changing characters (U+00AD soft hyphen, U+200B..U+200F,
//     U+202A..U+202E, U+2060..U+206F, U+FEFF, and a few more listed in member_name.cc);
//   - no space other than the ASCII space, and none at either end.
//
// Two names are the same name when their MemberNameKey is equal: ASCII letters folded to lower case
// and runs of spaces collapsed to one. Unicode normalisation (NFC) and look-alike letters from
// other scripts are not handled; `genesis inspect` prints every non-ASCII character as \uXXXX
// instead, so such a name cannot look like an ASCII one.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace cl::genesis {

// OK, or kInvalidArgument with a message without prefix ("must be 1..64 bytes"); the caller names
// where the name came from.
Status CheckMemberName(std::string_view name);

// The form two names are compared in: "BANK  a" and "Bank A" have the same key.
std::string MemberNameKey(std::string_view name);

}  // namespace cl::genesis
