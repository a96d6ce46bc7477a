#include "bench/raw_openssl.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sovereign_bench {

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "raw baseline setup failed: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

// Explicitly fetched algorithms: an EVP_*_fetch is a lock and a lookup, which
// the baseline must not pay per context.
const EVP_CIPHER* Fetched(const char* name) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, name, nullptr);
  if (cipher == nullptr) Die(name);
  return cipher;  // lives for the process
}

int Len(std::size_t n) { return static_cast<int>(n); }

using Block = RawSiv::Block;

// Dbl multiplies by x in GF(2^128), RFC 5297 §2.3.
Block Dbl(const Block& in) {
  Block out;
  for (std::size_t i = 0; i < 15; ++i) out[i] = static_cast<std::uint8_t>(in[i] << 1 | in[i + 1] >> 7);
  out[15] = static_cast<std::uint8_t>(in[15] << 1 ^ ((in[0] >> 7) * 0x87));
  return out;
}

void Xor(Block& acc, const std::uint8_t* in);

// S2VOneComponent is RFC 5297 S2V over one associated-data component, with
// the CMAC of `siv` (RawSiv or EcbSiv) and its precomputed CMAC(K1, 0^128).
template <typename Siv>
bool S2VOneComponent(Siv& siv, const Block& cmac_zero, std::span<const std::uint8_t> aad,
                     std::span<const std::uint8_t> plaintext, Block& v) {
  Block mac;
  if (!siv.Cmac(aad, {}, mac)) return false;
  Block d = Dbl(cmac_zero);
  Xor(d, mac.data());
  if (plaintext.size() >= 16) {
    Block tail;
    std::memcpy(tail.data(), plaintext.data() + plaintext.size() - 16, 16);
    Xor(tail, d.data());
    return siv.Cmac(plaintext.first(plaintext.size() - 16), tail, v);
  }
  Block t = Dbl(d);
  Block padded{};
  std::memcpy(padded.data(), plaintext.data(), plaintext.size());
  padded[plaintext.size()] = 0x80;
  Xor(t, padded.data());
  return siv.Cmac(t, {}, v);
}

void Xor(Block& acc, const std::uint8_t* in) {
  for (std::size_t i = 0; i < 16; ++i) acc[i] ^= in[i];
}

}  // namespace

void NonceFill(std::span<std::uint8_t> out) {
  constexpr std::size_t kPool = 4096;
  thread_local std::array<std::uint8_t, kPool> pool;
  thread_local std::size_t used = kPool;
  if (out.size() > 64) std::abort();
  if (kPool - used < out.size()) {
    if (RAND_bytes(pool.data(), Len(pool.size())) != 1) Die("RAND_bytes");
    used = 0;
  }
  std::memcpy(out.data(), pool.data() + used, out.size());
  used += out.size();
}

RawGcm::RawGcm(std::span<const std::uint8_t, 32> key) : seal_(EVP_CIPHER_CTX_new()), open_(EVP_CIPHER_CTX_new()) {
  static const EVP_CIPHER* const gcm = Fetched("AES-256-GCM");
  if (!seal_ || !open_ || EVP_EncryptInit_ex2(seal_.get(), gcm, key.data(), nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex2(open_.get(), gcm, key.data(), nullptr, nullptr) != 1) {
    Die("AES-256-GCM key setup");
  }
}

bool RawGcm::Seal(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                  std::span<const std::uint8_t> plaintext, std::uint8_t* ciphertext, std::uint8_t* tag) {
  EVP_CIPHER_CTX* ctx = seal_.get();
  int len = 0;
  return EVP_EncryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr) == 1 &&
         EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), Len(aad.size())) == 1 &&
         EVP_EncryptUpdate(ctx, ciphertext, &len, plaintext.data(), Len(plaintext.size())) == 1 &&
         EVP_EncryptFinal_ex(ctx, ciphertext + plaintext.size(), &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Len(kTagSize), tag) == 1;
}

bool RawGcm::Open(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                  std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> tag,
                  std::uint8_t* plaintext) {
  EVP_CIPHER_CTX* ctx = open_.get();
  int len = 0;
  const bool ok = EVP_DecryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr) == 1 &&
                  EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), Len(aad.size())) == 1 &&
                  EVP_DecryptUpdate(ctx, plaintext, &len, ciphertext.data(), Len(ciphertext.size())) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Len(kTagSize),
                                      const_cast<std::uint8_t*>(tag.data())) == 1 &&
                  EVP_DecryptFinal_ex(ctx, plaintext + ciphertext.size(), &len) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

RawSiv::RawSiv(std::span<const std::uint8_t, 64> key) : ctr_(EVP_CIPHER_CTX_new()) {
  static EVP_MAC* const cmac = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
  static const EVP_CIPHER* const ctr = Fetched("AES-256-CTR");
  if (cmac == nullptr || !ctr_) Die("CMAC / CTR allocation");
  cmac_.reset(EVP_MAC_CTX_new(cmac));
  char cbc[] = "AES-256-CBC";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cbc, 0), OSSL_PARAM_construct_end()};
  if (!cmac_ || EVP_MAC_init(cmac_.get(), key.data(), 32, params) != 1 ||
      EVP_EncryptInit_ex2(ctr_.get(), ctr, key.data() + 32, nullptr, nullptr) != 1) {
    Die("AES-256-SIV (CMAC + CTR) key setup");
  }
  const Block zero{};
  if (!Cmac(zero, {}, cmac_zero_)) Die("CMAC(K1, 0)");
}

bool RawSiv::Cmac(std::span<const std::uint8_t> first, std::span<const std::uint8_t> last, Block& out) {
  std::size_t out_len = 0;
  return EVP_MAC_init(cmac_.get(), nullptr, 0, nullptr) == 1 &&
         (first.empty() || EVP_MAC_update(cmac_.get(), first.data(), first.size()) == 1) &&
         (last.empty() || EVP_MAC_update(cmac_.get(), last.data(), last.size()) == 1) &&
         EVP_MAC_final(cmac_.get(), out.data(), &out_len, out.size()) == 1;
}

bool RawSiv::S2V(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, Block& v) {
  return S2VOneComponent(*this, cmac_zero_, aad, plaintext, v);
}

bool RawSiv::Ctr(const Block& v, std::span<const std::uint8_t> in, std::uint8_t* out) {
  Block q = v;
  q[8] &= 0x7f;
  q[12] &= 0x7f;
  int len = 0;
  return EVP_EncryptInit_ex2(ctr_.get(), nullptr, nullptr, q.data(), nullptr) == 1 &&
         (in.empty() || EVP_EncryptUpdate(ctr_.get(), out, &len, in.data(), Len(in.size())) == 1);
}

bool RawSiv::Seal(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, std::uint8_t* out) {
  Block v;
  if (!S2V(aad, plaintext, v)) return false;
  std::memcpy(out, v.data(), v.size());
  return Ctr(v, plaintext, out + 16);
}

bool RawSiv::Open(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> siv_and_ciphertext,
                  std::uint8_t* plaintext) {
  Block v;
  std::memcpy(v.data(), siv_and_ciphertext.data(), v.size());
  const std::size_t n = siv_and_ciphertext.size() - 16;
  Block expected;
  return Ctr(v, siv_and_ciphertext.subspan(16), plaintext) && S2V(aad, {plaintext, n}, expected) &&
         CRYPTO_memcmp(expected.data(), v.data(), v.size()) == 0;
}

EvpSiv::EvpSiv(std::span<const std::uint8_t, 64> key)
    : cipher_(EVP_CIPHER_fetch(nullptr, "AES-256-SIV", nullptr)), ctx_(EVP_CIPHER_CTX_new()) {
  if (cipher_ == nullptr || !ctx_) Die("AES-256-SIV fetch");
  std::memcpy(key_.data(), key.data(), key_.size());
}

EvpSiv::~EvpSiv() {
  OPENSSL_cleanse(key_.data(), key_.size());
  EVP_CIPHER_free(cipher_);
}

// Every return value is checked: a second update without re-keying returns 0
// while Final and GET_TAG still succeed (DESIGN.md §8).
bool EvpSiv::Seal(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, std::uint8_t* out) {
  EVP_CIPHER_CTX* ctx = ctx_.get();
  int len = 0;
  return EVP_EncryptInit_ex2(ctx, cipher_, key_.data(), nullptr, nullptr) == 1 &&
         EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), Len(aad.size())) == 1 &&
         EVP_EncryptUpdate(ctx, out + 16, &len, plaintext.data(), Len(plaintext.size())) == 1 &&
         EVP_EncryptFinal_ex(ctx, out + 16 + plaintext.size(), &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Len(kTagSize), out) == 1;
}

bool EvpSiv::Open(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> siv_and_ciphertext,
                  std::uint8_t* plaintext) {
  EVP_CIPHER_CTX* ctx = ctx_.get();
  int len = 0;
  const std::size_t n = siv_and_ciphertext.size() - 16;
  const bool ok =
      EVP_DecryptInit_ex2(ctx, cipher_, key_.data(), nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Len(kTagSize), const_cast<std::uint8_t*>(siv_and_ciphertext.data())) == 1 &&
      EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), Len(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx, plaintext, &len, siv_and_ciphertext.data() + 16, Len(n)) == 1 &&
      EVP_DecryptFinal_ex(ctx, plaintext + n, &len) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace sovereign_bench

namespace sovereign_bench {

EcbSiv::EcbSiv(std::span<const std::uint8_t, 64> key) : ecb_(EVP_CIPHER_CTX_new()), ctr_(EVP_CIPHER_CTX_new()) {
  static const EVP_CIPHER* const ecb = Fetched("AES-256-ECB");
  static const EVP_CIPHER* const ctr = Fetched("AES-256-CTR");
  if (!ecb_ || !ctr_ || EVP_EncryptInit_ex2(ecb_.get(), ecb, key.data(), nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ecb_.get(), 0) != 1 ||
      EVP_EncryptInit_ex2(ctr_.get(), ctr, key.data() + 32, nullptr, nullptr) != 1) {
    Die("AES-256-SIV (ECB CMAC + CTR) key setup");
  }
  Block l{};
  if (!Encrypt(l)) Die("CMAC subkeys");
  subkey1_ = Dbl(l);
  subkey2_ = Dbl(subkey1_);
  OPENSSL_cleanse(l.data(), l.size());
  const Block zero{};
  if (!Cmac(zero, {}, cmac_zero_)) Die("CMAC(K1, 0)");
}

bool EcbSiv::Encrypt(Block& block) {
  int len = 0;
  return EVP_EncryptUpdate(ecb_.get(), block.data(), &len, block.data(), 16) == 1 && len == 16;
}

bool EcbSiv::Cmac(std::span<const std::uint8_t> first, std::span<const std::uint8_t> last, Block& out) {
  // Walk first || last block by block without copying the message.
  const std::size_t total = first.size() + last.size();
  const std::size_t blocks = total == 0 ? 1 : (total + 15) / 16;
  auto at = [&](std::size_t i) { return i < first.size() ? first[i] : last[i - first.size()]; };
  Block x{};
  for (std::size_t b = 0; b + 1 < blocks; ++b) {
    for (std::size_t i = 0; i < 16; ++i) x[i] ^= at(b * 16 + i);
    if (!Encrypt(x)) return false;
  }
  const std::size_t tail = total - (blocks - 1) * 16;
  for (std::size_t i = 0; i < tail; ++i) x[i] ^= at((blocks - 1) * 16 + i);
  if (tail == 16) {
    Xor(x, subkey1_.data());
  } else {
    x[tail] ^= 0x80;
    Xor(x, subkey2_.data());
  }
  if (!Encrypt(x)) return false;
  out = x;
  return true;
}

bool EcbSiv::S2V(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, Block& v) {
  return S2VOneComponent(*this, cmac_zero_, aad, plaintext, v);
}

bool EcbSiv::Seal(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext, std::uint8_t* out) {
  Block v;
  if (!S2V(aad, plaintext, v)) return false;
  std::memcpy(out, v.data(), v.size());
  v[8] &= 0x7f;
  v[12] &= 0x7f;
  int len = 0;
  return EVP_EncryptInit_ex2(ctr_.get(), nullptr, nullptr, v.data(), nullptr) == 1 &&
         (plaintext.empty() || EVP_EncryptUpdate(ctr_.get(), out + 16, &len, plaintext.data(), Len(plaintext.size())) == 1);
}

bool EcbSiv::Open(std::span<const std::uint8_t> aad, std::span<const std::uint8_t> siv_and_ciphertext,
                  std::uint8_t* plaintext) {
  Block q;
  std::memcpy(q.data(), siv_and_ciphertext.data(), q.size());
  q[8] &= 0x7f;
  q[12] &= 0x7f;
  const std::size_t n = siv_and_ciphertext.size() - 16;
  int len = 0;
  Block expected;
  return EVP_EncryptInit_ex2(ctr_.get(), nullptr, nullptr, q.data(), nullptr) == 1 &&
         (n == 0 || EVP_EncryptUpdate(ctr_.get(), plaintext, &len, siv_and_ciphertext.data() + 16, Len(n)) == 1) &&
         S2V(aad, {plaintext, n}, expected) && CRYPTO_memcmp(expected.data(), siv_and_ciphertext.data(), 16) == 0;
}

}  // namespace sovereign_bench
