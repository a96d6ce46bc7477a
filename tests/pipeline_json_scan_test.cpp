// The record scanner that NDJSON pipelines rely on to validate every line
// (RFC 8259 grammar, UTF-8) must accept exactly what a reference JSON parser
// accepts: a line it wrongly accepts would be written out half-understood, a
// line it wrongly refuses would be dead-lettered. Checked against
// nlohmann::json::accept on hand-picked edge cases and on many mutations of
// realistic records.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pipeline/internal/json_scan.hpp"
#include "tests/support/json_reference.hpp"

namespace sovereign::pipeline {
namespace {

bool ScannerAccepts(std::string_view text) {
  JsonScanner scanner(nullptr);
  ScanResult result;
  return scanner.Scan(text, result).ok();
}

// Printable renders bytes for a failure message.
std::string Printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

bool Comparable(std::string_view text) { return test::ComparableWithScanner(text, kMaxDepth); }
using test::NumberOutOfRange;
using test::ReferenceAccepts;

void CheckAgrees(std::string_view text) {
  if (!Comparable(text) || NumberOutOfRange(text)) return;
  const bool reference = ReferenceAccepts(text);
  INFO("input: " << Printable(text));
  CHECK(ScannerAccepts(text) == reference);
}

TEST_CASE("the record scanner agrees with a reference parser on JSON edge cases") {
  const std::string cases[] = {
      "{}", "[]", "  {\"a\":1}  ", "{\"a\":1}\n", "\t{\"a\" : [ 1 , 2 ] }\r",
      "", " ", "{", "}", "{\"a\":1}}", "{} {}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "{'a':1}",
      "0", "-0", "01", "-01", "1.", ".5", "1e", "1e+", "1e+5", "1E-5", "1e999", "-1e999", "[7777e93194]", "-", "+1", "1.5e3", "0x10", "NaN",
      "Infinity", "true", "false", "null", "tru", "nul", "True",
      "\"\"", "\"\\\"\"", "\"\\\\\"", "\"\\/\"", "\"\\b\\f\\n\\r\\t\"", "\"\\x\"", "\"\\u00e9\"", "\"\\u00G9\"",
      "\"\\u12\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"",
      "\"a\tb\"", "\"a\nb\"", "\"a\x1f\"", "\"a\x7f\"", std::string("\"a\0b\"", 5),
      "\"\xc3\xa9\"", "\"\xc3\"", "\"\xa9\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
      "\"\xed\x9f\xbf\"", "\"\xee\x80\x80\"", "\"\xf0\x9f\x98\x80\"", "\"\xf4\x8f\xbf\xbf\"", "\"\xf4\x90\x80\x80\"",
      "\"\xf5\x80\x80\x80\"", "\"\xff\"", "\"\xf0\x9f\x98\"",
      "{\"\xc3\xa9\":1}", "{\"\xc3\":1}", "[\"a\",\"b\"", "[[[[]]]]", "[[[[]]]", "{\"a\":{\"b\":{\"c\":[1,{\"d\":null}]}}}",
      std::string(300, '[') + std::string(300, ']'),
  };
  for (const std::string& text : cases) CheckAgrees(text);
}

TEST_CASE("the record scanner agrees with a reference parser on mutated records") {
  const std::vector<std::string> seeds = {
      R"({"id":"u-1","email":"ann@example.com","ssn":"123-45-6789","age":42,"vip":true,"note":null})",
      R"({"id":7,"address":{"street":"Rue de l'\u00e9glise 3","zip":"75001"},"devices":[{"ip":"10.0.0.1"},{"ip":"::1"}]})",
      "{\"id\":\"u-3\",\"name\":\"J\xc3\xbcrgen \\\"Jo\\\" M\xc3\xbcller\",\"tags\":[\"a\",\"\",\"\xf0\x9f\x98\x80\"],\"score\":-1.25e-3}",
      R"({"id":"u-4","nested":[[1,2],[3,[4,[5]]]],"esc":"\\/\b\f\n\r\t\u0000"})",
  };
  const std::vector<std::string> tokens = {
      "\"", "\\", "{", "}", "[", "]", ",", ":", " ", "\t", "\n", "\\u", "\\ud800", "\\udc00", "\\u00", "\xc3", "\xa9",
      "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\x80", std::string(1, '\0'), "\x1f", "\x7f", "1e", "-", "0", ".",
      "tru", "null", "\"a\":", "[]", "{}", "\xe2\x82", "\xe2\x82\xac",
  };
  std::mt19937_64 rng(20261129);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  int accepted = 0, refused = 0;
  for (int iteration = 0; iteration < 40000; ++iteration) {
    std::string text = seeds[pick(seeds.size())];
    const std::size_t mutations = 1 + pick(3);
    for (std::size_t m = 0; m < mutations; ++m) {
      const std::size_t at = pick(text.size() + 1);
      switch (pick(4)) {
        case 0:  // insert a token
          text.insert(at, tokens[pick(tokens.size())]);
          break;
        case 1:  // delete a few bytes
          text.erase(std::min(at, text.size()), 1 + pick(4));
          break;
        case 2:  // replace one byte with any byte
          if (at < text.size()) text[at] = static_cast<char>(rng() & 0xff);
          break;
        default:  // duplicate a slice elsewhere
          if (!text.empty()) {
            const std::size_t from = pick(text.size());
            text.insert(at, text.substr(from, 1 + pick(8)));
          }
      }
    }
    if (!Comparable(text) || NumberOutOfRange(text)) continue;
    const bool reference = ReferenceAccepts(text);
    (reference ? accepted : refused) += 1;
    if (ScannerAccepts(text) != reference) {
      INFO("input: " << Printable(text));
      FAIL("the scanner and the reference disagree (reference " << (reference ? "accepts" : "refuses") << ")");
    }
  }
  // The mutations must exercise both answers, or the check proves little.
  CHECK(accepted > 2000);
  CHECK(refused > 20000);
}

}  // namespace
}  // namespace sovereign::pipeline
