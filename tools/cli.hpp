// Shared plumbing of the `sovereign` command-line tool: exit codes, error
// reporting, opening keystores, exact stdin/stdout I/O.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"
#include "sovereign/keystores.hpp"
#include "sovereign/status.hpp"

namespace sovereign::cli {

// Exit codes, documented in docs/cli.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,              // keystore, key or I/O problem
  kExitUsage = 2,              // bad command line or bad input value
  kExitDenied = 3,             // the principal may not do this
  kExitInvalidCiphertext = 4,  // the ciphertext failed authentication or is malformed
  kExitKeyVersionUnusable = 5, // the key version is disabled, retired or destroyed
  kExitShredded = 6,           // the field's subject was shredded: unrecoverable by design
};

// CommandError carries a one-line, secret-free message and an exit code to main().
class CommandError : public std::runtime_error {
 public:
  CommandError(int exit_code, const std::string& message) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// ExitCodeFor maps an API error to the tool's exit code.
int ExitCodeFor(ErrorCode code) noexcept;

// Check throws CommandError for a non-ok status, prefixed with `what` when given.
void Check(const Status& status, std::string_view what = {});
template <typename T>
T Check(Result<T> result, std::string_view what = {}) {
  Check(result.status(), what);
  return std::move(result).value();
}

// KeystoreArgs says where the keystores are: one directory or URL
// (--keystore, SOVEREIGN_KEYSTORE) with the TLS identity for a URL
// (--tls-cert/--tls-key/--tls-ca, SOVEREIGN_TLS_*), or a region map file
// (--keystores); and, with several regions, which one to use (--region).
struct KeystoreArgs {
  std::string keystore;
  std::string keystores;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string region;
};

// AddKeystoreOptions adds those options to `command`.
void AddKeystoreOptions(CLI::App& command, KeystoreArgs& args);

// EnvOr returns `given`, or the environment variable `name` when `given` is empty.
std::string EnvOr(const std::string& given, const char* name);

// ResolveKeystoreArgs fills what the command line left empty from the
// environment: SOVEREIGN_KEYSTORE or SOVEREIGN_KEYSTORES only when neither
// --keystore nor --keystores was given (an explicit flag always wins), and
// each SOVEREIGN_TLS_* for its own flag. Both keystore variables set is a
// usage error.
KeystoreArgs ResolveKeystoreArgs(const KeystoreArgs& given);

// OpenKeystores opens what the options name (exactly one of --keystore and
// --keystores, after ResolveKeystoreArgs).
std::vector<OpenedKeystore> OpenKeystores(const KeystoreArgs& args);

// OpenRegionKeystore opens the keystores and picks one: --region, or the only one.
OpenedKeystore OpenRegionKeystore(const KeystoreArgs& args);

// ChooseRegion returns --region if given (it must be configured), else the only configured region.
std::string ChooseRegion(const KeystoreArgs& args, const std::vector<OpenedKeystore>& keystores);

// ReadAllStdin returns every byte of standard input, unchanged.
std::string ReadAllStdin();

// WriteStdout writes `bytes` exactly; throws CommandError on a write error.
void WriteStdout(std::string_view bytes);

// Registration of each command group.
void AddKeystoreCommands(CLI::App& app);
void AddKeysCommands(CLI::App& app);
// AddKeysLifecycleCommands adds retire, enable, disable, destroy and status to `keys`.
void AddKeysLifecycleCommands(CLI::App& keys);
void AddFieldCommands(CLI::App& app);
void AddServeCommands(CLI::App& app);
void AddAuditCommands(CLI::App& app);
void AddSubjectsCommands(CLI::App& app);
void AddPipelineCommands(CLI::App& app);

}  // namespace sovereign::cli
