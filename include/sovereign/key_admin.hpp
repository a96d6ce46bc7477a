// KeyAdmin: creating, rotating and describing a region's keys — what a key
// officer does. An embedded keystore and a remote keystore (permission
// `admin`) both implement it, so tools work the same against either.
#pragma once

#include <chrono>
#include <cstdint>
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
};

struct KeyInfo {
  std::string name;
  std::uint32_t id = 0;
  std::uint32_t primary_version = 0;
  std::chrono::system_clock::time_point created_at;
  std::vector<KeyVersionInfo> versions;  // ascending by version
};

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
};

}  // namespace sovereign
