// HMAC-SHA256 over a reused keyed EVP_MAC context, and HKDF-SHA256.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "sovereign/mode.hpp"
#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"

namespace sovereign::internal {

inline constexpr std::size_t kSha256Size = 32;

// HmacSha256 computes HMAC-SHA256 with one key many times.
// Thread safety: none; one object per thread.
class HmacSha256 {
 public:
  // New keys the MAC; any key length (including 0) is valid for HMAC.
  static Result<HmacSha256> New(std::span<const std::uint8_t> key);

  HmacSha256(HmacSha256&&) noexcept;
  HmacSha256& operator=(HmacSha256&&) noexcept;
  ~HmacSha256();

  // Compute writes the 32-byte MAC of `message` into `mac_out` (32 bytes).
  [[nodiscard]] Status Compute(std::span<const std::uint8_t> message, std::span<std::uint8_t> mac_out);

 private:
  struct Context;
  explicit HmacSha256(std::unique_ptr<Context> ctx);
  std::unique_ptr<Context> ctx_;
};

// OpenSSL's HKDF refuses longer info (HKDF_MAXINFO); RFC 5869 sets no bound,
// so the limit is part of this function's contract.
inline constexpr std::size_t kMaxHkdfInfoSize = 32768;
// Longest label DeriveFieldKey accepts (the info encoding could carry 65535).
inline constexpr std::size_t kMaxDerivationLabelSize = 255;

// HkdfSha256 fills `out` (1..255*32 bytes) with HKDF-SHA256(ikm, salt, info)
// (RFC 5869, extract then expand). kInvalidArgument for an out size outside
// that range or info longer than kMaxHkdfInfoSize.
[[nodiscard]] Status HkdfSha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                                std::span<const std::uint8_t> info, std::span<std::uint8_t> out);

// DeriveFieldKey derives the field key for (mode, label) from a key version's
// secret: HKDF-SHA256(ikm = version secret, salt = empty,
// info = "sovereign/v1" || 0x00 || mode byte || u16be(len(label)) || label),
// FieldKeySize(mode) bytes. See docs/format.md. kInvalidArgument for a label
// of 0 or more than kMaxDerivationLabelSize bytes, or a mode outside the enum.
Result<SecretBytes> DeriveFieldKey(const SecretBytes& version_secret, Mode mode, std::string_view label);

}  // namespace sovereign::internal
