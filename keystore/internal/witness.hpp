// Witness: rollback detection for a keystore directory (docs/keystore.md#rollback-witness).
//
// The catalog's audit head and the hash-chained audit log protect each other
// (a log cut short, or a head that names another line, is detected), but an
// older copy of catalog.db and audit.log taken together is self-consistent:
// nothing on the keystore's own disk can tell it from the present. The
// witness is an append-only file of audit heads kept where the keystore host
// can append but not rewrite (another host's export, a WORM or `chattr +a`
// mount). Each line is one canonical JSON object
//
//   {"hash":"<64 hex>","mac":"<64 hex>","region":"us","seq":N,"time":"…Z"}
//
// with mac = hex HMAC-SHA256(witness key, the same object without `mac`,
// canonically serialised) and witness key = HKDF-SHA256(ikm = audit key,
// salt = empty, info = kWitnessKeyInfo, 32 bytes): a key of its own, so a
// witness line never verifies as an audit line or the other way round.
//
// Security: the witness holds heads (seq, hash, time, region) only, never key
// bytes or anything from a request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "keystore/internal/catalog.hpp"
#include "sdk/internal/hmac_sha256.hpp"
#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// kWitnessKeyInfo is the HKDF info that derives the witness key from the audit key.
inline constexpr std::string_view kWitnessKeyInfo = "sovereign/v1/witness-key";
inline constexpr std::size_t kWitnessKeySize = 32;
// kMaxWitnessLineBytes bounds a line the reader considers (a valid one is
// about 200 bytes); a longer line is skipped as unreadable.
inline constexpr std::size_t kMaxWitnessLineBytes = 1024;

// NewWitnessMac derives the witness key from `audit_key` (see above) and
// returns an HMAC keyed with it; the derived key is wiped.
Result<internal::HmacSha256> NewWitnessMac(const SecretBytes& audit_key);

// SealWitnessLine returns the canonical witness line for `head` of `region`
// at `now` (without the newline).
Result<std::string> SealWitnessLine(std::string_view region, const AuditHead& head, TimePoint now,
                                    internal::HmacSha256& mac);

// WitnessedHead is one verified witness line.
struct WitnessedHead {
  AuditHead head;
  std::string time;
  std::uint64_t line = 0;  // 1-based line number in the witness file
};

// WitnessContents is what ReadWitness found.
struct WitnessContents {
  // The newest head: the highest seq (heads never go back in a valid witness).
  std::optional<WitnessedHead> latest;
  std::uint64_t heads = 0;       // verified lines
  std::uint64_t unreadable = 0;  // lines that are not a JSON object (interrupted appends), skipped
  bool ends_mid_line = false;    // the file does not end with '\n' (an interrupted append)
};

// ReadWitness reads every line of the witness file at `path` for a keystore
// of `region` whose witness MAC is `mac`. A line that is a JSON object must
// be a canonical witness line of this region with a MAC that verifies, and
// no line may go back to a lower seq or name another hash for a seq already
// witnessed; otherwise kFailedPrecondition names the line and what is wrong
// (forged or edited, another region's, another keystore's, out of order).
// Lines that are not JSON objects are torn appends: counted and skipped — an
// appender cannot remove a valid line, so skipping cannot hide a head.
// kKeystoreUnavailable if the file cannot be read.
Result<WitnessContents> ReadWitness(const std::filesystem::path& path, std::string_view region,
                                    internal::HmacSha256& mac);

// CheckAuditAgainstWitness is ok when the keystore's `catalog_head` is at or
// after `witnessed` and the audit log at `audit_log` holds, at the witnessed
// seq, exactly the witnessed line (same hash: by the hash chain, the same
// history up to there). Otherwise kFailedPrecondition names what was found:
// a rollback (the head or the log is behind the witness) or a forked history
// (another entry at the witnessed seq). It is a rollback too when a line
// after the witnessed seq adopted entries at or before it (member "adopted"
// of an audit line: entries a crash left past the catalog head are never
// committed, so never witnessed; adopting witnessed ones means the catalog
// was put back). `witness_path` is named in messages; a `witnessed.line` of 0
// is a head this process published.
Status CheckAuditAgainstWitness(const WitnessedHead& witnessed, const AuditHead& catalog_head,
                                const std::filesystem::path& audit_log, const std::filesystem::path& witness_path);

// VerifyKeystoreWitness checks DIR's catalog head and audit log (`log`, or
// DIR/audit.log when empty) against the witness file, as `sovereign serve`
// does on start, for `sovereign audit verify --witness`. Returns a one-line
// summary; the errors of ReadWitness and CheckAuditAgainstWitness otherwise.
Result<std::string> VerifyKeystoreWitness(const std::filesystem::path& dir, const std::filesystem::path& log,
                                          const std::filesystem::path& witness);

}  // namespace sovereign::keystore_internal
