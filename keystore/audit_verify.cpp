// VerifyAuditLog: replays the whole chain and names the first line that breaks it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/posix_file.hpp"

namespace sovereign::keystore_internal {
namespace {

Result<std::string> ReadWholeFile(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot open audit log {}: {}", path.string(), ErrnoText(errno)));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Status(ErrorCode::kKeystoreUnavailable,
                    fmt::format("cannot read audit log {}: {}", path.string(), ErrnoText(errno)));
    }
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// Seqs of the lines after `from` that parse (MAC not required): used only to
// tell a reordering from a deletion or a duplicate in the failure message.
bool SeqAppearsLater(const std::vector<std::string_view>& lines, std::size_t from, std::uint64_t seq,
                     internal::HmacSha256& mac) {
  for (std::size_t i = from + 1; i < lines.size(); ++i) {
    auto parsed = ParseEntry(lines[i], mac);
    if (parsed.ok() && parsed->seq == seq) return true;
  }
  return false;
}

}  // namespace

Result<AuditVerification> VerifyAuditLog(const std::filesystem::path& path, const SecretBytes& audit_key,
                                         const AuditHead& head) {
  auto mac = internal::HmacSha256::New(audit_key.bytes(InsecureSecretKeyAccess::Get()));
  if (!mac.ok()) return mac.status();
  auto content = ReadWholeFile(path);
  if (!content.ok()) return content.status();

  std::vector<std::string_view> lines;
  std::string_view rest(*content);
  while (!rest.empty()) {
    std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  const bool incomplete_tail = !rest.empty();

  auto fail = [&](std::size_t line_number, std::string_view why) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("audit log {} line {}: {}", path.string(), line_number, why));
  };

  std::uint64_t expected = 1;
  std::string prev_hash = kGenesisHash;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::size_t n = i + 1;
    auto parsed = ParseEntry(lines[i], *mac);
    if (!parsed.ok()) return fail(n, parsed.status().message());
    if (!parsed->mac_ok) {
      // A forged line slipped into the chain leaves the next line still
      // chained to the line before it.
      if (i + 1 < lines.size()) {
        auto next = ParseEntry(lines[i + 1], *mac);
        if (next.ok() && next->mac_ok && next->seq == expected && next->prev == prev_hash) {
          return fail(n, "was inserted: its MAC does not verify and the next line continues the chain");
        }
      }
      return fail(n, "MAC does not verify: the entry was edited or forged");
    }
    if (parsed->seq != expected) {
      if (SeqAppearsLater(lines, i, expected, *mac)) {
        return fail(n, fmt::format("has seq {} where seq {} was expected, and seq {} appears later: entries were "
                                   "reordered",
                                   parsed->seq, expected, expected));
      }
      if (parsed->seq > expected) {
        return fail(n, fmt::format("has seq {} where seq {} was expected: {} deleted", parsed->seq, expected,
                                   parsed->seq - expected == 1 ? fmt::format("entry {} was", expected)
                                                               : fmt::format("entries {}..{} were", expected,
                                                                             parsed->seq - 1)));
      }
      return fail(n, fmt::format("has seq {} where seq {} was expected: an earlier entry was duplicated (replayed)",
                                 parsed->seq, expected));
    }
    if (parsed->prev != prev_hash) {
      return fail(n, "prev does not match the hash of the line before it: the chain is broken (an earlier entry "
                     "was replaced)");
    }
    auto hash = Sha256Hex(lines[i]);
    if (!hash.ok()) return hash.status();
    if (parsed->seq == head.seq && *hash != head.hash) {
      return fail(n, "does not match the catalog's audit head: the log was rewritten from here");
    }
    prev_hash = std::move(hash).value();
    ++expected;
  }

  const std::uint64_t entries = expected - 1;
  if (entries < head.seq) {
    return fail(lines.size() + 1,
                fmt::format("missing: the log ends at seq {} but the catalog's audit head is at seq {}: {} removed "
                            "from the end (truncated tail)",
                            entries, head.seq,
                            head.seq - entries == 1 ? fmt::format("entry {} was", head.seq)
                                                    : fmt::format("entries {}..{} were", entries + 1, head.seq)));
  }
  AuditVerification out;
  out.entries = entries;
  out.beyond_head = entries - head.seq;
  out.summary = fmt::format("ok: {} entries", entries);
  if (out.beyond_head > 0) {
    out.summary += fmt::format(" ({} after the catalog's audit head: written by an operation that had not "
                               "committed yet or was interrupted)",
                               out.beyond_head);
  }
  if (incomplete_tail) {
    out.summary += fmt::format("; line {} is incomplete (an interrupted append, never acknowledged)",
                               lines.size() + 1);
  }
  return out;
}

}  // namespace sovereign::keystore_internal
