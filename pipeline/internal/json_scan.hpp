// JsonScanner: one strict pass over a JSON text that validates it (RFC 8259,
// UTF-8) and finds the byte ranges of the values at policy paths, so a
// record can be rewritten by splicing: every other byte is copied verbatim.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sovereign/policy.hpp"
#include "sovereign/status.hpp"

namespace sovereign::pipeline {

inline constexpr std::size_t kNone = static_cast<std::size_t>(-1);
inline constexpr int kMaxDepth = 256;

// PathTrie holds the policy's field paths, record id, region source,
// subject pointers and index members as a trie over path segments ("*" edges match anything).
struct PathTrie {
  struct Node {
    std::vector<std::pair<std::string, int>> children;
    int wildcard = -1;
    int field = -1;        // policy field index whose value is here
    int index_of = -1;     // policy field index whose blind index is written here
    bool record_id = false;
    bool region = false;
    int subject = -1;      // FieldPolicy::subjects() slot whose subject id is here
  };
  std::vector<Node> nodes{Node{}};  // nodes[0] is the root
  std::size_t subject_slots = 0;

  static PathTrie Build(const FieldPolicy& policy);
  int Child(int node, std::string_view name) const;
};

// ScanResult is where the interesting values of one record are. Ranges are
// [begin, end) byte offsets of the value's text, quotes included.
struct ScanResult {
  struct Value {
    int field;
    std::size_t begin;
    std::size_t end;
  };
  std::vector<Value> values;  // document order
  std::pair<std::size_t, std::size_t> record_id{kNone, kNone};
  std::pair<std::size_t, std::size_t> region{kNone, kNone};
  // Per FieldPolicy::subjects() slot: the range of the subject id's value.
  std::vector<std::pair<std::size_t, std::size_t>> subjects;
  // Per policy field: the value range of its existing index member, if any.
  std::vector<std::pair<std::size_t, std::size_t>> index_values;
  // A record id, region, subject or blind index member met more than once (duplicate
  // member names): which one counts is ambiguous, so the record is refused.
  bool duplicate_binding = false;
  bool root_is_object = false;
  bool root_has_members = false;
  std::size_t root_close = kNone;  // offset of the root object's '}'
};

class JsonScanner {
 public:
  // A null trie only validates.
  explicit JsonScanner(const PathTrie* trie) : trie_(trie) {}

  // Scan validates `text` as one JSON value (surrounding whitespace allowed)
  // and fills `out`. kInvalidArgument names the byte offset of the first
  // error and whether it is bad UTF-8 or bad JSON, never the bytes.
  Status Scan(std::string_view text, ScanResult& out);

 private:
  bool Value(int depth, std::size_t level);
  bool Object(int depth, std::size_t level);
  bool Array(int depth, std::size_t level);
  bool String();
  bool Number();
  bool Literal(std::string_view word);
  void SkipSpace();
  // Mark records the value at [begin, p_) for the active nodes of `level`.
  void Mark(std::size_t level, std::size_t begin, bool top_level_member_of_root);
  void Advance(std::size_t from_level, std::string_view name);

  const PathTrie* trie_;
  std::string_view s_;
  std::size_t p_ = 0;
  bool bad_utf8_ = false;
  ScanResult* out_ = nullptr;
  std::vector<std::vector<int>> active_;  // active trie nodes per nesting level
  std::string key_;
};

}  // namespace sovereign::pipeline
