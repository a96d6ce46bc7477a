#include "sdk/internal/json_strict.hpp"

#include <unordered_set>
#include <vector>

#include <fmt/format.h>

namespace sovereign::internal {

using Json = nlohmann::json;

std::string JsonMemberPath(std::string_view where, std::string_view name) {
  std::string out(where);
  out.push_back('/');
  for (char c : name) {
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
  return out;
}

std::string JsonElementPath(std::string_view where, std::size_t index) { return fmt::format("{}/{}", where, index); }

Json ParseJsonNoDuplicates(std::string_view text, std::string& duplicate) {
  // The open objects and arrays around the parser's position, to name a
  // duplicate by its JSON Pointer.
  struct Frame {
    bool object;
    std::unordered_set<std::string> names;
    std::string key;
    std::size_t index = 0;
  };
  std::vector<Frame> frames;
  duplicate.clear();
  const auto element_done = [&] {
    if (!frames.empty() && !frames.back().object) ++frames.back().index;
  };
  const Json::parser_callback_t callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        frames.push_back(Frame{true, {}, {}, 0});
        break;
      case Json::parse_event_t::array_start:
        frames.push_back(Frame{false, {}, {}, 0});
        break;
      case Json::parse_event_t::key: {
        Frame& frame = frames.back();
        frame.key = parsed.get<std::string>();
        if (!frame.names.insert(frame.key).second && duplicate.empty()) {
          std::string path;
          for (const Frame& f : frames) path = f.object ? JsonMemberPath(path, f.key) : JsonElementPath(path, f.index);
          duplicate = std::move(path);
        }
        break;
      }
      case Json::parse_event_t::value:
        element_done();
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        frames.pop_back();
        element_done();
        break;
    }
    return true;
  };
  return Json::parse(text, callback, /*allow_exceptions=*/false);
}

Result<Json> ParseJsonStrict(std::string_view text, std::string_view what) {
  std::string duplicate;
  Json doc = ParseJsonNoDuplicates(text, duplicate);
  if (doc.is_discarded()) return Status(ErrorCode::kInvalidArgument, fmt::format("{} is not valid JSON", what));
  if (!duplicate.empty()) return Status(ErrorCode::kInvalidArgument, fmt::format("duplicate member {}", duplicate));
  return doc;
}

}  // namespace sovereign::internal
