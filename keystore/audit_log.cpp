#include "keystore/internal/audit_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <utility>

#include <fmt/format.h>

#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/posix_file.hpp"

namespace sovereign::keystore_internal {
namespace {

using Json = nlohmann::json;

// What reconciliation must see at the end of the file: the entries of one
// append past the head (at most kMaxAppendBytes), or else the head's own line
// (at most kMaxAuditLineBytes), followed by at most one incomplete line an
// interrupted append left (shorter than kMaxAppendBytes), plus the '\n' before
// the first of them. Every log the writer can produce fits.
constexpr off_t kTailWindow = static_cast<off_t>(2 * kMaxAppendBytes + 1);
static_assert(kMaxAppendBytes >= kMaxAuditLineBytes, "one append must be able to hold one entry");

std::string Rfc3339(TimePoint t) {
  const auto micros = ToMicros(t);
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (micros % 1000000) / 1000);
}

Status Unavailable(const std::filesystem::path& path, std::string_view what) {
  return Status(ErrorCode::kKeystoreUnavailable,
                fmt::format("audit log {}: {}; refusing to proceed without an audit record", path.string(), what));
}

// Tail is the last complete lines of the log (oldest first, at most
// kMaxAppendEntries + 1 of them) and where the last one ends.
struct Tail {
  std::vector<std::string> lines;  // empty when the log holds no complete line
  off_t end = 0;                   // offset just past the last line's '\n'
};

Result<Tail> ReadTail(int fd, off_t size, const std::filesystem::path& path) {
  Tail tail;
  if (size == 0) return tail;
  const off_t start = size > kTailWindow ? size - kTailWindow : 0;
  std::string buf(static_cast<std::size_t>(size - start), '\0');
  std::size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::pread(fd, buf.data() + done, buf.size() - done, start + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable(path, fmt::format("cannot read: {}", ErrnoText(n < 0 ? errno : EIO)));
    done += static_cast<std::size_t>(n);
  }
  const std::size_t last_nl = buf.rfind('\n');
  if (last_nl == std::string::npos) {
    if (start != 0) {
      return Unavailable(path, "its last line is longer than any append writes; run `sovereign audit verify`");
    }
    return tail;  // only an incomplete first line
  }
  tail.end = start + static_cast<off_t>(last_nl + 1);
  // Walk back line by line; a line is complete only if the window holds its start.
  std::size_t line_end = last_nl;
  while (tail.lines.size() <= kMaxAppendEntries) {
    const std::size_t begin = line_end == 0 ? std::string::npos : buf.rfind('\n', line_end - 1);
    if (begin == std::string::npos && start != 0) break;  // starts before the window
    const std::size_t line_start = begin == std::string::npos ? 0 : begin + 1;
    if (line_start == line_end) {
      if (tail.lines.empty()) return Unavailable(path, "contains an empty line");
      break;  // only the last line matters unless entries past the head must be checked
    }
    tail.lines.insert(tail.lines.begin(), buf.substr(line_start, line_end - line_start));
    if (begin == std::string::npos) break;
    line_end = begin;
  }
  if (tail.lines.empty()) {
    return Unavailable(path, "its last line is longer than any append writes; run `sovereign audit verify`");
  }
  return tail;
}

// Reconcile checks the log's last entries against the catalog head (see the
// header) and returns the log's last entry, which the next one chains to.
Result<AuditHead> Reconcile(const Tail& tail, const AuditHead& head, internal::HmacSha256& mac,
                            const std::filesystem::path& path) {
  if (tail.lines.empty()) {
    if (head.seq == 0) return AuditHead{0, kGenesisHash};
    return Unavailable(path, fmt::format("log has no complete entry but the catalog's audit head is at seq {}; "
                                         "run `sovereign audit verify`",
                                         head.seq));
  }
  // The last entry is the head, or up to one append's entries past it that a
  // crash kept from being committed: each must verify and chain, the first to the head.
  Result<AuditHead> last = [&]() -> Result<AuditHead> {
    auto parsed = ParseEntry(tail.lines.back(), mac);
    if (!parsed.ok()) {
      return Unavailable(path,
                         fmt::format("its last entry {}; run `sovereign audit verify`", parsed.status().message()));
    }
    if (!parsed->mac_ok) return Unavailable(path, "last entry does not verify; run `sovereign audit verify`");
    auto hash = Sha256Hex(tail.lines.back());
    if (!hash.ok()) return hash.status();
    return AuditHead{parsed->seq, std::move(hash).value()};
  }();
  if (!last.ok()) return last.status();
  if (last->seq == head.seq && last->hash == head.hash) return last;
  const std::uint64_t ahead = last->seq > head.seq ? last->seq - head.seq : 0;
  if (ahead != 0 && ahead <= kMaxAppendEntries && ahead <= tail.lines.size()) {
    bool chained = true;
    std::string prev = head.hash;
    for (std::size_t i = tail.lines.size() - ahead; i < tail.lines.size() && chained; ++i) {
      auto parsed = ParseEntry(tail.lines[i], mac);
      if (!parsed.ok() || !parsed->mac_ok) {
        return Unavailable(path, "an entry at the end does not verify; run `sovereign audit verify`");
      }
      chained = parsed->seq == head.seq + 1 + (i - (tail.lines.size() - ahead)) && parsed->prev == prev;
      auto hash = Sha256Hex(tail.lines[i]);
      if (!hash.ok()) return hash.status();
      prev = std::move(hash).value();
    }
    if (chained) return last;
  }
  return Unavailable(path, fmt::format("log ends at seq {} but the catalog's audit head is at seq {}; run "
                                       "`sovereign audit verify`",
                                       last->seq, head.seq));
}

}  // namespace

AuditEvent Event(std::string_view principal, std::string_view op, std::string_view key) {
  AuditEvent event;
  event.principal = std::string(principal);
  event.op = std::string(op);
  event.key = std::string(key);
  return event;
}

Status CreateAuditLogFile(const std::filesystem::path& path) {
  auto fd = CreatePrivateFile(path);
  if (!fd.ok()) return fd.status();
  if (::fsync(fd->get()) != 0) return Unavailable(path, fmt::format("cannot fsync: {}", ErrnoText(errno)));
  return OkStatus();
}

Result<AuditLog> AuditLog::New(std::filesystem::path path, const SecretBytes& audit_key, std::string region,
                               std::string principal) {
  auto mac = internal::HmacSha256::New(audit_key.bytes(InsecureSecretKeyAccess::Get()));
  if (!mac.ok()) return mac.status();
  return AuditLog(std::move(path), std::move(mac).value(), std::move(region), std::move(principal));
}

Status AuditLog::Append(Catalog& catalog, const AuditEvent& event, TimePoint now) {
  return AppendMany(catalog, std::span<const AuditEvent>(&event, 1), now);
}

Status AuditLog::AppendMany(Catalog& catalog, std::span<const AuditEvent> events, TimePoint now) {
  if (events.empty()) return OkStatus();
  if (events.size() > kMaxAppendEntries) {
    return Status(ErrorCode::kInternal, fmt::format("audit log: at most {} entries per append", kMaxAppendEntries));
  }
  auto head = catalog.ReadAuditHead();
  if (!head.ok()) return head.status();

  // Opened per append (not cached) so a replaced or removed log is noticed,
  // never silently written to a stale inode.
  UniqueFd fd(::open(path_.c_str(), O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return Unavailable(path_, fmt::format("cannot open: {}", ErrnoText(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Unavailable(path_, fmt::format("cannot stat: {}", ErrnoText(errno)));
  if (!S_ISREG(st.st_mode)) return Unavailable(path_, "is not a regular file");

  off_t size = st.st_size;
  AuditHead last;
  // Entries past the head that this append adopts are named (member
  // "adopted": [first, last]) in its first line: a crash leaves only entries
  // that were never acknowledged, but a catalog put back to an older copy
  // looks the same here, and only a rollback witness can tell them apart
  // (docs/keystore.md#rollback-witness) — so the adoption must stay visible.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> adopted;
  const bool unchanged = KnownTailHolds(fd.get(), st, *head);
  known_tail_.reset();
  if (unchanged) {
    last = *head;
  } else {
    auto tail = ReadTail(fd.get(), st.st_size, path_);
    if (!tail.ok()) return tail.status();
    auto reconciled = Reconcile(*tail, *head, mac_, path_);
    if (!reconciled.ok()) return reconciled.status();
    last = std::move(reconciled).value();
    if (last.seq > head->seq) adopted.emplace(head->seq + 1, last.seq);
    if (tail->end != size) {
      // An incomplete last line: an append interrupted by a crash, after the
      // entries we just reconciled. It was never acknowledged; cut it off.
      if (::ftruncate(fd.get(), tail->end) != 0 || ::fsync(fd.get()) != 0) {
        return Unavailable(path_, fmt::format("cannot remove an incomplete last line: {}", ErrnoText(errno)));
      }
      size = tail->end;
    }
  }

  std::string lines;
  std::size_t last_line_size = 0;
  for (const AuditEvent& event : events) {
    const std::uint64_t seq = last.seq + 1;
    Json entry = Json::object();
    entry["seq"] = last.seq + 1;
    entry["prev"] = last.hash;
    entry["time"] = Rfc3339(now);
    entry["principal"] = event.principal.empty() ? principal_ : event.principal;
    entry["op"] = event.op;
    entry["region"] = region_;
    entry["outcome"] = event.outcome;
    if (!event.reason.empty()) entry["reason"] = event.reason;
    if (!event.key.empty()) entry["key"] = event.key;
    if (event.key_id) entry["key_id"] = *event.key_id;
    if (!event.versions.empty()) entry["versions"] = event.versions;
    if (!event.labels.empty()) entry["labels"] = event.labels;
    if (event.mode) entry["mode"] = std::string(ModeName(*event.mode));
    if (!event.subject.empty()) entry["subject"] = event.subject;
    if (event.subject_created) entry["subject_created"] = true;
    if (!event.note.empty()) entry["note"] = event.note;
    if (!event.counts.is_null()) entry["counts"] = event.counts;
    if (adopted) {
      entry["adopted"] = Json::array({adopted->first, adopted->second});
      adopted.reset();
    }
    // A line past the limit is refused here, before anything is written, so
    // no reader or verifier ever meets one (the request fails closed).
    auto line = SealEntry(std::move(entry), mac_);
    if (!line.ok()) {
      return Unavailable(path_, fmt::format("the {} entry for seq {} {}; nothing was written", event.op, seq,
                                            line.status().message()));
    }
    if (lines.size() + line->size() + 1 > kMaxAppendBytes) {
      return Unavailable(path_, fmt::format("{} entries would take more than the {}-byte limit of one append; "
                                            "nothing was written",
                                            events.size(), kMaxAppendBytes));
    }
    auto hash = Sha256Hex(*line);
    if (!hash.ok()) return hash.status();
    lines += *line;
    lines.push_back('\n');
    last_line_size = line->size() + 1;
    last = AuditHead{last.seq + 1, std::move(hash).value()};
  }

  // One write and one fsync for every entry: all of them are durable before the head moves.
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(lines.data());
  int err = WriteAll(fd.get(), {bytes, lines.size()});
  if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
  if (err != 0) {
    // Leave no partial line behind: the next append must find the log as it was.
    if (::ftruncate(fd.get(), size) == 0) (void)::fsync(fd.get());
    return Unavailable(path_, fmt::format("cannot append: {}", ErrnoText(err)));
  }
  SOVEREIGN_RETURN_IF_ERROR(catalog.WriteAuditHead(last));
  const off_t end = size + static_cast<off_t>(lines.size());
  const off_t last_line_start = end - static_cast<off_t>(last_line_size);
  known_tail_ = KnownTail{st.st_dev, st.st_ino, end, last_line_start, last};
  return OkStatus();
}

bool AuditLog::KnownTailHolds(int fd, const struct stat& st, const AuditHead& head) const {
  if (!known_tail_ || known_tail_->device != st.st_dev || known_tail_->inode != st.st_ino ||
      known_tail_->size != st.st_size || known_tail_->last.seq != head.seq || known_tail_->last.hash != head.hash) {
    return false;
  }
  std::string line(static_cast<std::size_t>(known_tail_->size - known_tail_->last_line_start), '\0');
  const ssize_t n = ::pread(fd, line.data(), line.size(), known_tail_->last_line_start);
  if (n != static_cast<ssize_t>(line.size()) || line.empty() || line.back() != '\n') return false;
  line.pop_back();
  auto hash = Sha256Hex(line);
  return hash.ok() && *hash == head.hash;
}

}  // namespace sovereign::keystore_internal
