// FieldCodec: one policy field's value to and from its ciphertext, shared by
// the record API (nlohmann::json), the NDJSON splice engine and CSV rows.
//
// Value encoding (docs/policy.md): a JSON string is encrypted as its UTF-8
// bytes; any other JSON value as 0xFF followed by its JSON text. 0xFF never
// occurs in UTF-8, so the two cannot be confused.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "sovereign/client.hpp"
#include "sovereign/policy.hpp"

namespace sovereign::pipeline {

inline constexpr char kJsonValueTag = '\xFF';

// RecordBinding is what every field of one record is bound to.
struct RecordBinding {
  std::string region;
  std::optional<std::string> record_id;
  // Per FieldPolicy::subjects() slot: the subject id at that pointer (a
  // non-empty string, or a number's JSON text); nullopt when missing, null,
  // empty or of another type.
  std::vector<std::optional<std::string>> subjects;
};

// ResolveRegion applies the policy's region rule to the record's region
// value: `value` is the string found at region.from (nullopt: missing or
// null); `not_a_string` says something else was there.
Result<std::string> ResolveRegion(const FieldPolicy& policy, const std::optional<std::string>& value,
                                  bool not_a_string);

// CheckBinding refuses a record without a record id when the policy names
// one and has random-mode fields.
Status CheckBinding(const FieldPolicy& policy, const RecordBinding& binding);

// FieldCodec is not thread-safe (scratch buffers, primary-version cache):
// one per worker thread.
class FieldCodec {
 public:
  FieldCodec(const Client& client, const FieldPolicy& policy)
      : client_(client), policy_(policy), has_record_id_(!policy.record_id().empty()), cached_(policy.fields().size()) {}

  // Encrypt appends the text ciphertext of a value to `out`: `json_value`
  // false means `value` is a string's UTF-8 bytes, true means JSON text.
  Status Encrypt(const PolicyField& field, const RecordBinding& binding, bool json_value, std::string_view value,
                 std::string& out);

  // Decrypt decrypts `ciphertext` into `plaintext` (replaced) and sets
  // `json_value`. Errors keep the Client's code, with a message naming the
  // field path; kInvalidCiphertext also for a plaintext that is not valid
  // UTF-8 or not a JSON value.
  Status Decrypt(const PolicyField& field, const RecordBinding& binding, std::string_view ciphertext,
                 std::string& plaintext, bool& json_value);

  // Rewrap appends to `out` the ciphertext re-encrypted under the primary
  // version of the field's key, or returns false in `changed` and appends
  // nothing when it is already there. `from` names the old version. When
  // the field has an index and changed, `index` gets the blind index under
  // the new primary version (indexes follow rotation like ciphertexts).
  // A subject field is re-encrypted for the subject read from the record
  // (binding.subjects), which also moves a value encrypted before the
  // policy named a subject under that subject's key.
  Status Rewrap(const PolicyField& field, const RecordBinding& binding, std::string_view ciphertext,
                std::string& out, bool& changed, std::string& from, std::string& index);

  // Index returns the blind index of a value's plaintext.
  Result<std::string> Index(const PolicyField& field, const std::string& region, std::string_view plaintext);

 private:
  // Spec and Context are kept per policy field and updated in place, so a
  // value costs no string copies unless its region, subject or record id
  // differs from the previous value's. A returned reference is valid until
  // the next call for the same field.
  const FieldSpec& Spec(const PolicyField& field, const std::string& region, const std::optional<std::string>& subject);
  // Context is the associated data of a field's value; `subject_envelope`
  // says whether the envelope is (or will be) under a per-subject key.
  const FieldContext& Context(const PolicyField& field, const RecordBinding& binding, bool subject_envelope);
  Result<std::pair<std::uint32_t, std::uint32_t>> Primary(const PolicyField& field, const std::string& region);

  struct Cached {
    FieldSpec spec;
    FieldContext context;
    bool filled = false;
  };
  Cached& CacheOf(const PolicyField& field);

  const Client& client_;
  const FieldPolicy& policy_;
  bool has_record_id_;
  std::vector<Cached> cached_;  // per policy field
  Cached unlisted_;             // for a field that is not an element of policy_.fields()
  std::string scratch_;
  std::map<std::tuple<std::string, std::string, std::string, Mode>, std::pair<std::uint32_t, std::uint32_t>> primary_;
};

// AlreadyEncrypted reports whether `value` is a whole Sovereign ciphertext
// for `field`'s mode (text form, a header that parses, a body long enough),
// so encrypting skips it. A plaintext that merely starts with "sov1:" is not.
bool AlreadyEncrypted(std::string_view value, const PolicyField& field);

// HasSubjectTag reports whether a text-form ciphertext's mode byte has the
// subject flag; false for anything that is not a ciphertext.
bool HasSubjectTag(std::string_view text);

// SubjectOf returns the subject id of `field` in `binding`: nullopt when the
// field has no subject or the record has none.
const std::optional<std::string>& SubjectOf(const PolicyField& field, const RecordBinding& binding);

// MissingSubject is the error of a subject field whose record has no subject.
Status MissingSubject(const PolicyField& field);

// FieldError wraps a Client error with the policy path of the field.
Status FieldError(const PolicyField& field, const Status& status);

}  // namespace sovereign::pipeline
