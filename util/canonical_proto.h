// Strict protobuf parsing for bytes that are signed, hashed or stored as proof (STYLE rule 13,
// docs/protocol.md "Canonical encoding"). Protobuf's own parser keeps unknown fields and accepts
// out-of-order fields, repeated scalars, non-minimal varints and default values written out; any of
// those would let two byte strings mean the same message, or let a flipped byte go unnoticed (a
// signer's field number flipped into an unknown one). ParseCanonical accepts only the one encoding
// protobuf's deterministic serializer writes: it parses, refuses unknown fields at any depth, and
// compares the re-encoding with the input byte for byte.
//
// Fields of type `bytes` that hold another serialized message are opaque here: the caller parses
// them with ParseCanonical in turn.
//
// Thread safety: pure functions over their arguments.
#pragma once

#include <string_view>

#include <google/protobuf/message.h>

#include "util/bytes.h"
#include "util/status.h"

namespace cl {

// Whether msg or any message inside it holds unknown fields.
bool HasUnknownFields(const google::protobuf::Message& msg);

// The deterministic encoding of msg (fields in number order, packed repeated scalars, defaults
// omitted).
std::string CanonicalEncoding(const google::protobuf::Message& msg);

// Parses bytes into msg and checks that they are msg's canonical encoding. On failure returns
// kInvalidArgument with "<what>: ..." naming the reason (does not parse / unknown field / not in
// canonical encoding) and leaves msg in an unspecified state.
Status ParseCanonical(google::protobuf::Message& msg, ByteSpan bytes, std::string_view what);
Status ParseCanonical(google::protobuf::Message& msg, std::string_view bytes,
                      std::string_view what);

}  // namespace cl
