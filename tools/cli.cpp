#include "tools/cli.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

namespace sovereign::cli {

int ExitCodeFor(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kOk: return kExitOk;
    case ErrorCode::kDenied: return kExitDenied;
    case ErrorCode::kInvalidCiphertext: return kExitInvalidCiphertext;
    case ErrorCode::kKeyVersionUnusable: return kExitKeyVersionUnusable;
    case ErrorCode::kShredded: return kExitShredded;
    case ErrorCode::kInvalidArgument: return kExitUsage;
    default: return kExitError;
  }
}

void Check(const Status& status, std::string_view what) {
  if (status.ok()) return;
  std::string message = what.empty() ? status.message() : fmt::format("{}: {}", what, status.message());
  throw CommandError(ExitCodeFor(status.code()), message);
}

// The environment fallbacks are applied where the options are used
// (ResolveKeystoreArgs), not by CLI11: sibling subcommands share one
// KeystoreArgs, and CLI11 applied a subcommand's environment fallback even
// where the user had given the flag to a sibling, so SOVEREIGN_KEYSTORE beat
// an explicit --keystore (and a key was created in the wrong region).
void AddKeystoreOptions(CLI::App& command, KeystoreArgs& args) {
  auto* one = command
                  .add_option("--keystore", args.keystore,
                              "Keystore directory, or https:// URL of a keystore service (else $SOVEREIGN_KEYSTORE)")
                  ->type_name("DIR|URL");
  auto* map =
      command.add_option("--keystores", args.keystores, "JSON file mapping regions to keystores (else $SOVEREIGN_KEYSTORES)")
          ->type_name("FILE");
  one->excludes(map);
  command.add_option("--tls-cert", args.tls_cert, "Client certificate (PEM) for a keystore URL (else $SOVEREIGN_TLS_CERT)")
      ->type_name("FILE");
  command.add_option("--tls-key", args.tls_key, "Client private key (PEM) for a keystore URL (else $SOVEREIGN_TLS_KEY)")
      ->type_name("FILE");
  command
      .add_option("--tls-ca", args.tls_ca,
                  "CA certificate (PEM) the keystore service's certificate chains to (else $SOVEREIGN_TLS_CA)")
      ->type_name("FILE");
  command.add_option("--region", args.region, "Region to use when several keystores are configured")
      ->type_name("REGION");
}

std::string EnvOr(const std::string& given, const char* name) {
  if (!given.empty()) return given;
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

KeystoreArgs ResolveKeystoreArgs(const KeystoreArgs& given) {
  KeystoreArgs args = given;
  if (args.keystore.empty() && args.keystores.empty()) {
    args.keystore = EnvOr("", "SOVEREIGN_KEYSTORE");
    args.keystores = EnvOr("", "SOVEREIGN_KEYSTORES");
    if (!args.keystore.empty() && !args.keystores.empty()) {
      throw CommandError(kExitUsage,
                         "SOVEREIGN_KEYSTORE and SOVEREIGN_KEYSTORES are both set: unset one, or give --keystore or "
                         "--keystores");
    }
  }
  args.tls_cert = EnvOr(args.tls_cert, "SOVEREIGN_TLS_CERT");
  args.tls_key = EnvOr(args.tls_key, "SOVEREIGN_TLS_KEY");
  args.tls_ca = EnvOr(args.tls_ca, "SOVEREIGN_TLS_CA");
  return args;
}

std::vector<OpenedKeystore> OpenKeystores(const KeystoreArgs& given) {
  const KeystoreArgs args = ResolveKeystoreArgs(given);
  if (!args.keystores.empty()) return Check(OpenKeystoreMap(args.keystores));
  if (args.keystore.empty()) {
    throw CommandError(kExitUsage, "no keystore: give --keystore DIR|URL (or SOVEREIGN_KEYSTORE) or --keystores FILE");
  }
  RemoteKeystoreOptions tls;
  tls.tls_cert = args.tls_cert;
  tls.tls_key = args.tls_key;
  tls.tls_ca = args.tls_ca;
  std::vector<OpenedKeystore> out;
  out.push_back(Check(OpenKeystore(args.keystore, tls)));
  return out;
}

std::string ChooseRegion(const KeystoreArgs& args, const std::vector<OpenedKeystore>& keystores) {
  std::string regions;
  for (const auto& k : keystores) {
    if (!args.region.empty() && k.region == args.region) return k.region;
    regions += (regions.empty() ? "" : ", ") + k.region;
  }
  if (!args.region.empty()) {
    throw CommandError(kExitUsage, fmt::format("no keystore is configured for region '{}' (configured: {})",
                                               args.region, regions));
  }
  if (keystores.size() != 1) {
    throw CommandError(kExitUsage, fmt::format("several regions are configured ({}): choose one with --region", regions));
  }
  return keystores.front().region;
}

OpenedKeystore OpenRegionKeystore(const KeystoreArgs& args) {
  auto keystores = OpenKeystores(args);
  const std::string region = ChooseRegion(args, keystores);
  for (auto& k : keystores) {
    if (k.region == region) return std::move(k);
  }
  throw CommandError(kExitError, "region disappeared");  // unreachable: ChooseRegion returned a configured one
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
