// The reference JSON verdict that the NDJSON record scanner is held to, in
// tests/pipeline_json_scan_test.cpp and fuzz/json_scan_fuzz.cpp.
#pragma once

#include <algorithm>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sovereign::test {

// ComparableWithScanner reports whether the reference's answer applies to
// `text`: it skips inputs with a UTF-8 byte order mark (RFC 8259 lets a
// parser either ignore or refuse one; the scanner refuses) and inputs nested
// `max_depth` deep or more (the scanner bounds nesting).
inline bool ComparableWithScanner(std::string_view text, int max_depth) {
  if (text.find("\xef\xbb\xbf") != std::string_view::npos) return false;
  int depth = 0, deepest = 0;
  for (char c : text) {
    if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    if (c == ']' || c == '}') --depth;
  }
  return deepest < max_depth;
}

// ReferenceAccepts is nlohmann's verdict, except that it ends its input at a
// NUL byte; no JSON text can hold a raw NUL (not even inside a string).
inline bool ReferenceAccepts(std::string_view text) {
  return text.find('\0') == std::string_view::npos && nlohmann::json::accept(text);
}

// NumberOutOfRange reports whether the reference refuses `text` only because
// a number overflows a double ("1e999"): RFC 8259 lets a parser limit number
// ranges, and the scanner, which never converts numbers, need not.
inline bool NumberOutOfRange(std::string_view text) {
  try {
    const auto parsed = nlohmann::json::parse(text);
    (void)parsed;
  } catch (const nlohmann::json::out_of_range& e) {
    return e.id == 406;
  } catch (const nlohmann::json::exception&) {
  }
  return false;
}

}  // namespace sovereign::test
