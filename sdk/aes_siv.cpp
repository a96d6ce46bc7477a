#include "sdk/internal/aes_siv.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "sdk/internal/openssl_util.hpp"

namespace sovereign::internal {

namespace {

using Block = std::array<std::uint8_t, 16>;

// Dbl is multiplication by x in GF(2^128) (RFC 5297 §2.3).
Block Dbl(const Block& in) {
  Block out;
  const std::uint8_t carry = in[0] >> 7;
  for (std::size_t i = 0; i < 15; ++i) out[i] = static_cast<std::uint8_t>(in[i] << 1 | in[i + 1] >> 7);
  out[15] = static_cast<std::uint8_t>(in[15] << 1 ^ (carry ? 0x87 : 0x00));
  return out;
}

void XorInto(Block& acc, const std::uint8_t* in) {
  for (std::size_t i = 0; i < 16; ++i) acc[i] ^= in[i];
}

const char* CbcName(std::size_t half_key) {
  switch (half_key) {
    case 16: return "AES-128-CBC";
    case 24: return "AES-192-CBC";
    case 32: return "AES-256-CBC";
    default: return nullptr;
  }
}

}  // namespace

struct AesSiv::Contexts {
  MacCtxPtr cmac;     // keyed with K1, restarted per use
  CipherCtxPtr ctr;   // keyed with K2, IV set per message
  Block cmac_zero{};  // CMAC(K1, 0^128): the constant start of every S2V

  // Mac computes CMAC(K1, first || last) where `last` may be empty.
  bool Mac(std::span<const std::uint8_t> first, std::span<const std::uint8_t> last, Block& out) {
    std::size_t out_len = 0;
    return EVP_MAC_init(cmac.get(), nullptr, 0, nullptr) == 1 &&
           (first.empty() || EVP_MAC_update(cmac.get(), first.data(), first.size()) == 1) &&
           (last.empty() || EVP_MAC_update(cmac.get(), last.data(), last.size()) == 1) &&
           EVP_MAC_final(cmac.get(), out.data(), &out_len, out.size()) == 1 && out_len == out.size();
  }

  // S2V computes the synthetic IV of RFC 5297 §2.4 over the components and the plaintext.
  bool S2V(std::span<const std::span<const std::uint8_t>> components, std::span<const std::uint8_t> plaintext,
           Block& v) {
    Block d = cmac_zero;
    for (const auto& component : components) {
      Block mac;
      if (!Mac(component, {}, mac)) return false;
      d = Dbl(d);
      XorInto(d, mac.data());
    }
    if (plaintext.size() >= 16) {
      // T = plaintext xorend D: MAC the prefix as is, then the last block xored with D.
      Block tail;
      std::memcpy(tail.data(), plaintext.data() + plaintext.size() - 16, 16);
      XorInto(tail, d.data());
      const bool ok = Mac(plaintext.first(plaintext.size() - 16), tail, v);
      OPENSSL_cleanse(tail.data(), tail.size());
      return ok;
    }
    // T = dbl(D) xor pad(plaintext), pad = plaintext || 0x80 || 0*.
    Block t = Dbl(d);
    Block padded{};
    if (!plaintext.empty()) std::memcpy(padded.data(), plaintext.data(), plaintext.size());
    padded[plaintext.size()] = 0x80;
    XorInto(t, padded.data());
    const bool ok = Mac(t, {}, v);
    OPENSSL_cleanse(padded.data(), padded.size());
    OPENSSL_cleanse(t.data(), t.size());
    return ok;
  }

  // Ctr runs AES-CTR with the counter Q derived from V (RFC 5297 §2.6: bits 63 and 31 cleared).
  bool Ctr(const Block& v, std::span<const std::uint8_t> in, std::uint8_t* out) {
    Block q = v;
    q[8] &= 0x7f;
    q[12] &= 0x7f;
    int len = 0;
    if (EVP_EncryptInit_ex2(ctr.get(), nullptr, nullptr, q.data(), nullptr) != 1) return false;
    if (in.empty()) return true;
    return EVP_EncryptUpdate(ctr.get(), out, &len, in.data(), ToInt(in.size())) == 1 &&
           static_cast<std::size_t>(len) == in.size();
  }
};

AesSiv::AesSiv(std::unique_ptr<Contexts> contexts) : ctx_(std::move(contexts)) {}
AesSiv::AesSiv(AesSiv&&) noexcept = default;
AesSiv& AesSiv::operator=(AesSiv&&) noexcept = default;
AesSiv::~AesSiv() = default;

Result<AesSiv> AesSiv::New(std::span<const std::uint8_t> key) {
  const std::size_t half = key.size() / 2;
  const char* cbc = key.size() % 2 == 0 ? CbcName(half) : nullptr;
  const EVP_CIPHER* ctr_cipher = AesCipher(half, "CTR");
  if (cbc == nullptr || ctr_cipher == nullptr) {
    return Status(ErrorCode::kInvalidArgument, "AES-SIV key must be 32, 48 or 64 bytes");
  }
  static EVP_MAC* const cmac_algorithm = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
  if (cmac_algorithm == nullptr) return OpenSslError("EVP_MAC_fetch(CMAC)");

  auto contexts = std::make_unique<Contexts>();
  contexts->cmac.reset(EVP_MAC_CTX_new(cmac_algorithm));
  contexts->ctr.reset(EVP_CIPHER_CTX_new());
  if (!contexts->cmac || !contexts->ctr) return OpenSslError("context allocation");

  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, const_cast<char*>(cbc), 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(contexts->cmac.get(), key.data(), half, params) != 1) return OpenSslError("CMAC key setup");
  if (EVP_EncryptInit_ex2(contexts->ctr.get(), ctr_cipher, key.data() + half, nullptr, nullptr) != 1) {
    return OpenSslError("AES-CTR key setup");
  }
  const Block zero{};
  if (!contexts->Mac(zero, {}, contexts->cmac_zero)) return OpenSslError("CMAC");
  return AesSiv(std::move(contexts));
}

Status AesSiv::Seal(std::span<const std::span<const std::uint8_t>> associated_data,
                    std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out) {
  if (out.size() != plaintext.size() + kSivSize) {
    return Status(ErrorCode::kInvalidArgument, "AES-SIV seal: output must be plaintext size + 16");
  }
  if (associated_data.size() > kMaxSivComponents) {
    return Status(ErrorCode::kInvalidArgument, "AES-SIV seal: at most 126 associated-data components");
  }
  Block v;
  if (!ctx_->S2V(associated_data, plaintext, v) || !ctx_->Ctr(v, plaintext, out.data() + kSivSize)) {
    OPENSSL_cleanse(out.data(), out.size());
    return OpenSslError("AES-SIV seal");
  }
  std::memcpy(out.data(), v.data(), kSivSize);
  return OkStatus();
}

Status AesSiv::Open(std::span<const std::span<const std::uint8_t>> associated_data,
                    std::span<const std::uint8_t> siv_and_ciphertext, std::span<std::uint8_t> plaintext_out) {
  if (siv_and_ciphertext.size() < kSivSize || associated_data.size() > kMaxSivComponents) {
    std::fill(plaintext_out.begin(), plaintext_out.end(), 0);
    return InvalidCiphertext();
  }
  if (plaintext_out.size() != siv_and_ciphertext.size() - kSivSize) {
    std::fill(plaintext_out.begin(), plaintext_out.end(), 0);
    return Status(ErrorCode::kInvalidArgument, "AES-SIV open: output must be ciphertext size - 16");
  }
  Block v;
  std::memcpy(v.data(), siv_and_ciphertext.data(), kSivSize);
  Block expected;
  const bool computed = ctx_->Ctr(v, siv_and_ciphertext.subspan(kSivSize), plaintext_out.data()) &&
                        ctx_->S2V(associated_data, plaintext_out, expected);
  if (!computed || CRYPTO_memcmp(expected.data(), v.data(), kSivSize) != 0) {
    OPENSSL_cleanse(plaintext_out.data(), plaintext_out.size());
    ERR_clear_error();
    return InvalidCiphertext();
  }
  return OkStatus();
}

}  // namespace sovereign::internal
