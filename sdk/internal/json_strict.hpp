// Strict JSON reading shared by the keystore (configurations, API requests)
// and the pipeline (field policies).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sovereign/status.hpp"

namespace sovereign::internal {

// kMaxNameInMessage bounds how much of a member name a message quotes: names
// come from requests, and a message (and the answer or log line holding it)
// must not grow with them. A longer name is cut at a UTF-8 boundary and
// shown ending in "...".
inline constexpr std::size_t kMaxNameInMessage = 32;

// JsonMemberPath returns the JSON Pointer (RFC 6901) of member `name` of the
// value at `where`, for messages: control characters are shown as \uXXXX so
// none reaches a log line, and the name is cut to kMaxNameInMessage bytes.
std::string JsonMemberPath(std::string_view where, std::string_view name);
// JsonQuotedName returns `name` cut to kMaxNameInMessage bytes as a JSON
// string of ASCII characters (every other character escaped), for messages.
std::string JsonQuotedName(std::string_view name);
// JsonElementPath returns the JSON Pointer of element `index` of the array at `where`.
std::string JsonElementPath(std::string_view where, std::size_t index);

// ParseJsonNoDuplicates parses `text` as one JSON document (discarded when it
// is not valid JSON) and sets `duplicate` to the JSON Pointer of the first
// member named twice in one object, or leaves it empty.
nlohmann::json ParseJsonNoDuplicates(std::string_view text, std::string& duplicate);

// ParseJsonStrict parses `text` as one JSON document and refuses an object
// that names a member twice: JSON parsers disagree on which of the two
// counts, so such a document could mean one thing to a reviewer, a proxy or
// an audit tool and another here. Errors are kInvalidArgument: "<what> is
// not valid JSON", or "duplicate member <pointer>" (never a value).
Result<nlohmann::json> ParseJsonStrict(std::string_view text, std::string_view what);

}  // namespace sovereign::internal
