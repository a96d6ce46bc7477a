// SecretBytes: the only type that holds key material in Sovereign.
//
// Security: the bytes live in OpenSSL's secure heap when it is available
// (locked in memory, excluded from core dumps, guard pages), otherwise in
// ordinary memory; either way they are wiped with OPENSSL_cleanse when the
// object is destroyed or assigned over. The type is move-only, has no
// operator<< and no implicit conversion to a byte view: raw access needs an
// InsecureSecretKeyAccess token, so every place that touches key bytes can be
// found with `grep InsecureSecretKeyAccess`.
//
// Thread safety: like a std::vector — concurrent reads are safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "sovereign/export.hpp"

namespace sovereign {

// InsecureSecretKeyAccess is a capability token: a function that takes one
// reads or writes raw key bytes. Construct it with InsecureSecretKeyAccess::Get().
class InsecureSecretKeyAccess {
 public:
  static InsecureSecretKeyAccess Get() { return InsecureSecretKeyAccess(); }

 private:
  InsecureSecretKeyAccess() = default;
};

class SOVEREIGN_EXPORT SecretBytes {
 public:
  // SecretBytes() is empty.
  SecretBytes() = default;
  // SecretBytes(size) allocates `size` zero bytes.
  explicit SecretBytes(std::size_t size);
  // SecretBytes(bytes, token) copies `bytes`.
  SecretBytes(std::span<const std::uint8_t> bytes, InsecureSecretKeyAccess token);
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  // Random returns `size` bytes from the OS-seeded CSPRNG. Aborts if the CSPRNG
  // fails: there is no safe way to continue without randomness.
  static SecretBytes Random(std::size_t size);

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Copy returns an independent copy (explicit, so copies are visible in review).
  SecretBytes Copy() const;

  // Equals compares in constant time for equal sizes.
  bool Equals(const SecretBytes& other) const noexcept;

  std::span<const std::uint8_t> bytes(InsecureSecretKeyAccess) const noexcept { return {data_, size_}; }
  std::span<std::uint8_t> mutable_bytes(InsecureSecretKeyAccess) noexcept { return {data_, size_}; }

 private:
  void Release() noexcept;

  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  bool secure_heap_ = false;
};

}  // namespace sovereign
