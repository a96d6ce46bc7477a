// The backup file's container (see backup_format.hpp).
#include "keystore/internal/backup_format.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keystore/internal/audit_entry.hpp"

namespace sovereign::keystore_internal {
namespace {

constexpr std::string_view kMagic = "SOVBKUP1\n";
constexpr int kFormat = 1;
constexpr std::size_t kMaxHeaderLine = 4096;

Status Damaged(std::string_view why) {
  return Status(ErrorCode::kFailedPrecondition, fmt::format("not a usable Sovereign keystore backup: {}", why));
}

}  // namespace

Result<std::string> EncodeBackup(const BackupHeader& header, std::string_view catalog_image,
                                 std::string_view audit_log) {
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
  return out;
}

Result<DecodedBackup> DecodeBackup(std::string_view file) {
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
  if (catalog_bytes > file.size() || audit_bytes != file.size() - catalog_bytes) {
    return Damaged("its size does not match its header (truncated or extended)");
  }
  out.catalog_image = std::string(file.substr(0, catalog_bytes));
  out.audit_log = std::string(file.substr(catalog_bytes));
  auto got_catalog = Sha256Hex(out.catalog_image);
  if (!got_catalog.ok()) return got_catalog.status();
  auto got_audit = Sha256Hex(out.audit_log);
  if (!got_audit.ok()) return got_audit.status();
  if (*got_catalog != catalog_hash) return Damaged("the catalog does not match its SHA-256");
  if (*got_audit != audit_hash) return Damaged("the audit log does not match its SHA-256");
  return out;
}

}  // namespace sovereign::keystore_internal
