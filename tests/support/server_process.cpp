#include "tests/support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "tests/support/run_process.hpp"

namespace sovereign::test {

namespace {

constexpr std::string_view kListening = "listening on https://127.0.0.1:";

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// ParsePort finds the announcement line in `out` and returns its port, or 0.
int ParsePort(const std::string& out) {
  const auto at = out.find(kListening);
  if (at == std::string::npos) return 0;
  const auto start = at + kListening.size();
  const auto end = out.find('\n', start);
  if (end == std::string::npos) return 0;
  int port = 0;
  for (auto i = start; i < end; ++i) {
    const char c = out[i];
    if (c == '\r' || c == '/') break;
    if (c < '0' || c > '9') return -1;
    port = port * 10 + (c - '0');
    if (port > 65535) return -1;
  }
  return port;
}

}  // namespace

ServerProcess::ServerProcess(const std::filesystem::path& config, std::chrono::milliseconds ready_timeout) {
#ifndef SOVEREIGN_CLI_PATH
  (void)config;
  (void)ready_timeout;
  throw std::logic_error("the sovereign CLI was not built with these tests");
#else
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  const std::string binary = SOVEREIGN_CLI_PATH;
  const std::string config_arg = config.string();
  std::vector<char*> argv{const_cast<char*>(binary.c_str()), const_cast<char*>("serve"), const_cast<char*>("--config"),
                          const_cast<char*>(config_arg.c_str()), nullptr};
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid_ == 0) {
    // Die with the test, so a failed test never leaves a server behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    // Inherited across exec: a write past RLIMIT_FSIZE then fails with EFBIG.
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  reader_ = std::thread([this] { Drain(); });

  std::unique_lock lock(mu_);
  const bool ready = cv_.wait_for(lock, ready_timeout, [this] { return eof_ || ParsePort(out_) != 0; });
  const int port = ParsePort(out_);
  if (ready && port > 0) {
    port_ = port;
    return;
  }
  const std::string out_copy = out_, err_copy = err_;
  lock.unlock();
  const int code = Stop(std::chrono::seconds(2));
  throw std::runtime_error("sovereign serve did not start (" +
                           std::string(!ready     ? "timed out"
                                       : port < 0 ? "bad port"
                                                  : "exited") +
                           ", exit code " + std::to_string(code) + ")\nstdout: " + out_copy + "\nstderr: " + err_copy);
#endif
}

ServerProcess::~ServerProcess() {
  try {
    Stop();
  } catch (...) {
  }
}

std::string ServerProcess::Url() const { return "https://127.0.0.1:" + std::to_string(port_); }

void ServerProcess::Hup() const {
  if (kill(pid_, SIGHUP) != 0) throw std::system_error(errno, std::generic_category(), "kill SIGHUP");
}

void ServerProcess::Drain() {
  bool out_open = true, err_open = true;
  char buffer[16384];
  while (out_open || err_open) {
    pollfd fds[2];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_open) fds[n++] = {err_fd_, POLLIN, 0};
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t r = read(fds[i].fd, buffer, sizeof buffer);
      if (r < 0 && errno == EINTR) continue;
      const bool is_out = fds[i].fd == out_fd_;
      if (r <= 0) {
        (is_out ? out_open : err_open) = false;
        continue;
      }
      std::lock_guard lock(mu_);
      (is_out ? out_ : err_).append(buffer, static_cast<std::size_t>(r));
      cv_.notify_all();
    }
  }
  close(out_fd_);
  close(err_fd_);
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

bool ServerProcess::Reap(int& exit_code) {
  std::lock_guard lock(mu_);
  if (reaped_) {
    exit_code = exit_code_;
    return true;
  }
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return false;
  reaped_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  exit_code = exit_code_;
  return true;
}

bool ServerProcess::Running() const {
  std::lock_guard lock(mu_);
  if (reaped_ || pid_ <= 0) return false;
  // Signal 0 checks existence; a zombie still "exists", so look at its state.
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  std::string pid_field, comm, state;
  if (!(stat >> pid_field >> comm >> state)) return false;
  return state != "Z";
}

int ServerProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  int code = -1;
  if (!Reap(code)) {
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!Reap(code)) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        while (!Reap(code)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (reader_.joinable()) reader_.join();
  return code;
}

std::string ServerProcess::Stdout() const {
  std::lock_guard lock(mu_);
  return out_;
}

std::string ServerProcess::Stderr() const {
  std::lock_guard lock(mu_);
  return err_;
}

ServerProcess::OutputMark ServerProcess::Mark() const {
  std::lock_guard lock(mu_);
  return {out_.size(), err_.size()};
}

bool ServerProcess::WaitForOutput(const std::string& needle, OutputMark from, std::chrono::milliseconds timeout) const {
  const std::string lowered = Lower(needle);
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return Lower(out_.substr(std::min(from.out, out_.size()))).find(lowered) != std::string::npos ||
           Lower(err_.substr(std::min(from.err, err_.size()))).find(lowered) != std::string::npos;
  });
}

long ServerProcess::RssKiB() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

void ServerProcess::LimitFileSize(std::uintmax_t bytes) const {
  // Only the soft limit: lowering the hard one could not be undone without
  // CAP_SYS_RESOURCE, and the soft limit is what makes writes fail.
  struct rlimit limit {};
  if (prlimit(pid_, RLIMIT_FSIZE, nullptr, &limit) != 0) {
    throw std::system_error(errno, std::generic_category(), "prlimit RLIMIT_FSIZE");
  }
  limit.rlim_cur = std::min(static_cast<rlim_t>(bytes), limit.rlim_max);
  if (prlimit(pid_, RLIMIT_FSIZE, &limit, nullptr) != 0) {
    throw std::system_error(errno, std::generic_category(), "prlimit RLIMIT_FSIZE");
  }
}

Region PrepareRegion(const std::filesystem::path& root, const std::string& region, const TestPki& pki,
                     const nlohmann::json& access, int lease_ttl_seconds, const std::vector<std::string>& keys) {
  Region r;
  r.name = region;
  const auto base = root / region;
  std::filesystem::create_directories(base);
  r.store_dir = base / "store";
  r.config_path = base / "keystore.json";
  auto init = RunCli({"keystore", "init", "--dir", r.store_dir.string(), "--region", region});
  if (init.exit_code != 0) throw std::runtime_error("keystore init failed: " + init.err);
  for (const auto& key : keys) {
    auto created = RunCli({"keys", "create", "--keystore", r.store_dir.string(), "--key", key});
    if (created.exit_code != 0) throw std::runtime_error("keys create " + key + " failed: " + created.err);
  }
  r.config = {
      {"region", region},
      {"listen", "127.0.0.1:0"},
      {"store", {{"dir", r.store_dir.string()}}},
      {"tls",
       {{"cert", pki.server().cert.string()}, {"key", pki.server().key.string()}, {"client_ca", pki.ca().string()}}},
      {"audit", {{"path", (r.store_dir / "audit.log").string()}}},
      {"lease_ttl_seconds", lease_ttl_seconds},
      {"access", access},
  };
  WriteConfig(r);
  return r;
}

void WriteConfig(const Region& region) {
  const auto tmp = region.config_path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << region.config.dump(2) << "\n";
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  // Atomic replace: a SIGHUP never reads a half-written file.
  std::filesystem::rename(tmp, region.config_path);
}

nlohmann::json DefaultAccess(const std::string& region) {
  const std::string prefix = "spiffe://corp.example/region/" + region;
  nlohmann::json access = nlohmann::json::array({
      // In-region services may hold keys, so the equality-revealing remote
      // operations give them nothing they could not compute themselves.
      {{"principal", prefix + "/svc/*"},
       {"allow", {"lease", "encrypt", "deterministic", "index", "decrypt"}},
       {"keys", {"*"}},
       {"labels", {"*"}}},
      {{"principal", prefix + "/security/*"}, {"allow", {"admin", "audit", "metrics"}}},
  });
  if (region == "us") {
    // The offshore engineer: random-mode encryption only, of the labels it
    // names (a remote caller introduces no label its rule does not name).
    access.push_back({{"principal", "spiffe://corp.example/region/cn/*"},
                      {"allow", {"encrypt"}},
                      {"keys", {"users"}},
                      {"labels", {"email", "phone", "ssn", "address", "card"}}});
  }
  return access;
}

std::vector<nlohmann::json> AuditLines(const Region& region) {
  std::ifstream in(region.store_dir / "audit.log");
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

}  // namespace sovereign::test
