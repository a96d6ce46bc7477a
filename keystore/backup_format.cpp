// The backup file's container (see backup_format.hpp).
#include "keystore/internal/backup_format.hpp"

#include <openssl/crypto.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keystore/internal/audit_entry.hpp"
#include "sdk/internal/hex.hpp"
#include "sdk/internal/hmac_sha256.hpp"

namespace sovereign::keystore_internal {
namespace {

constexpr std::string_view kMagic = "SOVBKUP1\n";
// Format 2 added the MAC trailer; format 1 files (no MAC) are refused.
constexpr int kFormat = 2;
constexpr std::string_view kMacInfo = "sovereign/v1/backup-mac";
constexpr std::size_t kMacTrailer = 2 * internal::kSha256Size + 1;  // hex + '\n'

std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Result<std::string> MacHex(std::string_view authenticated, const SecretBytes& root_key) {
  SecretBytes mac_key(internal::kSha256Size);
  SOVEREIGN_RETURN_IF_ERROR(internal::HkdfSha256(root_key.bytes(InsecureSecretKeyAccess::Get()), {}, Bytes(kMacInfo),
                                                 mac_key.mutable_bytes(InsecureSecretKeyAccess::Get())));
  auto mac = internal::HmacSha256::New(mac_key.bytes(InsecureSecretKeyAccess::Get()));
  if (!mac.ok()) return mac.status();
  std::array<std::uint8_t, internal::kSha256Size> out;
  SOVEREIGN_RETURN_IF_ERROR(mac->Compute(Bytes(authenticated), out));
  return internal::ToHex(out);
}
constexpr std::size_t kMaxHeaderLine = 4096;

Status Damaged(std::string_view why) {
  return Status(ErrorCode::kFailedPrecondition, fmt::format("not a usable Sovereign keystore backup: {}", why));
}

}  // namespace

Result<std::string> EncodeBackup(const BackupHeader& header, std::string_view catalog_image,
                                 std::string_view audit_log, const SecretBytes& root_key) {
  auto catalog_hash = Sha256Hex(catalog_image);
  if (!catalog_hash.ok()) return catalog_hash.status();
  auto audit_hash = Sha256Hex(audit_log);
  if (!audit_hash.ok()) return audit_hash.status();
  const nlohmann::json line = {{"format", kFormat},
                               {"region", header.region},
                               {"created_at", ToMicros(header.created_at)},
                               {"catalog_bytes", catalog_image.size()},
                               {"catalog_sha256", *catalog_hash},
                               {"audit_bytes", audit_log.size()},
                               {"audit_sha256", *audit_hash},
                               {"audit_head", {{"seq", header.audit_head.seq}, {"hash", header.audit_head.hash}}}};
  std::string out(kMagic);
  out += line.dump();
  out += '\n';
  out.append(catalog_image);
  out.append(audit_log);
  auto mac = MacHex(out, root_key);
  if (!mac.ok()) return mac.status();
  out += *mac;
  out += '\n';
  return out;
}

Result<DecodedBackup> DecodeBackup(std::string_view whole) {
  std::string_view file = whole;
  if (!file.starts_with(kMagic)) return Damaged("it does not start with SOVBKUP1");
  file.remove_prefix(kMagic.size());
  const std::size_t newline = file.find('\n');
  if (newline == std::string_view::npos || newline > kMaxHeaderLine) return Damaged("no header line");
  const auto line = nlohmann::json::parse(file.substr(0, newline), nullptr, /*allow_exceptions=*/false);
  file.remove_prefix(newline + 1);
  DecodedBackup out;
  std::string catalog_hash;
  std::string audit_hash;
  std::uint64_t catalog_bytes = 0;
  std::uint64_t audit_bytes = 0;
  try {
    if (line.is_object() && line.at("format") == 1) {
      return Damaged("it is format 1, which carries no MAC; back up again with this version");
    }
    if (!line.is_object() || line.at("format") != kFormat) return Damaged("unknown format version");
    out.header.region = line.at("region").get<std::string>();
    out.header.created_at = FromMicros(line.at("created_at").get<std::int64_t>());
    catalog_bytes = line.at("catalog_bytes").get<std::uint64_t>();
    audit_bytes = line.at("audit_bytes").get<std::uint64_t>();
    catalog_hash = line.at("catalog_sha256").get<std::string>();
    audit_hash = line.at("audit_sha256").get<std::string>();
    out.header.audit_head.seq = line.at("audit_head").at("seq").get<std::uint64_t>();
    out.header.audit_head.hash = line.at("audit_head").at("hash").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return Damaged("malformed header line");
  }
  if (file.size() < kMacTrailer || catalog_bytes > file.size() - kMacTrailer ||
      audit_bytes != file.size() - kMacTrailer - catalog_bytes || file.back() != '\n') {
    return Damaged("its size does not match its header (truncated or extended)");
  }
  out.catalog_image = std::string(file.substr(0, catalog_bytes));
  out.audit_log = std::string(file.substr(catalog_bytes, audit_bytes));
  out.mac = std::string(file.substr(catalog_bytes + audit_bytes, kMacTrailer - 1));
  out.authenticated_bytes = whole.size() - kMacTrailer;
  auto got_catalog = Sha256Hex(out.catalog_image);
  if (!got_catalog.ok()) return got_catalog.status();
  auto got_audit = Sha256Hex(out.audit_log);
  if (!got_audit.ok()) return got_audit.status();
  if (*got_catalog != catalog_hash) return Damaged("the catalog does not match its SHA-256");
  if (*got_audit != audit_hash) return Damaged("the audit log does not match its SHA-256");
  return out;
}

Status VerifyBackupMac(std::string_view file, const DecodedBackup& backup, const SecretBytes& root_key) {
  auto expected = MacHex(file.substr(0, backup.authenticated_bytes), root_key);
  if (!expected.ok()) return expected.status();
  if (backup.mac.size() != expected->size() ||
      CRYPTO_memcmp(backup.mac.data(), expected->data(), expected->size()) != 0) {
    return Damaged(
        "its MAC does not verify under this root key: the file was altered, or it was made under another root key");
  }
  return OkStatus();
}

}  // namespace sovereign::keystore_internal
