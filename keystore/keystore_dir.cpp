// EmbeddedKeystore::Init and ::Open: creating and checking a keystore directory.
#include "keystore/internal/keystore_dir.hpp"

#include <openssl/crypto.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "keystore/internal/posix_file.hpp"
#include "keystore/internal/root_key.hpp"
#include "keystore/internal/root_rotation.hpp"
#include "keystore/internal/wrap.hpp"
#include "sovereign/envelope.hpp"

namespace sovereign {

using keystore_internal::kAuditLogFileName;
using keystore_internal::kCatalogFileName;
using keystore_internal::kRootKeyFileName;
namespace fs = std::filesystem;

namespace keystore_internal {
namespace {

// Normalise so "dir/" and "dir" name the same directory and the parent is known.
fs::path NormalDir(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.filename().empty() && p.has_parent_path()) p = p.parent_path();
  return p;
}

bool HoldsKeystoreFile(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : {kRootKeyFileName, kCatalogFileName, kAuditLogFileName}) {
    if (fs::symlink_status(dir / name, ec).type() != fs::file_type::not_found) return true;
  }
  return false;
}

// RemoveOnFailure deletes a staging directory unless released.
struct RemoveOnFailure {
  fs::path path;
  ~RemoveOnFailure() {
    if (!path.empty()) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

// BuildKeystore fills the empty directory `staging` with a complete keystore.
Status BuildKeystore(const fs::path& staging, std::string_view region, const std::string& principal) {
  const auto now = std::chrono::system_clock::now();
  auto root_key = CreateRootKeyFile(staging);
  if (!root_key.ok()) return root_key.status();
  SecretBytes audit_key = SecretBytes::Random(kAuditKeySize);
  CatalogMeta meta;
  meta.region = std::string(region);
  meta.created_at = now;
  auto check = RootKeyCheckValue(*root_key, region);
  if (!check.ok()) return check.status();
  meta.root_key_check = std::move(check).value();
  auto wrapped = WrapSecret(*root_key, AuditKeyAssociatedData(region), audit_key);
  if (!wrapped.ok()) return wrapped.status();
  meta.wrapped_audit_key = std::move(wrapped).value();

  auto catalog = Catalog::Create(staging / kCatalogFileName, meta);
  if (!catalog.ok()) return catalog.status();
  SOVEREIGN_RETURN_IF_ERROR(CreateAuditLogFile(staging / kAuditLogFileName));
  auto log = AuditLog::New(staging / kAuditLogFileName, audit_key, meta.region, principal);
  if (!log.ok()) return log.status();
  auto tx = Transaction::BeginImmediate(catalog->db());
  if (!tx.ok()) return tx.status();
  AuditEvent event;
  event.op = "keystore.init";
  SOVEREIGN_RETURN_IF_ERROR(log->Append(*catalog, event, now));
  SOVEREIGN_RETURN_IF_ERROR(tx->Commit());
  return OkStatus();
}

Result<AuditHead> ReadHead(KeystoreFiles& files) {
  auto tx = Transaction::BeginRead(files.catalog.db());
  if (!tx.ok()) return tx.status();
  auto head = files.catalog.ReadAuditHead();
  if (!head.ok()) return head.status();
  SOVEREIGN_RETURN_IF_ERROR(tx->Commit());
  return head;
}

// VerifyOpenedAuditLog verifies `log` against the head of `files`' catalog.
// The head is read first: appends that land between the two reads only add
// entries after the head, which verification accepts — but no more than the
// next append would adopt (kMaxAppendEntries past the head, read again after
// the log), so `audit verify` never passes a log the keystore refuses to
// append to.
Result<AuditVerification> VerifyOpenedAuditLog(KeystoreFiles& files, const fs::path& log) {
  auto head = ReadHead(files);
  if (!head.ok()) return head.status();
  auto verified = VerifyAuditLog(log, files.audit_key, *head);
  if (!verified.ok() || verified->beyond_head <= kMaxAppendEntries) return verified;
  auto now = ReadHead(files);
  if (!now.ok()) return now.status();
  if (verified->entries <= now->seq + kMaxAppendEntries) return verified;
  return Status(ErrorCode::kFailedPrecondition,
                fmt::format("audit log {} line {}: {} entries follow the catalog's audit head (seq {}), more than "
                            "one append writes ({}): the catalog is older than the log (restored from an older "
                            "copy?) and the keystore refuses to append to it",
                            log.string(), now->seq + kMaxAppendEntries + 1, verified->entries - now->seq, now->seq,
                            kMaxAppendEntries));
}

}  // namespace

std::string DefaultPrincipal() {
  const uid_t uid = ::geteuid();
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::string buf(size > 0 ? static_cast<std::size_t>(size) : 16384, '\0');
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr && found->pw_name != nullptr) {
    return fmt::format("unix:{}", found->pw_name);
  }
  return fmt::format("unix:uid:{}", uid);
}

Result<KeystoreFiles> OpenKeystoreFiles(const fs::path& dir_in, OpenChecks checks) {
  const fs::path dir = NormalDir(dir_in);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("no keystore at {}: the directory does not exist (create one with `sovereign "
                                "keystore init --dir {} --region <region>`)",
                                dir.string(), dir.string()));
    }
    return Status(ErrorCode::kKeystoreUnavailable, fmt::format("cannot stat {}: {}", dir.string(), ErrnoText(err)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status(ErrorCode::kFailedPrecondition, fmt::format("{} is not a directory", dir.string()));
  }
  if ((st.st_mode & 022) != 0) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("keystore directory {} has mode {}: group or others could replace its files; run "
                              "`chmod 700 {}`",
                              dir.string(), ModeText(st.st_mode), dir.string()));
  }
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir / kRootKeyFileName, ec)) &&
      !fs::exists(fs::symlink_status(dir / kCatalogFileName, ec))) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("{} is not an initialised keystore (no {} or {}); run `sovereign keystore init --dir "
                              "{} --region <region>`",
                              dir.string(), kRootKeyFileName, kCatalogFileName, dir.string()));
  }
  // A root key rotation a crash interrupted is finished or undone first.
  SOVEREIGN_RETURN_IF_ERROR(ReconcileRootKeyFiles(dir));
  auto root_key = LoadRootKeyFile(dir);
  if (!root_key.ok()) return root_key.status();
  const fs::path catalog_path = dir / kCatalogFileName;
  SOVEREIGN_RETURN_IF_ERROR(CheckPrivateFile(catalog_path, "catalog"));
  const fs::path log_path = dir / kAuditLogFileName;
  SOVEREIGN_RETURN_IF_ERROR(CheckPrivateFile(log_path, "audit log"));
  auto catalog = Catalog::Open(catalog_path);
  if (!catalog.ok()) return catalog.status();
  auto meta = catalog->ReadMeta();
  if (!meta.ok()) return meta.status();
  if (Status valid = ValidateRegion(meta->region); !valid.ok()) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("catalog {} names an invalid region: {}", catalog_path.string(), valid.message()));
  }
  auto check = RootKeyCheckValue(*root_key, meta->region);
  if (!check.ok()) return check.status();
  if (check->size() != meta->root_key_check.size() ||
      CRYPTO_memcmp(check->data(), meta->root_key_check.data(), check->size()) != 0) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("root key {} does not belong to catalog {} (root key check value mismatch): it is "
                              "another keystore's root key or was replaced; restore this keystore's root.key",
                              (dir / kRootKeyFileName).string(), catalog_path.string()));
  }
  auto audit_key = UnwrapSecret(*root_key, AuditKeyAssociatedData(meta->region), meta->wrapped_audit_key,
                                "the audit key");
  if (!audit_key.ok()) return audit_key.status();
  KeystoreFiles files{dir, meta->region, std::move(root_key).value(), std::move(audit_key).value(),
                      std::move(catalog).value()};
  if (checks.verify_audit_log) {
    auto verified = VerifyOpenedAuditLog(files, log_path);
    if (!verified.ok()) return verified.status();
  }
  return files;
}

Result<AuditVerification> VerifyKeystoreAuditLog(const fs::path& dir) {
  return VerifyKeystoreAuditLog(dir, fs::path());
}

Result<AuditVerification> VerifyKeystoreAuditLog(const fs::path& dir, const fs::path& log) {
  auto files = OpenKeystoreFiles(dir);
  if (!files.ok()) return files.status();
  return VerifyOpenedAuditLog(*files, log.empty() ? files->dir / kAuditLogFileName : log);
}

Status CheckRootKeyCurrent(KeystoreFiles& files) {
  auto meta = files.catalog.ReadMeta();
  if (!meta.ok()) return meta.status();
  auto check = RootKeyCheckValue(files.root_key, files.region);
  if (!check.ok()) return check.status();
  if (*check != meta->root_key_check) {
    return Status(ErrorCode::kFailedPrecondition,
                  "the keystore's root key was rotated since it was opened: reopen it (restart the service)");
  }
  return OkStatus();
}

}  // namespace keystore_internal

EmbeddedKeystore::~EmbeddedKeystore() = default;

Result<std::shared_ptr<EmbeddedKeystore>> EmbeddedKeystore::Init(const fs::path& dir_in, std::string_view region,
                                                                 EmbeddedKeystoreOptions options) {
  using namespace keystore_internal;
  SOVEREIGN_RETURN_IF_ERROR(ValidateRegion(region));
  const fs::path dir = NormalDir(dir_in);
  std::error_code ec;
  const auto type = fs::symlink_status(dir, ec).type();
  if (type != fs::file_type::not_found) {
    if (type != fs::file_type::directory) {
      return Status(ErrorCode::kFailedPrecondition, fmt::format("{} exists and is not a directory", dir.string()));
    }
    if (HoldsKeystoreFile(dir)) {
      return Status(ErrorCode::kAlreadyExists, fmt::format("{} already holds a keystore", dir.string()));
    }
    if (!fs::is_empty(dir, ec)) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("{} is not empty; refusing to initialise a keystore among unrelated files",
                                dir.string()));
    }
  } else {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) {
      return Status(ErrorCode::kKeystoreUnavailable,
                    fmt::format("cannot create {}: {}", dir.parent_path().string(), ec.message()));
    }
  }

  // Build the keystore in a private sibling directory and rename it into
  // place: DIR either does not hold a keystore or holds a complete one, even
  // after a crash, and two concurrent Inits cannot both succeed.
  std::string tmpl = (dir.parent_path() / fmt::format(".{}.init-XXXXXX", dir.filename().string())).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot create a staging directory next to {}: {}", dir.string(), ErrnoText(errno)));
  }
  RemoveOnFailure staging{tmpl};
  if (::chmod(staging.path.c_str(), 0700) != 0) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot set mode 0700 on {}: {}", staging.path.string(), ErrnoText(errno)));
  }
  if (options.principal.empty()) options.principal = DefaultPrincipal();
  SOVEREIGN_RETURN_IF_ERROR(BuildKeystore(staging.path, region, options.principal));
  SOVEREIGN_RETURN_IF_ERROR(FsyncPath(staging.path));
  // rename(2) replaces DIR only if it is an empty directory.
  if (::rename(staging.path.c_str(), dir.c_str()) != 0) {
    int err = errno;
    if (HoldsKeystoreFile(dir)) {
      return Status(ErrorCode::kAlreadyExists, fmt::format("{} already holds a keystore", dir.string()));
    }
    return Status(err == ENOTEMPTY || err == EEXIST ? ErrorCode::kFailedPrecondition : ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot move the new keystore into {}: {}", dir.string(), ErrnoText(err)));
  }
  staging.path.clear();
  SOVEREIGN_RETURN_IF_ERROR(FsyncPath(dir.parent_path()));
  return Open(dir, std::move(options));
}

Result<std::shared_ptr<EmbeddedKeystore>> EmbeddedKeystore::Open(const fs::path& dir, EmbeddedKeystoreOptions options) {
  auto files = keystore_internal::OpenKeystoreFiles(dir);
  if (!files.ok()) return files.status();
  return keystore_internal::NewEmbeddedKeystore(std::move(files).value(), std::move(options));
}

}  // namespace sovereign
