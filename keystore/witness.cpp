// Witness lines: key derivation, sealing and reading (format in witness.hpp).
#include "keystore/internal/witness.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <span>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keystore/internal/posix_file.hpp"
#include "sdk/internal/hex.hpp"

namespace sovereign::keystore_internal {
namespace {

using Json = nlohmann::json;

std::span<const std::uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The same canonical form as the audit log: sorted keys, no whitespace, ASCII.
std::string Canonical(const Json& j) { return j.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace); }

std::string Rfc3339Millis(TimePoint t) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (micros % 1000000) / 1000);
}

Result<std::string> MacHex(const Json& without_mac, internal::HmacSha256& mac) {
  const std::string canonical = Canonical(without_mac);
  std::array<std::uint8_t, internal::kSha256Size> out{};
  SOVEREIGN_RETURN_IF_ERROR(mac.Compute(AsBytes(canonical), out));
  return internal::ToHex(out);
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

// ParseWitnessLine checks one line that is a JSON object; `why` says what is wrong otherwise.
std::optional<WitnessedHead> ParseWitnessLine(const Json& j, std::string_view text, std::string_view region,
                                              internal::HmacSha256& mac, std::string& why) {
  if (Canonical(j) != text) {
    why = "is not in canonical form: edited";
    return std::nullopt;
  }
  static constexpr std::array<std::string_view, 5> kMembers = {"hash", "mac", "region", "seq", "time"};
  bool shaped = j.size() == kMembers.size();
  for (std::string_view m : kMembers) shaped = shaped && j.contains(std::string(m));
  if (!shaped || !IsHex64(j["hash"]) || !IsHex64(j["mac"]) || !j["region"].is_string() ||
      !j["seq"].is_number_unsigned() || !j["time"].is_string()) {
    why = "is not a witness line (members hash, mac, region, seq, time): edited or not a witness file";
    return std::nullopt;
  }
  const auto& line_region = j["region"].get_ref<const std::string&>();
  if (line_region != region) {
    why = fmt::format("is a head of region '{}', not of this keystore's region '{}': the witness belongs to "
                      "another region's keystore",
                      line_region, region);
    return std::nullopt;
  }
  Json without = j;
  without.erase("mac");
  auto expected = MacHex(without, mac);
  const auto& claimed = j["mac"].get_ref<const std::string&>();
  if (!expected.ok() || CRYPTO_memcmp(expected->data(), claimed.data(), claimed.size()) != 0) {
    why = "MAC does not verify: the line was forged or edited, or written by another keystore";
    return std::nullopt;
  }
  WitnessedHead out;
  out.head = AuditHead{j["seq"].get<std::uint64_t>(), j["hash"].get<std::string>()};
  out.time = j["time"].get<std::string>();
  return out;
}

Status Unavailable(const std::filesystem::path& path, std::string_view what) {
  return Status(ErrorCode::kKeystoreUnavailable, fmt::format("witness {}: {}", path.string(), what));
}

}  // namespace

Result<internal::HmacSha256> NewWitnessMac(const SecretBytes& audit_key) {
  auto token = InsecureSecretKeyAccess::Get();
  SecretBytes key(kWitnessKeySize);
  SOVEREIGN_RETURN_IF_ERROR(
      internal::HkdfSha256(audit_key.bytes(token), {}, AsBytes(kWitnessKeyInfo), key.mutable_bytes(token)));
  return internal::HmacSha256::New(key.bytes(token));
}

Result<std::string> SealWitnessLine(std::string_view region, const AuditHead& head, TimePoint now,
                                    internal::HmacSha256& mac) {
  Json j = Json::object();
  j["hash"] = head.hash;
  j["region"] = std::string(region);
  j["seq"] = head.seq;
  j["time"] = Rfc3339Millis(now);
  auto tag = MacHex(j, mac);
  if (!tag.ok()) return tag.status();
  j["mac"] = *tag;
  return Canonical(j);
}

Result<WitnessContents> ReadWitness(const std::filesystem::path& path, std::string_view region,
                                    internal::HmacSha256& mac) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return Unavailable(path, fmt::format("cannot open: {}", ErrnoText(errno)));
  WitnessContents out;
  std::string line;
  bool overlong = false;  // the current line passed kMaxWitnessLineBytes: skipped
  std::uint64_t number = 0;
  const auto take = [&]() -> Status {
    ++number;
    Json j = overlong ? Json() : Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (overlong || j.is_discarded() || !j.is_object()) {
      ++out.unreadable;
      return OkStatus();
    }
    std::string why;
    auto head = ParseWitnessLine(j, line, region, mac, why);
    const auto fail = [&](std::string_view what) {
      return Status(ErrorCode::kFailedPrecondition, fmt::format("witness {} line {} {}", path.string(), number, what));
    };
    if (!head) return fail(why);
    head->line = number;
    if (out.latest && head->head.seq < out.latest->head.seq) {
      return fail(fmt::format("goes back to seq {} after seq {} (line {}): heads only move forward, so this line "
                              "was appended by someone replaying an older head",
                              head->head.seq, out.latest->head.seq, out.latest->line));
    }
    if (out.latest && head->head.seq == out.latest->head.seq && head->head.hash != out.latest->head.hash) {
      return fail(fmt::format("names another hash for seq {} than line {}: two different histories (a fork)",
                              head->head.seq, out.latest->line));
    }
    ++out.heads;
    out.latest = std::move(*head);
    return OkStatus();
  };
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(path, fmt::format("cannot read: {}", ErrnoText(errno)));
    if (n == 0) break;
    for (std::string_view rest(buf, static_cast<std::size_t>(n)); !rest.empty();) {
      const std::size_t nl = rest.find('\n');
      const std::string_view piece = rest.substr(0, nl);
      if (line.size() + piece.size() > kMaxWitnessLineBytes) {
        overlong = true;
      } else {
        line.append(piece);
      }
      if (nl == std::string_view::npos) break;
      SOVEREIGN_RETURN_IF_ERROR(take());
      line.clear();
      overlong = false;
      rest.remove_prefix(nl + 1);
    }
  }
  // Bytes after the last '\n' are an append that never completed: never acknowledged.
  out.ends_mid_line = !line.empty() || overlong;
  if (out.ends_mid_line) ++out.unreadable;
  return out;
}

}  // namespace sovereign::keystore_internal
