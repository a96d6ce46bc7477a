// ServerConfig: keystore.json, the configuration of `sovereign serve`
// (every member documented in docs/operations.md).
//
// Parsing is strict: an unknown member anywhere is an error naming it and its
// JSON path; a member of the wrong type names the member. Relative file paths
// are resolved against the directory holding the configuration file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "keystore/internal/access_policy.hpp"
#include "keystore/internal/principal.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

inline constexpr std::chrono::seconds kDefaultLeaseTtl{300};
inline constexpr std::uint64_t kMaxLeaseTtlSeconds = 86400;

struct ServerTlsConfig {
  std::filesystem::path cert;       // PEM server certificate chain
  std::filesystem::path key;        // PEM private key
  std::filesystem::path client_ca;  // PEM CA(s) that client certificates must chain to
};

// ServerLimits bound what any one client can take from the service (member
// /limits; keystore/service/limits.hpp).
struct ServerLimits {
  // Open connections one principal that some access rule names may hold; a
  // handshake past it fails. Instances of one workload share a SPIFFE ID,
  // and so this allowance.
  std::size_t connections_per_principal = 64;
  // Open connections of a principal no access rule names (it can do nothing
  // but hold them); all certificates that name no valid principal share one
  // such allowance.
  std::size_t connections_unprivileged = 4;
  // Worker threads: each open connection holds one while it is open.
  std::size_t workers = 256;
  // Request body bytes being read or handled at once, over all connections.
  std::size_t body_bytes_in_flight = std::size_t{32} << 20;
};

struct ServerConfig {
  std::string region;
  std::string listen_host;       // "127.0.0.1", "::1", "0.0.0.0", a host name
  std::uint16_t listen_port = 0; // 0: any free port (tests)
  std::filesystem::path store_dir;
  ServerTlsConfig tls;
  // The audit log: always the store's audit.log (the only value accepted).
  std::filesystem::path audit_path;
  // The rollback witness (member /witness/path): an append-only file of audit
  // heads outside the store; empty when none is configured.
  std::filesystem::path witness_path;
  std::chrono::seconds lease_ttl = kDefaultLeaseTtl;
  AccessPolicy access;
  ServerLimits limits;
  // Who a client certificate names (member /identity); read once at start.
  IdentityOptions identity;
};

// ParseServerConfig parses the JSON text of a configuration. `base_dir`
// resolves relative paths. kInvalidArgument naming the member for any
// malformation. It does not touch the file system beyond path arithmetic.
Result<ServerConfig> ParseServerConfig(std::string_view text, const std::filesystem::path& base_dir);

// LoadServerConfig reads and parses the file at `path`.
Result<ServerConfig> LoadServerConfig(const std::filesystem::path& path);

// ParseListen splits "host:port" or "[v6]:port".
Status ParseListen(std::string_view listen, std::string& host, std::uint16_t& port);

}  // namespace sovereign::keystore_internal
