#include "sovereign/remote_keystore.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <time.h>

#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#include <httplib.h>
#pragma GCC diagnostic pop

#include "sdk/internal/base64url.hpp"
#include "sdk/internal/hex.hpp"

namespace sovereign {

namespace {

using Json = nlohmann::json;
constexpr std::size_t kMaxBatch = 1000;
constexpr std::size_t kMaxPooledConnections = 16;

std::span<const std::uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string B64(std::string_view bytes) {
  std::string out;
  internal::Base64UrlEncode(AsBytes(bytes), out);
  return out;
}

std::chrono::system_clock::time_point ParseRfc3339(const std::string& text) {
  std::tm tm{};
  if (strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Status BadResponse(const std::string& url, std::string_view what) {
  return Status(ErrorCode::kKeystoreUnavailable, fmt::format("keystore {} answered unexpectedly: {}", url, what));
}

// ErrorFrom turns an API error object {"code", "message"} into a Status.
Status ErrorFrom(const Json& error) {
  const std::string code = error.value("code", "internal");
  return Status(ErrorCodeFromName(code), error.value("message", code));
}

Result<KeyInfo> KeyInfoFrom(const Json& j) {
  KeyInfo info;
  info.name = j.at("name").get<std::string>();
  info.id = j.at("id").get<std::uint32_t>();
  info.primary_version = j.at("primary_version").get<std::uint32_t>();
  info.min_decrypt_version = j.value("min_decrypt_version", std::uint32_t{1});
  info.created_at = ParseRfc3339(j.at("created_at").get<std::string>());
  info.subject_keys = j.value("subject_keys", std::uint64_t{0});
  info.shredded_subjects = j.value("shredded_subjects", std::uint64_t{0});
  for (const auto& v : j.at("versions")) {
    auto state = ParseKeyVersionState(v.at("state").get<std::string>());
    if (!state.ok()) return state.status();
    KeyVersionInfo version;
    version.version = v.at("version").get<std::uint32_t>();
    version.state = *state;
    version.created_at = ParseRfc3339(v.at("created_at").get<std::string>());
    version.issues = v.value("issues", std::uint64_t{0});
    version.random_issues = v.value("random_issues", std::uint64_t{0});
    if (v.contains("last_used_at") && v["last_used_at"].is_string()) {
      version.last_used_at = ParseRfc3339(v["last_used_at"].get<std::string>());
    }
    info.versions.push_back(version);
  }
  return info;
}

// IsUtf8 says whether `s` is well-formed UTF-8: JSON carries nothing else,
// so a subject id must be to travel to a remote keystore.
bool IsUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

Status CheckRemoteSubject(std::string_view subject) {
  SOVEREIGN_RETURN_IF_ERROR(ValidateSubject(subject));
  if (!IsUtf8(subject)) {
    return Status(ErrorCode::kInvalidArgument, "a subject id sent to a remote keystore must be UTF-8");
  }
  return OkStatus();
}

struct Endpoint {
  std::string host;
  int port = 443;
};

Result<Endpoint> ParseUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) {
    return Status(ErrorCode::kInvalidArgument, "keystore URL must start with https:// (mutual TLS is mandatory)");
  }
  std::string rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  Endpoint endpoint;
  const auto colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']') == std::string::npos) {
    const std::string port = rest.substr(colon + 1);
    char* end = nullptr;
    const long value = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || value < 1 || value > 65535) {
      return Status(ErrorCode::kInvalidArgument, "keystore URL has an invalid port");
    }
    endpoint.port = static_cast<int>(value);
    rest.resize(colon);
  }
  if (rest.empty() || rest.find('/') != std::string::npos) {
    return Status(ErrorCode::kInvalidArgument, "keystore URL must be https://HOST[:PORT]");
  }
  endpoint.host = rest;
  return endpoint;
}

Status CheckFile(const std::string& path, std::string_view what) {
  struct stat st{};
  if (path.empty()) return Status(ErrorCode::kInvalidArgument, fmt::format("a remote keystore needs {}", what));
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("{} '{}' is not a readable file", what, path));
  }
  return OkStatus();
}

class RemoteKeystoreImpl final : public RemoteKeystore {
 public:
  RemoteKeystoreImpl(RemoteKeystoreOptions options, Endpoint endpoint)
      : options_(std::move(options)), endpoint_(std::move(endpoint)) {}

  Status Init() {
    auto health = Call("GET", "/v1/health", nullptr);
    if (!health.ok()) return health.status();
    if (!health->contains("region") || !(*health)["region"].is_string()) return BadResponse(url(), "no region");
    region_ = (*health)["region"].get<std::string>();
    return ValidateRegion(region_);
  }

  const std::string& url() const noexcept override { return options_.url; }
  const std::string& region() const noexcept override { return region_; }
  bool SupportsRemoteOperations() const noexcept override { return true; }

  Result<FieldKeyMaterial> PrimaryFieldKey(std::string_view key_name, Mode mode, std::string_view label) override {
    return Lease({{"key", key_name}, {"mode", ModeName(mode)}, {"label", label}});
  }

  Result<FieldKeyMaterial> FieldKey(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                    std::uint32_t label_id) override {
    return Lease({{"key_id", key_id}, {"version", version}, {"mode", ModeName(mode)}, {"label_id", label_id}});
  }

  std::vector<Result<std::string>> RemoteEncrypt(std::span<const RemoteEncryptItem> items) override {
    // Items whose subject cannot travel as JSON fail alone; the rest go out.
    std::vector<std::size_t> sent;
    std::vector<Result<std::string>> out;
    out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      Status ok = items[i].subject ? CheckRemoteSubject(*items[i].subject) : OkStatus();
      out.push_back(ok.ok() ? Result<std::string>(Status(ErrorCode::kInternal, "not sent")) : Result<std::string>(ok));
      if (ok.ok()) sent.push_back(i);
    }
    auto answered = Batch("/v1/encrypt", sent.size(), "ciphertext", false, [&](std::size_t n) {
      const auto& item = items[sent[n]];
      Json j = {{"key", item.key},   {"label", item.label},         {"mode", ModeName(item.mode)},
                {"path", item.context->path}, {"plaintext", B64(item.plaintext)}};
      j["record_id"] = item.context->record_id ? Json(*item.context->record_id) : Json(nullptr);
      if (item.subject) j["subject"] = *item.subject;
      return j;
    });
    for (std::size_t n = 0; n < sent.size(); ++n) out[sent[n]] = std::move(answered[n]);
    return out;
  }

  std::vector<Result<FieldKeyMaterial>> FieldKeys(std::span<const FieldKeyRequest> requests) override {
    std::vector<Result<FieldKeyMaterial>> out;
    out.reserve(requests.size());
    std::vector<std::size_t> sent;  // indexes of the requests that go to the keystore
    for (std::size_t i = 0; i < requests.size(); ++i) {
      Status ok = CheckRequest(requests[i]);
      out.push_back(ok.ok() ? Result<FieldKeyMaterial>(Status(ErrorCode::kInternal, "not answered"))
                            : Result<FieldKeyMaterial>(ok));
      if (ok.ok()) sent.push_back(i);
    }
    // One /v1/leases request per kMaxBatch items: the service's batch limit.
    for (std::size_t start = 0; start < sent.size(); start += kMaxBatch) {
      const std::size_t end = std::min(sent.size(), start + kMaxBatch);
      Json body = {{"items", Json::array()}};
      for (std::size_t n = start; n < end; ++n) body["items"].push_back(LeaseItem(requests[sent[n]]));
      auto r = Call("POST", "/v1/leases", &body);
      const Json* answers = nullptr;
      if (r.ok()) {
        auto it = r->find("items");
        if (it != r->end() && it->is_array() && it->size() == end - start && r->contains("ttl_seconds")) {
          answers = &*it;
        } else {
          r = BadResponse(url(), "a lease batch answered the wrong number of items");
        }
      }
      for (std::size_t n = start; n < end; ++n) {
        const std::size_t i = sent[n];
        if (!r.ok()) {
          out[i] = r.status();
          continue;
        }
        out[i] = LeaseFrom((*answers)[n - start], (*r)["ttl_seconds"]);
        if (out[i].ok() && !Matches(*out[i], requests[i])) {
          out[i] = BadResponse(url(), "a lease answered with a key that was not asked for");
        }
      }
    }
    return out;
  }

  Result<ShredReport> ShredSubject(std::string_view name, std::string_view subject, std::string_view reason) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    SOVEREIGN_RETURN_IF_ERROR(CheckRemoteSubject(subject));
    SOVEREIGN_RETURN_IF_ERROR(ValidateShredReason(reason));
    Json body = {{"subject", subject}, {"reason", reason}};
    auto r = Call("POST", fmt::format("/v1/keys/{}/subjects/shred", name), &body);
    if (!r.ok()) return r.status();
    try {
      ShredReport report;
      report.key = r->at("key").get<std::string>();
      report.subject_tag = r->at("subject_tag").get<std::string>();
      report.subject_keys_destroyed = r->at("subject_keys_destroyed").get<std::uint64_t>();
      report.already_shredded = r->at("already_shredded").get<bool>();
      report.wal_truncation_postponed = r->value("wal_truncation_postponed", false);
      if (report.key != name || report.subject_tag.size() != 2 * kSubjectTagSize) {
        return BadResponse(url(), "a shred report for another key or subject");
      }
      return report;
    } catch (const Json::exception&) {
      return BadResponse(url(), "malformed shred report");
    }
  }

  std::vector<Result<std::string>> RemoteDecrypt(std::span<const RemoteDecryptItem> items) override {
    return Batch("/v1/decrypt", items.size(), "plaintext", true, [&](std::size_t i) {
      const auto& item = items[i];
      Json j = {{"ciphertext", item.ciphertext}, {"path", item.context->path}};
      j["record_id"] = item.context->record_id ? Json(*item.context->record_id) : Json(nullptr);
      return j;
    });
  }

  Result<KeyInfo> CreateKey(std::string_view name) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    Json body = {{"key", name}};
    auto r = Call("POST", "/v1/keys", &body);
    if (!r.ok()) return r.status();
    return ParseKeyInfo(*r);
  }

  Result<KeyInfo> RotateKey(std::string_view name) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    Json body = Json::object();
    auto r = Call("POST", fmt::format("/v1/keys/{}/rotate", name), &body);
    if (!r.ok()) return r.status();
    return ParseKeyInfo(*r);
  }

  Result<KeyInfo> RetireVersionsBelow(std::string_view name, std::uint32_t version) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    Json body = {{"below", version}};
    return Admin(fmt::format("/v1/keys/{}/retire", name), body);
  }

  Result<KeyInfo> SetVersionEnabled(std::string_view name, std::uint32_t version, bool enabled) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    return Admin(fmt::format("/v1/keys/{}/versions/{}/{}", name, version, enabled ? "enable" : "disable"),
                 Json::object());
  }

  Result<KeyInfo> DestroyVersion(std::string_view name, std::uint32_t version) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    return Admin(fmt::format("/v1/keys/{}/versions/{}/destroy", name, version), {{"confirm", true}});
  }

  Result<KeyInfo> GetKey(std::string_view name) override {
    auto keys = ListKeys();
    if (!keys.ok()) return keys.status();
    for (auto& key : *keys) {
      if (key.name == name) return std::move(key);
    }
    return Status(ErrorCode::kKeyNotFound, fmt::format("key '{}' not found in region '{}'", name, region_));
  }

  Result<std::vector<KeyInfo>> ListKeys() override {
    auto r = Call("GET", "/v1/keys", nullptr);
    if (!r.ok()) return r.status();
    std::vector<KeyInfo> keys;
    try {
      for (const auto& k : r->at("keys")) {
        auto info = KeyInfoFrom(k);
        if (!info.ok()) return info.status();
        keys.push_back(std::move(info).value());
      }
    } catch (const Json::exception&) {
      return BadResponse(url(), "malformed key list");
    }
    return keys;
  }

 private:
  Result<KeyInfo> ParseKeyInfo(const Json& j) {
    try {
      return KeyInfoFrom(j);
    } catch (const Json::exception&) {
      return BadResponse(url(), "malformed key description");
    }
  }

  Result<KeyInfo> Admin(const std::string& path, const Json& body) {
    auto r = Call("POST", path, &body);
    if (!r.ok()) return r.status();
    return ParseKeyInfo(*r);
  }

  // CheckRequest refuses, before anything is sent, a request the keystore
  // would refuse as malformed (and fail the whole batch for).
  static Status CheckRequest(const FieldKeyRequest& r) {
    if (r.by_name) {
      SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(r.key_name));
      SOVEREIGN_RETURN_IF_ERROR(ValidateLabel(r.label));
      if (r.subject_tag) return Status(ErrorCode::kInvalidArgument, "a request by name names its subject by id, not tag");
      if (r.subject) SOVEREIGN_RETURN_IF_ERROR(CheckRemoteSubject(*r.subject));
    } else {
      if (r.key_id == 0 || r.version == 0 || r.label_id == 0) {
        return Status(ErrorCode::kInvalidArgument, "key id, version and label id must be at least 1");
      }
      if (r.subject) return Status(ErrorCode::kInvalidArgument, "a request by ids names its subject by tag, not id");
    }
    return OkStatus();
  }

  static Json LeaseItem(const FieldKeyRequest& r) {
    Json j;
    if (r.by_name) {
      j = {{"key", r.key_name}, {"mode", ModeName(r.mode)}, {"label", r.label}};
      if (r.subject) j["subject"] = *r.subject;
    } else {
      j = {{"key_id", r.key_id}, {"version", r.version}, {"mode", ModeName(r.mode)}, {"label_id", r.label_id}};
      if (r.subject_tag) j["subject_tag"] = internal::ToHex(*r.subject_tag);
    }
    return j;
  }

  // Matches says whether `m` is the key `r` asked for: a keystore must not
  // answer one subject's request with another's (or with no subject's) key.
  bool Matches(const FieldKeyMaterial& m, const FieldKeyRequest& r) const {
    if (m.region != region_ || m.mode != r.mode) return false;
    if (r.by_name) {
      return m.key_name == r.key_name && m.label == r.label && m.subject_tag.has_value() == r.subject.has_value();
    }
    return m.key_id == r.key_id && m.version == r.version && m.label_id == r.label_id && m.subject_tag == r.subject_tag;
  }

  Result<FieldKeyMaterial> Lease(Json item) {
    Json body = {{"items", Json::array({std::move(item)})}};
    auto r = Call("POST", "/v1/leases", &body);
    if (!r.ok()) return r.status();
    try {
      return LeaseFrom(r->at("items").at(0), r->at("ttl_seconds"));
    } catch (const Json::exception&) {
      return BadResponse(url(), "malformed lease");
    }
  }

  // LeaseFrom reads one answered item of /v1/leases.
  Result<FieldKeyMaterial> LeaseFrom(const Json& result, const Json& ttl_seconds) {
    try {
      if (result.contains("error")) return ErrorFrom(result["error"]);
      const Json& ok = result.at("ok");
      FieldKeyMaterial m;
      m.region = ok.at("region").get<std::string>();
      m.key_name = ok.at("key").get<std::string>();
      m.key_id = ok.at("key_id").get<std::uint32_t>();
      m.version = ok.at("version").get<std::uint32_t>();
      auto mode = ParseMode(ok.at("mode").get<std::string>());
      if (!mode.ok()) return BadResponse(url(), "unknown mode");
      m.mode = *mode;
      m.label = ok.at("label").get<std::string>();
      m.label_id = ok.at("label_id").get<std::uint32_t>();
      if (ok.contains("subject_tag")) {
        const std::string& hex = ok["subject_tag"].get_ref<const std::string&>();
        SubjectTag tag{};
        if (hex.size() != 2 * tag.size()) return BadResponse(url(), "malformed subject tag");
        for (std::size_t k = 0; k < tag.size(); ++k) {
          unsigned value = 0;
          auto [end, ec] = std::from_chars(hex.data() + 2 * k, hex.data() + 2 * k + 2, value, 16);
          if (ec != std::errc() || end != hex.data() + 2 * k + 2) return BadResponse(url(), "malformed subject tag");
          tag[k] = static_cast<std::uint8_t>(value);
        }
        m.subject_tag = tag;
      }
      std::vector<std::uint8_t> key;
      const bool decoded = internal::Base64UrlDecode(ok.at("field_key").get_ref<const std::string&>(), key);
      m.key = SecretBytes(key, InsecureSecretKeyAccess::Get());
      OPENSSL_cleanse(key.data(), key.size());
      if (!decoded || m.key.size() != FieldKeySize(m.mode)) return BadResponse(url(), "malformed field key");
      m.expires_at = std::chrono::system_clock::now() + std::chrono::seconds(ttl_seconds.get<std::int64_t>());
      return m;
    } catch (const Json::exception&) {
      return BadResponse(url(), "malformed lease");
    }
  }

  // Batch posts items in chunks of at most 1000 and collects one result per
  // item; `field` names the member of a successful item's answer.
  template <typename MakeItem>
  std::vector<Result<std::string>> Batch(const std::string& path, std::size_t n, const char* field,
                                         bool field_is_base64, MakeItem make) {
    std::vector<Result<std::string>> out;
    out.reserve(n);
    for (std::size_t start = 0; start < n; start += kMaxBatch) {
      const std::size_t end = std::min(n, start + kMaxBatch);
      Json body = {{"items", Json::array()}};
      for (std::size_t i = start; i < end; ++i) body["items"].push_back(make(i));
      auto r = Call("POST", path, &body);
      for (std::size_t i = start; i < end; ++i) out.push_back(r.ok() ? ItemResult(*r, i - start, field, field_is_base64)
                                                                  : Result<std::string>(r.status()));
    }
    return out;
  }

  Result<std::string> ItemResult(const Json& response, std::size_t i, const char* field, bool base64) {
    try {
      const Json& item = response.at("items").at(i);
      if (item.contains("error")) return ErrorFrom(item["error"]);
      const std::string& value = item.at(field).get_ref<const std::string&>();
      if (!base64) return value;
      std::vector<std::uint8_t> bytes;
      if (!internal::Base64UrlDecode(value, bytes)) return BadResponse(url(), "malformed base64url");
      std::string decoded(bytes.begin(), bytes.end());
      if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());  // a plaintext: leave no copy behind
      return decoded;
    } catch (const Json::exception&) {
      return BadResponse(url(), "malformed batch answer");
    }
  }

  std::unique_ptr<httplib::SSLClient> NewConnection() const {
    auto client = std::make_unique<httplib::SSLClient>(endpoint_.host, endpoint_.port, options_.tls_cert,
                                                       options_.tls_key);
    client->set_ca_cert_path(options_.tls_ca.c_str());
    client->enable_server_certificate_verification(true);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);  // small requests: never wait for a delayed ACK
    const auto seconds = static_cast<time_t>(options_.timeout.count());
    client->set_connection_timeout(seconds);
    client->set_read_timeout(seconds);
    client->set_write_timeout(seconds);
    return client;
  }

  // Call sends one request on a pooled connection and returns the JSON body
  // of a 2xx answer; other answers become the Status the body names.
  Result<Json> Call(const std::string& method, const std::string& path, const Json* body) {
    std::unique_ptr<httplib::SSLClient> client;
    {
      std::lock_guard lock(pool_mutex_);
      if (!pool_.empty()) {
        client = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    const bool reused = client != nullptr;
    if (!client) client = NewConnection();
    const std::string payload = body ? body->dump() : std::string();
    auto send = [&] {
      return method == "GET" ? client->Get(path.c_str()) : client->Post(path.c_str(), payload, "application/json");
    };
    httplib::Result res = send();
    // A pooled connection the keystore closed while idle fails at once. A
    // write failure means the request never left; a read failure may follow a
    // request the keystore did act on, so only requests without side effects
    // beyond their audit record (not key creation or rotation) are resent.
    const bool repeatable = method == "GET" || !path.starts_with("/v1/keys");
    if (!res && reused &&
        (res.error() == httplib::Error::Write || (res.error() == httplib::Error::Read && repeatable))) {
      client = NewConnection();
      res = send();
    }
    if (!res) {
      return Status(ErrorCode::kKeystoreUnavailable,
                    fmt::format("cannot reach keystore {}: {}", url(), httplib::to_string(res.error())));
    }
    Json answer = Json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    {
      std::lock_guard lock(pool_mutex_);
      if (pool_.size() < kMaxPooledConnections) pool_.push_back(std::move(client));
    }
    if (res->status >= 200 && res->status < 300) {
      if (answer.is_discarded() || !answer.is_object()) return BadResponse(url(), "body is not a JSON object");
      return answer;
    }
    if (answer.is_object() && answer.contains("error") && answer["error"].is_object()) {
      return ErrorFrom(answer["error"]);
    }
    return Status(res->status == 503 ? ErrorCode::kKeystoreUnavailable : ErrorCode::kInternal,
                  fmt::format("keystore {} answered HTTP {}", url(), res->status));
  }

  RemoteKeystoreOptions options_;
  Endpoint endpoint_;
  std::string region_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<httplib::SSLClient>> pool_;
};

}  // namespace

RemoteKeystore::~RemoteKeystore() = default;

Result<std::shared_ptr<RemoteKeystore>> RemoteKeystore::Connect(RemoteKeystoreOptions options) {
  auto endpoint = ParseUrl(options.url);
  if (!endpoint.ok()) return endpoint.status();
  SOVEREIGN_RETURN_IF_ERROR(CheckFile(options.tls_cert, "a client certificate (--tls-cert)"));
  SOVEREIGN_RETURN_IF_ERROR(CheckFile(options.tls_key, "a client key (--tls-key)"));
  SOVEREIGN_RETURN_IF_ERROR(CheckFile(options.tls_ca, "a CA certificate (--tls-ca)"));
  auto keystore = std::make_shared<RemoteKeystoreImpl>(std::move(options), std::move(endpoint).value());
  SOVEREIGN_RETURN_IF_ERROR(keystore->Init());
  return std::shared_ptr<RemoteKeystore>(std::move(keystore));
}

}  // namespace sovereign
