// The keystore service benchmark's environment: one `us` keystore directory
// (on a chosen filesystem) served by a real `sovereign serve` process, plus
// the in-process EmbeddedKeystore and Client over the same directory for the
// local baselines.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"
#include "sovereign/remote_keystore.hpp"
#include "tests/support/https_client.hpp"
#include "tests/support/pki.hpp"
#include "tests/support/server_process.hpp"

namespace sovereign::bench {

// ScratchDir is a fresh directory under `base`, removed with its contents on destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::filesystem::path& base);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// BenchClient is one keep-alive mTLS connection as the US app, like the
// tests' HttpsClient but with TCP_NODELAY selectable (httplib leaves Nagle on).
class BenchClient {
 public:
  BenchClient(int port, const test::TestPki& pki, bool tcp_nodelay);
  ~BenchClient();
  BenchClient(const BenchClient&) = delete;
  BenchClient& operator=(const BenchClient&) = delete;
  // Get/Post return the HTTP status (0: no response) and fill `body` (or the transport error).
  int Get(const char* path, std::string& body);
  int Post(const char* path, const std::string& request, std::string& body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// FilesystemName names the filesystem holding `path` ("tmpfs", "ext4", …).
std::string FilesystemName(const std::filesystem::path& path);

class KeystoreEnv {
 public:
  // Lays out a `us` keystore with key `users` under a fresh directory in
  // `base`, whose access policy lets the PKI's US app lease, encrypt and
  // decrypt `users` (every label), starts `sovereign serve` on 127.0.0.1:0,
  // and opens the same directory in-process. Throws std::runtime_error.
  KeystoreEnv(const std::filesystem::path& base, const test::TestPki& pki);
  ~KeystoreEnv();

  const test::TestPki& pki() const { return pki_; }
  const std::filesystem::path& store_dir() const { return region_.store_dir; }
  test::ServerProcess& server() { return *server_; }
  EmbeddedKeystore& embedded() { return *embedded_; }
  const Client& local_client() const { return *local_client_; }
  // remote is the SDK's RemoteKeystore for the US app (pooled keep-alive connections).
  RemoteKeystore& remote() { return *remote_; }

  // AppClient opens one new keep-alive mTLS connection as the US app.
  std::unique_ptr<BenchClient> AppClient(bool tcp_nodelay) const;

  // AuditWrites reads sovereign_audit_writes_total{outcome="ok"} from /metrics.
  std::uint64_t AuditWrites();

 private:
  const test::TestPki& pki_;
  ScratchDir dir_;
  test::Region region_;
  std::unique_ptr<test::ServerProcess> server_;
  std::shared_ptr<EmbeddedKeystore> embedded_;
  std::unique_ptr<Client> local_client_;
  std::shared_ptr<RemoteKeystore> remote_;
  std::unique_ptr<test::HttpsClient> probe_;
};

// DecryptFixture is `count` random 32-byte values encrypted (random mode)
// under us/users/email, each bound to path "/email" and record "user-<i>".
struct DecryptFixture {
  std::vector<std::string> values;
  std::vector<FieldContext> contexts;
  std::vector<std::string> ciphertexts;
  std::vector<RemoteDecryptItem> items;  // views into the vectors above

  DecryptFixture(const Client& client, std::size_t count);
  DecryptFixture(const DecryptFixture&) = delete;
  DecryptFixture& operator=(const DecryptFixture&) = delete;

  // Body is the POST /v1/decrypt request for the first `n` fields.
  std::string Body(std::size_t n) const;
};

}  // namespace sovereign::bench
