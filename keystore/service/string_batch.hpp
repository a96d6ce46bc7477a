// StringBatch: a batch request body whose items hold only strings, parsed for
// speed.
//
// `POST /v1/decrypt` carries up to kMaxBatchItems items of three strings
// each. Parsing such a body into nlohmann::json cost about 2 ms per 1,000
// items — a third of the service's work for the batch — so those bodies are
// parsed with simdjson's DOM instead, with the same strictness and the same
// error messages as the nlohmann path (keystore/internal/json_members.hpp),
// plus one rule more: a member named twice is an error, not "last one wins".
//
// Only bodies without secrets use it: the parser's buffers are not wiped.
//
// Thread safety: a StringBatch is used by one thread; Parse may run on many.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "sovereign/status.hpp"

namespace sovereign::service {

// StringMember describes one member an item may have.
struct StringMember {
  std::string_view name;
  bool required = false;  // absent is "missing member /items/N/name"
  bool nullable = false;  // null is accepted and read as absent
};

class StringBatch {
 public:
  struct Document;  // the parser whose buffers the values live in
  // Parse parses `body`: an object with exactly the member "items", an array
  // of at most `max_items` objects whose members are among `members` and are
  // strings (or null where nullable). `members` must outlive the batch.
  // Errors are kInvalidArgument naming the offending member by JSON Pointer.
  static Result<StringBatch> Parse(std::string_view body, std::span<const StringMember> members,
                                   std::size_t max_items, std::size_t max_depth);

  StringBatch(StringBatch&&) noexcept;
  StringBatch& operator=(StringBatch&&) noexcept;
  ~StringBatch();

  std::size_t size() const noexcept { return values_.size() / members_.size(); }

  // Get returns member `member` (an index into `members`) of item `item`:
  // nullopt when absent or null. The view lives as long as the batch.
  std::optional<std::string_view> Get(std::size_t item, std::size_t member) const {
    return values_[item * members_.size() + member];
  }

 private:
  StringBatch(std::unique_ptr<Document> document, std::span<const StringMember> members);

  std::unique_ptr<Document> document_;  // owns the strings the views point into
  std::span<const StringMember> members_;
  std::vector<std::optional<std::string_view>> values_;  // size() x members_.size()
};

}  // namespace sovereign::service
