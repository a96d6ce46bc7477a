// AuditLog: DIR/audit.log, an append-only, hash-chained, MAC'd record of every
// key use and change (format and rules in docs/keystore.md).
//
// Each line is one canonical JSON object (sorted keys, no spaces, ASCII only)
// carrying `seq` (1, 2, …), `prev` (hex SHA-256 of the previous line, 64 zeros
// for the first) and `mac` = hex HMAC-SHA256(audit key, the same object
// without `mac`, canonically serialised). The catalog's audit_head row holds
// the seq and hash of the last line, so removing lines from the end is
// detectable even though every remaining line still verifies.
//
// Security: entries never contain key bytes or plaintext. Append is durable
// (write + fsync) before it returns ok; callers fail the operation otherwise.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <sys/stat.h>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/catalog.hpp"
#include "sdk/internal/hmac_sha256.hpp"
#include "sovereign/mode.hpp"
#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

inline constexpr char kAuditLogFileName[] = "audit.log";
inline constexpr std::size_t kAuditKeySize = 32;
// The most entries one append may write (a group commit of issues): a crash
// can leave the log at most this many entries ahead of the catalog head.
// 256 lets one group carry a batch of subject keys (a pipeline chunk asks
// for hundreds at once) for one fsync pair.
inline constexpr std::size_t kMaxAppendEntries = 256;
// The most bytes one append may write (its lines with their newlines). Bounds
// what a crash can leave past the head, hence what reconciliation reads from
// the end of the file. Four maximum-length lines (kMaxAuditLineBytes, in
// audit_entry.hpp), or 256 ordinary issue entries of a few hundred bytes.
inline constexpr std::size_t kMaxAppendBytes = 1024 * 1024;
// The most bytes of entries one GET /v1/audit page carries (besides the
// entry count limit): at least one maximum-length line, so paging always
// moves forward.
inline constexpr std::size_t kMaxAuditPageBytes = 4 * 1024 * 1024;

// AuditEvent is what an operation records; empty/unset fields are omitted.
struct AuditEvent {
  // "keystore.init", "key.create", "key.rotate", "field_key.issue"; the
  // service adds "lease", "encrypt", "decrypt", "index", "access",
  // "policy.reload" (docs/keystore.md).
  std::string op;
  // Who acted; empty means the principal the log was opened with.
  std::string principal;
  std::string outcome = "ok";   // "ok", "denied" or "error"
  std::string reason;           // why, for denied/error
  std::string key;              // key name
  std::optional<std::uint32_t> key_id;
  std::vector<std::uint32_t> versions;
  std::vector<std::string> labels;
  std::optional<Mode> mode;
  // A per-subject key's tag (hex; never the subject id), and whether this
  // request created the subject key.
  std::string subject;
  bool subject_created = false;
  // Free text an officer gave (e.g. the reason for a shred); never values.
  std::string note;
  // Item counts of a batch (an array of objects naming key, label and counts
  // per outcome); null means omitted. Never values or key bytes.
  nlohmann::json counts;
};

// Event returns an event of operation `op` on `key` (may be empty) by
// `principal` (empty: the log's own principal), outcome "ok".
AuditEvent Event(std::string_view principal, std::string_view op, std::string_view key);

// CreateAuditLogFile creates an empty audit log, mode 0600.
Status CreateAuditLogFile(const std::filesystem::path& path);

class AuditLog {
 public:
  static Result<AuditLog> New(std::filesystem::path path, const SecretBytes& audit_key, std::string region,
                              std::string principal);

  // Append writes `event` as the next entry, fsyncs it, and stages the new
  // head in `catalog`. The caller must hold a BEGIN IMMEDIATE transaction on
  // `catalog` (this serialises appenders across threads and processes) and
  // commit it after Append returns ok; the log line is durable before the
  // head moves, so a crash can leave the log at most one append's entries
  // ahead of the head — never behind. Append adopts such entries (valid MACs,
  // chained to the head), naming them in its first line (member "adopted":
  // [first, last]), and cuts off an incomplete last line left by a crash;
  // any other mismatch between log and head fails closed. An entry
  // whose line would exceed kMaxAuditLineBytes is refused before anything
  // is written. Every failure is kKeystoreUnavailable and leaves the file as
  // it was.
  Status Append(Catalog& catalog, const AuditEvent& event, TimePoint now);

  // AppendMany is Append for up to kMaxAppendEntries events (a group commit):
  // the tail is reconciled once, every line is written with one write and
  // one fsync, and the head moves to the last. All or nothing: on failure no
  // line stays in the file. The lines together must fit kMaxAppendBytes.
  Status AppendMany(Catalog& catalog, std::span<const AuditEvent> events, TimePoint now);

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  AuditLog(std::filesystem::path path, internal::HmacSha256 mac, std::string region, std::string principal)
      : path_(std::move(path)), mac_(std::move(mac)), region_(std::move(region)), principal_(std::move(principal)) {}

  // KnownTail is what this object last wrote: the file (device, inode), its
  // size just after the write, where the last line starts, and the entry it
  // ends with. When the catalog head and the file are still that, the next
  // append checks only that the last line still hashes to the head (so an
  // in-place edit of it is caught, as with the full check) instead of
  // re-reading and re-verifying the tail; any other difference (another
  // process appended, a crash left entries past the head, the file was
  // replaced) takes the full reconciliation.
  struct KnownTail {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    off_t last_line_start = 0;
    AuditHead last;
  };

  // KnownTailHolds reports whether the file behind `fd` (stat `st`) still ends
  // as known_tail_ says, with the catalog head at its last entry.
  bool KnownTailHolds(int fd, const struct stat& st, const AuditHead& head) const;

  std::filesystem::path path_;
  internal::HmacSha256 mac_;
  std::string region_;
  std::string principal_;
  std::optional<KnownTail> known_tail_;
};

// AuditVerification is the outcome of a successful verification.
struct AuditVerification {
  std::uint64_t entries = 0;
  // Entries after the catalog head: appended by an operation that had not yet
  // committed when the head was read, or whose commit was interrupted.
  std::uint64_t beyond_head = 0;
  std::string summary;  // "ok: N entries"
};

// VerifyAuditLog checks every line of the log at `path` against `audit_key`
// and the catalog's `head`. On failure the status (kFailedPrecondition) names
// the first bad line and why: edited or forged (MAC), inserted, deleted,
// reordered or duplicated (seq), chain broken (prev), truncated tail (the log
// ends before the head), or rewritten (hash differs from the head).
Result<AuditVerification> VerifyAuditLog(const std::filesystem::path& path, const SecretBytes& audit_key,
                                         const AuditHead& head);

}  // namespace sovereign::keystore_internal
