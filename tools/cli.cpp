#include "tools/cli.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace sovereign::cli {

int ExitCodeFor(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kOk: return kExitOk;
    case ErrorCode::kDenied: return kExitDenied;
    case ErrorCode::kInvalidCiphertext: return kExitInvalidCiphertext;
    case ErrorCode::kInvalidArgument: return kExitUsage;
    default: return kExitError;
  }
}

void Check(const Status& status, std::string_view what) {
  if (status.ok()) return;
  std::string message = what.empty() ? status.message() : fmt::format("{}: {}", what, status.message());
  throw CommandError(ExitCodeFor(status.code()), message);
}

void AddKeystoreOption(CLI::App& command, std::string& keystore) {
  command.add_option("--keystore", keystore, "Keystore directory")
      ->envname("SOVEREIGN_KEYSTORE")
      ->required()
      ->type_name("DIR");
}

std::shared_ptr<EmbeddedKeystore> OpenKeystore(const std::string& keystore) {
  return Check(EmbeddedKeystore::Open(keystore));
}

std::string ReadAllStdin() {
  std::string out;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw CommandError(kExitError, fmt::format("cannot read standard input: {}", std::strerror(errno)));
    }
    out.append(buffer, static_cast<std::size_t>(n));
    if (out.size() > kMaxPlaintextSize + 1024) {
      throw CommandError(kExitUsage, "standard input is larger than a field may be (16 MiB)");
    }
  }
  return out;
}

void WriteStdout(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw CommandError(kExitError, fmt::format("cannot write standard output: {}", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace sovereign::cli
