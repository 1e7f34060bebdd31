// Finds a key given twice in one JSON object. Boost.JSON's parser keeps the last of two equal keys,
// so {"governance_threshold": 3, "governance_threshold": 1} would be read as 1 by this code and
// perhaps as 3 by another reader of the same (hashed, signed-off) file. The genesis loader and the
// member-descriptor reader refuse such a file instead.
//
// Thread safety: pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cl::genesis {

// The path of the first key that repeats a key of its object ("$.members[1].name"), or nullopt
// when there is none. Text that is not JSON gives nullopt too: the caller's parser reports it.
std::optional<std::string> FindDuplicateJsonKey(std::string_view json_text);

}  // namespace cl::genesis
