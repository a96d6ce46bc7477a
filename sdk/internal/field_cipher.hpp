// FieldCipher: one field key ready for use — the envelope header it writes,
// and a pool of keyed primitive objects so that concurrent callers each get a
// context of their own without a key schedule per message.
//
// Thread safety: all methods are safe to call concurrently.
// Security: the key bytes live in the pooled OpenSSL contexts and in
// `material_.key`; all of them are wiped when the last reference goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sovereign/envelope.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/status.hpp"

namespace sovereign::internal {

class FieldCipher {
 public:
  // New checks the material (key size for its mode, names) and encodes the header.
  static Result<std::shared_ptr<FieldCipher>> New(FieldKeyMaterial material);
  ~FieldCipher();

  const FieldKeyMaterial& material() const noexcept { return material_; }

  // Seal appends a complete binary envelope (header and body) for `plaintext`
  // bound to `context` to `out`.
  [[nodiscard]] Status Seal(std::string_view plaintext, const FieldContext& context,
                            std::vector<std::uint8_t>& out) const;

  // SealWithNonce is Seal with a caller-chosen GCM nonce (12 bytes; ignored in
  // deterministic mode). Only for known-answer tests: a repeated nonce under
  // one key breaks AES-GCM.
  [[nodiscard]] Status SealWithNonce(std::string_view plaintext, const FieldContext& context,
                                     std::span<const std::uint8_t> nonce, std::vector<std::uint8_t>& out) const;

  // Open authenticates and decrypts a binary envelope whose header (the first
  // `header_size` bytes) names this cipher's key. On failure `plaintext_out`
  // is empty and the status is kInvalidCiphertext.
  [[nodiscard]] Status Open(std::span<const std::uint8_t> envelope, std::size_t header_size,
                            const FieldContext& context, std::string& plaintext_out) const;

  // Mac writes HMAC-SHA256(index key, message) into `mac_out` (32 bytes); index ciphers only.
  [[nodiscard]] Status Mac(std::span<const std::uint8_t> message, std::span<std::uint8_t> mac_out) const;

 private:
  struct Engine;
  class Lease;
  explicit FieldCipher(FieldKeyMaterial material, std::vector<std::uint8_t> header);

  Result<std::unique_ptr<Engine>> NewEngine() const;

  FieldKeyMaterial material_;
  std::vector<std::uint8_t> header_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Engine>> pool_;
};

// AppendAssociatedData appends the associated data of an envelope to `out`:
// header || u32be(len(path)) || path || 0x00, or || 0x01 || u32be(len(id)) || id
// when the context has a record id. See docs/format.md.
void AppendAssociatedData(std::span<const std::uint8_t> header, const FieldContext& context,
                          std::vector<std::uint8_t>& out);

}  // namespace sovereign::internal
