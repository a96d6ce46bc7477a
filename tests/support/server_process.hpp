// ServerProcess: a real `sovereign serve` child process for the service tests,
// plus helpers that prepare a region's keystore directory and config file.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/pki.hpp"

namespace sovereign::test {

// ServerProcess starts `sovereign serve --config CONFIG` and waits until it
// prints `listening on https://127.0.0.1:PORT` on stdout. Output of both
// streams is drained by a background thread for the whole life of the
// process, so a chatty server never blocks on a full pipe.
//
// Thread safety: all methods may be called from any thread.
class ServerProcess {
 public:
  // Starts the server; throws std::runtime_error with the server's stderr if
  // it exits or does not announce its port within `ready_timeout`.
  explicit ServerProcess(const std::filesystem::path& config,
                         std::chrono::milliseconds ready_timeout = std::chrono::seconds(15));
  // Stops the server (SIGTERM, then SIGKILL after 10 s) if it still runs.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Url is "https://127.0.0.1:PORT".
  std::string Url() const;

  // Hup sends SIGHUP (policy reload).
  void Hup() const;
  // Stop sends SIGTERM, waits (SIGKILL after `grace`) and returns the exit code
  // (128 + signal when killed). Idempotent.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  bool Running() const;

  // Output captured so far.
  std::string Stdout() const;
  std::string Stderr() const;
  // OutputMark is how much of each stream has been read, for WaitForOutput.
  struct OutputMark {
    std::size_t out = 0;
    std::size_t err = 0;
  };
  OutputMark Mark() const;
  // WaitForOutput waits until what either stream printed after `from`
  // contains `needle` (case-insensitive); returns whether it did in `timeout`.
  bool WaitForOutput(const std::string& needle, OutputMark from, std::chrono::milliseconds timeout) const;

  // RssKiB reads VmRSS from /proc/PID/status.
  long RssKiB() const;

  // LimitFileSize sets the soft RLIMIT_FSIZE of the running server (prlimit), so any
  // write that would grow a file past `bytes` fails with EFBIG. The server
  // was started with SIGXFSZ ignored, so the failure is an error, not a kill.
  void LimitFileSize(std::uintmax_t bytes) const;

 private:
  void Drain();
  bool Reap(int& exit_code);

  pid_t pid_ = -1;
  int port_ = 0;
  int out_fd_ = -1, err_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string out_, err_;
  bool eof_ = false;
  bool reaped_ = false;
  int exit_code_ = -1;
};

// Region is one region's keystore directory and serve config, laid out under
// a test's temporary directory.
struct Region {
  std::string name;
  std::filesystem::path store_dir;
  std::filesystem::path config_path;
  nlohmann::json config;
};

// PrepareRegion creates `root/<region>/store` with `sovereign keystore init`
// and `keys create` for each of `keys`, and writes `root/<region>/keystore.json`
// listening on 127.0.0.1:0 with the PKI's server cert and CA, the given access
// policy and lease TTL. Fails the test (REQUIRE) when the CLI fails.
Region PrepareRegion(const std::filesystem::path& root, const std::string& region, const TestPki& pki,
                     const nlohmann::json& access, int lease_ttl_seconds = 300,
                     const std::vector<std::string>& keys = {"users"});

// WriteConfig rewrites the region's config file from `region.config`.
void WriteConfig(const Region& region);

// DefaultAccess is the example policy for `region`: its own services
// (…/region/<region>/svc/*) may lease, encrypt and decrypt every label of every
// key, its security officers have admin and audit, and (for "us") the CN
// engineers may only encrypt under "users".
nlohmann::json DefaultAccess(const std::string& region);

// AuditLines reads the region's audit log, one parsed JSON object per line.
std::vector<nlohmann::json> AuditLines(const Region& region);

}  // namespace sovereign::test
