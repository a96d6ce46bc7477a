// Raw OpenSSL baselines for the field benchmarks: the fastest way we know to
// run each primitive directly against EVP, so the public API can be compared
// with the limit the library itself sets, measured in the same run.
//
// These are benchmark code, not a second implementation of the SDK: they skip
// everything an API must do (envelope, key cache, validation, allocation of
// results, wiping) and keep only the cryptography.
//
// Thread safety: none; one object per thread. NonceFill is per-thread.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>

namespace sovereign_bench {

inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

// NonceFill copies `out.size()` (at most 64) bytes from a per-thread 4 KiB
// buffer refilled with RAND_bytes: the cheapest safe nonce source in-process.
void NonceFill(std::span<std::uint8_t> out);

// RawGcm is AES-256-GCM on two keyed contexts; a message only sets the IV.
class RawGcm {
 public:
  explicit RawGcm(std::span<const std::uint8_t, 32> key);
  // Seal writes ciphertext (plaintext size) and tag (16 bytes). False on any OpenSSL failure.
  bool Seal(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
            std::span<const std::uint8_t> plaintext, std::uint8_t* ciphertext, std::uint8_t* tag);
  // Open verifies the tag and decrypts; false when authentication fails.
  bool Open(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
            std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> tag, std::uint8_t* plaintext);

 private:
  CipherCtx seal_;
  CipherCtx open_;
};

// RawSiv is AES-256-SIV (RFC 5297) with one associated-data component, built
// from a reused CMAC EVP_MAC_CTX (K1, restarted per use) and a reused
// AES-256-CTR context (K2, IV set per message). CMAC(K1, 0^128) is computed once.
class RawSiv {
 public:
  using Block = std::array<std::uint8_t, 16>;
  explicit RawSiv(std::span<const std::uint8_t, 64> key);
  // Seal writes V || C (plaintext size + 16 bytes) to `out`.
  bool Seal(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, std::uint8_t* out);
  // Open decrypts V || C into `plaintext` (size - 16 bytes) and checks V.
  bool Open(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> siv_and_ciphertext,
            std::uint8_t* plaintext);

  // Cmac computes CMAC(K1, first || last); public for the shared S2V.
  bool Cmac(std::span<const std::uint8_t> first, std::span<const std::uint8_t> last, Block& out);

 private:
  bool S2V(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, Block& v);
  bool Ctr(const Block& v, std::span<const std::uint8_t> in, std::uint8_t* out);

  MacCtx cmac_;
  CipherCtx ctr_;
  Block cmac_zero_{};
};

// EcbSiv is RawSiv with CMAC computed by hand over a reused AES-256-ECB
// context (one EVP_EncryptUpdate per 16-byte block, subkeys precomputed),
// which needs no per-message re-initialisation at all. A reference line that
// shows what S2V could cost, not the baseline the target is stated against.
class EcbSiv {
 public:
  using Block = std::array<std::uint8_t, 16>;
  explicit EcbSiv(std::span<const std::uint8_t, 64> key);
  bool Seal(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, std::uint8_t* out);
  bool Open(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> siv_and_ciphertext,
            std::uint8_t* plaintext);

  // Cmac computes CMAC(K1, message) where `last` (possibly empty) follows `first`.
  bool Cmac(std::span<const std::uint8_t> first, std::span<const std::uint8_t> last, Block& out);

 private:
  bool Encrypt(Block& block);
  bool S2V(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, Block& v);

  CipherCtx ecb_;
  CipherCtx ctr_;
  Block subkey1_{}, subkey2_{}, cmac_zero_{};
};

// EvpSiv is OpenSSL's own "AES-256-SIV" cipher, re-keyed for every message
// because OpenSSL 3.0 allows one encryption per key initialisation. The naive
// reference line.
class EvpSiv {
 public:
  explicit EvpSiv(std::span<const std::uint8_t, 64> key);
  ~EvpSiv();
  EvpSiv(const EvpSiv&) = delete;
  EvpSiv& operator=(const EvpSiv&) = delete;
  bool Seal(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, std::uint8_t* out);
  bool Open(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> siv_and_ciphertext,
            std::uint8_t* plaintext);

 private:
  EVP_CIPHER* cipher_;
  CipherCtx ctx_;
  std::array<std::uint8_t, 64> key_;
};

}  // namespace sovereign_bench
