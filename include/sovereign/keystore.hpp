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
#include "sovereign/key_admin.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

struct EmbeddedKeystoreOptions {
  // Who the audit log records as acting. Default: "unix:<user name>".
  std::string principal;
  // How long a field key handed to a Client may be cached.
  std::chrono::seconds field_key_ttl{300};
};

class SOVEREIGN_EXPORT EmbeddedKeystore : public KeySource, public KeyAdmin {
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

  // region() is both the KeySource's and the KeyAdmin's: the keystore's one region.
  const std::string& region() const noexcept override = 0;

  // directory returns the keystore directory.
  virtual const std::filesystem::path& directory() const noexcept = 0;

 protected:
  EmbeddedKeystore() = default;
};

}  // namespace sovereign
