// Client: field-level encryption and blind indexes for application code.
//
//   auto keystore = sovereign::EmbeddedKeystore::Open("/var/lib/sovereign/us");
//   auto client = sovereign::Client::New(*keystore);
//   auto ct = client->Encrypt({"us", "users", "email"}, "ann@example.com", {"/email", "user-42"});
//   auto pt = client->Decrypt(*ct, {"/email", "user-42"});
//
// Thread safety: all methods are safe to call concurrently on one Client.
// Field keys are cached in memory until their KeySource-given expiry; keyed
// OpenSSL contexts are reused across calls, so the per-field cost is close to
// the raw primitive's.
//
// Security: decrypt failures caused by the ciphertext (tampering, truncation,
// a ciphertext moved to another field or record) all return
// kInvalidCiphertext with the same message. Errors never contain plaintext
// or key bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sovereign/envelope.hpp"
#include "sovereign/export.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/mode.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

// FieldSpec names the key a field is encrypted under.
struct FieldSpec {
  std::string region;  // e.g. "us"
  std::string key;     // key name, e.g. "users"
  std::string label;   // class of the field, e.g. "email"
  Mode mode = Mode::kRandom;
  // The data subject (e.g. a user id) the value belongs to, 1..1024 bytes:
  // the value is then encrypted under that subject's own key, which the
  // keystore creates on first use and `subjects shred` destroys — making
  // every value of the subject unrecoverable (crypto-shredding). Envelopes
  // carry a tag naming the subject key, not the subject.
  std::optional<std::string> subject = std::nullopt;
};

// IndexNormalization says how a value is normalised before blind indexing.
enum class IndexNormalization : std::uint8_t {
  kExact = 0,          // bytes as given
  kTrimCaseFold = 1,   // strip ASCII whitespace at both ends, ASCII lowercase
  kDigits = 2,         // keep only ASCII digits (phone numbers, national ids)
};

SOVEREIGN_EXPORT std::string_view IndexNormalizationName(IndexNormalization n) noexcept;
SOVEREIGN_EXPORT Result<IndexNormalization> ParseIndexNormalization(std::string_view name);

// kRedactedMarker is what a field shows when a principal may not decrypt it
// and the caller chose to redact rather than keep the ciphertext or fail.
inline constexpr std::string_view kRedactedMarker = "[redacted]";

inline constexpr unsigned kMinIndexBits = 8;
inline constexpr unsigned kMaxIndexBits = 64;

struct BlindIndexOptions {
  unsigned bits = 32;  // kMinIndexBits..kMaxIndexBits
  IndexNormalization normalization = IndexNormalization::kTrimCaseFold;
};

struct ClientOptions {
  // Upper bound on how long a field key stays cached, whatever the KeySource
  // allows; after it the key is wiped and fetched again.
  std::chrono::seconds max_key_cache_ttl{300};
};

class SOVEREIGN_EXPORT Client {
 public:
  // New returns a Client over one key source per region. Two sources for the
  // same region are kInvalidArgument. The sources must outlive nothing: the
  // Client shares ownership.
  static Result<std::unique_ptr<Client>> New(std::vector<std::shared_ptr<KeySource>> sources,
                                             ClientOptions options = {});
  static Result<std::unique_ptr<Client>> New(std::shared_ptr<KeySource> source, ClientOptions options = {});

  virtual ~Client();

  // Encrypt encrypts `plaintext` under the primary version of `spec` bound to
  // `context` and returns the text form ("sov1:..."). Errors: kWrongRegion,
  // kKeyNotFound, kInvalidArgument (bad path, mode, oversized value, subject),
  // kDenied, kShredded (the subject was shredded), kKeystoreUnavailable.
  virtual Result<std::string> Encrypt(const FieldSpec& spec, std::string_view plaintext,
                                      const FieldContext& context) const = 0;

  // EncryptBinary is Encrypt returning the binary form.
  virtual Result<std::vector<std::uint8_t>> EncryptBinary(const FieldSpec& spec, std::string_view plaintext,
                                                          const FieldContext& context) const = 0;

  // PrefetchKeys fetches, in batches, the per-subject keys that encrypting
  // under `specs` (those with a subject) will need and that are not cached:
  // one keystore round trip per few hundred subjects instead of one per
  // subject. Nothing is returned; Encrypt reports any error.
  virtual void PrefetchKeys(std::span<const FieldSpec> specs) const = 0;

  // SubjectTagOf returns the tag that names `spec.subject`'s key under
  // `spec.key` in envelopes (from the key the Client caches for encrypting),
  // so a tool can tell whether a ciphertext belongs to a record's subject.
  // kInvalidArgument without a subject; otherwise Encrypt's errors.
  virtual Result<SubjectTag> SubjectTagOf(const FieldSpec& spec) const = 0;

  // PrefetchKeysFor does the same for the per-subject keys that decrypting
  // `ciphertexts` (text form) will need. Malformed texts are skipped.
  virtual void PrefetchKeysFor(std::span<const std::string_view> ciphertexts) const = 0;

  // Decrypt decrypts a text-form ciphertext (surrounding whitespace is not
  // accepted here; trim it first). On failure nothing of the plaintext is
  // returned. Errors: kInvalidCiphertext, kWrongRegion, kKeyNotFound,
  // kKeyVersionUnusable, kShredded (the value's subject was shredded: it is
  // unrecoverable by design), kDenied, kKeystoreUnavailable.
  virtual Result<std::string> Decrypt(std::string_view ciphertext, const FieldContext& context) const = 0;

  // DecryptBinary is Decrypt for the binary form.
  virtual Result<std::string> DecryptBinary(std::span<const std::uint8_t> ciphertext,
                                            const FieldContext& context) const = 0;

  // EncryptAppend is Encrypt appending the text form to `out`, for writers
  // that build output lines in a reused buffer. On error `out` is unchanged.
  [[nodiscard]] virtual Status EncryptAppend(const FieldSpec& spec, std::string_view plaintext,
                                             const FieldContext& context, std::string& out) const = 0;

  // DecryptAppend is Decrypt appending the plaintext to `out`. On error `out`
  // is unchanged: no partial plaintext is ever written.
  [[nodiscard]] virtual Status DecryptAppend(std::string_view ciphertext, const FieldContext& context,
                                             std::string& out) const = 0;

  // BlindIndex returns the blind index of `value` for (region, key, label) of
  // `spec` under the key's primary version: the first `bits` bits of
  // HMAC-SHA256(index key, normalised value), as ceil(bits/8) bytes of
  // lowercase hex with unused low bits zero. `spec.mode` is ignored.
  // Equal normalised values give equal indexes — that is the point and the leak.
  virtual Result<std::string> BlindIndex(const FieldSpec& spec, std::string_view value,
                                         BlindIndexOptions options = {}) const = 0;
};

}  // namespace sovereign
