#include "genesis/json_keys.h"

#include <boost/json/basic_parser_impl.hpp>
#include <set>
#include <vector>

#include "util/text.h"

namespace cl::genesis {
namespace {

namespace json = boost::json;
using json::error_code;
using json::string_view;

// A basic_parser handler that builds no values: it keeps, for each open object, the keys seen so
// far, and for each open array the index of the element being parsed, so that the path of a
// duplicate can be named.
class DuplicateKeyFinder {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  const std::optional<std::string>& duplicate() const { return duplicate_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) {
    frames_.emplace_back().array = true;
    return true;
  }
  bool on_array_end(std::size_t, error_code&) { return Close(); }
  bool on_object_begin(error_code&) {
    frames_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, error_code&) { return Close(); }
  bool on_string_part(string_view, std::size_t, error_code&) { return true; }
  bool on_string(string_view, std::size_t, error_code&) { return Scalar(); }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code& ec) {
    key_.append(s.data(), s.size());
    Frame& object = frames_.back();
    object.key = std::move(key_);
    key_.clear();
    if (!object.keys.insert(object.key).second) {
      duplicate_ = Path();
      ec = json::error::extra_data;  // any error: stop parsing here
      return false;
    }
    return true;
  }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(int64_t, string_view, error_code&) { return Scalar(); }
  bool on_uint64(uint64_t, string_view, error_code&) { return Scalar(); }
  bool on_double(double, string_view, error_code&) { return Scalar(); }
  bool on_bool(bool, error_code&) { return Scalar(); }
  bool on_null(error_code&) { return Scalar(); }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;            // arrays: the element being parsed
    std::set<std::string> keys;  // objects: the keys seen
    std::string key;             // objects: the key whose value is being parsed
  };

  // A value ended: the enclosing array moves on to its next element.
  bool Scalar() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return Scalar();
  }
  std::string Path() const {
    std::string path = "$";
    for (const Frame& f : frames_)
      path += f.array ? "[" + std::to_string(f.index) + "]" : "." + EscapeText(f.key);
    return path;
  }

  std::vector<Frame> frames_;
  std::string key_;
  std::optional<std::string> duplicate_;
};

}  // namespace

std::optional<std::string> FindDuplicateJsonKey(std::string_view text) {
  json::basic_parser<DuplicateKeyFinder> parser{json::parse_options{}};
  error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return parser.handler().duplicate();
}

}  // namespace cl::genesis
