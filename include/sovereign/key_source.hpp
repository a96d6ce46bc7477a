// KeySource: where a Client gets field keys from — "who can hand me a key".
//
// An embedded keystore (sovereign/keystore.hpp) and, later, a remote regional
// keystore implement it. A KeySource serves exactly one region and never falls
// back to another: asking it for a key of a different region is kWrongRegion.
//
// Thread safety: implementations must be safe to call from many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <span>
#include <vector>

#include "sovereign/envelope.hpp"
#include "sovereign/export.hpp"
#include "sovereign/mode.hpp"
#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

// FieldKeyMaterial is one field key with everything needed to name it in an
// envelope. `key` holds FieldKeySize(mode) bytes derived as
// HKDF-SHA256(version secret, info = "sovereign/v1" | mode | label).
struct FieldKeyMaterial {
  std::string region;
  std::string key_name;
  std::uint32_t key_id = 0;
  std::uint32_t version = 0;
  Mode mode = Mode::kRandom;
  std::string label;
  std::uint32_t label_id = 0;
  // Set for a per-subject field key: derived from the subject's key rather
  // than the version secret, and named in envelopes by this tag.
  std::optional<SubjectTag> subject_tag;
  SecretBytes key;
  // The holder must drop the key and ask again after this instant.
  std::chrono::system_clock::time_point expires_at;
};

// kMaxSubjectSize is the longest subject id (bytes) a keystore accepts.
inline constexpr std::size_t kMaxSubjectSize = 1024;

// FieldKeyRequest names one field key: by key name and label (the primary
// version: to encrypt or index) or by the ids an envelope header carries (to
// decrypt). With `subject` (by name) or `subject_tag` (by ids) it names the
// field key derived from that subject's per-subject key instead of the
// version secret; the keystore creates a subject key on first use by name.
// The views must outlive the call that takes the request.
struct FieldKeyRequest {
  bool by_name = true;
  std::string_view key_name;
  std::string_view label;
  std::uint32_t key_id = 0;
  std::uint32_t version = 0;
  std::uint32_t label_id = 0;
  Mode mode = Mode::kRandom;
  std::optional<std::string_view> subject;  // by name: the subject id, 1..kMaxSubjectSize bytes
  std::optional<SubjectTag> subject_tag;    // by ids: the tag from the envelope
};

// ValidateSubject accepts 1..kMaxSubjectSize bytes.
SOVEREIGN_EXPORT Status ValidateSubject(std::string_view subject);

// RemoteEncryptItem and RemoteDecryptItem are one field of a remote batch:
// for principals the keystore lets encrypt or decrypt but not hold keys.
struct RemoteEncryptItem {
  std::string_view key;
  std::string_view label;
  Mode mode = Mode::kRandom;
  std::string_view plaintext;
  const FieldContext* context = nullptr;
  std::optional<std::string_view> subject;  // encrypt under this subject's key
};
struct RemoteDecryptItem {
  std::string_view ciphertext;  // text form
  const FieldContext* context = nullptr;
};

class SOVEREIGN_EXPORT KeySource {
 public:
  virtual ~KeySource();

  // region returns the one region this source serves.
  virtual const std::string& region() const noexcept = 0;

  // PrimaryFieldKey returns the field key of the primary version of `key_name`
  // for (mode, label), registering `label` if it is new. Errors: kKeyNotFound,
  // kInvalidArgument (bad name/label), kDenied, kKeystoreUnavailable.
  virtual Result<FieldKeyMaterial> PrimaryFieldKey(std::string_view key_name, Mode mode,
                                                   std::string_view label) = 0;

  // FieldKey returns the field key named by an envelope header. Errors:
  // kKeyNotFound (no such key, version or label), kKeyVersionUnusable,
  // kDenied, kKeystoreUnavailable.
  virtual Result<FieldKeyMaterial> FieldKey(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                            std::uint32_t label_id) = 0;

  // FieldKeys answers a batch of requests, one result per request in order:
  // how per-subject keys are fetched (a pipeline asks for a chunk's subjects
  // at once). Errors per item as PrimaryFieldKey and FieldKey, plus kShredded
  // for a subject whose key was destroyed. The default answers requests
  // without a subject one by one and refuses subject requests with
  // kFailedPrecondition.
  virtual std::vector<Result<FieldKeyMaterial>> FieldKeys(std::span<const FieldKeyRequest> requests);

  // SupportsRemoteOperations reports whether RemoteEncrypt/RemoteDecrypt are
  // served (a remote keystore); the Client uses them when a key is denied.
  virtual bool SupportsRemoteOperations() const noexcept { return false; }

  // RemoteEncrypt has the keystore encrypt each item; one result per item, in
  // order (text ciphertexts). Default: every item kFailedPrecondition.
  virtual std::vector<Result<std::string>> RemoteEncrypt(std::span<const RemoteEncryptItem> items);

  // RemoteDecrypt has the keystore decrypt each item; one result per item, in
  // order (plaintexts). A denied item is kDenied. Default: kFailedPrecondition.
  virtual std::vector<Result<std::string>> RemoteDecrypt(std::span<const RemoteDecryptItem> items);
};

}  // namespace sovereign
