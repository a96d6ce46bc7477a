// Request bodies to batch items (see the header): the route handlers'
// parsing, unchanged, so that the fuzz target runs the code the service runs.
#include "keystore/service/request_parse.hpp"

#include <openssl/crypto.h>

#include <vector>

#include <fmt/format.h>

#include "keystore/internal/json_members.hpp"
#include "keystore/service/service.hpp"  // ValidateItemNames
#include "sdk/internal/base64url.hpp"
#include "sdk/internal/json_strict.hpp"
#include "sovereign/key_source.hpp"

namespace sovereign::service {
namespace {

namespace ki = keystore_internal;
using Json = nlohmann::json;

constexpr std::uint64_t kMaxId = 0xffffffffu;

// Deeply nested JSON is never a valid request; refusing it up front keeps
// every later recursive walk (and nlohmann's) shallow.
bool NestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

Status ReadContext(const Json& item, const std::string& where, FieldContext& context) {
  SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, "path", context.path, /*required=*/false));
  return ki::ReadOptionalString(item, where, "record_id", context.record_id);
}

Status ReadBytes(const Json& item, const std::string& where, std::string_view name, std::string& out) {
  std::string text;
  SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, name, text, /*required=*/true));
  std::vector<std::uint8_t> bytes;
  if (!internal::Base64UrlDecode(text, bytes)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} must be unpadded base64url", ki::MemberPath(where, name)));
  }
  out.assign(bytes.begin(), bytes.end());
  if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  return OkStatus();
}

// ParseTag reads exactly 2 * kSubjectTagSize lowercase hex digits: the form
// the keystore writes tags in, so one tag has one spelling in audit and API.
bool ParseTag(std::string_view hex, SubjectTag& tag) {
  if (hex.size() != 2 * kSubjectTagSize) return false;
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < kSubjectTagSize; ++i) {
    const int hi = digit(hex[2 * i]);
    const int lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    tag[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

Status ReadId(const Json& item, const std::string& where, std::string_view name, std::uint32_t& out) {
  std::optional<std::uint64_t> value;
  SOVEREIGN_RETURN_IF_ERROR(ki::ReadUnsigned(item, where, name, 1, kMaxId, value));
  if (!value) return Status(ErrorCode::kInvalidArgument, fmt::format("missing member {}", ki::MemberPath(where, name)));
  out = static_cast<std::uint32_t>(*value);
  return OkStatus();
}

}  // namespace

Result<Json> ParseBodyText(std::string_view body, int max_depth, std::initializer_list<std::string_view> allowed) {
  if (!NestingWithin(body, max_depth)) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("request body nests deeper than {} levels", max_depth));
  }
  auto parsed = internal::ParseJsonStrict(body, "request body");
  if (!parsed.ok()) return parsed.status();
  SOVEREIGN_RETURN_IF_ERROR(ki::ExpectObject(*parsed, "", allowed));
  return parsed;
}

Status ParseBatchText(std::string_view text, int max_depth, std::size_t max_items, Json& body, const Json*& items) {
  auto parsed = ParseBodyText(text, max_depth, {"items"});
  if (!parsed.ok()) return parsed.status();
  body = std::move(parsed).value();
  items = ki::Member(body, "items");
  if (items == nullptr || !items->is_array()) {
    return Status(ErrorCode::kInvalidArgument, "member /items must be an array");
  }
  if (items->size() > max_items) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("a batch holds at most {} items, this one {}", max_items, items->size()));
  }
  return OkStatus();
}

Status ReadEncryptItem(const Json& j, const std::string& where, EncryptItem& item) {
  Status ok = ki::ExpectObject(j, where, {"key", "label", "mode", "path", "record_id", "plaintext", "subject"});
  if (ok.ok()) ok = ki::ReadString(j, where, "key", item.spec.key, true);
  if (ok.ok()) ok = ki::ReadString(j, where, "label", item.spec.label, true);
  if (ok.ok()) ok = ki::ReadString(j, where, "mode", item.mode, false);
  if (ok.ok() && ki::Member(j, "subject") != nullptr) {
    std::string subject;
    ok = ki::ReadString(j, where, "subject", subject, true);
    if (ok.ok() && !ValidateSubject(subject).ok()) {
      ok = Status(ErrorCode::kInvalidArgument, fmt::format("member {} must be 1 to {} bytes, not {}",
                                                           ki::MemberPath(where, "subject"), kMaxSubjectSize,
                                                           subject.size()));
    }
    if (ok.ok()) item.spec.subject = std::move(subject);
  }
  if (ok.ok()) ok = ReadContext(j, where, item.context);
  if (ok.ok()) ok = ReadBytes(j, where, "plaintext", item.plaintext);
  if (!ok.ok()) return ok;
  item.spec.mode = item.mode == "random" ? Mode::kRandom : Mode::kDeterministic;
  // A bad name or mode fails its item only. Such an item is audited with
  // no names: what cannot be a name is never copied into the log.
  Status valid = ValidateItemNames(where, item.spec.key, item.spec.label);
  if (valid.ok() && item.mode != "random" && item.mode != "deterministic") {
    valid = Status(ErrorCode::kInvalidArgument,
                   fmt::format("member {} must be random or deterministic", ki::MemberPath(where, "mode")));
  }
  if (!valid.ok()) {
    item.refused = std::move(valid);
    item.spec.key.clear();
    item.spec.label.clear();
    item.mode.clear();
  }
  return OkStatus();
}

Status ReadIndexItem(const Json& j, const std::string& where, IndexItem& item) {
  std::optional<std::uint64_t> bits;
  std::string normalization = "trim-casefold";
  Status ok = ki::ExpectObject(j, where, {"key", "label", "value", "bits", "normalization"});
  if (ok.ok()) ok = ki::ReadString(j, where, "key", item.spec.key, true);
  if (ok.ok()) ok = ki::ReadString(j, where, "label", item.spec.label, true);
  if (ok.ok()) ok = ValidateItemNames(where, item.spec.key, item.spec.label);
  if (ok.ok()) ok = ki::ReadUnsigned(j, where, "bits", kMinIndexBits, kMaxIndexBits, bits);
  if (ok.ok()) ok = ki::ReadString(j, where, "normalization", normalization, false);
  if (ok.ok()) {
    auto n = ParseIndexNormalization(normalization);
    if (n.ok()) {
      item.options.normalization = *n;
    } else {
      ok = Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} must be exact, trim-casefold or digits", ki::MemberPath(where, "normalization")));
    }
  }
  if (ok.ok()) ok = ReadBytes(j, where, "value", item.value);
  if (!ok.ok()) return ok;
  if (bits) item.options.bits = static_cast<unsigned>(*bits);
  item.spec.mode = Mode::kIndex;
  return OkStatus();
}

Result<LeaseItem> ReadLeaseItem(const Json& item, const std::string& where) {
  SOVEREIGN_RETURN_IF_ERROR(ki::ExpectObject(item, where, {"key", "mode", "label", "key_id", "version", "label_id", "subject",
                                                         "subject_tag"}));
  LeaseItem out;
  std::string mode;
  SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, "mode", mode, /*required=*/true));
  auto parsed_mode = ParseMode(mode);
  if (!parsed_mode.ok()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} must be random, deterministic or index", ki::MemberPath(where, "mode")));
  }
  out.mode = *parsed_mode;
  out.by_name = ki::Member(item, "key") != nullptr;
  const bool has_ids = ki::Member(item, "key_id") != nullptr || ki::Member(item, "version") != nullptr ||
                       ki::Member(item, "label_id") != nullptr;
  if (out.by_name == has_ids) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("item {} must name either key and label, or key_id, version and label_id", where));
  }
  if (out.by_name) {
    if (ki::Member(item, "label") == nullptr) {
      return Status(ErrorCode::kInvalidArgument, fmt::format("missing member {}", ki::MemberPath(where, "label")));
    }
    SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, "key", out.key, true));
    SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, "label", out.label, true));
    // Names that could never exist are refused before anything is audited.
    SOVEREIGN_RETURN_IF_ERROR(ValidateItemNames(where, out.key, out.label));
    if (ki::Member(item, "subject_tag") != nullptr) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("member {} is not allowed with key (name the subject with subject)",
                                ki::MemberPath(where, "subject_tag")));
    }
    if (ki::Member(item, "subject") != nullptr) {
      std::string subject;
      SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, "subject", subject, true));
      if (!ValidateSubject(subject).ok()) {
        return Status(ErrorCode::kInvalidArgument, fmt::format("member {} must be 1 to {} bytes, not {}",
                                                               ki::MemberPath(where, "subject"), kMaxSubjectSize,
                                                               subject.size()));
      }
      out.subject = std::move(subject);
    }
    return out;
  }
  if (ki::Member(item, "label") != nullptr) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} is not allowed with key_id", ki::MemberPath(where, "label")));
  }
  if (ki::Member(item, "subject") != nullptr) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} is not allowed with key_id (name the subject key with subject_tag)",
                              ki::MemberPath(where, "subject")));
  }
  SOVEREIGN_RETURN_IF_ERROR(ReadId(item, where, "key_id", out.key_id));
  SOVEREIGN_RETURN_IF_ERROR(ReadId(item, where, "version", out.version));
  SOVEREIGN_RETURN_IF_ERROR(ReadId(item, where, "label_id", out.label_id));
  if (ki::Member(item, "subject_tag") != nullptr) {
    std::string hex;
    SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, "subject_tag", hex, true));
    SubjectTag tag{};
    if (!ParseTag(hex, tag)) {
      return Status(ErrorCode::kInvalidArgument, fmt::format("member {} must be {} lowercase hex digits",
                                                             ki::MemberPath(where, "subject_tag"),
                                                             2 * kSubjectTagSize));
    }
    out.subject_tag = tag;
  }
  return out;
}

}  // namespace sovereign::service
