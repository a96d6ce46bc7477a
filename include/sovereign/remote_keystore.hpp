// RemoteKeystore: a region's keystore reached over HTTPS with a client
// certificate (see docs/keystore-api.md). It hands field keys to principals
// allowed to `lease` them, encrypts and decrypts remotely for principals
// allowed only `encrypt`/`decrypt`, and administers keys for `admin`.
// FieldKeys sends one POST /v1/leases per 1000 requests (the service's batch
// limit) and checks that each answered key is the one asked for, subject tag
// included; subject ids travel as JSON strings, so they must be UTF-8 (else
// that request alone fails with kInvalidArgument).
//
// Thread safety: all methods are safe to call concurrently; requests run on a
// small pool of keep-alive connections.
// Security: the server certificate must chain to `tls_ca` and name the host;
// leased field keys live only in SecretBytes (secure heap: locked, not dumped).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sovereign/export.hpp"
#include "sovereign/key_admin.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

struct RemoteKeystoreOptions {
  std::string url;       // "https://host:port"
  std::string tls_cert;  // client certificate (PEM file): who we are
  std::string tls_key;   // its private key (PEM file)
  std::string tls_ca;    // CA certificate(s) (PEM file) the keystore's certificate must chain to
  std::chrono::seconds timeout{10};
};

class SOVEREIGN_EXPORT RemoteKeystore : public KeySource, public KeyAdmin {
 public:
  // Connect checks the options, asks the keystore for its region (GET
  // /v1/health) and returns a client for it. kInvalidArgument for a bad URL or
  // missing files (named), kKeystoreUnavailable when the keystore cannot be
  // reached or the TLS handshake fails.
  static Result<std::shared_ptr<RemoteKeystore>> Connect(RemoteKeystoreOptions options);

  ~RemoteKeystore() override;

  // url returns the keystore's URL, for messages.
  virtual const std::string& url() const noexcept = 0;

  // region() is the keystore's region, as it reported it.
  const std::string& region() const noexcept override = 0;

 protected:
  RemoteKeystore() = default;
};

}  // namespace sovereign
