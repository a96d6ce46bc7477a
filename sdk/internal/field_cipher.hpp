// FieldCipher: one field key ready for use — the envelope header it writes,
// and a pool of keyed primitive objects ("engines") so that concurrent
// callers each get a context of their own without a key schedule per message.
//
// Thread safety: FieldCipher methods are safe to call concurrently. A Session
// is for one thread at a time.
// Security: the key bytes live in the pooled OpenSSL contexts and in
// `material_.key`; all of them are wiped when the cipher is destroyed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sovereign/envelope.hpp"
#include "sovereign/key_admin.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/status.hpp"

namespace sovereign::internal {

class FieldCipher {
  struct Engine;

 public:
  // Session holds one engine of a cipher until it is destroyed, when the
  // engine goes back to the pool. The cipher must outlive the session.
  class Session {
   public:
    Session();
    Session(Session&& other) noexcept;
    Session& operator=(Session&& other) noexcept;
    ~Session();

    // ok is false for a default-constructed session or when no engine could be made.
    bool ok() const noexcept { return engine_ != nullptr; }
    const FieldCipher& cipher() const noexcept { return *cipher_; }

    // Seal appends a complete binary envelope (header and body) for
    // `plaintext` bound to `context` to `out`. In random mode it fails with
    // kFailedPrecondition, `out` untouched, once the cipher has sealed
    // kRandomEncryptionsPerIssue values (see RandomBudgetSpent).
    [[nodiscard]] Status Seal(std::string_view plaintext, const FieldContext& context,
                              std::vector<std::uint8_t>& out);

    // SealWithNonce is Seal with a caller-chosen GCM nonce (12 bytes; ignored
    // in deterministic mode). Only for known-answer tests: a repeated nonce
    // under one key breaks AES-GCM.
    [[nodiscard]] Status SealWithNonce(std::string_view plaintext, const FieldContext& context,
                                       std::span<const std::uint8_t> nonce, std::vector<std::uint8_t>& out);

    // Open authenticates and decrypts a binary envelope whose header (the
    // first `header_size` bytes) names this cipher's key. On failure
    // `plaintext_out` is empty and the status is kInvalidCiphertext.
    [[nodiscard]] Status Open(std::span<const std::uint8_t> envelope, std::size_t header_size,
                              const FieldContext& context, std::string& plaintext_out);

    // OpenAppend is Open appending the plaintext to `out`; on failure `out`
    // is as it was.
    [[nodiscard]] Status OpenAppend(std::span<const std::uint8_t> envelope, std::size_t header_size,
                                    const FieldContext& context, std::string& out);

    // Mac writes HMAC-SHA256(index key, message) into `mac_out` (32 bytes); index ciphers only.
    [[nodiscard]] Status Mac(std::span<const std::uint8_t> message, std::span<std::uint8_t> mac_out);

   private:
    friend class FieldCipher;
    Session(const FieldCipher* cipher, std::unique_ptr<Engine> engine);
    void Release() noexcept;

    // ClaimRandomBudget takes up to kRandomBudgetChunk of the cipher's
    // random-mode budget for this session; false once it is all taken.
    bool ClaimRandomBudget() noexcept;

    const FieldCipher* cipher_ = nullptr;
    std::unique_ptr<Engine> engine_;
    std::uint64_t random_budget_ = 0;  // random-mode seals this session may still make
  };

  // New checks the material (key size for its mode, names) and encodes the header.
  static Result<std::shared_ptr<FieldCipher>> New(FieldKeyMaterial material);
  ~FieldCipher();

  const FieldKeyMaterial& material() const noexcept { return material_; }

  // RandomBudgetSpent is true once sessions have taken all of this random-mode
  // key's kRandomEncryptionsPerIssue seals: the keystore counted one issue as
  // that many encryptions (docs/rotation.md), so more need a new issue. The
  // cache then fetches the key again. Always false in the other modes.
  bool RandomBudgetSpent() const noexcept {
    return random_claimed_.load(std::memory_order_relaxed) >= kRandomEncryptionsPerIssue;
  }

  // Borrow takes an engine from the pool (or makes one) for a session.
  Session Borrow() const;

  // One-shot forms of the Session operations: borrow, run, give back.
  [[nodiscard]] Status Seal(std::string_view plaintext, const FieldContext& context,
                            std::vector<std::uint8_t>& out) const;
  [[nodiscard]] Status SealWithNonce(std::string_view plaintext, const FieldContext& context,
                                     std::span<const std::uint8_t> nonce, std::vector<std::uint8_t>& out) const;
  [[nodiscard]] Status Open(std::span<const std::uint8_t> envelope, std::size_t header_size,
                            const FieldContext& context, std::string& plaintext_out) const;
  [[nodiscard]] Status Mac(std::span<const std::uint8_t> message, std::span<std::uint8_t> mac_out) const;

 private:
  explicit FieldCipher(FieldKeyMaterial material, std::vector<std::uint8_t> header);

  Result<std::unique_ptr<Engine>> NewEngine() const;
  void Return(std::unique_ptr<Engine> engine) const noexcept;

  // Sessions claim the budget in chunks, so counting costs one atomic
  // operation per chunk rather than per seal.
  static constexpr std::uint64_t kRandomBudgetChunk = 256;

  FieldKeyMaterial material_;
  std::vector<std::uint8_t> header_;
  mutable std::atomic<std::uint64_t> random_claimed_{0};
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Engine>> pool_;
};

// AppendAssociatedData appends the associated data of an envelope to `out`:
// header || u32be(len(path)) || path || 0x00, or || 0x01 || u32be(len(id)) || id
// when the context has a record id. See docs/format.md.
void AppendAssociatedData(std::span<const std::uint8_t> header, const FieldContext& context,
                          std::vector<std::uint8_t>& out);

}  // namespace sovereign::internal
