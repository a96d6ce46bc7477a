#include "keystore/internal/server_config.hpp"

#include <charconv>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/json_members.hpp"
#include "sovereign/envelope.hpp"
#include "sdk/internal/json_strict.hpp"

namespace sovereign::keystore_internal {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

Status Invalid(std::string message) { return Status(ErrorCode::kInvalidArgument, std::move(message)); }

// A path member must be a non-empty string; relative paths are relative to
// the configuration file's directory, not to the server's working directory.
Status ReadPath(const Json& object, std::string_view where, std::string_view name, const fs::path& base,
                fs::path& out, bool required) {
  std::string text;
  const bool present = Member(object, name) != nullptr;
  SOVEREIGN_RETURN_IF_ERROR(ReadString(object, where, name, text, required));
  if (!present) return OkStatus();
  if (text.empty()) return Invalid(fmt::format("member {} must not be empty", MemberPath(where, name)));
  fs::path p(text);
  out = (p.is_absolute() ? p : base / p).lexically_normal();
  return OkStatus();
}

// ReadLimits reads the optional /limits object; absent members keep their defaults.
Status ReadLimits(const Json& limits, ServerLimits& out) {
  SOVEREIGN_RETURN_IF_ERROR(ExpectObject(
      limits, "/limits", {"connections_per_principal", "connections_unprivileged", "workers", "body_bytes_in_flight"}));
  const auto read = [&](std::string_view name, std::uint64_t min, std::uint64_t max, std::size_t& value) {
    std::optional<std::uint64_t> v;
    SOVEREIGN_RETURN_IF_ERROR(ReadUnsigned(limits, "/limits", name, min, max, v));
    if (v) value = static_cast<std::size_t>(*v);
    return OkStatus();
  };
  SOVEREIGN_RETURN_IF_ERROR(read("connections_per_principal", 1, 4096, out.connections_per_principal));
  SOVEREIGN_RETURN_IF_ERROR(read("connections_unprivileged", 0, 4096, out.connections_unprivileged));
  SOVEREIGN_RETURN_IF_ERROR(read("workers", 8, 4096, out.workers));
  // At least one whole body must fit, or no request could ever be read.
  SOVEREIGN_RETURN_IF_ERROR(read("body_bytes_in_flight", 4 << 20, std::uint64_t{1} << 34, out.body_bytes_in_flight));
  return OkStatus();
}

}  // namespace

Status ParseListen(std::string_view listen, std::string& host, std::uint16_t& port) {
  const auto bad = [&](std::string_view why) {
    return Invalid(fmt::format("member /listen must be \"host:port\" ({}): {}", why, Json(std::string(listen)).dump()));
  };
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view h = listen.substr(0, colon);
  std::string_view p = listen.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return bad("write IPv6 addresses as [addr]:port");
  }
  if (h.empty()) return bad("no host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) return bad("port 0-65535");
  host = std::string(h);
  port = static_cast<std::uint16_t>(value);
  return OkStatus();
}

Result<ServerConfig> ParseServerConfig(std::string_view text, const fs::path& base_dir) {
  auto parsed = internal::ParseJsonStrict(text, "configuration");
  if (!parsed.ok()) return parsed.status();
  const Json root = std::move(parsed).value();
  SOVEREIGN_RETURN_IF_ERROR(ExpectObject(
      root, "", {"region", "listen", "store", "tls", "audit", "lease_ttl_seconds", "access", "identity", "limits",
                 "witness"}));
  ServerConfig config;

  SOVEREIGN_RETURN_IF_ERROR(ReadString(root, "", "region", config.region, /*required=*/true));
  Status region_ok = ValidateRegion(config.region);
  if (!region_ok.ok()) return Invalid(fmt::format("member /region: {}", region_ok.message()));

  std::string listen;
  SOVEREIGN_RETURN_IF_ERROR(ReadString(root, "", "listen", listen, /*required=*/true));
  SOVEREIGN_RETURN_IF_ERROR(ParseListen(listen, config.listen_host, config.listen_port));

  const Json* store = Member(root, "store");
  if (store == nullptr) return Invalid("missing member /store");
  SOVEREIGN_RETURN_IF_ERROR(ExpectObject(*store, "/store", {"dir"}));
  SOVEREIGN_RETURN_IF_ERROR(ReadPath(*store, "/store", "dir", base_dir, config.store_dir, /*required=*/true));

  const Json* tls = Member(root, "tls");
  if (tls == nullptr) return Invalid("missing member /tls (client certificates are mandatory)");
  SOVEREIGN_RETURN_IF_ERROR(ExpectObject(*tls, "/tls", {"cert", "key", "client_ca"}));
  SOVEREIGN_RETURN_IF_ERROR(ReadPath(*tls, "/tls", "cert", base_dir, config.tls.cert, true));
  SOVEREIGN_RETURN_IF_ERROR(ReadPath(*tls, "/tls", "key", base_dir, config.tls.key, true));
  SOVEREIGN_RETURN_IF_ERROR(ReadPath(*tls, "/tls", "client_ca", base_dir, config.tls.client_ca, true));

  config.audit_path = config.store_dir / kAuditLogFileName;
  if (const Json* audit = Member(root, "audit")) {
    SOVEREIGN_RETURN_IF_ERROR(ExpectObject(*audit, "/audit", {"path"}));
    fs::path path;
    SOVEREIGN_RETURN_IF_ERROR(ReadPath(*audit, "/audit", "path", base_dir, path, /*required=*/false));
    // The log's head lives in the store's catalog and its MAC key under the
    // store's root key, so the log cannot live anywhere else.
    if (!path.empty() && path != config.audit_path) {
      return Invalid(fmt::format("member /audit/path must be the store's audit log {} (got {})",
                                 config.audit_path.string(), path.string()));
    }
  }

  if (const Json* witness = Member(root, "witness")) {
    SOVEREIGN_RETURN_IF_ERROR(ExpectObject(*witness, "/witness", {"path"}));
    SOVEREIGN_RETURN_IF_ERROR(ReadPath(*witness, "/witness", "path", base_dir, config.witness_path, true));
    // A witness inside the store is restored along with it: it would witness nothing.
    const fs::path inside = config.witness_path.lexically_relative(config.store_dir);
    if (!inside.empty() && *inside.begin() != "..") {
      return Invalid(fmt::format("member /witness/path must not be inside the store directory {} (a restore of the "
                                 "store would roll the witness back with it)",
                                 config.store_dir.string()));
    }
  }

  std::optional<std::uint64_t> ttl;
  SOVEREIGN_RETURN_IF_ERROR(ReadUnsigned(root, "", "lease_ttl_seconds", 1, kMaxLeaseTtlSeconds, ttl));
  if (ttl) config.lease_ttl = std::chrono::seconds(static_cast<std::int64_t>(*ttl));

  if (const Json* limits = Member(root, "limits")) {
    SOVEREIGN_RETURN_IF_ERROR(ReadLimits(*limits, config.limits));
  }

  if (const Json* access = Member(root, "access")) {
    auto policy = AccessPolicy::FromJson(*access, "/access");
    if (!policy.ok()) return policy.status();
    config.access = std::move(policy).value();
  }

  if (const Json* identity = Member(root, "identity")) {
    SOVEREIGN_RETURN_IF_ERROR(ExpectObject(*identity, "/identity", {"allow_common_name"}));
    if (const Json* allow = Member(*identity, "allow_common_name")) {
      if (!allow->is_boolean()) return Invalid("member /identity/allow_common_name must be true or false");
      config.identity.allow_common_name = allow->get<bool>();
    }
  }
  return config;
}

Result<ServerConfig> LoadServerConfig(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kFailedPrecondition, fmt::format("cannot read configuration {}", path.string()));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status(ErrorCode::kFailedPrecondition, fmt::format("cannot read configuration {}", path.string()));
  fs::path base = path.parent_path();
  if (base.empty()) base = ".";
  std::error_code ec;
  fs::path absolute_base = fs::absolute(base, ec);
  auto config = ParseServerConfig(text, ec ? base : absolute_base);
  if (!config.ok()) {
    return Status(config.code(), fmt::format("{}: {}", path.string(), config.status().message()));
  }
  return config;
}

}  // namespace sovereign::keystore_internal
