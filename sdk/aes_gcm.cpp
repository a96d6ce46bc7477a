#include "sdk/internal/aes_gcm.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>

#include "sdk/internal/openssl_util.hpp"

namespace sovereign::internal {

struct AesGcm::Contexts {
  CipherCtxPtr seal;
  CipherCtxPtr open;
};

AesGcm::AesGcm(std::unique_ptr<Contexts> contexts) : ctx_(std::move(contexts)) {}
AesGcm::AesGcm(AesGcm&&) noexcept = default;
AesGcm& AesGcm::operator=(AesGcm&&) noexcept = default;
AesGcm::~AesGcm() = default;

Result<AesGcm> AesGcm::New(std::span<const std::uint8_t> key) {
  const EVP_CIPHER* cipher = AesCipher(key.size(), "GCM");
  if (cipher == nullptr) return Status(ErrorCode::kInvalidArgument, "AES-GCM key must be 16, 24 or 32 bytes");
  auto contexts = std::make_unique<Contexts>();
  contexts->seal.reset(EVP_CIPHER_CTX_new());
  contexts->open.reset(EVP_CIPHER_CTX_new());
  if (!contexts->seal || !contexts->open) return OpenSslError("EVP_CIPHER_CTX_new");
  // Key schedules are computed once here; each message only sets the IV.
  if (EVP_EncryptInit_ex2(contexts->seal.get(), cipher, key.data(), nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex2(contexts->open.get(), cipher, key.data(), nullptr, nullptr) != 1) {
    return OpenSslError("AES-GCM key setup");
  }
  return AesGcm(std::move(contexts));
}

Status AesGcm::Seal(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> associated_data,
                    std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> ciphertext_out,
                    std::span<std::uint8_t> tag_out) {
  if (nonce.size() != kAesGcmNonceSize || tag_out.size() != kAesGcmTagSize ||
      ciphertext_out.size() != plaintext.size()) {
    return Status(ErrorCode::kInvalidArgument, "AES-GCM seal: nonce must be 12 bytes, tag 16, output = input size");
  }
  EVP_CIPHER_CTX* ctx = ctx_->seal.get();
  int len = 0;
  bool ok = EVP_EncryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr) == 1;
  if (ok && !associated_data.empty()) {
    ok = EVP_EncryptUpdate(ctx, nullptr, &len, associated_data.data(), ToInt(associated_data.size())) == 1;
  }
  if (ok && !plaintext.empty()) {
    ok = EVP_EncryptUpdate(ctx, ciphertext_out.data(), &len, plaintext.data(), ToInt(plaintext.size())) == 1 &&
         static_cast<std::size_t>(len) == plaintext.size();
  }
  ok = ok && EVP_EncryptFinal_ex(ctx, ciphertext_out.data() + plaintext.size(), &len) == 1 && len == 0;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ToInt(kAesGcmTagSize), tag_out.data()) == 1;
  if (!ok) {
    OPENSSL_cleanse(ciphertext_out.data(), ciphertext_out.size());
    OPENSSL_cleanse(tag_out.data(), tag_out.size());
    return OpenSslError("AES-GCM seal");
  }
  return OkStatus();
}

Status AesGcm::Open(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> associated_data,
                    std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> tag,
                    std::span<std::uint8_t> plaintext_out) {
  if (plaintext_out.size() != ciphertext.size()) {
    std::fill(plaintext_out.begin(), plaintext_out.end(), 0);
    return Status(ErrorCode::kInvalidArgument, "AES-GCM open: output must be the ciphertext size");
  }
  if (nonce.size() != kAesGcmNonceSize || tag.size() != kAesGcmTagSize) {
    std::fill(plaintext_out.begin(), plaintext_out.end(), 0);
    return InvalidCiphertext();
  }
  EVP_CIPHER_CTX* ctx = ctx_->open.get();
  int len = 0;
  bool ok = EVP_DecryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr) == 1;
  if (ok && !associated_data.empty()) {
    ok = EVP_DecryptUpdate(ctx, nullptr, &len, associated_data.data(), ToInt(associated_data.size())) == 1;
  }
  if (ok && !ciphertext.empty()) {
    ok = EVP_DecryptUpdate(ctx, plaintext_out.data(), &len, ciphertext.data(), ToInt(ciphertext.size())) == 1 &&
         static_cast<std::size_t>(len) == ciphertext.size();
  }
  // OpenSSL compares the tag in constant time inside Final.
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ToInt(kAesGcmTagSize),
                                 const_cast<std::uint8_t*>(tag.data())) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx, plaintext_out.data() + ciphertext.size(), &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(plaintext_out.data(), plaintext_out.size());
    ERR_clear_error();
    return InvalidCiphertext();
  }
  return OkStatus();
}

}  // namespace sovereign::internal
