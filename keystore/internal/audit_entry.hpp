// One audit log line: canonical serialisation, MAC and hash (shared by
// appending and verifying, so both agree byte for byte).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sdk/internal/hmac_sha256.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// kMaxAuditLineBytes is the longest valid audit line (without its newline).
// It is the one definition the writer, the tail reconciliation, the page
// reader and the verifier share: SealEntry refuses to produce a longer line
// and ParseEntry rejects one, so nothing the keystore writes can later stop
// it from appending, and `audit verify` cannot pass a log the service
// refuses. 256 KiB holds the largest legitimate entry, the tally of a
// 1000-item batch with 1000 distinct (key, label) pairs of 64-character
// names (about 200 KB), and bounds the memory one line costs a reader.
inline constexpr std::size_t kMaxAuditLineBytes = 256 * 1024;

// CheckAuditLineSize is kFailedPrecondition, saying the size and the limit,
// when a line of `bytes` bytes is longer than kMaxAuditLineBytes.
Status CheckAuditLineSize(std::size_t bytes);

// Sha256Hex is the lowercase hex SHA-256 of `bytes`: an entry's hash.
Result<std::string> Sha256Hex(std::string_view bytes);

// SealEntry sets entry["mac"] = hex HMAC(canonical(entry without "mac")) and
// returns the canonical line, without the trailing newline.
// kFailedPrecondition (CheckAuditLineSize) if the line would be too long.
Result<std::string> SealEntry(nlohmann::json entry, internal::HmacSha256& mac);

// ParsedEntry is what verification needs from one line.
struct ParsedEntry {
  std::uint64_t seq = 0;
  std::string prev;
  bool mac_ok = false;
};

// ParseEntry parses `line`, checks it is canonical JSON with a numeric seq,
// a 64-hex-digit prev and a mac, and checks the mac in constant time. A
// malformed or over-long line is kFailedPrecondition whose message says
// what is wrong.
Result<ParsedEntry> ParseEntry(std::string_view line, internal::HmacSha256& mac);

// PeekSeq returns the top-level seq of a line the keystore wrote, found
// without parsing the JSON (its last `"seq":` member: every member sorted
// after it holds a hex string, a time or numbers), or nullopt if there is
// none. For skipping through the log when paging; never for verification,
// which parses and checks every line.
std::optional<std::uint64_t> PeekSeq(std::string_view line);

}  // namespace sovereign::keystore_internal
