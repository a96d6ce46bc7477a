#include "sovereign/secret.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "sdk/internal/random.hpp"

namespace sovereign {

namespace {

// The secure heap is locked in memory and excluded from core dumps. It is
// sized for the field keys of a busy process; when it is full or cannot be
// created (RLIMIT_MEMLOCK), secrets fall back to ordinary memory, still wiped.
constexpr std::size_t kSecureHeapSize = std::size_t{1} << 20;
constexpr std::size_t kSecureHeapMinChunk = 32;
// OpenSSL's DRBG takes its seed buffers from the same secure heap: once
// cached keys fill it (a pipeline run over tens of thousands of subjects),
// a reseed fails and RAND_bytes with it. Secrets leave it this much room.
constexpr std::size_t kSecureHeapReserve = std::size_t{64} << 10;

bool SecureHeapReady() {
  static const bool ready = [] {
    if (CRYPTO_secure_malloc_initialized()) return true;
    return CRYPTO_secure_malloc_init(kSecureHeapSize, kSecureHeapMinChunk) != 0;
  }();
  return ready;
}

}  // namespace

SecretBytes::SecretBytes(std::size_t size) {
  if (size == 0) return;
  if (SecureHeapReady() && CRYPTO_secure_used() + size + kSecureHeapReserve <= kSecureHeapSize) {
    data_ = static_cast<std::uint8_t*>(OPENSSL_secure_zalloc(size));
    secure_heap_ = data_ != nullptr;
  }
  if (data_ == nullptr) data_ = static_cast<std::uint8_t*>(OPENSSL_zalloc(size));
  if (data_ == nullptr) std::abort();  // out of memory while holding key material: nothing sane to do
  size_ = size;
}

SecretBytes::SecretBytes(std::span<const std::uint8_t> bytes, InsecureSecretKeyAccess) : SecretBytes(bytes.size()) {
  if (!bytes.empty()) std::copy(bytes.begin(), bytes.end(), data_);
}

SecretBytes::~SecretBytes() { Release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      secure_heap_(std::exchange(other.secure_heap_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    secure_heap_ = std::exchange(other.secure_heap_, false);
  }
  return *this;
}

void SecretBytes::Release() noexcept {
  if (data_ == nullptr) return;
  if (secure_heap_) {
    OPENSSL_secure_clear_free(data_, size_);
  } else {
    OPENSSL_clear_free(data_, size_);
  }
  data_ = nullptr;
  size_ = 0;
  secure_heap_ = false;
}

SecretBytes SecretBytes::Random(std::size_t size) {
  SecretBytes out(size);
  internal::FillRandom({out.data_, out.size_});
  return out;
}

SecretBytes SecretBytes::Copy() const {
  return SecretBytes(bytes(InsecureSecretKeyAccess::Get()), InsecureSecretKeyAccess::Get());
}

bool SecretBytes::Equals(const SecretBytes& other) const noexcept {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return CRYPTO_memcmp(data_, other.data_, size_) == 0;
}

}  // namespace sovereign
