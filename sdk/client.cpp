#include "sovereign/client.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>

#include "sdk/internal/base64url.hpp"
#include "sdk/internal/field_key_cache.hpp"
#include "sdk/internal/header_view.hpp"
#include "sdk/internal/hex.hpp"
#include "sdk/internal/hmac_sha256.hpp"
#include "sdk/internal/openssl_util.hpp"

namespace sovereign {

namespace {

std::string NormalizeForIndex(std::string_view value, IndexNormalization normalization) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  switch (normalization) {
    case IndexNormalization::kExact: return std::string(value);
    case IndexNormalization::kTrimCaseFold: {
      while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
      while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
      std::string out(value);
      for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return out;
    }
    case IndexNormalization::kDigits: {
      std::string out;
      for (char c : value) {
        if (c >= '0' && c <= '9') out.push_back(c);
      }
      return out;
    }
  }
  return std::string(value);
}

std::span<const std::uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class ClientImpl final : public Client {
 public:
  using Caches = std::vector<std::unique_ptr<internal::FieldKeyCache>>;
  explicit ClientImpl(Caches caches) : caches_(std::move(caches)) {}

  Result<std::string> Encrypt(const FieldSpec& spec, std::string_view plaintext,
                              const FieldContext& context) const override {
    std::vector<std::uint8_t>& binary = Scratch();
    SOVEREIGN_RETURN_IF_ERROR(EncryptInto(spec, plaintext, context, binary));
    return ToText(binary);
  }

  Result<std::vector<std::uint8_t>> EncryptBinary(const FieldSpec& spec, std::string_view plaintext,
                                                  const FieldContext& context) const override {
    std::vector<std::uint8_t> out;
    SOVEREIGN_RETURN_IF_ERROR(EncryptInto(spec, plaintext, context, out));
    return out;
  }

  Status EncryptAppend(const FieldSpec& spec, std::string_view plaintext, const FieldContext& context,
                       std::string& out) const override {
    std::vector<std::uint8_t>& binary = Scratch();
    SOVEREIGN_RETURN_IF_ERROR(EncryptInto(spec, plaintext, context, binary));
    const std::size_t start = out.size();
    out.resize(start + kTextPrefix.size() + internal::Base64UrlEncodedSize(binary.size()));
    std::copy(kTextPrefix.begin(), kTextPrefix.end(), out.begin() + static_cast<std::ptrdiff_t>(start));
    internal::Base64UrlEncodeTo(binary, out.data() + start + kTextPrefix.size());
    return OkStatus();
  }

  Result<std::string> Decrypt(std::string_view ciphertext, const FieldContext& context) const override {
    std::string plaintext;
    SOVEREIGN_RETURN_IF_ERROR(DecryptAppend(ciphertext, context, plaintext));
    return plaintext;
  }

  Status DecryptAppend(std::string_view ciphertext, const FieldContext& context, std::string& out) const override {
    std::vector<std::uint8_t>& binary = Scratch();
    if (!IsTextCiphertext(ciphertext) || !internal::Base64UrlDecode(ciphertext.substr(kTextPrefix.size()), binary)) {
      return internal::InvalidCiphertext();
    }
    return OpenInto(binary, context, out);
  }

  Result<std::string> DecryptBinary(std::span<const std::uint8_t> ciphertext,
                                    const FieldContext& context) const override {
    std::string plaintext;
    SOVEREIGN_RETURN_IF_ERROR(OpenInto(ciphertext, context, plaintext));
    return plaintext;
  }

 private:
  // OpenInto decrypts a binary envelope and appends the plaintext to `out`
  // only when it authenticates.
  Status OpenInto(std::span<const std::uint8_t> ciphertext, const FieldContext& context, std::string& out) const {
    internal::HeaderView header;
    if (!internal::ParseHeaderView(ciphertext, header)) return internal::InvalidCiphertext();
    // The context is checked before any key is looked up, and the parser has
    // already rejected bodies too short for their mode, so a malformed input
    // never costs a keystore request.
    SOVEREIGN_RETURN_IF_ERROR(ValidateContext(context));
    auto cache = CacheFor(header.region);
    if (!cache.ok()) return cache.status();
    Status failed;
    if (header.subject != nullptr) {
      SubjectTag tag;
      std::copy_n(header.subject, tag.size(), tag.begin());
      auto cipher = (*cache)->SubjectByHeader(header.key_id, header.key_version, header.mode, header.label_id, tag);
      if (cipher.ok()) {
        auto session = (*cipher)->Borrow();
        if (!session.ok()) return Status(ErrorCode::kInternal, "cannot make a cipher context");
        return session.OpenAppend(ciphertext, header.size, context, out);
      }
      failed = cipher.status();
    } else {
      auto session = (*cache)->SessionByHeader(header.key_id, header.key_version, header.mode, header.label_id);
      if (session.ok()) return (*session)->OpenAppend(ciphertext, header.size, context, out);
      failed = session.status();
    }
    if (!UseRemote(failed, **cache)) return failed;
    // Not allowed to hold this key: the keystore may still decrypt for us.
    const std::string text = ToText(ciphertext);
    const RemoteDecryptItem item{text, &context};
    auto results = (*cache)->source().RemoteDecrypt({&item, 1});
    if (results.size() != 1) return Status(ErrorCode::kInternal, "remote decrypt answered the wrong number of items");
    if (!results[0].ok()) return results[0].status();
    out.append(*results[0]);
    return OkStatus();
  }

 public:

  void PrefetchKeys(std::span<const FieldSpec> specs) const override {
    for (const auto& cache : caches_) {
      std::vector<FieldKeyRequest> requests;
      for (const FieldSpec& spec : specs) {
        if (!spec.subject || spec.region != cache->region() || !ValidateSubject(*spec.subject).ok()) continue;
        FieldKeyRequest r;
        r.key_name = spec.key;
        r.label = spec.label;
        r.mode = spec.mode;
        r.subject = *spec.subject;
        requests.push_back(r);
      }
      if (!requests.empty()) cache->Prefetch(requests);
    }
  }

  Result<SubjectTag> SubjectTagOf(const FieldSpec& spec) const override {
    if (!spec.subject) return Status(ErrorCode::kInvalidArgument, "the field spec names no subject");
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(spec.key));
    SOVEREIGN_RETURN_IF_ERROR(ValidateLabel(spec.label));
    SOVEREIGN_RETURN_IF_ERROR(ValidateSubject(*spec.subject));
    auto cache = CacheFor(spec.region);
    if (!cache.ok()) return cache.status();
    auto cipher = (*cache)->SubjectPrimary(spec.key, spec.mode, spec.label, *spec.subject);
    if (!cipher.ok()) return cipher.status();
    if (!(*cipher)->material().subject_tag) return Status(ErrorCode::kInternal, "a subject key without a tag");
    return *(*cipher)->material().subject_tag;
  }

  void PrefetchKeysFor(std::span<const std::string_view> ciphertexts) const override {
    std::vector<std::vector<FieldKeyRequest>> per_cache(caches_.size());
    std::vector<std::uint8_t> binary;
    for (std::string_view text : ciphertexts) {
      binary.clear();
      internal::HeaderView header;
      if (!IsTextCiphertext(text) || !internal::Base64UrlDecode(text.substr(kTextPrefix.size()), binary) ||
          !internal::ParseHeaderView(binary, header) || header.subject == nullptr) {
        continue;
      }
      for (std::size_t i = 0; i < caches_.size(); ++i) {
        if (caches_[i]->region() != header.region) continue;
        FieldKeyRequest r;
        r.by_name = false;
        r.key_id = header.key_id;
        r.version = header.key_version;
        r.label_id = header.label_id;
        r.mode = header.mode;
        SubjectTag tag;
        std::copy_n(header.subject, tag.size(), tag.begin());
        r.subject_tag = tag;
        per_cache[i].push_back(r);
      }
    }
    for (std::size_t i = 0; i < caches_.size(); ++i) {
      if (!per_cache[i].empty()) caches_[i]->Prefetch(per_cache[i]);
    }
  }

  Result<std::string> BlindIndex(const FieldSpec& spec, std::string_view value,
                                 BlindIndexOptions options) const override {
    if (spec.subject) {
      // An index key belongs to the version, not the subject: a shred would
      // leave the index behind, still matching guesses of the value.
      return Status(ErrorCode::kInvalidArgument, "blind indexes are not per subject");
    }
    if (options.bits < kMinIndexBits || options.bits > kMaxIndexBits) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("index bits must be {}..{}, got {}", kMinIndexBits, kMaxIndexBits, options.bits));
    }
    auto cache = CacheFor(spec.region);
    if (!cache.ok()) return cache.status();
    auto session = (*cache)->PrimarySession(spec.key, Mode::kIndex, spec.label);
    if (!session.ok()) return session.status();
    std::string normalized = NormalizeForIndex(value, options.normalization);
    std::array<std::uint8_t, internal::kSha256Size> mac;
    Status s = (*session)->Mac(AsBytes(normalized), mac);
    OPENSSL_cleanse(normalized.data(), normalized.size());
    SOVEREIGN_RETURN_IF_ERROR(s);
    const unsigned bytes = (options.bits + 7) / 8;
    if (options.bits % 8 != 0) mac[bytes - 1] &= static_cast<std::uint8_t>(0xff << (8 - options.bits % 8));
    return internal::ToHex(std::span(mac).first(bytes));
  }

 private:
  static std::vector<std::uint8_t>& Scratch() {
    thread_local std::vector<std::uint8_t> buffer;
    buffer.clear();
    return buffer;
  }

  // UseRemote says whether a failed key lookup should fall back to the
  // keystore's remote operations: only when the key was denied to us.
  static bool UseRemote(const Status& status, const internal::FieldKeyCache& cache) {
    return status.code() == ErrorCode::kDenied && cache.source().SupportsRemoteOperations();
  }

  Result<internal::FieldKeyCache*> CacheFor(std::string_view region) const {
    // A client serves a handful of regions: a linear scan beats a map here.
    for (const auto& cache : caches_) {
      if (cache->region() == region) return cache.get();
    }
    std::string served;
    for (const auto& cache : caches_) served += (served.empty() ? "" : ", ") + cache->region();
    return Status(ErrorCode::kWrongRegion,
                  fmt::format("no keystore is configured for region '{}' (this client serves: {})",
                              ValidateRegion(region).ok() ? region : "<invalid>", served));
  }

  Status EncryptInto(const FieldSpec& spec, std::string_view plaintext, const FieldContext& context,
                     std::vector<std::uint8_t>& out) const {
    if (spec.mode != Mode::kRandom && spec.mode != Mode::kDeterministic) {
      return Status(ErrorCode::kInvalidArgument, "mode must be random or deterministic to encrypt");
    }
    SOVEREIGN_RETURN_IF_ERROR(ValidateContext(context));
    auto cache = CacheFor(spec.region);
    if (!cache.ok()) return cache.status();
    if (spec.subject) {
      SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(spec.key));
      SOVEREIGN_RETURN_IF_ERROR(ValidateLabel(spec.label));
      SOVEREIGN_RETURN_IF_ERROR(ValidateSubject(*spec.subject));
      return SealForSubject(spec, plaintext, context, **cache, out);
    }
    auto session = (*cache)->PrimarySession(spec.key, spec.mode, spec.label);
    if (session.ok()) {
      Status sealed = (*session)->Seal(plaintext, context, out);
      if (sealed.ok() || !(*session)->cipher().RandomBudgetSpent()) return sealed;
      // The key's random-mode budget is used up: the cache has it issued
      // again (the keystore counts the new issue) and the value is sealed once more.
      session = (*cache)->PrimarySession(spec.key, spec.mode, spec.label);
      if (session.ok()) return (*session)->Seal(plaintext, context, out);
    }
    if (!UseRemote(session.status(), **cache)) return session.status();
    return RemoteSeal(spec, plaintext, context, **cache, out);
  }

  Status SealForSubject(const FieldSpec& spec, std::string_view plaintext, const FieldContext& context,
                        internal::FieldKeyCache& cache, std::vector<std::uint8_t>& out) const {
    auto cipher = cache.SubjectPrimary(spec.key, spec.mode, spec.label, *spec.subject);
    if (cipher.ok()) {
      Status sealed = (*cipher)->Seal(plaintext, context, out);
      if (sealed.ok() || !(*cipher)->RandomBudgetSpent()) return sealed;
      cipher = cache.SubjectPrimary(spec.key, spec.mode, spec.label, *spec.subject);
      if (cipher.ok()) return (*cipher)->Seal(plaintext, context, out);
    }
    if (!UseRemote(cipher.status(), cache)) return cipher.status();
    return RemoteSeal(spec, plaintext, context, cache, out);
  }

  // RemoteSeal has the keystore encrypt for a principal not allowed to hold the key.
  static Status RemoteSeal(const FieldSpec& spec, std::string_view plaintext, const FieldContext& context,
                           internal::FieldKeyCache& cache, std::vector<std::uint8_t>& out) {
    RemoteEncryptItem item{spec.key, spec.label, spec.mode, plaintext, &context, std::nullopt};
    if (spec.subject) item.subject = *spec.subject;
    auto results = cache.source().RemoteEncrypt({&item, 1});
    if (results.size() != 1) return Status(ErrorCode::kInternal, "remote encrypt answered the wrong number of items");
    if (!results[0].ok()) return results[0].status();
    auto binary = FromText(*results[0]);
    if (!binary.ok()) return Status(ErrorCode::kInternal, "remote encrypt returned a malformed ciphertext");
    out.insert(out.end(), binary->begin(), binary->end());
    return OkStatus();
  }

  Caches caches_;
};

}  // namespace

std::string_view IndexNormalizationName(IndexNormalization n) noexcept {
  switch (n) {
    case IndexNormalization::kExact: return "exact";
    case IndexNormalization::kTrimCaseFold: return "trim-casefold";
    case IndexNormalization::kDigits: return "digits";
  }
  return "unknown";
}

Result<IndexNormalization> ParseIndexNormalization(std::string_view name) {
  for (auto n : {IndexNormalization::kExact, IndexNormalization::kTrimCaseFold, IndexNormalization::kDigits}) {
    if (name == IndexNormalizationName(n)) return n;
  }
  return Status(ErrorCode::kInvalidArgument, "unknown normalization (expected exact, trim-casefold or digits)");
}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::New(std::vector<std::shared_ptr<KeySource>> sources, ClientOptions options) {
  if (sources.empty()) return Status(ErrorCode::kInvalidArgument, "a client needs at least one keystore");
  if (options.max_key_cache_ttl.count() <= 0) {
    return Status(ErrorCode::kInvalidArgument, "max_key_cache_ttl must be positive");
  }
  ClientImpl::Caches caches;
  for (auto& source : sources) {
    if (!source) return Status(ErrorCode::kInvalidArgument, "null keystore");
    for (const auto& cache : caches) {
      if (cache->region() == source->region()) {
        return Status(ErrorCode::kInvalidArgument, "two keystores configured for region '" + source->region() + "'");
      }
    }
    caches.push_back(std::make_unique<internal::FieldKeyCache>(std::move(source), options.max_key_cache_ttl));
  }
  return std::unique_ptr<Client>(new ClientImpl(std::move(caches)));
}

Result<std::unique_ptr<Client>> Client::New(std::shared_ptr<KeySource> source, ClientOptions options) {
  std::vector<std::shared_ptr<KeySource>> sources;
  sources.push_back(std::move(source));
  return New(std::move(sources), options);
}

}  // namespace sovereign
