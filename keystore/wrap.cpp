#include "keystore/internal/wrap.hpp"

#include <openssl/crypto.h>

#include <fmt/format.h>

#include "sdk/internal/aes_gcm.hpp"
#include "sdk/internal/hmac_sha256.hpp"
#include "sdk/internal/random.hpp"

namespace sovereign::keystore_internal {
namespace {

constexpr std::string_view kRootKeyCheckPurpose = "sovereign/v1/root-key-check";

void AppendU32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 24));
  out.push_back(static_cast<std::uint8_t>(value >> 16));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

std::span<const std::uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

AssociatedData& AssociatedData::Add(std::string_view text) {
  AppendU32(bytes_, static_cast<std::uint32_t>(text.size()));
  bytes_.insert(bytes_.end(), text.begin(), text.end());
  return *this;
}

AssociatedData& AssociatedData::Add(std::uint32_t value) {
  AppendU32(bytes_, 4);
  AppendU32(bytes_, value);
  return *this;
}

AssociatedData KeyVersionAssociatedData(std::string_view region, std::uint32_t key_id, std::uint32_t version) {
  AssociatedData ad;
  ad.Add("sovereign/v1/key-version").Add(region).Add(key_id).Add(version);
  return ad;
}

AssociatedData SubjectSecretAssociatedData(std::string_view region, std::uint32_t key_id) {
  AssociatedData ad;
  ad.Add("sovereign/v1/subject-secret").Add(region).Add(key_id);
  return ad;
}

AssociatedData SubjectKeyAssociatedData(std::string_view region, std::uint32_t key_id, std::uint32_t version,
                                        std::span<const std::uint8_t> tag) {
  AssociatedData ad;
  ad.Add("sovereign/v1/subject-key").Add(region).Add(key_id).Add(version);
  ad.Add(std::string_view(reinterpret_cast<const char*>(tag.data()), tag.size()));
  return ad;
}

AssociatedData AuditKeyAssociatedData(std::string_view region) {
  AssociatedData ad;
  ad.Add("sovereign/v1/audit-key").Add(region);
  return ad;
}

Result<std::vector<std::uint8_t>> WrapSecret(const SecretBytes& root_key, const AssociatedData& associated_data,
                                             const SecretBytes& secret) {
  auto token = InsecureSecretKeyAccess::Get();
  auto aead = internal::AesGcm::New(root_key.bytes(token));
  if (!aead.ok()) return aead.status();
  const std::size_t n = secret.size();
  std::vector<std::uint8_t> out(internal::kAesGcmNonceSize + n + internal::kAesGcmTagSize);
  std::span<std::uint8_t> all(out);
  std::span<std::uint8_t> nonce = all.first(internal::kAesGcmNonceSize);
  internal::FillRandom(nonce);
  Status sealed = aead->Seal(nonce, associated_data.bytes(), secret.bytes(token),
                             all.subspan(internal::kAesGcmNonceSize, n),
                             all.subspan(internal::kAesGcmNonceSize + n));
  if (!sealed.ok()) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status(ErrorCode::kInternal, "cannot wrap a secret under the root key: " + sealed.message());
  }
  return out;
}

Result<SecretBytes> UnwrapSecret(const SecretBytes& root_key, const AssociatedData& associated_data,
                                 std::span<const std::uint8_t> wrapped, std::string_view what) {
  constexpr std::size_t kOverhead = internal::kAesGcmNonceSize + internal::kAesGcmTagSize;
  if (wrapped.size() <= kOverhead) {
    return Status(ErrorCode::kInternal, fmt::format("wrapped secret of {} is malformed ({} bytes)", what,
                                                    wrapped.size()));
  }
  auto token = InsecureSecretKeyAccess::Get();
  auto aead = internal::AesGcm::New(root_key.bytes(token));
  if (!aead.ok()) return aead.status();
  const std::size_t n = wrapped.size() - kOverhead;
  SecretBytes secret(n);
  Status opened = aead->Open(wrapped.first(internal::kAesGcmNonceSize), associated_data.bytes(),
                             wrapped.subspan(internal::kAesGcmNonceSize, n), wrapped.last(internal::kAesGcmTagSize),
                             secret.mutable_bytes(token));
  if (!opened.ok()) {
    // `secret` is zero-filled by Open and wiped by its destructor.
    return Status(ErrorCode::kInternal,
                  fmt::format("wrapped secret of {} failed authentication under the root key: the catalog row was "
                              "altered or copied from another key, version or region",
                              what));
  }
  return secret;
}

Result<std::vector<std::uint8_t>> RootKeyCheckValue(const SecretBytes& root_key, std::string_view region) {
  auto token = InsecureSecretKeyAccess::Get();
  SecretBytes check_key(internal::kSha256Size);
  SOVEREIGN_RETURN_IF_ERROR(
      internal::HkdfSha256(root_key.bytes(token), {}, AsBytes(kRootKeyCheckPurpose), check_key.mutable_bytes(token)));
  auto mac = internal::HmacSha256::New(check_key.bytes(token));
  if (!mac.ok()) return mac.status();
  AssociatedData message;
  message.Add(kRootKeyCheckPurpose).Add(region);
  std::vector<std::uint8_t> out(internal::kSha256Size);
  SOVEREIGN_RETURN_IF_ERROR(mac->Compute(message.bytes(), out));
  return out;
}

}  // namespace sovereign::keystore_internal
