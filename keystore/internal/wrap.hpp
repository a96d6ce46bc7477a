// Wrapping secrets under the region root key.
//
// A wrapped secret is nonce(12) || ciphertext || tag(16), AES-256-GCM under
// the root key, with associated data that names exactly what the secret is
// (purpose, region, key id, version). A blob copied to another row, key,
// version or region therefore fails to unwrap instead of yielding a wrong key.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// AssociatedData is an unambiguous encoding of a sequence of fields: each is
// u32be(length) || bytes; integers are encoded as 4 big-endian bytes.
class AssociatedData {
 public:
  AssociatedData& Add(std::string_view text);
  AssociatedData& Add(std::uint32_t value);
  std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

// KeyVersionAssociatedData is ("sovereign/v1/key-version", region, key_id, version).
AssociatedData KeyVersionAssociatedData(std::string_view region, std::uint32_t key_id, std::uint32_t version);
// SubjectSecretAssociatedData is ("sovereign/v1/subject-secret", region, key_id).
AssociatedData SubjectSecretAssociatedData(std::string_view region, std::uint32_t key_id);
// SubjectKeyAssociatedData is ("sovereign/v1/subject-key", region, key_id, version, tag).
AssociatedData SubjectKeyAssociatedData(std::string_view region, std::uint32_t key_id, std::uint32_t version,
                                        std::span<const std::uint8_t> tag);
// AuditKeyAssociatedData is ("sovereign/v1/audit-key", region).
AssociatedData AuditKeyAssociatedData(std::string_view region);

// WrapSecret seals `secret` under `root_key` (32 bytes) with a fresh nonce.
Result<std::vector<std::uint8_t>> WrapSecret(const SecretBytes& root_key, const AssociatedData& associated_data,
                                             const SecretBytes& secret);

// UnwrapSecret opens a blob made by WrapSecret. A blob that does not
// authenticate under this root key and associated data is kInternal with a
// message naming `what` (e.g. "key 'users' version 2") as altered or moved.
Result<SecretBytes> UnwrapSecret(const SecretBytes& root_key, const AssociatedData& associated_data,
                                 std::span<const std::uint8_t> wrapped, std::string_view what);

// RootKeyCheckValue is HMAC-SHA256(HKDF-SHA256(root_key, info =
// "sovereign/v1/root-key-check"), ("sovereign/v1/root-key-check", region)):
// stored in the catalog so a wrong root key is recognised as such on open.
Result<std::vector<std::uint8_t>> RootKeyCheckValue(const SecretBytes& root_key, std::string_view region);

}  // namespace sovereign::keystore_internal
