#include "sdk/internal/json_strict.hpp"

#include <unordered_set>
#include <vector>

#include <fmt/format.h>

namespace sovereign::internal {

using Json = nlohmann::json;

namespace {

// ShortName cuts `name` to at most kMaxNameInMessage bytes, at a UTF-8
// boundary; `cut` says whether anything was left out.
std::string_view ShortName(std::string_view name, bool& cut) {
  cut = name.size() > kMaxNameInMessage;
  if (!cut) return name;
  std::size_t n = kMaxNameInMessage;
  while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xc0) == 0x80) --n;  // name[n] continues a character
  return name.substr(0, n);
}

// kMaxPathInMessage bounds the pointer of a duplicate member, which names
// every object on the way down to it: past this length the rest is "/...".
constexpr std::size_t kMaxPathInMessage = 160;

}  // namespace

std::string JsonQuotedName(std::string_view name) {
  bool cut = false;
  std::string out = Json(std::string(ShortName(name, cut))).dump(-1, ' ', /*ensure_ascii=*/true,
                                                                   Json::error_handler_t::replace);
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

std::string JsonMemberPath(std::string_view where, std::string_view name) {
  std::string out(where);
  out.push_back('/');
  bool cut = false;
  for (char c : ShortName(name, cut)) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      // Names come from requests: no control character reaches a message or a log line.
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      out.push_back(c);
    }
  }
  if (cut) out += "...";
  return out;
}

std::string JsonElementPath(std::string_view where, std::size_t index) { return fmt::format("{}/{}", where, index); }

namespace {

// DuplicateFinder is a SAX handler that finds the first member named twice in
// one object, naming it by its JSON Pointer. Linear in the input: nlohmann's
// parser callback, the other way to see keys, walks the parent container on
// every value it closes and so made a body of a million "{}" items quadratic.
class DuplicateFinder {
 public:
  explicit DuplicateFinder(std::string& duplicate) : duplicate_(duplicate) {}

  bool null() { return Value(); }
  bool boolean(bool) { return Value(); }
  bool number_integer(Json::number_integer_t) { return Value(); }
  bool number_unsigned(Json::number_unsigned_t) { return Value(); }
  bool number_float(Json::number_float_t, const std::string&) { return Value(); }
  bool string(std::string&) { return Value(); }
  bool binary(Json::binary_t&) { return Value(); }
  bool start_object(std::size_t) {
    frames_.push_back(Frame{true, {}, {}, 0});
    return true;
  }
  bool key(std::string& name) {
    Frame& frame = frames_.back();
    frame.key = name;
    if (!frame.names.insert(name).second) {
      std::string path;
      for (const Frame& f : frames_) {
        if (path.size() > kMaxPathInMessage) {
          path += "/...";
          break;
        }
        path = f.object ? JsonMemberPath(path, f.key) : JsonElementPath(path, f.index);
      }
      duplicate_ = std::move(path);
      return false;  // the first duplicate is all we report: stop here
    }
    return true;
  }
  bool end_object() { return End(); }
  bool start_array(std::size_t) {
    frames_.push_back(Frame{false, {}, {}, 0});
    return true;
  }
  bool end_array() { return End(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  struct Frame {
    bool object;
    std::unordered_set<std::string> names;
    std::string key;
    std::size_t index = 0;
  };
  bool Value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    return true;
  }
  bool End() {
    frames_.pop_back();
    return Value();
  }

  std::string& duplicate_;
  std::vector<Frame> frames_;
};

}  // namespace

Json ParseJsonNoDuplicates(std::string_view text, std::string& duplicate) {
  duplicate.clear();
  // nlohmann takes a NUL byte for the end of the input and ignores what
  // follows; no JSON text holds one (raw, even in a string), so refuse it
  // rather than read less than the caller was sent.
  if (text.find('\0') != std::string_view::npos) return Json(Json::value_t::discarded);
  DuplicateFinder finder(duplicate);
  const bool valid = Json::sax_parse(text, &finder, Json::input_format_t::json, /*strict=*/true);
  if (!duplicate.empty()) {
    // Stopped at the duplicate: the document still has to be valid JSON for
    // the caller to report the duplicate rather than a syntax error.
    Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    return doc;
  }
  if (!valid) return Json(Json::value_t::discarded);
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

Result<Json> ParseJsonStrict(std::string_view text, std::string_view what) {
  std::string duplicate;
  Json doc = ParseJsonNoDuplicates(text, duplicate);
  if (doc.is_discarded()) return Status(ErrorCode::kInvalidArgument, fmt::format("{} is not valid JSON", what));
  if (!duplicate.empty()) return Status(ErrorCode::kInvalidArgument, fmt::format("duplicate member {}", duplicate));
  return doc;
}

}  // namespace sovereign::internal
