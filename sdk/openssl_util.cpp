#include "sdk/internal/openssl_util.hpp"

#include <openssl/err.h>

#include <string>

namespace sovereign::internal {

Status OpenSslError(std::string_view operation) {
  ERR_clear_error();
  return Status(ErrorCode::kInternal, "OpenSSL " + std::string(operation) + " failed");
}

Status InvalidCiphertext() { return Status(ErrorCode::kInvalidCiphertext, "invalid ciphertext"); }

namespace {

// Fetched once: explicit fetching avoids a provider lookup per context init.
struct AesCiphers {
  EVP_CIPHER* gcm[3];
  EVP_CIPHER* ctr[3];
  AesCiphers() {
    static constexpr const char* kGcm[] = {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"};
    static constexpr const char* kCtr[] = {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"};
    for (int i = 0; i < 3; ++i) {
      gcm[i] = EVP_CIPHER_fetch(nullptr, kGcm[i], nullptr);
      ctr[i] = EVP_CIPHER_fetch(nullptr, kCtr[i], nullptr);
    }
  }
};

}  // namespace

const EVP_CIPHER* AesCipher(std::size_t key_size, std::string_view mode) {
  static const AesCiphers ciphers;
  int index;
  switch (key_size) {
    case 16: index = 0; break;
    case 24: index = 1; break;
    case 32: index = 2; break;
    default: return nullptr;
  }
  if (mode == "GCM") return ciphers.gcm[index];
  if (mode == "CTR") return ciphers.ctr[index];
  return nullptr;
}

}  // namespace sovereign::internal
