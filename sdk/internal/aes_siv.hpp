// AesSiv: AES-SIV-CMAC (RFC 5297) composed from a reused CMAC context (S2V)
// and a reused AES-CTR context, byte-identical to RFC 5297 and OpenSSL's
// AES-SIV but without a key schedule per message, and correct for empty
// plaintexts (OpenSSL 3.0's EVP AES-SIV returns an all-zero tag there).
//
// Output layout: V (16-byte synthetic IV) || C.
// Thread safety: none; one object per thread (FieldCipher pools them).
// Security: Open compares V in constant time before releasing plaintext; on
// failure `plaintext_out` is zero-filled and the result is kInvalidCiphertext.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "sovereign/status.hpp"

namespace sovereign::internal {

inline constexpr std::size_t kSivSize = 16;
// RFC 5297 allows at most 126 associated-data components.
inline constexpr std::size_t kMaxSivComponents = 126;

class AesSiv {
 public:
  // New keys a cipher with a 32-, 48- or 64-byte key (K1 || K2: AES-128/192/256-SIV).
  static Result<AesSiv> New(std::span<const std::uint8_t> key);

  AesSiv(AesSiv&&) noexcept;
  AesSiv& operator=(AesSiv&&) noexcept;
  ~AesSiv();

  // Seal writes V || C into `out`, which must be plaintext.size() + 16 bytes.
  // `associated_data` is the ordered vector of S2V header components.
  [[nodiscard]] Status Seal(std::span<const std::span<const std::uint8_t>> associated_data,
                            std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out);

  // Open verifies and decrypts `siv_and_ciphertext` (V || C, at least 16 bytes)
  // into `plaintext_out` (size - 16 bytes).
  [[nodiscard]] Status Open(std::span<const std::span<const std::uint8_t>> associated_data,
                            std::span<const std::uint8_t> siv_and_ciphertext, std::span<std::uint8_t> plaintext_out);

 private:
  struct Contexts;
  explicit AesSiv(std::unique_ptr<Contexts> contexts);
  std::unique_ptr<Contexts> ctx_;
};

}  // namespace sovereign::internal
