#include "pipeline/internal/json_scan.hpp"

#include <bit>
#include <cctype>
#include <cstdint>

#include <fmt/format.h>

#include "pipeline/internal/json_text.hpp"
#include "pipeline/internal/pointer.hpp"

namespace sovereign::pipeline {

namespace {

int AddPath(PathTrie& trie, const std::vector<std::string>& segments) {
  int node = 0;
  for (const auto& seg : segments) {
    if (seg == "*") {
      if (trie.nodes[node].wildcard < 0) {
        trie.nodes[node].wildcard = static_cast<int>(trie.nodes.size());
        trie.nodes.emplace_back();
      }
      node = trie.nodes[node].wildcard;
      continue;
    }
    int next = trie.Child(node, seg);
    if (next < 0) {
      next = static_cast<int>(trie.nodes.size());
      trie.nodes[node].children.emplace_back(seg, next);
      trie.nodes.emplace_back();
    }
    node = next;
  }
  return node;
}

// HexUnit returns the value of the four hex digits at `at` of `s`, or -1.
int HexUnit(std::string_view s, std::size_t at) {
  if (at + 4 > s.size()) return -1;
  int value = 0;
  for (std::size_t k = at; k < at + 4; ++k) {
    const auto c = static_cast<unsigned char>(s[k]);
    if (!std::isxdigit(c)) return -1;
    value = value * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return value;
}

inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

PathTrie PathTrie::Build(const FieldPolicy& policy) {
  PathTrie trie;
  for (std::size_t i = 0; i < policy.fields().size(); ++i) {
    const auto& f = policy.fields()[i];
    trie.nodes[AddPath(trie, f.segments)].field = static_cast<int>(i);
    if (f.index) trie.nodes[AddPath(trie, ParsePointer(f.index->path).value())].index_of = static_cast<int>(i);
  }
  if (!policy.record_id().empty()) trie.nodes[AddPath(trie, policy.record_id())].record_id = true;
  if (!policy.region().from.empty()) trie.nodes[AddPath(trie, policy.region().from)].region = true;
  for (std::size_t i = 0; i < policy.subjects().size(); ++i) {
    trie.nodes[AddPath(trie, policy.subjects()[i])].subject = static_cast<int>(i);
  }
  trie.subject_slots = policy.subjects().size();
  return trie;
}

int PathTrie::Child(int node, std::string_view name) const {
  for (const auto& [seg, child] : nodes[node].children) {
    if (seg == name) return child;
  }
  return -1;
}

Status JsonScanner::Scan(std::string_view text, ScanResult& out) {
  s_ = text;
  p_ = 0;
  bad_utf8_ = false;
  out_ = &out;
  out.values.clear();
  out.record_id = out.region = {kNone, kNone};
  out.index_values.clear();
  out.root_is_object = out.root_has_members = false;
  out.duplicate_binding = false;
  out.root_close = kNone;
  if (trie_ != nullptr) out.index_values.assign(trie_->nodes.size(), {kNone, kNone});
  out.subjects.assign(trie_ != nullptr ? trie_->subject_slots : 0, {kNone, kNone});
  if (active_.empty()) active_.resize(kMaxDepth + 2);
  active_[0].clear();
  if (trie_ != nullptr) active_[0].push_back(0);
  SkipSpace();
  bool ok = Value(0, 0);
  if (ok) {
    SkipSpace();
    ok = p_ == s_.size();
  }
  if (ok) return OkStatus();
  if (bad_utf8_ || !IsValidUtf8(text)) return Status(ErrorCode::kInvalidArgument, "invalid UTF-8");
  return Status(ErrorCode::kInvalidArgument, fmt::format("malformed JSON at byte {}", p_));
}

void JsonScanner::SkipSpace() {
  while (p_ < s_.size() && IsSpace(s_[p_])) ++p_;
}

void JsonScanner::Advance(std::size_t level, std::string_view name) {
  auto& next = active_[level + 1];
  next.clear();
  for (int node : active_[level]) {
    const auto& n = trie_->nodes[node];
    if (n.wildcard >= 0) next.push_back(n.wildcard);
    if (!n.children.empty()) {
      // An array element matches a concrete segment spelled as its index.
      const int child = trie_->Child(node, name);
      if (child >= 0) next.push_back(child);
    }
  }
}

void JsonScanner::Mark(std::size_t level, std::size_t begin, bool root_member) {
  for (int node : active_[level]) {
    const auto& n = trie_->nodes[node];
    if (n.field >= 0) out_->values.push_back({n.field, begin, p_});
    auto set = [&](std::pair<std::size_t, std::size_t>& range) {
      if (range.first != kNone) out_->duplicate_binding = true;
      range = {begin, p_};
    };
    if (n.record_id) set(out_->record_id);
    if (n.region) set(out_->region);
    if (n.subject >= 0) set(out_->subjects[static_cast<std::size_t>(n.subject)]);
    if (n.index_of >= 0 && root_member) set(out_->index_values[n.index_of]);
  }
}

bool JsonScanner::Value(int depth, std::size_t level) {
  if (p_ >= s_.size()) return false;
  switch (s_[p_]) {
    case '{': return Object(depth + 1, level);
    case '[': return Array(depth + 1, level);
    case '"': return String();
    case 't': return Literal("true");
    case 'f': return Literal("false");
    case 'n': return Literal("null");
    default: return Number();
  }
}

bool JsonScanner::Object(int depth, std::size_t level) {
  if (depth > kMaxDepth) return false;
  const bool root = depth == 1;
  if (root) out_->root_is_object = true;
  ++p_;
  SkipSpace();
  if (p_ < s_.size() && s_[p_] == '}') {
    if (root) out_->root_close = p_;
    ++p_;
    return true;
  }
  const bool matching = !active_[level].empty();
  while (true) {
    if (p_ >= s_.size() || s_[p_] != '"') return false;
    const std::size_t key_begin = p_;
    if (!String()) return false;
    if (matching) {
      const std::string_view raw = s_.substr(key_begin + 1, p_ - key_begin - 2);
      if (raw.find('\\') == std::string_view::npos) {
        Advance(level, raw);
      } else {
        key_.clear();
        UnescapeJsonString(raw, key_);
        Advance(level, key_);
      }
    }
    SkipSpace();
    if (p_ >= s_.size() || s_[p_] != ':') return false;
    ++p_;
    SkipSpace();
    const std::size_t value_begin = p_;
    if (matching && !active_[level + 1].empty()) {
      if (!Value(depth, level + 1)) return false;
      Mark(level + 1, value_begin, root);
    } else {
      active_[level + 1].clear();
      if (!Value(depth, level + 1)) return false;
    }
    if (root) out_->root_has_members = true;
    SkipSpace();
    if (p_ >= s_.size()) return false;
    if (s_[p_] == ',') {
      ++p_;
      SkipSpace();
      continue;
    }
    if (s_[p_] != '}') return false;
    if (root) out_->root_close = p_;
    ++p_;
    return true;
  }
}

bool JsonScanner::Array(int depth, std::size_t level) {
  if (depth > kMaxDepth) return false;
  ++p_;
  SkipSpace();
  if (p_ < s_.size() && s_[p_] == ']') {
    ++p_;
    return true;
  }
  const bool matching = !active_[level].empty();
  char index_text[24];
  for (std::size_t index = 0;; ++index) {
    if (matching) {
      const auto n = fmt::format_to_n(index_text, sizeof index_text, "{}", index).size;
      Advance(level, std::string_view(index_text, n));
    } else {
      active_[level + 1].clear();
    }
    const std::size_t value_begin = p_;
    if (!Value(depth, level + 1)) return false;
    if (matching && !active_[level + 1].empty()) Mark(level + 1, value_begin, false);
    SkipSpace();
    if (p_ >= s_.size()) return false;
    if (s_[p_] == ',') {
      ++p_;
      SkipSpace();
      continue;
    }
    if (s_[p_] != ']') return false;
    ++p_;
    return true;
  }
}

// PlainRun returns how many bytes from `p` are ordinary string bytes (not a
// quote, backslash, control character or non-ASCII), eight at a time, and
// within the last word up to the first special byte exactly.
inline std::size_t PlainRun(const char* p, std::size_t n) {
  static_assert(std::endian::native == std::endian::little, "the lowest flagged byte is the first in memory");
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    __builtin_memcpy(&w, p + i, 8);
    const std::uint64_t quote = w ^ (kOnes * '"');
    const std::uint64_t slash = w ^ (kOnes * '\\');
    // A byte is "special" when it is zero after the xor, below 0x20, or has
    // its high bit set. The subtractions can also flag a byte above a truly
    // special one (a borrow), never below it: the lowest flag is exact.
    const std::uint64_t special =
        (((quote - kOnes) & ~quote) | ((slash - kOnes) & ~slash) | (w - kOnes * 0x20) | w) & kHigh;
    if (special != 0) return i + static_cast<std::size_t>(std::countr_zero(special)) / 8;
  }
  return i;
}

bool JsonScanner::String() {
  ++p_;  // opening quote
  const std::size_t n = s_.size();
  while (p_ < n) {
    p_ += PlainRun(s_.data() + p_, n - p_);
    if (p_ >= n) break;
    const auto c = static_cast<unsigned char>(s_[p_]);
    if (c == '"') {
      ++p_;
      return true;
    }
    if (c == '\\') {
      if (p_ + 1 >= n) return false;
      const char e = s_[p_ + 1];
      if (e == 'u') {
        // A \u escape is one UTF-16 code unit: a high surrogate must be
        // followed by an escaped low one, and a low one never stands alone
        // (such a string has no UTF-8 form to encrypt or to give back).
        const int unit = HexUnit(s_, p_ + 2);
        if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return false;
        p_ += 6;
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          if (p_ + 1 >= n || s_[p_] != '\\' || s_[p_ + 1] != 'u') return false;
          const int low = HexUnit(s_, p_ + 2);
          if (low < 0xDC00 || low > 0xDFFF) return false;
          p_ += 6;
        }
        continue;
      }
      if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') return false;
      p_ += 2;
      continue;
    }
    if (c < 0x20) return false;
    if (c < 0x80) {
      ++p_;
      continue;
    }
    // A multi-byte sequence: validate just this character.
    const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (p_ + len > n || !IsValidUtf8(s_.substr(p_, len))) {
      bad_utf8_ = true;
      return false;
    }
    p_ += len;
  }
  return false;
}

bool JsonScanner::Number() {
  const std::size_t n = s_.size();
  auto digit = [&](std::size_t i) { return i < n && s_[i] >= '0' && s_[i] <= '9'; };
  if (p_ < n && s_[p_] == '-') ++p_;
  if (!digit(p_)) return false;
  if (s_[p_] == '0') {
    ++p_;
  } else {
    while (digit(p_)) ++p_;
  }
  if (p_ < n && s_[p_] == '.') {
    ++p_;
    if (!digit(p_)) return false;
    while (digit(p_)) ++p_;
  }
  if (p_ < n && (s_[p_] == 'e' || s_[p_] == 'E')) {
    ++p_;
    if (p_ < n && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
    if (!digit(p_)) return false;
    while (digit(p_)) ++p_;
  }
  return true;
}

bool JsonScanner::Literal(std::string_view word) {
  if (s_.substr(p_, word.size()) != word) return false;
  p_ += word.size();
  return true;
}

}  // namespace sovereign::pipeline
