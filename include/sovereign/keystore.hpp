// EmbeddedKeystore: a region's keystore opened in-process from a directory.
//
//   DIR/root.key    the region root key (0600; opening fails if group/others can read it)
//   DIR/catalog.db  SQLite catalog (WAL): keys, versions, labels — secrets only wrapped
//   DIR/audit.log   append-only, hash-chained, MAC'd record of every key use and change
//
// Key versions are random 256-bit secrets wrapped under the root key with
// AES-256-GCM, the associated data naming region, key id and version, so a
// wrapped secret copied to another key or version fails to unwrap. Field keys
// are derived from a version secret and never stored.
//
// Thread safety: all methods are safe to call concurrently; several processes
// may open the same directory (SQLite serialises writers).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sovereign/export.hpp"
#include "sovereign/key_source.hpp"
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

struct EmbeddedKeystoreOptions {
  // Who the audit log records as acting. Default: "unix:<user name>".
  std::string principal;
  // How long a field key handed to a Client may be cached.
  std::chrono::seconds field_key_ttl{300};
};

class SOVEREIGN_EXPORT EmbeddedKeystore : public KeySource {
 public:
  // Init creates DIR (0700) with a new root key (0600), catalog and audit log
  // for `region`. Fails with kAlreadyExists if DIR already holds a keystore,
  // leaving it untouched.
  static Result<std::shared_ptr<EmbeddedKeystore>> Init(const std::filesystem::path& dir, std::string_view region,
                                                        EmbeddedKeystoreOptions options = {});

  // Open opens an initialised keystore. Fails with kFailedPrecondition naming
  // the file when the root key is missing, has loose permissions or does not
  // match the catalog.
  static Result<std::shared_ptr<EmbeddedKeystore>> Open(const std::filesystem::path& dir,
                                                        EmbeddedKeystoreOptions options = {});

  ~EmbeddedKeystore() override;

  // CreateKey creates key `name` with version 1 as primary. kAlreadyExists if it exists.
  virtual Result<KeyInfo> CreateKey(std::string_view name) = 0;
  // RotateKey adds a new version and makes it primary; older enabled versions still decrypt.
  virtual Result<KeyInfo> RotateKey(std::string_view name) = 0;
  // GetKey describes one key. kKeyNotFound if absent.
  virtual Result<KeyInfo> GetKey(std::string_view name) = 0;
  // ListKeys describes every key, ordered by id.
  virtual Result<std::vector<KeyInfo>> ListKeys() = 0;

  // directory returns the keystore directory.
  virtual const std::filesystem::path& directory() const noexcept = 0;

 protected:
  EmbeddedKeystore() = default;
};

}  // namespace sovereign
