// Checking a keystore against its witness: the start-up check of `sovereign
// serve` and `sovereign audit verify --witness`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/posix_file.hpp"
#include "keystore/internal/witness.hpp"

namespace sovereign::keystore_internal {
namespace {

namespace fs = std::filesystem;

constexpr off_t kChunk = 65536;
// An audit line is at most a few KiB; a "line" longer than this is damage.
constexpr std::size_t kMaxLine = std::size_t{1} << 20;

Status Unreadable(const fs::path& path, std::string_view what) {
  return Status(ErrorCode::kKeystoreUnavailable, fmt::format("audit log {}: {}", path.string(), what));
}

// ReverseLines returns the complete lines of a file last first, reading it
// backwards in chunks: the witnessed head is normally near the end of the
// log, so the start-up check reads a few KiB of a log of any length. Bytes
// after the last '\n' (an interrupted append) are not a line.
class ReverseLines {
 public:
  ReverseLines(int fd, off_t size, const fs::path& path) : fd_(fd), pos_(size), path_(path) {}

  // Prev sets `line` to the line before the one it returned last (first: the
  // last complete line); false once the start of the file was passed.
  Result<bool> Prev(std::string& line) {
    if (!started_) {
      started_ = true;
      for (std::size_t nl; (nl = buf_.rfind('\n')) == std::string::npos;) {
        if (pos_ == 0) {
          done_ = true;  // no complete line at all
          break;
        }
        SOVEREIGN_RETURN_IF_ERROR(Fill());
      }
      if (!done_) buf_.resize(buf_.rfind('\n'));
    }
    if (done_) return false;
    for (;;) {
      const std::size_t nl = buf_.rfind('\n');
      if (nl != std::string::npos) {
        line.assign(buf_, nl + 1);
        buf_.resize(nl);
        return true;
      }
      if (pos_ == 0) {
        line = std::move(buf_);
        buf_.clear();
        done_ = true;
        return true;
      }
      if (buf_.size() > kMaxLine) return Unreadable(path_, "holds a line longer than 1 MiB");
      SOVEREIGN_RETURN_IF_ERROR(Fill());
    }
  }

 private:
  // Fill prepends the chunk before pos_ to buf_.
  Status Fill() {
    const off_t n = pos_ < kChunk ? pos_ : kChunk;
    std::string chunk(static_cast<std::size_t>(n), '\0');
    std::size_t got = 0;
    while (got < chunk.size()) {
      ssize_t r = ::pread(fd_, chunk.data() + got, chunk.size() - got, pos_ - n + static_cast<off_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Unreadable(path_, fmt::format("cannot read: {}", ErrnoText(r < 0 ? errno : EIO)));
      got += static_cast<std::size_t>(r);
    }
    pos_ -= n;
    buf_.insert(0, chunk);
    return OkStatus();
  }

  int fd_;
  off_t pos_;  // buf_ holds the unreturned bytes from pos_ on
  const fs::path& path_;
  std::string buf_;
  bool started_ = false;
  bool done_ = false;
};

// LineFacts is what the check reads from an audit line.
struct LineFacts {
  std::optional<std::uint64_t> seq;
  std::optional<std::uint64_t> adopted_from;  // first seq of the "adopted" range
};

LineFacts FactsOf(const std::string& line) {
  LineFacts facts;
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return facts;
  auto seq = j.find("seq");
  if (seq != j.end() && seq->is_number_unsigned()) facts.seq = seq->get<std::uint64_t>();
  auto adopted = j.find("adopted");
  if (adopted != j.end() && adopted->is_array() && !adopted->empty() && adopted->front().is_number_unsigned()) {
    facts.adopted_from = adopted->front().get<std::uint64_t>();
  }
  return facts;
}

// LogAtSeq is the log's line with a given seq (nullopt when the log ends
// before it), and the latest line after it that adopted entries at or
// before that seq, if any.
struct LogAtSeq {
  std::optional<std::string> line;
  std::optional<std::uint64_t> adopted_from;
  std::uint64_t adopted_by = 0;
};

// AuditLineAt finds the line with `seq`. Lines of an intact log are numbered
// 1, 2, … in order, so it counts back from the last line (reading each line
// on the way for an adoption) and then checks the seq it arrived at.
Result<LogAtSeq> AuditLineAt(const fs::path& path, std::uint64_t seq) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return Unreadable(path, fmt::format("cannot open: {}", ErrnoText(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Unreadable(path, fmt::format("cannot stat: {}", ErrnoText(errno)));
  ReverseLines lines(fd.get(), st.st_size, path);
  LogAtSeq out;
  std::string line;
  auto any = lines.Prev(line);
  if (!any.ok()) return any.status();
  if (!*any) return out;
  LineFacts facts = FactsOf(line);
  const auto damaged = [&] {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("audit log {} is damaged around seq {}; run `sovereign audit verify`", path.string(),
                              seq));
  };
  if (!facts.seq) return damaged();
  if (*facts.seq < seq) return out;
  for (std::uint64_t back = *facts.seq - seq; back > 0; --back) {
    if (facts.adopted_from && *facts.adopted_from <= seq && !out.adopted_from) {
      out.adopted_from = facts.adopted_from;
      out.adopted_by = facts.seq.value_or(0);
    }
    auto more = lines.Prev(line);
    if (!more.ok()) return more.status();
    if (!*more) return damaged();
    facts = FactsOf(line);
  }
  if (facts.seq != seq) return damaged();
  out.line = std::move(line);
  return out;
}

}  // namespace

Status CheckAuditAgainstWitness(const WitnessedHead& witnessed, const AuditHead& catalog_head,
                                const fs::path& audit_log, const fs::path& witness_path) {
  const std::uint64_t w = witnessed.head.seq;
  // line 0: a head this process published, checked before the next one.
  const std::string where = witnessed.line == 0
                                ? fmt::format("the witness {} (published by this service)", witness_path.string())
                                : fmt::format("the witness {} (line {}, {})", witness_path.string(), witnessed.line,
                                              witnessed.time);
  if (catalog_head.seq < w) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("rollback detected: the catalog's audit head is at seq {} but {} recorded seq {}: "
                              "catalog.db (and audit.log) were restored from an older copy, which would undo "
                              "every change after seq {} (shredded subjects, rotations, destroyed versions)",
                              catalog_head.seq, where, w, catalog_head.seq));
  }
  if (catalog_head.seq == w && catalog_head.hash != witnessed.head.hash) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("forked history detected: the catalog's audit head at seq {} has another hash than {} "
                              "recorded: catalog.db comes from another history of this keystore",
                              w, where));
  }
  if (w == 0) return OkStatus();
  auto found = AuditLineAt(audit_log, w);
  if (!found.ok()) return found.status();
  const std::optional<std::string>& line = found->line;
  if (!line) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("rollback detected: audit log {} ends before seq {}, which {} recorded: the log was "
                              "restored from an older copy or cut short",
                              audit_log.string(), w, where));
  }
  auto hash = Sha256Hex(*line);
  if (!hash.ok()) return hash.status();
  if (*hash != witnessed.head.hash) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("forked history detected: audit log {} holds another entry at seq {} than {} recorded: "
                              "the log was replaced by another history",
                              audit_log.string(), w, where));
  }
  // Entries a crash left past the head were never committed, so never
  // witnessed: an adoption that reaches back to the witnessed seq means the
  // catalog was put back to before it and an append made the log fit again.
  if (found->adopted_from) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("rollback detected: the audit entry at seq {} adopted entries from seq {} on as left by "
                              "a crash, but {} recorded seq {} as committed: catalog.db was put back to an older "
                              "copy (audit head seq {}) before that append",
                              found->adopted_by, *found->adopted_from, where, w, *found->adopted_from - 1));
  }
  return OkStatus();
}

Result<std::string> VerifyKeystoreWitness(const fs::path& dir, const fs::path& log, const fs::path& witness) {
  auto files = OpenKeystoreFiles(dir);
  if (!files.ok()) return files.status();
  auto tx = Transaction::BeginRead(files->catalog.db());
  if (!tx.ok()) return tx.status();
  auto head = files->catalog.ReadAuditHead();
  if (!head.ok()) return head.status();
  SOVEREIGN_RETURN_IF_ERROR(tx->Commit());
  auto mac = NewWitnessMac(files->audit_key);
  if (!mac.ok()) return mac.status();
  auto contents = ReadWitness(witness, files->region, *mac);
  if (!contents.ok()) return contents.status();
  if (!contents->latest) {
    return fmt::format("witness {} holds no head yet: nothing to check against", witness.string());
  }
  const WitnessedHead& latest = *contents->latest;
  SOVEREIGN_RETURN_IF_ERROR(
      CheckAuditAgainstWitness(latest, *head, log.empty() ? files->dir / kAuditLogFileName : log, witness));
  return fmt::format("witness ok: {} heads; the last (seq {}, line {}, {}) is in the log and the catalog's head (seq "
                     "{}) is not behind it",
                     contents->heads, latest.head.seq, latest.line, latest.time, head->seq);
}

}  // namespace sovereign::keystore_internal
