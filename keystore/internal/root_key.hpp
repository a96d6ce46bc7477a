// The region root key file, DIR/root.key.
//
// Format v1 (40 bytes): the 7 ASCII bytes "SOVRKEY", a format byte 0x01, then
// the 32-byte AES-256 root key. The file is created 0600 and published
// atomically; loading refuses a symbolic link, a file that group or others
// may access, a file owned by another user, and any other size or header.
#pragma once

#include <filesystem>
#include <string_view>

#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

inline constexpr char kRootKeyFileName[] = "root.key";
// The next root key during `keystore rotate-root` (see root_rotation.hpp).
inline constexpr char kNewRootKeyFileName[] = "root.key.new";
inline constexpr std::size_t kRootKeySize = 32;

// CreateRootKeyFile generates a fresh root key and publishes it as
// DIR/`name`. kAlreadyExists if the file exists (it is never replaced).
Result<SecretBytes> CreateRootKeyFile(const std::filesystem::path& dir, std::string_view name = kRootKeyFileName);

// PublishRootKeyFile writes `key` (32 bytes) as DIR/`name` in the format
// above, 0600, atomically; kAlreadyExists if the file exists.
Status PublishRootKeyFile(const std::filesystem::path& dir, std::string_view name, const SecretBytes& key);

// LoadRootKeyFile reads DIR/`name`. kFailedPrecondition, naming the file
// and what to do, if it is missing, a symlink, not private, or malformed.
Result<SecretBytes> LoadRootKeyFile(const std::filesystem::path& dir, std::string_view name = kRootKeyFileName);

}  // namespace sovereign::keystore_internal
