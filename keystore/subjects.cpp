// Per-subject keys (see subjects.hpp).
#include "keystore/internal/subjects.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "keystore/internal/wrap.hpp"
#include "sdk/internal/hex.hpp"
#include "sdk/internal/hmac_sha256.hpp"

namespace sovereign::keystore_internal {
namespace {

constexpr std::size_t kSubjectSecretSize = 32;
constexpr std::size_t kSubjectKeySize = 32;
constexpr std::string_view kWrapInfo = "sovereign/v1/subject-wrap";

std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Result<SecretBytes> LoadSubjectSecret(KeystoreFiles& files, const KeyRow& key, TimePoint now) {
  const AssociatedData ad = SubjectSecretAssociatedData(files.region, key.id);
  auto wrapped = files.catalog.FindSubjectSecret(key.id);
  if (!wrapped.ok()) return wrapped.status();
  if (*wrapped) return UnwrapSecret(files.root_key, ad, **wrapped, fmt::format("key '{}' subject secret", key.name));
  // Never wrap a new secret under a root key the catalog no longer uses
  // (`keystore rotate-root` ran since this process opened the keystore):
  // nothing could unwrap it after a restart.
  SOVEREIGN_RETURN_IF_ERROR(CheckRootKeyCurrent(files));
  SecretBytes secret = SecretBytes::Random(kSubjectSecretSize);
  auto sealed = WrapSecret(files.root_key, ad, secret);
  if (!sealed.ok()) return sealed.status();
  SOVEREIGN_RETURN_IF_ERROR(files.catalog.InsertSubjectSecret(key.id, *sealed, now));
  return secret;
}

Result<SecretBytes> WrappingKey(const SecretBytes& version_secret) {
  SecretBytes key(kSubjectKeySize);
  SOVEREIGN_RETURN_IF_ERROR(internal::HkdfSha256(version_secret.bytes(InsecureSecretKeyAccess::Get()), {},
                                                 Bytes(kWrapInfo), key.mutable_bytes(InsecureSecretKeyAccess::Get())));
  return key;
}

}  // namespace

Result<SubjectTag> TagSubject(KeystoreFiles& files, const KeyRow& key, std::string_view subject, TimePoint now,
                              GroupSecrets* cache) {
  const SecretBytes* secret = nullptr;
  std::optional<SecretBytes> loaded;
  if (cache != nullptr) {
    if (auto it = cache->subject_secrets.find(key.id); it != cache->subject_secrets.end()) secret = &it->second;
  }
  if (secret == nullptr) {
    auto fresh = LoadSubjectSecret(files, key, now);
    if (!fresh.ok()) return fresh.status();
    if (cache != nullptr) {
      secret = &cache->subject_secrets.insert_or_assign(key.id, std::move(fresh).value()).first->second;
    } else {
      secret = &loaded.emplace(std::move(fresh).value());
    }
  }
  auto mac = internal::HmacSha256::New(secret->bytes(InsecureSecretKeyAccess::Get()));
  if (!mac.ok()) return mac.status();
  std::array<std::uint8_t, internal::kSha256Size> full;
  SOVEREIGN_RETURN_IF_ERROR(mac->Compute(Bytes(subject), full));
  SubjectTag tag;
  std::copy_n(full.begin(), tag.size(), tag.begin());
  return tag;
}

Result<SecretBytes> SubjectFieldKey(KeystoreFiles& files, const KeyRow& key, std::uint32_t version,
                                    const SecretBytes& version_secret, const SubjectTag& tag, Mode mode,
                                    std::string_view label, bool create, TimePoint now, bool* created,
                                    GroupSecrets* cache) {
  *created = false;
  auto shredded = files.catalog.IsShredded(key.id, tag);
  if (!shredded.ok()) return shredded.status();
  if (*shredded) {
    return Status(ErrorCode::kShredded,
                  fmt::format("subject {} of key '{}' was shredded: its fields are unrecoverable", HexTag(tag),
                              key.name));
  }
  const std::uint64_t id = std::uint64_t{key.id} << 32 | version;
  const SecretBytes* wrapping_key = nullptr;
  std::optional<SecretBytes> derived;
  if (cache != nullptr) {
    if (auto it = cache->wrapping_keys.find(id); it != cache->wrapping_keys.end()) wrapping_key = &it->second;
  }
  if (wrapping_key == nullptr) {
    auto fresh = WrappingKey(version_secret);
    if (!fresh.ok()) return fresh.status();
    wrapping_key = cache != nullptr ? &cache->wrapping_keys.insert_or_assign(id, std::move(fresh).value()).first->second
                                    : &derived.emplace(std::move(fresh).value());
  }
  const AssociatedData ad = SubjectKeyAssociatedData(files.region, key.id, version, tag);
  const std::string what = fmt::format("key '{}' version {} subject {}", key.name, version, HexTag(tag));
  auto wrapped = files.catalog.FindSubjectKey(key.id, version, tag);
  if (!wrapped.ok()) return wrapped.status();
  std::optional<SecretBytes> subject_key;
  if (*wrapped) {
    auto opened = UnwrapSecret(*wrapping_key, ad, **wrapped, what);
    if (!opened.ok()) return opened.status();
    subject_key = std::move(opened).value();
  } else if (!create) {
    return Status(ErrorCode::kKeyNotFound,
                  fmt::format("key '{}' version {} has no key for subject {}", key.name, version, HexTag(tag)));
  } else {
    subject_key = SecretBytes::Random(kSubjectKeySize);
    auto sealed = WrapSecret(*wrapping_key, ad, *subject_key);
    if (!sealed.ok()) return sealed.status();
    SOVEREIGN_RETURN_IF_ERROR(files.catalog.InsertSubjectKey(key.id, version, tag, *sealed, now));
    *created = true;
  }
  return internal::DeriveFieldKey(*subject_key, mode, label);
}

std::string HexTag(const SubjectTag& tag) { return internal::ToHex(tag); }

}  // namespace sovereign::keystore_internal
