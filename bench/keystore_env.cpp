#include "bench/keystore_env.hpp"

#include <linux/magic.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <system_error>

#include <nlohmann/json.hpp>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wshadow"
#include <httplib.h>
#pragma GCC diagnostic pop

namespace sovereign::bench {
namespace {

std::string StatusText(const Status& status) { return std::string(status.message()); }

// The app may also read /metrics (the benchmark counts audit writes there);
// the offshore engineer may encrypt only, the hostile connections' owner.
nlohmann::json AppAccess() {
  return nlohmann::json::array({{{"principal", test::kUsAppId},
                                 {"allow", {"lease", "encrypt", "decrypt", "metrics"}},
                                 {"keys", {"users"}},
                                 {"labels", {"*"}}},
                                {{"principal", test::kCnEngineerId},
                                 {"allow", {"encrypt"}},
                                 {"keys", {"users"}},
                                 {"labels", {"email"}}}});
}

}  // namespace

ScratchDir::ScratchDir(const std::filesystem::path& base) {
  std::string tmpl = (base / "sovereign-kbench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

struct BenchClient::Impl {
  explicit Impl(int port, const test::TestPki& pki)
      : client("127.0.0.1", port, pki.us_app().cert.string(), pki.us_app().key.string()) {}
  httplib::SSLClient client;
};

BenchClient::BenchClient(int port, const test::TestPki& pki, bool tcp_nodelay)
    : impl_(std::make_unique<Impl>(port, pki)) {
  auto& c = impl_->client;
  if (!c.is_valid()) throw std::runtime_error("httplib::SSLClient: cannot load the US app identity");
  c.set_ca_cert_path(pki.ca().string());
  c.enable_server_certificate_verification(true);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(tcp_nodelay);
  c.set_connection_timeout(10);
  c.set_read_timeout(30);
}

BenchClient::~BenchClient() = default;

namespace {
int Answer(httplib::Result r, std::string& body) {
  if (!r) {
    body = httplib::to_string(r.error());
    return 0;
  }
  body = std::move(r.value().body);
  return r.value().status;
}
}  // namespace

int BenchClient::Get(const char* path, std::string& body) { return Answer(impl_->client.Get(path), body); }

int BenchClient::Post(const char* path, const std::string& request, std::string& body) {
  return Answer(impl_->client.Post(path, request, "application/json"), body);
}

std::string FilesystemName(const std::filesystem::path& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case TMPFS_MAGIC: return "tmpfs";
    case EXT4_SUPER_MAGIC: return "ext4";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    default: return "fs-type-" + std::to_string(static_cast<unsigned long>(fs.f_type));
  }
}

KeystoreEnv::KeystoreEnv(const std::filesystem::path& base, const test::TestPki& pki)
    : pki_(pki), dir_(base), region_(test::PrepareRegion(dir_.path(), "us", pki, AppAccess())) {
  server_ = std::make_unique<test::ServerProcess>(region_.config_path);
  auto embedded = EmbeddedKeystore::Open(region_.store_dir);
  if (!embedded.ok()) throw std::runtime_error("EmbeddedKeystore::Open: " + StatusText(embedded.status()));
  embedded_ = std::move(embedded).value();
  auto client = Client::New(embedded_);
  if (!client.ok()) throw std::runtime_error("Client::New: " + StatusText(client.status()));
  local_client_ = std::move(client).value();
  RemoteKeystoreOptions options;
  options.url = server_->Url();
  options.tls_cert = pki.us_app().cert.string();
  options.tls_key = pki.us_app().key.string();
  options.tls_ca = pki.ca().string();
  auto remote = RemoteKeystore::Connect(options);
  if (!remote.ok()) throw std::runtime_error("RemoteKeystore::Connect: " + StatusText(remote.status()));
  remote_ = std::move(remote).value();
  probe_ = std::make_unique<test::HttpsClient>(server_->port(), pki.ca(), pki.us_app());
}

KeystoreEnv::~KeystoreEnv() {
  remote_.reset();
  probe_.reset();
  if (server_) server_->Stop();
}

std::unique_ptr<BenchClient> KeystoreEnv::AppClient(bool tcp_nodelay) const {
  return std::make_unique<BenchClient>(server_->port(), pki_, tcp_nodelay);
}

std::uint64_t KeystoreEnv::AuditWrites() {
  // A fresh connection each time: the server closes keep-alive connections
  // idle for 5 s (httplib's default), longer than a run, and httplib does not retry.
  probe_ = std::make_unique<test::HttpsClient>(server_->port(), pki_.ca(), pki_.us_app());
  const auto r = probe_->Get("/metrics");
  if (r.status != 200) throw std::runtime_error("GET /metrics -> " + std::to_string(r.status) + r.transport_error);
  static constexpr std::string_view kName = "sovereign_audit_writes_total{outcome=\"ok\"} ";
  const auto at = r.body.find(kName);
  if (at == std::string::npos) throw std::runtime_error("GET /metrics: no sovereign_audit_writes_total");
  return std::strtoull(r.body.c_str() + at + kName.size(), nullptr, 10);
}

DecryptFixture::DecryptFixture(const Client& client, std::size_t count) {
  std::mt19937_64 rng(20240601);
  const FieldSpec spec{"us", "users", "email", Mode::kRandom};
  values.reserve(count);
  contexts.reserve(count);
  ciphertexts.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::string value(32, '\0');
    for (char& c : value) c = static_cast<char>(rng() & 0xff);
    values.push_back(std::move(value));
    contexts.push_back(FieldContext{"/email", "user-" + std::to_string(i)});
    auto ct = client.Encrypt(spec, values.back(), contexts.back());
    if (!ct.ok()) throw std::runtime_error("local Encrypt: " + StatusText(ct.status()));
    ciphertexts.push_back(std::move(ct).value());
  }
  items.reserve(count);
  for (std::size_t i = 0; i < count; ++i) items.push_back(RemoteDecryptItem{ciphertexts[i], &contexts[i]});
}

std::string DecryptFixture::Body(std::size_t n) const {
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i) {
    list.push_back({{"ciphertext", ciphertexts[i]}, {"path", contexts[i].path}, {"record_id", *contexts[i].record_id}});
  }
  return nlohmann::json{{"items", std::move(list)}}.dump();
}

}  // namespace sovereign::bench
