// AesGcm: AES-GCM with a 96-bit nonce and 128-bit tag over reused, keyed
// OpenSSL contexts (one for each direction), so a message costs no key schedule.
//
// Thread safety: none; one object per thread (FieldCipher pools them).
// Security: Open verifies the tag before anything is written out; on failure
// `plaintext_out` is zero-filled and the result is kInvalidCiphertext.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "sovereign/status.hpp"

namespace sovereign::internal {

inline constexpr std::size_t kAesGcmNonceSize = 12;
inline constexpr std::size_t kAesGcmTagSize = 16;

class AesGcm {
 public:
  // New keys a cipher with a 16-, 24- or 32-byte AES key; else kInvalidArgument.
  static Result<AesGcm> New(std::span<const std::uint8_t> key);

  AesGcm(AesGcm&&) noexcept;
  AesGcm& operator=(AesGcm&&) noexcept;
  ~AesGcm();

  // Seal encrypts `plaintext` into `ciphertext_out` (same size) and writes the
  // tag into `tag_out` (16 bytes). `nonce` must be 12 bytes and never repeat
  // under one key.
  [[nodiscard]] Status Seal(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> associated_data,
                            std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> ciphertext_out,
                            std::span<std::uint8_t> tag_out);

  // Open authenticates and decrypts into `plaintext_out` (same size as ciphertext).
  [[nodiscard]] Status Open(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> associated_data,
                            std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> tag,
                            std::span<std::uint8_t> plaintext_out);

 private:
  struct Contexts;
  explicit AesGcm(std::unique_ptr<Contexts> contexts);
  std::unique_ptr<Contexts> ctx_;
};

}  // namespace sovereign::internal
