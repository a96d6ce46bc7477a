// Small RAII wrappers and error helpers shared by the OpenSSL-backed primitives.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string_view>

#include "sovereign/status.hpp"

namespace sovereign::internal {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

// OpenSslError returns kInternal naming the failed operation; the OpenSSL
// error queue is cleared so errors do not leak into unrelated calls.
Status OpenSslError(std::string_view operation);

// InvalidCiphertext is the one status every authentication failure returns.
Status InvalidCiphertext();

// AesCipher returns the cached EVP cipher "AES-<bits>-<mode>" for a 16-, 24-
// or 32-byte key, or nullptr for any other size. `mode` is "GCM" or "CTR".
const EVP_CIPHER* AesCipher(std::size_t key_size, std::string_view mode);

// ToInt converts a size for an OpenSSL length argument; sizes above INT_MAX
// are rejected earlier (kMaxPlaintextSize), so this never truncates.
inline int ToInt(std::size_t n) { return static_cast<int>(n); }

}  // namespace sovereign::internal
