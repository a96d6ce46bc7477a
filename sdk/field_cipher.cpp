#include "sdk/internal/field_cipher.hpp"

#include <array>
#include <cstring>
#include <variant>

#include "sdk/internal/aes_gcm.hpp"
#include "sdk/internal/aes_siv.hpp"
#include "sdk/internal/hmac_sha256.hpp"
#include "sdk/internal/openssl_util.hpp"
#include "sdk/internal/random.hpp"

namespace sovereign::internal {

namespace {

// Idle engines kept per field key; more concurrent callers than this still
// work, their extra engines are freed after use.
constexpr std::size_t kMaxPooledEngines = 64;

std::uint8_t* PutU32(std::size_t v, std::uint8_t* p) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
  return p + 4;
}

std::span<const std::uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Scratch space for associated data, reused per thread to keep the hot path allocation-free.
std::vector<std::uint8_t>& ScratchAssociatedData() {
  thread_local std::vector<std::uint8_t> buffer;
  buffer.clear();
  return buffer;
}

}  // namespace

void AppendAssociatedData(std::span<const std::uint8_t> header, const FieldContext& context,
                          std::vector<std::uint8_t>& out) {
  const std::size_t start = out.size();
  const std::size_t rid = context.record_id ? 4 + context.record_id->size() : 0;
  out.resize(start + header.size() + 4 + context.path.size() + 1 + rid);
  std::uint8_t* p = out.data() + start;
  if (!header.empty()) std::memcpy(p, header.data(), header.size());
  p = PutU32(context.path.size(), p + header.size());
  if (!context.path.empty()) std::memcpy(p, context.path.data(), context.path.size());
  p += context.path.size();
  *p++ = context.record_id ? 0x01 : 0x00;
  if (context.record_id) {
    p = PutU32(context.record_id->size(), p);
    if (!context.record_id->empty()) std::memcpy(p, context.record_id->data(), context.record_id->size());
  }
}

struct FieldCipher::Engine {
  std::variant<AesGcm, AesSiv, HmacSha256> primitive;
};

FieldCipher::Session::Session() = default;

FieldCipher::Session::Session(const FieldCipher* cipher, std::unique_ptr<Engine> engine)
    : cipher_(cipher), engine_(std::move(engine)) {}

FieldCipher::Session::Session(Session&& other) noexcept
    : cipher_(std::exchange(other.cipher_, nullptr)),
      engine_(std::move(other.engine_)),
      random_budget_(std::exchange(other.random_budget_, 0)) {}

FieldCipher::Session& FieldCipher::Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    Release();
    cipher_ = std::exchange(other.cipher_, nullptr);
    engine_ = std::move(other.engine_);
    random_budget_ = std::exchange(other.random_budget_, 0);
  }
  return *this;
}

FieldCipher::Session::~Session() { Release(); }

void FieldCipher::Session::Release() noexcept {
  if (engine_ && cipher_) cipher_->Return(std::move(engine_));
  engine_.reset();
  cipher_ = nullptr;
}

FieldCipher::FieldCipher(FieldKeyMaterial material, std::vector<std::uint8_t> header)
    : material_(std::move(material)), header_(std::move(header)) {}

FieldCipher::~FieldCipher() = default;

Result<std::shared_ptr<FieldCipher>> FieldCipher::New(FieldKeyMaterial material) {
  if (material.key.size() != FieldKeySize(material.mode)) {
    return Status(ErrorCode::kInternal, "field key has the wrong size for its mode");
  }
  std::vector<std::uint8_t> header;
  if (material.mode != Mode::kIndex) {
    EnvelopeHeader h{material.mode,     material.region,   material.key_id,
                     material.version,  material.label_id, material.subject_tag};
    SOVEREIGN_RETURN_IF_ERROR(EncodeEnvelopeHeader(h, header));
  }
  std::shared_ptr<FieldCipher> cipher(new FieldCipher(std::move(material), std::move(header)));
  // Build the first engine now so a bad key fails here, not on first use.
  auto engine = cipher->NewEngine();
  if (!engine.ok()) return engine.status();
  // A per-subject key serves a handful of values (a user's fields), and a
  // pipeline holds keys of many thousands of subjects: keeping a keyed
  // context (kilobytes) for each would make memory grow with the subjects.
  // Their contexts are made per use instead.
  if (!cipher->material_.subject_tag) cipher->pool_.push_back(std::move(engine).value());
  return cipher;
}

Result<std::unique_ptr<FieldCipher::Engine>> FieldCipher::NewEngine() const {
  const auto key = material_.key.bytes(InsecureSecretKeyAccess::Get());
  auto make = [](auto result) -> Result<std::unique_ptr<Engine>> {
    if (!result.ok()) return result.status();
    return std::unique_ptr<Engine>(new Engine{std::move(result).value()});
  };
  switch (material_.mode) {
    case Mode::kRandom: return make(AesGcm::New(key));
    case Mode::kDeterministic: return make(AesSiv::New(key));
    case Mode::kIndex: return make(HmacSha256::New(key));
  }
  return Status(ErrorCode::kInternal, "unknown mode");
}

FieldCipher::Session FieldCipher::Borrow() const {
  {
    std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      auto engine = std::move(pool_.back());
      pool_.pop_back();
      return Session(this, std::move(engine));
    }
  }
  auto made = NewEngine();
  return Session(this, made.ok() ? std::move(made).value() : nullptr);
}

void FieldCipher::Return(std::unique_ptr<Engine> engine) const noexcept {
  if (material_.subject_tag) return;  // see New: per-subject keys keep no contexts
  std::lock_guard lock(pool_mutex_);
  if (pool_.size() < kMaxPooledEngines) pool_.push_back(std::move(engine));
}

Status FieldCipher::Session::Seal(std::string_view plaintext, const FieldContext& context,
                                  std::vector<std::uint8_t>& out) {
  std::array<std::uint8_t, kGcmNonceSize> nonce{};
  if (ok() && cipher_->material_.mode == Mode::kRandom) {
    if (random_budget_ == 0 && !ClaimRandomBudget()) {
      return Status(ErrorCode::kFailedPrecondition, "the field key's random-mode encryption budget is used up");
    }
    --random_budget_;
    FillNonce(nonce);
  }
  return SealWithNonce(plaintext, context, nonce, out);
}

bool FieldCipher::Session::ClaimRandomBudget() noexcept {
  // fetch_add may overshoot the limit; only what lies below it is granted.
  const std::uint64_t before = cipher_->random_claimed_.fetch_add(kRandomBudgetChunk, std::memory_order_relaxed);
  if (before >= kRandomEncryptionsPerIssue) return false;
  random_budget_ = std::min(kRandomBudgetChunk, kRandomEncryptionsPerIssue - before);
  return true;
}

Status FieldCipher::Session::SealWithNonce(std::string_view plaintext, const FieldContext& context,
                                           std::span<const std::uint8_t> nonce_in,
                                           std::vector<std::uint8_t>& out) {
  if (!ok()) return Status(ErrorCode::kInternal, "cannot create a cipher context");
  if (nonce_in.size() != kGcmNonceSize) return Status(ErrorCode::kInvalidArgument, "nonce must be 12 bytes");
  if (plaintext.size() > kMaxPlaintextSize) {
    return Status(ErrorCode::kInvalidArgument, "value is larger than 16 MiB");
  }
  const auto& header = cipher_->header_;
  std::vector<std::uint8_t>& ad = ScratchAssociatedData();
  AppendAssociatedData(header, context, ad);

  const std::size_t start = out.size();
  const auto pt = AsBytes(plaintext);
  Status s;
  if (cipher_->material_.mode == Mode::kRandom) {
    out.resize(start + header.size() + kGcmNonceSize + plaintext.size() + kTagSize);
    std::uint8_t* p = out.data() + start;
    std::memcpy(p, header.data(), header.size());
    p += header.size();
    std::memcpy(p, nonce_in.data(), kGcmNonceSize);
    s = std::get<AesGcm>(engine_->primitive)
            .Seal({p, kGcmNonceSize}, ad, pt, {p + kGcmNonceSize, plaintext.size()},
                  {p + kGcmNonceSize + plaintext.size(), kTagSize});
  } else if (cipher_->material_.mode == Mode::kDeterministic) {
    out.resize(start + header.size() + kTagSize + plaintext.size());
    std::uint8_t* p = out.data() + start;
    std::memcpy(p, header.data(), header.size());
    p += header.size();
    const std::span<const std::uint8_t> components[] = {ad};
    s = std::get<AesSiv>(engine_->primitive).Seal(components, pt, {p, kTagSize + plaintext.size()});
  } else {
    return Status(ErrorCode::kInvalidArgument, "an index key cannot encrypt");
  }
  if (!s.ok()) out.resize(start);
  return s;
}

Status FieldCipher::Session::Open(std::span<const std::uint8_t> envelope, std::size_t header_size,
                                  const FieldContext& context, std::string& plaintext_out) {
  plaintext_out.clear();
  return OpenAppend(envelope, header_size, context, plaintext_out);
}

Status FieldCipher::Session::OpenAppend(std::span<const std::uint8_t> envelope, std::size_t header_size,
                                        const FieldContext& context, std::string& out) {
  if (!ok()) return Status(ErrorCode::kInternal, "cannot create a cipher context");
  // The envelope must name this cipher's key exactly (its header is the one
  // this cipher writes), so a caller that picked the wrong cipher — say, the
  // version's key for a subject envelope — is refused before any crypto.
  const auto& own = cipher_->header_;
  if (header_size > envelope.size() || header_size != own.size() ||
      (header_size != 0 && std::memcmp(envelope.data(), own.data(), header_size) != 0)) {
    return InvalidCiphertext();
  }
  std::vector<std::uint8_t>& ad = ScratchAssociatedData();
  AppendAssociatedData(envelope.first(header_size), context, ad);
  const auto body = envelope.subspan(header_size);

  const std::size_t start = out.size();
  auto tail = [&](std::size_t n) {
    out.resize(start + n);
    return std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()) + start, n);
  };
  Status s;
  if (cipher_->material_.mode == Mode::kRandom) {
    if (body.size() < kGcmNonceSize + kTagSize) return InvalidCiphertext();
    const std::size_t n = body.size() - kGcmNonceSize - kTagSize;
    s = std::get<AesGcm>(engine_->primitive)
            .Open(body.first(kGcmNonceSize), ad, body.subspan(kGcmNonceSize, n), body.last(kTagSize), tail(n));
  } else if (cipher_->material_.mode == Mode::kDeterministic) {
    if (body.size() < kTagSize) return InvalidCiphertext();
    const std::span<const std::uint8_t> components[] = {ad};
    s = std::get<AesSiv>(engine_->primitive).Open(components, body, tail(body.size() - kTagSize));
  } else {
    return InvalidCiphertext();
  }
  if (!s.ok()) {
    out.resize(start);  // the primitives have already wiped what they wrote
    return InvalidCiphertext();
  }
  return OkStatus();
}

Status FieldCipher::Session::Mac(std::span<const std::uint8_t> message, std::span<std::uint8_t> mac_out) {
  if (!ok()) return Status(ErrorCode::kInternal, "cannot create a MAC context");
  if (cipher_->material_.mode != Mode::kIndex) return Status(ErrorCode::kInvalidArgument, "not an index key");
  return std::get<HmacSha256>(engine_->primitive).Compute(message, mac_out);
}

Status FieldCipher::Seal(std::string_view plaintext, const FieldContext& context,
                         std::vector<std::uint8_t>& out) const {
  return Borrow().Seal(plaintext, context, out);
}

Status FieldCipher::SealWithNonce(std::string_view plaintext, const FieldContext& context,
                                  std::span<const std::uint8_t> nonce, std::vector<std::uint8_t>& out) const {
  return Borrow().SealWithNonce(plaintext, context, nonce, out);
}

Status FieldCipher::Open(std::span<const std::uint8_t> envelope, std::size_t header_size,
                         const FieldContext& context, std::string& plaintext_out) const {
  return Borrow().Open(envelope, header_size, context, plaintext_out);
}

Status FieldCipher::Mac(std::span<const std::uint8_t> message, std::span<std::uint8_t> mac_out) const {
  return Borrow().Mac(message, mac_out);
}

}  // namespace sovereign::internal
