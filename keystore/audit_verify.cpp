// VerifyAuditLog: replays the whole chain and names the first line that breaks it.
//
// The log is read once, front to back, through AuditLineReader: memory stays
// constant (one line of at most kMaxAuditLineBytes plus a read buffer)
// whatever the log's length, so the service can afford it at every start.
// Only after a failure is more of the file read, to say what kind of
// tampering it was.
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/audit_lines.hpp"
#include "keystore/internal/audit_log.hpp"

namespace sovereign::keystore_internal {
namespace {

using Next = AuditLineReader::Next;

// SeqAppearsLater reads the rest of the log and reports whether a line that
// parses (MAC not required) carries `seq`: used only to tell a reordering
// from a deletion or a duplicate in the failure message.
bool SeqAppearsLater(AuditLineReader& reader, std::uint64_t seq, internal::HmacSha256& mac) {
  std::string line;
  for (;;) {
    auto next = reader.Read(line);
    if (!next.ok() || *next != Next::kLine) return false;
    auto parsed = ParseEntry(line, mac);
    if (parsed.ok() && parsed->seq == seq) return true;
  }
}

}  // namespace

Result<AuditVerification> VerifyAuditLog(const std::filesystem::path& path, const SecretBytes& audit_key,
                                         const AuditHead& head) {
  auto mac = internal::HmacSha256::New(audit_key.bytes(InsecureSecretKeyAccess::Get()));
  if (!mac.ok()) return mac.status();
  auto reader = AuditLineReader::Open(path);
  if (!reader.ok()) return reader.status();

  auto fail = [&](std::uint64_t line_number, std::string_view why) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("audit log {} line {}: {}", path.string(), line_number, why));
  };

  std::uint64_t expected = 1;
  std::string prev_hash = kGenesisHash;
  std::string line;
  bool incomplete_tail = false;
  for (;;) {
    auto next = reader->Read(line);
    if (!next.ok()) return next.status();
    if (*next == Next::kEnd) break;
    const std::uint64_t n = reader->line_number();
    if (*next == Next::kTooLong) {
      return fail(n, fmt::format("is longer than the audit log's {}-byte line limit (the keystore never writes "
                                 "such a line)",
                                 kMaxAuditLineBytes));
    }
    if (*next == Next::kIncomplete) {
      incomplete_tail = true;
      break;
    }
    auto parsed = ParseEntry(line, *mac);
    if (!parsed.ok()) return fail(n, parsed.status().message());
    if (!parsed->mac_ok) {
      // A forged line slipped into the chain leaves the next line still
      // chained to the line before it.
      std::string after;
      auto following = reader->Read(after);
      if (following.ok() && *following == Next::kLine) {
        auto next_entry = ParseEntry(after, *mac);
        if (next_entry.ok() && next_entry->mac_ok && next_entry->seq == expected && next_entry->prev == prev_hash) {
          return fail(n, "was inserted: its MAC does not verify and the next line continues the chain");
        }
      }
      return fail(n, "MAC does not verify: the entry was edited or forged");
    }
    if (parsed->seq != expected) {
      const std::uint64_t seq = parsed->seq;
      if (SeqAppearsLater(*reader, expected, *mac)) {
        return fail(n, fmt::format("has seq {} where seq {} was expected, and seq {} appears later: entries were "
                                   "reordered",
                                   seq, expected, expected));
      }
      if (seq > expected) {
        return fail(n, fmt::format("has seq {} where seq {} was expected: {} deleted", seq, expected,
                                   seq - expected == 1 ? fmt::format("entry {} was", expected)
                                                       : fmt::format("entries {}..{} were", expected, seq - 1)));
      }
      return fail(n, fmt::format("has seq {} where seq {} was expected: an earlier entry was duplicated (replayed)",
                                 seq, expected));
    }
    if (parsed->prev != prev_hash) {
      return fail(n, "prev does not match the hash of the line before it: the chain is broken (an earlier entry "
                     "was replaced)");
    }
    auto hash = Sha256Hex(line);
    if (!hash.ok()) return hash.status();
    if (parsed->seq == head.seq && *hash != head.hash) {
      return fail(n, "does not match the catalog's audit head: the log was rewritten from here");
    }
    prev_hash = std::move(hash).value();
    ++expected;
  }

  const std::uint64_t entries = expected - 1;
  if (entries < head.seq) {
    return fail(entries + 1,
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
    out.summary += fmt::format("; line {} is incomplete (an interrupted append, never acknowledged)", entries + 1);
  }
  return out;
}

}  // namespace sovereign::keystore_internal
