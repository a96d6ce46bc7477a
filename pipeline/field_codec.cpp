#include "pipeline/internal/field_codec.hpp"

#include <openssl/crypto.h>

#include <functional>

#include <fmt/format.h>

#include "pipeline/internal/json_text.hpp"
#include "sovereign/envelope.hpp"

namespace sovereign::pipeline {

bool AlreadyEncrypted(std::string_view value, const PolicyField& field) {
  if (!IsTextCiphertext(value)) return false;
  auto bytes = FromText(value);
  if (!bytes.ok()) return false;
  auto header = ParseEnvelopeHeader(*bytes);
  return header.ok() && header->first.mode == field.mode;
}

bool HasSubjectTag(std::string_view text) {
  // The mode byte is the envelope's second byte: the first four base64url
  // characters after the prefix hold bytes 0..2.
  if (!IsTextCiphertext(text) || text.size() < kTextPrefix.size() + 4) return false;
  auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  const std::string_view b = text.substr(kTextPrefix.size(), 4);
  const int c1 = sextet(b[1]), c2 = sextet(b[2]);
  if (c1 < 0 || c2 < 0) return false;
  const int mode = ((c1 & 0x0F) << 4) | (c2 >> 2);
  return (mode & kSubjectModeFlag) != 0;
}

const std::optional<std::string>& SubjectOf(const PolicyField& field, const RecordBinding& binding) {
  static const std::optional<std::string> kNoSubject;
  if (field.subject_slot < 0 || static_cast<std::size_t>(field.subject_slot) >= binding.subjects.size()) {
    return kNoSubject;
  }
  return binding.subjects[static_cast<std::size_t>(field.subject_slot)];
}

Status MissingSubject(const PolicyField& field) {
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("field {}: no subject at {} (a non-empty string or an integer)", field.path, field.subject));
}

Status FieldError(const PolicyField& field, const Status& status) {
  return Status(status.code(), fmt::format("field {}: {}", field.path, status.ToString()));
}

Result<std::string> ResolveRegion(const FieldPolicy& policy, const std::optional<std::string>& value,
                                  bool not_a_string) {
  const RegionRule& rule = policy.region();
  if (not_a_string) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("region at {} is not a string", rule.from_pointer));
  }
  if (value) {
    if (!ValidateRegion(*value).ok()) {
      return Status(ErrorCode::kInvalidArgument, fmt::format("region at {} is not a region name", rule.from_pointer));
    }
    return *value;
  }
  if (rule.fallback.empty()) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("no region at {} and no default", rule.from_pointer));
  }
  return rule.fallback;
}

Status CheckBinding(const FieldPolicy& policy, const RecordBinding& binding) {
  if (!policy.record_id().empty() && !binding.record_id && policy.has_random_fields()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("no record id at {} (a string or number) to bind random-mode fields to",
                              policy.record_id_pointer()));
  }
  return OkStatus();
}

FieldCodec::Cached& FieldCodec::CacheOf(const PolicyField& field) {
  const auto& fields = policy_.fields();
  const std::less<const PolicyField*> before;
  Cached* slot = &unlisted_;
  if (!before(&field, fields.data()) && before(&field, fields.data() + fields.size())) {
    slot = &cached_[static_cast<std::size_t>(&field - fields.data())];
  } else {
    unlisted_.filled = false;  // not one of the policy's own fields: filled afresh every time
  }
  Cached& c = *slot;
  if (!c.filled) {
    c.spec = FieldSpec{"", field.key, field.label, field.mode};
    c.context.path = field.path;
    c.filled = true;
  }
  return c;
}

const FieldSpec& FieldCodec::Spec(const PolicyField& field, const std::string& region,
                                  const std::optional<std::string>& subject) {
  FieldSpec& spec = CacheOf(field).spec;
  if (spec.region != region) spec.region = region;
  if (spec.subject != subject) spec.subject = subject;
  return spec;
}

const FieldContext& FieldCodec::Context(const PolicyField& field, const RecordBinding& binding, bool subject_envelope) {
  static const std::optional<std::string> kUnbound;
  const std::optional<std::string>* id = &kUnbound;
  if (subject_envelope) {
    // A subject envelope is bound to the record id when it is random-mode
    // and the policy names one, else to the subject id: a ciphertext moved
    // to another subject's record then fails, and a deterministic value
    // still equals the same subject's equal values (docs/policy.md).
    id = field.mode == Mode::kRandom && has_record_id_ ? &binding.record_id : &SubjectOf(field, binding);
  } else if (field.mode == Mode::kRandom) {
    // Deterministic fields are bound to the path only, so equal values join across records.
    id = &binding.record_id;
  }
  FieldContext& context = CacheOf(field).context;
  if (context.record_id != *id) context.record_id = *id;
  return context;
}

Status FieldCodec::Encrypt(const PolicyField& field, const RecordBinding& binding, bool json_value,
                           std::string_view value, std::string& out) {
  const bool subject_field = !field.subject.empty();
  const std::optional<std::string>& subject = SubjectOf(field, binding);
  if (subject_field && !subject) return MissingSubject(field);
  const FieldSpec& spec = Spec(field, binding.region, subject);
  std::string_view plaintext = value;
  if (json_value) {
    scratch_.clear();
    scratch_.push_back(kJsonValueTag);
    scratch_.append(value);
    plaintext = scratch_;
  }
  const Status s = client_.EncryptAppend(spec, plaintext, Context(field, binding, subject_field), out);
  if (json_value) OPENSSL_cleanse(scratch_.data(), scratch_.size());
  return s.ok() ? s : FieldError(field, s);
}

Status FieldCodec::Decrypt(const PolicyField& field, const RecordBinding& binding, std::string_view ciphertext,
                           std::string& plaintext, bool& json_value) {
  plaintext.clear();
  const bool subject_envelope = !field.subject.empty() && HasSubjectTag(ciphertext);
  const Status s = client_.DecryptAppend(ciphertext, Context(field, binding, subject_envelope), plaintext);
  if (!s.ok()) return FieldError(field, s);
  json_value = !plaintext.empty() && plaintext.front() == kJsonValueTag;
  const std::string_view text = json_value ? std::string_view(plaintext).substr(1) : std::string_view(plaintext);
  if (json_value ? !IsJsonValue(text) : !IsValidUtf8(text)) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    plaintext.clear();
    return Status(ErrorCode::kInvalidCiphertext,
                  fmt::format("field {}: decrypts to {}", field.path,
                              json_value ? "something that is not a JSON value" : "bytes that are not UTF-8"));
  }
  if (json_value) plaintext.erase(0, 1);
  return OkStatus();
}

Result<std::pair<std::uint32_t, std::uint32_t>> FieldCodec::Primary(const PolicyField& field,
                                                                     const std::string& region) {
  auto key = std::make_tuple(region, field.key, field.label, field.mode);
  if (auto it = primary_.find(key); it != primary_.end()) return it->second;
  // The Client has no "primary version" query: a probe ciphertext's header names it.
  auto probe = client_.EncryptBinary(FieldSpec{region, field.key, field.label, field.mode}, "",
                                     FieldContext{field.path, std::nullopt});
  if (!probe.ok()) return FieldError(field, probe.status());
  auto header = ParseEnvelopeHeader(*probe);
  if (!header.ok()) return FieldError(field, header.status());
  const auto primary = std::make_pair(header->first.key_id, header->first.key_version);
  primary_.emplace(std::move(key), primary);
  return primary;
}

Status FieldCodec::Rewrap(const PolicyField& field, const RecordBinding& binding, std::string_view ciphertext, std::string& out, bool& changed, std::string& from,
                          std::string& index) {
  changed = false;
  index.clear();
  auto binary = FromText(ciphertext);
  if (!binary.ok()) return FieldError(field, binary.status());
  auto header = ParseEnvelopeHeader(*binary);
  if (!header.ok()) return FieldError(field, header.status());
  const EnvelopeHeader& h = header->first;
  auto primary = Primary(field, h.region);
  if (!primary.ok()) return primary.status();
  // Authenticate before deciding: a forged header must not pass as "already primary".
  scratch_.clear();
  const bool subject_field = !field.subject.empty();
  Status s = client_.DecryptAppend(ciphertext, Context(field, binding, h.subject.has_value()), scratch_);
  if (!s.ok()) return FieldError(field, s);
  const std::optional<std::string>& subject = SubjectOf(field, binding);
  if (subject_field && !subject) {
    OPENSSL_cleanse(scratch_.data(), scratch_.size());
    return MissingSubject(field);
  }
  bool same_subject = h.subject.has_value() == subject_field;
  if (same_subject && subject_field) {
    // Already under the record's subject's key? A record whose subject
    // changed (an order moved to another customer) must move to the new
    // subject's key, or shredding the new subject would leave it readable.
    auto tag = client_.SubjectTagOf(FieldSpec{h.region, field.key, field.label, field.mode, subject});
    if (!tag.ok()) {
      OPENSSL_cleanse(scratch_.data(), scratch_.size());
      return FieldError(field, tag.status());
    }
    same_subject = *tag == *h.subject;
  }
  if (h.key_id == primary->first && h.key_version == primary->second && h.mode == field.mode && same_subject) {
    OPENSSL_cleanse(scratch_.data(), scratch_.size());
    return OkStatus();
  }
  s = client_.EncryptAppend(Spec(field, h.region, subject), scratch_, Context(field, binding, subject_field), out);
  if (s.ok() && field.index) {
    const std::string_view value = !scratch_.empty() && scratch_.front() == kJsonValueTag
                                       ? std::string_view(scratch_).substr(1)
                                       : std::string_view(scratch_);
    auto new_index = Index(field, h.region, value);
    if (new_index.ok()) index = std::move(new_index).value();
    else s = new_index.status();
  }
  OPENSSL_cleanse(scratch_.data(), scratch_.size());
  if (!s.ok()) return s.message().rfind("field ", 0) == 0 ? s : FieldError(field, s);
  changed = true;
  from = h.key_id == primary->first ? fmt::format("{}/{}/v{}", h.region, field.key, h.key_version)
                                    : fmt::format("{}/key-id-{}/v{}", h.region, h.key_id, h.key_version);
  return OkStatus();
}

Result<std::string> FieldCodec::Index(const PolicyField& field, const std::string& region,
                                      std::string_view plaintext) {
  auto index = client_.BlindIndex(FieldSpec{region, field.key, field.label, Mode::kIndex}, plaintext,
                                  field.index->options);
  if (!index.ok()) return FieldError(field, index.status());
  return index;
}

}  // namespace sovereign::pipeline
