#include "pipeline/internal/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/format.h>

namespace sovereign::pipeline {

namespace {

// Temporary file names the signal handler may unlink: fixed storage, so the
// handler only reads memory and calls unlink (async-signal-safe).
constexpr int kSlots = 8;
struct CleanupSlot {
  std::atomic<bool> used{false};
  char path[PATH_MAX];
};
std::array<CleanupSlot, kSlots> g_slots;

int Register(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kSlots; ++i) {
    if (!g_slots[i].used.load()) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].used.store(true);
      return i;
    }
  }
  return -1;
}

void Unregister(int slot) {
  if (slot >= 0) g_slots[slot].used.store(false);
}

extern "C" void CleanupAndDie(int sig) {
  for (auto& s : g_slots) {
    if (s.used.load()) ::unlink(s.path);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

Status Errno(std::string_view what, const std::string& path) {
  return Status(ErrorCode::kInternal, fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)));
}

}  // namespace

void InstallCleanupHandlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    struct sigaction sa {};
    sa.sa_handler = CleanupAndDie;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::filesystem::path& target) {
  std::unique_ptr<AtomicFile> f(new AtomicFile());
  f->target_ = target;
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  // Appended piecewise: GCC 12's -Wrestrict misreads `"." + std::string` at -O3.
  std::string name = ".";
  name.append(target.filename().string()).append(".sovereign-XXXXXX");
  std::string templ = (dir / name).string();
  // Register before the file exists so a signal cannot leave it behind.
  f->slot_ = Register(templ);
  f->fd_ = ::mkostemp(templ.data(), O_CLOEXEC);  // O_EXCL, mode 0600
  if (f->fd_ < 0) {
    Unregister(f->slot_);
    f->slot_ = -1;
    return Errno("create a temporary file for", target.string());
  }
  f->temp_ = templ;
  Unregister(f->slot_);
  f->slot_ = Register(templ);
  return f;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
  Unregister(slot_);
}

Status AtomicFile::Commit() {
  if (::fsync(fd_) != 0) return Errno("sync", temp_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Errno("close", temp_);
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), target_.c_str()) != 0) return Errno("rename to", target_.string());
  committed_ = true;
  Unregister(slot_);
  slot_ = -1;
  const std::filesystem::path dir = target_.has_parent_path() ? target_.parent_path() : ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return OkStatus();
}

}  // namespace sovereign::pipeline
