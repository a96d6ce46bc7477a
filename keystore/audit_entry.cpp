#include "keystore/internal/audit_entry.hpp"

#include "sdk/internal/hex.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <optional>

#include <fmt/format.h>

namespace sovereign::keystore_internal {
namespace {

using Json = nlohmann::json;

using internal::ToHex;

std::span<const std::uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Canonical form: sorted keys (nlohmann's object is ordered), no whitespace,
// non-ASCII escaped, invalid UTF-8 replaced so serialisation cannot throw.
std::string Canonical(const Json& j) { return j.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace); }

Result<std::string> MacHex(const Json& entry_without_mac, internal::HmacSha256& mac) {
  std::string canonical = Canonical(entry_without_mac);
  std::array<std::uint8_t, internal::kSha256Size> out{};
  SOVEREIGN_RETURN_IF_ERROR(mac.Compute(AsBytes(canonical), out));
  return ToHex(out);
}

bool IsHex64(const Json& j) {
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// WithoutMacMember returns canonical `line` with its top-level "mac" member
// (and one adjacent comma) removed: the last `"mac":"` in the line, since
// every member sorted after "mac" that the writer emits is a string, a bool,
// a number or a list of numbers, and a string cannot hold an unescaped quote.
// nullopt if the text around it is not a mac member.
std::optional<std::string> WithoutMacMember(std::string_view line) {
  static constexpr std::string_view kMember = "\"mac\":\"";
  const std::size_t at = line.rfind(kMember);
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  const std::size_t end = at + kMember.size() + 64 + 1;  // past the closing quote
  if (end >= line.size() || line[end - 1] != '"') return std::nullopt;
  std::string out;
  if (line[at - 1] == ',') {
    out.append(line.substr(0, at - 1)).append(line.substr(end));
  } else if (line[at - 1] == '{' && line[end] == ',') {
    out.append(line.substr(0, at)).append(line.substr(end + 1));
  } else if (line[at - 1] == '{') {
    out.append(line.substr(0, at)).append(line.substr(end));
  } else {
    return std::nullopt;
  }
  return out;
}

Status Malformed(std::string_view why) { return Status(ErrorCode::kFailedPrecondition, std::string(why)); }

}  // namespace

Status CheckAuditLineSize(std::size_t bytes) {
  if (bytes <= kMaxAuditLineBytes) return OkStatus();
  return Status(ErrorCode::kFailedPrecondition,
                fmt::format("is {} bytes, longer than the audit log's {}-byte line limit", bytes, kMaxAuditLineBytes));
}

Result<std::string> Sha256Hex(std::string_view bytes) {
  std::array<std::uint8_t, 32> digest{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != 32) {
    return Status(ErrorCode::kInternal, "SHA-256 failed");
  }
  return ToHex(digest);
}

Result<std::string> SealEntry(Json entry, internal::HmacSha256& mac) {
  entry.erase("mac");
  auto tag = MacHex(entry, mac);
  if (!tag.ok()) return tag.status();
  entry["mac"] = *tag;
  std::string line = Canonical(entry);
  SOVEREIGN_RETURN_IF_ERROR(CheckAuditLineSize(line.size()));
  return line;
}

Result<ParsedEntry> ParseEntry(std::string_view line, internal::HmacSha256& mac) {
  SOVEREIGN_RETURN_IF_ERROR(CheckAuditLineSize(line.size()));
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Malformed("is not a JSON object (edited or corrupted)");
  // A line that parses but is not byte-identical to its canonical form was
  // edited by hand (or by a tool that re-serialised it).
  if (Canonical(j) != line) return Malformed("is not in canonical form (edited)");
  auto seq = j.find("seq");
  auto prev = j.find("prev");
  auto tag = j.find("mac");
  if (seq == j.end() || !seq->is_number_unsigned()) return Malformed("has no numeric seq (edited or forged)");
  if (prev == j.end() || !IsHex64(*prev)) return Malformed("has no valid prev hash (edited or forged)");
  if (tag == j.end() || !IsHex64(*tag)) return Malformed("has no valid mac (edited or forged)");
  ParsedEntry parsed;
  parsed.seq = seq->get<std::uint64_t>();
  parsed.prev = prev->get<std::string>();
  std::string claimed = tag->get<std::string>();
  // The MAC covers the canonical form without "mac". The line is canonical,
  // so that is the line with the mac member cut out, which saves serialising
  // the object again (a third of the cost of verifying a long log). Only if
  // that text does not verify is the object re-serialised to decide.
  if (auto without = WithoutMacMember(line)) {
    std::array<std::uint8_t, internal::kSha256Size> out{};
    SOVEREIGN_RETURN_IF_ERROR(mac.Compute(AsBytes(*without), out));
    if (CRYPTO_memcmp(ToHex(out).data(), claimed.data(), claimed.size()) == 0) {
      parsed.mac_ok = true;
      return parsed;
    }
  }
  j.erase("mac");
  auto expected = MacHex(j, mac);
  if (!expected.ok()) return expected.status();
  parsed.mac_ok = CRYPTO_memcmp(expected->data(), claimed.data(), claimed.size()) == 0;
  return parsed;
}

std::optional<std::uint64_t> PeekSeq(std::string_view line) {
  static constexpr std::string_view kMember = "\"seq\":";
  const std::size_t at = line.rfind(kMember);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = line.data() + at + kMember.size();
  const char* end = line.data() + line.size();
  std::uint64_t seq = 0;
  auto [next, ec] = std::from_chars(begin, end, seq);
  if (ec != std::errc() || next == begin || (next != end && *next != ',' && *next != '}')) return std::nullopt;
  return seq;
}

}  // namespace sovereign::keystore_internal
