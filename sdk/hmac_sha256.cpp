#include "sdk/internal/hmac_sha256.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <vector>

#include "sdk/internal/openssl_util.hpp"

namespace sovereign::internal {

struct HmacSha256::Context {
  MacCtxPtr mac;
};

HmacSha256::HmacSha256(std::unique_ptr<Context> ctx) : ctx_(std::move(ctx)) {}
HmacSha256::HmacSha256(HmacSha256&&) noexcept = default;
HmacSha256& HmacSha256::operator=(HmacSha256&&) noexcept = default;
HmacSha256::~HmacSha256() = default;

Result<HmacSha256> HmacSha256::New(std::span<const std::uint8_t> key) {
  static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac == nullptr) return OpenSslError("EVP_MAC_fetch(HMAC)");
  auto ctx = std::make_unique<Context>();
  ctx->mac.reset(EVP_MAC_CTX_new(hmac));
  if (!ctx->mac) return OpenSslError("EVP_MAC_CTX_new");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  // A zero-length key is valid HMAC; OpenSSL needs a non-null pointer for it.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* key_data = key.empty() ? &kEmpty : key.data();
  if (EVP_MAC_init(ctx->mac.get(), key_data, key.size(), params) != 1) return OpenSslError("HMAC key setup");
  return HmacSha256(std::move(ctx));
}

Status HmacSha256::Compute(std::span<const std::uint8_t> message, std::span<std::uint8_t> mac_out) {
  if (mac_out.size() != kSha256Size) return Status(ErrorCode::kInvalidArgument, "HMAC-SHA256 output is 32 bytes");
  std::size_t out_len = 0;
  // Re-initialising without a key restarts the MAC with the key already set.
  const bool ok = EVP_MAC_init(ctx_->mac.get(), nullptr, 0, nullptr) == 1 &&
                  (message.empty() || EVP_MAC_update(ctx_->mac.get(), message.data(), message.size()) == 1) &&
                  EVP_MAC_final(ctx_->mac.get(), mac_out.data(), &out_len, mac_out.size()) == 1 &&
                  out_len == kSha256Size;
  if (!ok) {
    OPENSSL_cleanse(mac_out.data(), mac_out.size());
    return OpenSslError("HMAC-SHA256");
  }
  return OkStatus();
}

Status HkdfSha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                  std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
  if (out.empty() || out.size() > 255 * kSha256Size) {
    return Status(ErrorCode::kInvalidArgument, "HKDF-SHA256 output must be 1..8160 bytes");
  }
  if (info.size() > kMaxHkdfInfoSize) {
    return Status(ErrorCode::kInvalidArgument, "HKDF-SHA256 info must be at most 32768 bytes");
  }
  static EVP_KDF* const hkdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (hkdf == nullptr) return OpenSslError("EVP_KDF_fetch(HKDF)");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(hkdf);
  if (ctx == nullptr) return OpenSslError("EVP_KDF_CTX_new");
  static std::uint8_t empty = 0;
  auto ptr = [](std::span<const std::uint8_t> s) {
    return s.empty() ? static_cast<void*>(&empty) : const_cast<std::uint8_t*>(s.data());
  };
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ptr(ikm), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, ptr(salt), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ptr(info), info.size()),
      OSSL_PARAM_construct_end(),
  };
  const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return OpenSslError("HKDF-SHA256");
  }
  return OkStatus();
}

Result<SecretBytes> DeriveFieldKey(const SecretBytes& version_secret, Mode mode, std::string_view label) {
  if (label.empty() || label.size() > kMaxDerivationLabelSize) {
    return Status(ErrorCode::kInvalidArgument, "label must be 1..255 bytes");
  }
  if (mode != Mode::kRandom && mode != Mode::kDeterministic && mode != Mode::kIndex) {
    return Status(ErrorCode::kInvalidArgument, "unknown mode");
  }
  static constexpr std::string_view kDomain = "sovereign/v1";
  std::vector<std::uint8_t> info;
  info.reserve(kDomain.size() + 4 + label.size());
  info.insert(info.end(), kDomain.begin(), kDomain.end());
  info.push_back(0x00);
  info.push_back(static_cast<std::uint8_t>(mode));
  info.push_back(static_cast<std::uint8_t>(label.size() >> 8));
  info.push_back(static_cast<std::uint8_t>(label.size() & 0xff));
  info.insert(info.end(), label.begin(), label.end());
  SecretBytes key(FieldKeySize(mode));
  const auto access = InsecureSecretKeyAccess::Get();
  SOVEREIGN_RETURN_IF_ERROR(HkdfSha256(version_secret.bytes(access), {}, info, key.mutable_bytes(access)));
  return key;
}

}  // namespace sovereign::internal
