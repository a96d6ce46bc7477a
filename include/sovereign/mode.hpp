// Mode: how a field is protected, and the purpose a field key is derived for.
#pragma once

#include <cstdint>
#include <string_view>

#include "sovereign/export.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

// Mode values are part of wire format v1 (envelope byte 1) and of the field
// key derivation; they never change meaning.
enum class Mode : std::uint8_t {
  // AES-256-GCM with a fresh random 96-bit nonce. Reveals only the length.
  kRandom = 1,
  // AES-256-SIV (RFC 5297). Equal plaintexts under the same key version,
  // label and context give equal ciphertexts: leaks equality, by design.
  kDeterministic = 2,
  // Blind index: truncated HMAC-SHA256 of a normalised value. Never appears
  // in an envelope; only used to derive the index key.
  kIndex = 3,
};

// ModeName returns "random", "deterministic" or "index".
SOVEREIGN_EXPORT std::string_view ModeName(Mode mode) noexcept;

// ParseMode accepts exactly the names ModeName returns.
SOVEREIGN_EXPORT Result<Mode> ParseMode(std::string_view name);

// FieldKeySize returns the size in bytes of a field key for `mode`:
// 32 (random), 64 (deterministic: two AES-256 keys), 32 (index).
SOVEREIGN_EXPORT std::size_t FieldKeySize(Mode mode) noexcept;

}  // namespace sovereign
