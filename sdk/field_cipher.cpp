#include "sdk/internal/field_cipher.hpp"

#include <array>
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

void PutU32(std::size_t v, std::vector<std::uint8_t>& out) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
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
  out.insert(out.end(), header.begin(), header.end());
  PutU32(context.path.size(), out);
  out.insert(out.end(), context.path.begin(), context.path.end());
  if (context.record_id) {
    out.push_back(0x01);
    PutU32(context.record_id->size(), out);
    out.insert(out.end(), context.record_id->begin(), context.record_id->end());
  } else {
    out.push_back(0x00);
  }
}

struct FieldCipher::Engine {
  std::variant<AesGcm, AesSiv, HmacSha256> primitive;
};

// Lease borrows an engine from the pool for one operation and returns it.
class FieldCipher::Lease {
 public:
  explicit Lease(const FieldCipher& cipher) : cipher_(cipher) {
    {
      std::lock_guard lock(cipher_.pool_mutex_);
      if (!cipher_.pool_.empty()) {
        engine_ = std::move(cipher_.pool_.back());
        cipher_.pool_.pop_back();
        return;
      }
    }
    auto made = cipher_.NewEngine();
    if (made.ok()) engine_ = std::move(made).value();
  }
  ~Lease() {
    if (!engine_) return;
    std::lock_guard lock(cipher_.pool_mutex_);
    if (cipher_.pool_.size() < kMaxPooledEngines) cipher_.pool_.push_back(std::move(engine_));
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  Engine* get() const { return engine_.get(); }

 private:
  const FieldCipher& cipher_;
  std::unique_ptr<Engine> engine_;
};

FieldCipher::FieldCipher(FieldKeyMaterial material, std::vector<std::uint8_t> header)
    : material_(std::move(material)), header_(std::move(header)) {}

FieldCipher::~FieldCipher() = default;

Result<std::shared_ptr<FieldCipher>> FieldCipher::New(FieldKeyMaterial material) {
  if (material.key.size() != FieldKeySize(material.mode)) {
    return Status(ErrorCode::kInternal, "field key has the wrong size for its mode");
  }
  std::vector<std::uint8_t> header;
  if (material.mode != Mode::kIndex) {
    EnvelopeHeader h{material.mode, material.region, material.key_id, material.version, material.label_id};
    SOVEREIGN_RETURN_IF_ERROR(EncodeEnvelopeHeader(h, header));
  }
  std::shared_ptr<FieldCipher> cipher(new FieldCipher(std::move(material), std::move(header)));
  // Build the first engine now so a bad key fails here, not on first use.
  auto engine = cipher->NewEngine();
  if (!engine.ok()) return engine.status();
  cipher->pool_.push_back(std::move(engine).value());
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

Status FieldCipher::Seal(std::string_view plaintext, const FieldContext& context,
                         std::vector<std::uint8_t>& out) const {
  std::array<std::uint8_t, kGcmNonceSize> nonce{};
  if (material_.mode == Mode::kRandom) FillNonce(nonce);
  return SealWithNonce(plaintext, context, nonce, out);
}

Status FieldCipher::SealWithNonce(std::string_view plaintext, const FieldContext& context,
                                  std::span<const std::uint8_t> nonce_in, std::vector<std::uint8_t>& out) const {
  if (nonce_in.size() != kGcmNonceSize) return Status(ErrorCode::kInvalidArgument, "nonce must be 12 bytes");
  if (plaintext.size() > kMaxPlaintextSize) {
    return Status(ErrorCode::kInvalidArgument, "value is larger than 16 MiB");
  }
  Lease lease(*this);
  if (lease.get() == nullptr) return Status(ErrorCode::kInternal, "cannot create a cipher context");
  std::vector<std::uint8_t>& ad = ScratchAssociatedData();
  AppendAssociatedData(header_, context, ad);

  const std::size_t start = out.size();
  const auto pt = AsBytes(plaintext);
  if (material_.mode == Mode::kRandom) {
    out.resize(start + header_.size() + kGcmNonceSize + plaintext.size() + kTagSize);
    std::uint8_t* p = out.data() + start;
    std::copy(header_.begin(), header_.end(), p);
    p += header_.size();
    std::span<std::uint8_t> nonce(p, kGcmNonceSize);
    std::copy(nonce_in.begin(), nonce_in.end(), nonce.begin());
    Status s = std::get<AesGcm>(lease.get()->primitive)
                   .Seal(nonce, ad, pt, {p + kGcmNonceSize, plaintext.size()},
                         {p + kGcmNonceSize + plaintext.size(), kTagSize});
    if (!s.ok()) out.resize(start);
    return s;
  }
  if (material_.mode == Mode::kDeterministic) {
    out.resize(start + header_.size() + kTagSize + plaintext.size());
    std::uint8_t* p = out.data() + start;
    std::copy(header_.begin(), header_.end(), p);
    p += header_.size();
    const std::span<const std::uint8_t> components[] = {ad};
    Status s = std::get<AesSiv>(lease.get()->primitive).Seal(components, pt, {p, kTagSize + plaintext.size()});
    if (!s.ok()) out.resize(start);
    return s;
  }
  return Status(ErrorCode::kInvalidArgument, "an index key cannot encrypt");
}

Status FieldCipher::Open(std::span<const std::uint8_t> envelope, std::size_t header_size,
                         const FieldContext& context, std::string& plaintext_out) const {
  plaintext_out.clear();
  if (header_size > envelope.size()) return InvalidCiphertext();
  Lease lease(*this);
  if (lease.get() == nullptr) return Status(ErrorCode::kInternal, "cannot create a cipher context");
  // The header is authenticated as written in the envelope, not as this
  // cipher would write it: a non-canonical header can then never verify.
  std::vector<std::uint8_t>& ad = ScratchAssociatedData();
  AppendAssociatedData(envelope.first(header_size), context, ad);
  const auto body = envelope.subspan(header_size);

  Status s;
  if (material_.mode == Mode::kRandom) {
    if (body.size() < kGcmNonceSize + kTagSize) return InvalidCiphertext();
    const std::size_t n = body.size() - kGcmNonceSize - kTagSize;
    plaintext_out.resize(n);
    s = std::get<AesGcm>(lease.get()->primitive)
            .Open(body.first(kGcmNonceSize), ad, body.subspan(kGcmNonceSize, n), body.last(kTagSize),
                  {reinterpret_cast<std::uint8_t*>(plaintext_out.data()), n});
  } else if (material_.mode == Mode::kDeterministic) {
    if (body.size() < kTagSize) return InvalidCiphertext();
    plaintext_out.resize(body.size() - kTagSize);
    const std::span<const std::uint8_t> components[] = {ad};
    s = std::get<AesSiv>(lease.get()->primitive)
            .Open(components, body, {reinterpret_cast<std::uint8_t*>(plaintext_out.data()), plaintext_out.size()});
  } else {
    return InvalidCiphertext();
  }
  if (!s.ok()) {
    plaintext_out.clear();
    return InvalidCiphertext();
  }
  return OkStatus();
}

Status FieldCipher::Mac(std::span<const std::uint8_t> message, std::span<std::uint8_t> mac_out) const {
  if (material_.mode != Mode::kIndex) return Status(ErrorCode::kInvalidArgument, "not an index key");
  Lease lease(*this);
  if (lease.get() == nullptr) return Status(ErrorCode::kInternal, "cannot create a MAC context");
  return std::get<HmacSha256>(lease.get()->primitive).Compute(message, mac_out);
}

}  // namespace sovereign::internal
