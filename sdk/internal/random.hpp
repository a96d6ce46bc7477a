// Randomness for keys and nonces.
#pragma once

#include <cstdint>
#include <span>

namespace sovereign::internal {

// FillRandom fills `out` from OpenSSL's CSPRNG (seeded from the OS). Aborts the
// process if the CSPRNG fails: continuing without randomness is never safe.
void FillRandom(std::span<std::uint8_t> out);

// FillNonce fills `out` (at most 64 bytes) with fresh random bytes for a nonce.
// Bytes come from a per-thread buffer refilled from FillRandom 4 KiB at a time,
// so the per-nonce cost is a copy, not a CSPRNG call. Fork-safe: a child
// process discards every buffer inherited from its parent before its first
// nonce, so parent and child never hand out the same bytes.
void FillNonce(std::span<std::uint8_t> out);

}  // namespace sovereign::internal
