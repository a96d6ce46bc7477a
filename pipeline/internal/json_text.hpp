// JSON text helpers for the splice engine: UTF-8 validation, string
// unescaping and escaping, and a strict validator of one JSON value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sovereign::pipeline {

// IsValidUtf8 reports whether `bytes` is well-formed UTF-8 (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view bytes) noexcept;

// UnescapeJsonString appends the UTF-8 bytes of a JSON string's contents
// (between the quotes, already validated) to `out`. Returns false on a lone
// surrogate escape.
bool UnescapeJsonString(std::string_view contents, std::string& out);

// AppendJsonString appends `utf8` as a quoted JSON string, escaping only
// what RFC 8259 requires (quote, backslash, control characters).
void AppendJsonString(std::string_view utf8, std::string& out);

// IsJsonValue reports whether `text` is exactly one JSON value, optionally
// surrounded by whitespace, with valid UTF-8 in its strings.
bool IsJsonValue(std::string_view text);

}  // namespace sovereign::pipeline
