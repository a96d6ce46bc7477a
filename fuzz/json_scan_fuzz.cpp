// Fuzzes the NDJSON record scanner (pipeline/internal/json_scan.hpp), which
// validates every input line and finds the values a field policy names so a
// record can be rewritten by splicing. Properties checked on every input:
//  - nothing crashes or reads out of bounds (ASan/UBSan);
//  - it accepts exactly what nlohmann::json accepts (inputs with a byte order
//    mark or nested deeper than the scanner allows are left out: see
//    tests/pipeline_json_scan_test.cpp);
//  - on an accepted record, every range it reports lies inside the input, in
//    document order without overlap, and is itself one whole JSON value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "pipeline/internal/json_scan.hpp"
#include "tests/support/json_reference.hpp"
#include "sovereign/policy.hpp"

using namespace sovereign;

namespace {

const pipeline::PathTrie& Trie() {
  static const pipeline::PathTrie trie = [] {
    auto policy = FieldPolicy::Parse(R"({
      "keystores": {"us": {"dir": "/nonexistent"}},
      "region": {"from": "/r", "default": "us"},
      "record_id": "/id",
      "fields": [
        {"path": "/email", "key": "users", "mode": "deterministic", "index": {"path": "/email_index", "bits": 32}},
        {"path": "/a/*", "key": "users", "label": "address"},
        {"path": "/d/*/ip", "key": "users", "label": "ip"}
      ]})");
    if (!policy.ok()) std::abort();
    return pipeline::PathTrie::Build(*policy);
  }();
  return trie;
}

bool Comparable(std::string_view text) { return test::ComparableWithScanner(text, pipeline::kMaxDepth); }
using test::NumberOutOfRange;
using test::ReferenceAccepts;

// CheckRange aborts unless [begin, end) is inside `text` and one whole JSON value.
void CheckRange(std::string_view text, std::size_t begin, std::size_t end) {
  if (begin == pipeline::kNone) return;
  if (begin > end || end > text.size()) std::abort();
  const std::string_view value = text.substr(begin, end - begin);
  if (!ReferenceAccepts(value) && !NumberOutOfRange(value)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  pipeline::JsonScanner validator(nullptr);
  pipeline::ScanResult plain;
  const bool accepted = validator.Scan(text, plain).ok();
  if (Comparable(text) && accepted != ReferenceAccepts(text) && !NumberOutOfRange(text)) std::abort();

  pipeline::JsonScanner scanner(&Trie());
  pipeline::ScanResult found;
  if (scanner.Scan(text, found).ok() != accepted) std::abort();
  if (!accepted) return 0;
  std::size_t last_end = 0;
  for (const auto& value : found.values) {
    if (value.begin < last_end) std::abort();  // document order, no overlap
    CheckRange(text, value.begin, value.end);
    last_end = value.end;
  }
  CheckRange(text, found.record_id.first, found.record_id.second);
  CheckRange(text, found.region.first, found.region.second);
  for (const auto& [begin, end] : found.index_values) CheckRange(text, begin, end);
  return 0;
}
