// KeyAdmin: creating, rotating and describing a region's keys — what a key
// officer does. An embedded keystore and a remote keystore (permission
// `admin`) both implement it, so tools work the same against either.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sovereign/export.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

enum class KeyVersionState : std::uint8_t {
  kEnabled = 0,    // encrypts (if primary) and decrypts
  kDisabled = 1,   // temporarily unusable, reversible
  kRetired = 2,    // below the key's minimum decrypt version: no longer decrypts
  kDestroyed = 3,  // material wiped: irreversible
};

// KeyVersionStateName returns "enabled", "disabled", "retired" or "destroyed".
SOVEREIGN_EXPORT std::string_view KeyVersionStateName(KeyVersionState state) noexcept;
// ParseKeyVersionState accepts exactly the names KeyVersionStateName returns.
SOVEREIGN_EXPORT Result<KeyVersionState> ParseKeyVersionState(std::string_view name);

struct KeyVersionInfo {
  std::uint32_t version = 0;
  KeyVersionState state = KeyVersionState::kEnabled;
  std::chrono::system_clock::time_point created_at;
  // Usage, counted by the keystore when it issues a field key of this
  // version (to a Client, a lease, or its own remote encrypt/decrypt).
  std::uint64_t issues = 0;
  // Random-mode field keys of this version issued while it was primary: the
  // only issues that may encrypt. See RandomEncryptionsBound.
  std::uint64_t random_issues = 0;
  std::optional<std::chrono::system_clock::time_point> last_used_at;
};

struct KeyInfo {
  std::string name;
  std::uint32_t id = 0;
  std::uint32_t primary_version = 0;
  // Versions below this are retired (no longer decrypt).
  std::uint32_t min_decrypt_version = 1;
  std::chrono::system_clock::time_point created_at;
  std::vector<KeyVersionInfo> versions;  // ascending by version
  // Per-subject keys held (one per subject and version) and subjects shredded.
  std::uint64_t subject_keys = 0;
  std::uint64_t shredded_subjects = 0;
};

// ShredReport is what a shred did. `subject_tag` (hex) is how the keystore
// names the subject in envelopes and in the audit log; the subject id itself
// is never stored.
struct ShredReport {
  std::string key;
  std::string subject_tag;
  std::uint64_t subject_keys_destroyed = 0;  // one per version the subject had a key of
  bool already_shredded = false;
  // The deleted keys' bytes are gone from the catalog's pages, but another
  // process reading the catalog kept its WAL (which may still hold them)
  // from being truncated; the next complete checkpoint does it.
  bool wal_truncation_postponed = false;
};

// kMaxShredReasonSize bounds the reason recorded with a shred.
inline constexpr std::size_t kMaxShredReasonSize = 256;
// ValidateShredReason accepts 0..kMaxShredReasonSize printable ASCII characters.
SOVEREIGN_EXPORT Status ValidateShredReason(std::string_view reason);

// ValidateKeyName accepts 1..64 characters of [a-z0-9_-], starting with a letter.
SOVEREIGN_EXPORT Status ValidateKeyName(std::string_view name);
// ValidateLabel accepts 1..64 characters of [A-Za-z0-9_.-].
SOVEREIGN_EXPORT Status ValidateLabel(std::string_view label);

// Thread safety: implementations are safe to call concurrently.
class SOVEREIGN_EXPORT KeyAdmin {
 public:
  virtual ~KeyAdmin();

  // region returns the region whose keys this administers.
  virtual const std::string& region() const noexcept = 0;
  // CreateKey creates key `name` with version 1 as primary. kAlreadyExists if it exists.
  virtual Result<KeyInfo> CreateKey(std::string_view name) = 0;
  // RotateKey adds a new version and makes it primary; older enabled versions still decrypt.
  virtual Result<KeyInfo> RotateKey(std::string_view name) = 0;
  // GetKey describes one key. kKeyNotFound if absent.
  virtual Result<KeyInfo> GetKey(std::string_view name) = 0;
  // ListKeys describes every key, ordered by id.
  virtual Result<std::vector<KeyInfo>> ListKeys() = 0;

  // The lifecycle of versions (docs/rotation.md). Each change is audited,
  // refused changes too, and returns the key as it is afterwards. They fail
  // with kKeyNotFound for an unknown key or version and kFailedPrecondition
  // for a transition that is not allowed; none ever touches the primary's
  // ability to encrypt.
  //
  // RetireVersionsBelow retires every version below `version`: they stop
  // decrypting for good (retiring is not undone; the key's minimum decrypt
  // version only rises). `version` must be at most the primary version.
  virtual Result<KeyInfo> RetireVersionsBelow(std::string_view name, std::uint32_t version) = 0;
  // SetVersionEnabled disables (reversibly) or re-enables one version. The
  // primary cannot be disabled (rotate first); a retired or destroyed version
  // cannot be enabled.
  virtual Result<KeyInfo> SetVersionEnabled(std::string_view name, std::uint32_t version, bool enabled) = 0;
  // DestroyVersion wipes the version's wrapped secret from the catalog:
  // irreversible, every ciphertext of that version becomes undecryptable.
  // Never the primary.
  virtual Result<KeyInfo> DestroyVersion(std::string_view name, std::uint32_t version) = 0;

  // ShredSubject destroys every per-subject key of `subject` under key
  // `name`, in every version, and records the shred with `reason` in the
  // audit log: every field ever encrypted for the subject becomes
  // unrecoverable (decrypting one gives kShredded), and the subject can get
  // no new key under `name`. Irreversible. Shredding a subject again is ok
  // and reports already_shredded. kKeyNotFound for an unknown key.
  virtual Result<ShredReport> ShredSubject(std::string_view name, std::string_view subject, std::string_view reason);
};

// kRandomEncryptionsPerIssue is how many random-mode encryptions a Client
// performs with one issued field key before it asks the keystore for the key
// again (docs/rotation.md). The keystore's usage bound of a version is
// random_issues * kRandomEncryptionsPerIssue.
inline constexpr std::uint64_t kRandomEncryptionsPerIssue = std::uint64_t{1} << 20;
// kRandomEncryptionsWarning is where `keys status` starts warning: 2^30, a
// quarter of the 2^32 random-nonce limit of AES-GCM (NIST SP 800-38D).
inline constexpr std::uint64_t kRandomEncryptionsWarning = std::uint64_t{1} << 30;

// RandomEncryptionsBound is an upper bound of the random-mode encryptions
// made with field keys of `version` by Sovereign clients.
SOVEREIGN_EXPORT std::uint64_t RandomEncryptionsBound(const KeyVersionInfo& version) noexcept;

}  // namespace sovereign
