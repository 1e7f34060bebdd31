// Lower-case hex encoding; decoding accepts either case and rejects odd lengths and non-hex
// characters. An optional "0x" prefix is accepted by FromHex.
#pragma once

#include <string>
#include <string_view>

#include "util/bytes.h"
#include "util/status.h"

namespace cl {

std::string ToHex(ByteSpan in);
Result<Bytes> FromHex(std::string_view hex);
// Decodes exactly 32 bytes.
Result<Hash32> Hash32FromHex(std::string_view hex);

}  // namespace cl
