// simdjson-backed parsing of string-only batch bodies (see the header).
#include "keystore/service/string_batch.hpp"

#include <simdjson.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "keystore/internal/json_members.hpp"
#include "sdk/internal/json_strict.hpp"

namespace sovereign::service {
namespace ki = keystore_internal;

struct StringBatch::Document {
  simdjson::dom::parser parser;
};

namespace {

Status Invalid(std::string message) { return Status(ErrorCode::kInvalidArgument, std::move(message)); }

std::string_view TypeName(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    default:
      return "a number";
  }
}

Status WrongType(std::string_view path, std::string_view expected, simdjson::dom::element value) {
  return Invalid(fmt::format("member {} must be {}, not {}", path.empty() ? "/" : path, expected,
                             TypeName(value.type())));
}

// Quoted renders an attacker-chosen member name through JSON, so control
// characters cannot forge log lines, and shortened (as ki::ExpectObject does).
std::string Quoted(std::string_view name) { return internal::JsonQuotedName(name); }

}  // namespace

namespace {
// A parser per thread, kept between requests: a fresh one per request spent
// more in page faults on its new buffers than in parsing.
thread_local std::unique_ptr<StringBatch::Document> idle_document;
}  // namespace

StringBatch::StringBatch(std::unique_ptr<Document> document, std::span<const StringMember> members)
    : document_(std::move(document)), members_(members) {}
StringBatch::StringBatch(StringBatch&&) noexcept = default;
StringBatch& StringBatch::operator=(StringBatch&&) noexcept = default;
StringBatch::~StringBatch() {
  // Back to this thread's slot (a batch is destroyed on the thread that parsed it).
  if (document_ && !idle_document) idle_document = std::move(document_);
}

Result<StringBatch> StringBatch::Parse(std::string_view body, std::span<const StringMember> members,
                                       std::size_t max_items, std::size_t max_depth) {
  auto document = idle_document ? std::move(idle_document) : std::make_unique<Document>();
  if (document->parser.allocate(body.size(), max_depth) != simdjson::SUCCESS) {
    return Status(ErrorCode::kInternal, "cannot allocate the request parser");
  }
  simdjson::dom::element root;
  // The string is copied into the parser's padded buffer: `body` need not be padded.
  if (const auto error = document->parser.parse(body.data(), body.size()).get(root); error != simdjson::SUCCESS) {
    if (error == simdjson::DEPTH_ERROR) return Invalid(fmt::format("request body nests deeper than {} levels", max_depth));
    return Invalid("request body is not valid JSON");
  }
  simdjson::dom::object top;
  if (root.get(top) != simdjson::SUCCESS) return WrongType("", "an object", root);
  simdjson::dom::array items;
  bool have_items = false;
  for (const auto field : top) {
    if (field.key != "items") return Invalid(fmt::format("unknown member {} at {}", Quoted(field.key), ki::MemberPath("", field.key)));
    if (have_items) return Invalid("duplicate member /items");
    have_items = true;
    if (field.value.get(items) != simdjson::SUCCESS) return Invalid("member /items must be an array");
  }
  if (!have_items) return Invalid("member /items must be an array");
  if (items.size() > max_items) {
    return Invalid(fmt::format("a batch holds at most {} items, this one {}", max_items, items.size()));
  }

  StringBatch batch(std::move(document), members);
  batch.values_.resize(items.size() * members.size());
  std::size_t index = 0;
  // Member paths are built only for a message: this loop runs for every item.
  const auto where = [&index] { return ki::ElementPath("/items", index); };
  std::vector<bool> seen(members.size());
  for (const simdjson::dom::element item : items) {
    simdjson::dom::object object;
    if (item.get(object) != simdjson::SUCCESS) return WrongType(where(), "an object", item);
    std::fill(seen.begin(), seen.end(), false);
    for (const auto field : object) {
      std::size_t m = 0;
      while (m < members.size() && members[m].name != field.key) ++m;
      if (m == members.size()) {
        return Invalid(fmt::format("unknown member {} at {}", Quoted(field.key), ki::MemberPath(where(), field.key)));
      }
      if (seen[m]) return Invalid(fmt::format("duplicate member {}", ki::MemberPath(where(), field.key)));
      seen[m] = true;
      std::string_view text;
      if (field.value.get(text) == simdjson::SUCCESS) {
        batch.values_[index * members.size() + m] = text;
      } else if (!(members[m].nullable && field.value.is_null())) {
        return WrongType(ki::MemberPath(where(), field.key), members[m].nullable ? "a string or null" : "a string",
                         field.value);
      }
    }
    for (std::size_t m = 0; m < members.size(); ++m) {
      if (members[m].required && !seen[m]) {
        return Invalid(fmt::format("missing member {}", ki::MemberPath(where(), members[m].name)));
      }
    }
    ++index;
  }
  return batch;
}

}  // namespace sovereign::service
