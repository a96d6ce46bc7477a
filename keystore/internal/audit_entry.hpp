// One audit log line: canonical serialisation, MAC and hash (shared by
// appending and verifying, so both agree byte for byte).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sdk/internal/hmac_sha256.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// Sha256Hex is the lowercase hex SHA-256 of `bytes`: an entry's hash.
Result<std::string> Sha256Hex(std::string_view bytes);

// SealEntry sets entry["mac"] = hex HMAC(canonical(entry without "mac")) and
// returns the canonical line, without the trailing newline.
Result<std::string> SealEntry(nlohmann::json entry, internal::HmacSha256& mac);

// ParsedEntry is what verification needs from one line.
struct ParsedEntry {
  std::uint64_t seq = 0;
  std::string prev;
  bool mac_ok = false;
};

// ParseEntry parses `line`, checks it is canonical JSON with a numeric seq,
// a 64-hex-digit prev and a mac, and checks the mac in constant time. A
// malformed line is kFailedPrecondition whose message says what is wrong.
Result<ParsedEntry> ParseEntry(std::string_view line, internal::HmacSha256& mac);

}  // namespace sovereign::keystore_internal
