// WitnessPublisher and StartWitness (contracts in witness_publisher.hpp).
#include "keystore/internal/witness_publisher.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/posix_file.hpp"

namespace sovereign::keystore_internal {
namespace {

namespace fs = std::filesystem;

Status Unavailable(const fs::path& path, std::string_view what) {
  return Status(ErrorCode::kKeystoreUnavailable,
                fmt::format("witness {}: {}; the change is not acknowledged", path.string(), what));
}

// CreateWitnessFile creates an empty witness, 0600, and makes its directory
// entry durable. kAlreadyExists if something is at `path` already.
Status CreateWitnessFile(const fs::path& path) {
  auto fd = CreatePrivateFile(path);
  if (!fd.ok()) return fd.status();
  if (::fsync(fd->get()) != 0) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("witness {}: cannot fsync: {}", path.string(), ErrnoText(errno)));
  }
  fs::path dir = path.parent_path();
  return FsyncPath(dir.empty() ? fs::path(".") : dir);
}

}  // namespace

WitnessPublisher::WitnessPublisher(fs::path path, std::string region, internal::HmacSha256 mac, HeadSource source,
                                   AuditHead published, bool ends_mid_line, fs::path audit_log)
    : path_(std::move(path)),
      region_(std::move(region)),
      audit_log_(std::move(audit_log)),
      mac_(std::move(mac)),
      source_(std::move(source)),
      needs_newline_(ends_mid_line),
      published_(std::move(published)) {}

std::uint64_t WitnessPublisher::appends() const {
  std::lock_guard lock(mu_);
  return appends_;
}

Status WitnessPublisher::Publish() {
  auto target = source_();
  if (!target.ok()) return Unavailable(path_, fmt::format("cannot read the audit head: {}", target.status().message()));
  std::unique_lock lock(mu_);
  const std::uint64_t failures_seen = failures_;
  for (;;) {
    if (published_.seq >= target->seq) return OkStatus();
    // The round this call waited for failed: report it rather than retry
    // behind it (the next call starts a round of its own).
    if (failures_ != failures_seen) return last_error_;
    if (!writing_) break;
    done_.wait(lock);
  }
  // This call leads a round: it reads the head now, so the round covers every
  // call that read its target before, and appends it with one fsync.
  writing_ = true;
  const AuditHead last_published = published_;
  lock.unlock();
  AuditHead newest;
  Status status = [&]() -> Status {
    auto head = source_();
    if (!head.ok()) return Unavailable(path_, fmt::format("cannot read the audit head: {}", head.status().message()));
    if (head->seq < target->seq) {
      return Unavailable(path_, fmt::format("the audit head went back from seq {} to seq {} while serving: the "
                                            "store was rolled back under the running service",
                                            target->seq, head->seq));
    }
    if (last_published.seq > 0) {
      WitnessedHead witnessed{last_published, "", 0};
      Status intact = CheckAuditAgainstWitness(witnessed, *head, audit_log_, path_);
      if (!intact.ok()) return Unavailable(path_, intact.message());
    }
    newest = std::move(head).value();
    return AppendHead(newest);
  }();
  lock.lock();
  writing_ = false;
  if (status.ok()) {
    published_ = std::move(newest);
    ++appends_;
  } else {
    ++failures_;
    last_error_ = status;
  }
  done_.notify_all();
  return status;
}

Status WitnessPublisher::AppendHead(const AuditHead& head) {
  auto line = SealWitnessLine(region_, head, std::chrono::system_clock::now(), mac_);
  if (!line.ok()) return line.status();
  std::string bytes = needs_newline_ ? "\n" : "";
  bytes += *line;
  bytes.push_back('\n');
  // No O_CREAT: the file was created (or found) at start; one that vanished
  // was removed, and a fresh empty witness would protect nothing.
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return Unavailable(path_, fmt::format("cannot open: {}", ErrnoText(errno)));
  int err = WriteAll(fd.get(), {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
  // A failed write may have left part of a line that cannot be cut off
  // (the file is append-only): the next line starts on a fresh one, and
  // readers skip the fragment.
  needs_newline_ = err != 0;
  if (err != 0) return Unavailable(path_, fmt::format("cannot append: {}", ErrnoText(err)));
  return OkStatus();
}

Result<std::shared_ptr<WitnessPublisher>> StartWitness(const fs::path& path, const fs::path& store_dir,
                                                       const std::function<void(std::string_view)>& log) {
  auto files = OpenKeystoreFiles(store_dir);
  if (!files.ok()) return files.status();
  auto mac = NewWitnessMac(files->audit_key);
  if (!mac.ok()) return mac.status();

  // The head source keeps this connection (a WAL reader: it never waits for
  // the service's writers); the root and audit keys are wiped on return.
  struct HeadReader {
    explicit HeadReader(Catalog c) : catalog(std::move(c)) {}
    std::mutex mu;
    Catalog catalog;
  };
  auto reader = std::make_shared<HeadReader>(std::move(files->catalog));
  WitnessPublisher::HeadSource source = [reader]() -> Result<AuditHead> {
    std::lock_guard lock(reader->mu);
    auto tx = Transaction::BeginRead(reader->catalog.db());
    if (!tx.ok()) return tx.status();
    auto head = reader->catalog.ReadAuditHead();
    if (!head.ok()) return head.status();
    SOVEREIGN_RETURN_IF_ERROR(tx->Commit());
    return head;
  };
  auto head = source();
  if (!head.ok()) return head.status();

  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  if (status.type() == fs::file_type::not_found) {
    SOVEREIGN_RETURN_IF_ERROR(CreateWitnessFile(path));
    log(fmt::format("witness {} did not exist: created it (first use); every later start is checked against it",
                    path.string()));
  } else if (status.type() != fs::file_type::regular) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("witness {} is not a regular file (a symbolic link is not followed)", path.string()));
  }
  auto contents = ReadWitness(path, files->region, *mac);
  if (!contents.ok()) return contents.status();
  if (contents->unreadable > 0) {
    log(fmt::format("witness {}: skipped {} unreadable line(s) (interrupted appends)", path.string(),
                    contents->unreadable));
  }
  AuditHead published;
  if (contents->latest) {
    const WitnessedHead& latest = *contents->latest;
    SOVEREIGN_RETURN_IF_ERROR(CheckAuditAgainstWitness(latest, *head, files->dir / kAuditLogFileName, path));
    log(fmt::format("witness {}: last head seq {} (line {}, {}); the keystore's audit head is at seq {}: no rollback",
                    path.string(), latest.head.seq, latest.line, latest.time, head->seq));
    published = latest.head;
  }
  auto publisher =
      std::make_shared<WitnessPublisher>(path, files->region, std::move(mac).value(), std::move(source),
                                         std::move(published), contents->ends_mid_line, files->dir / kAuditLogFileName);
  // Changes made while the service was down (the CLI on the directory) are
  // witnessed now, before anything is served.
  SOVEREIGN_RETURN_IF_ERROR(publisher->Publish());
  return publisher;
}

}  // namespace sovereign::keystore_internal
