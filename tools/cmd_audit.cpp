// sovereign audit verify --keystore DIR [--log FILE] [--witness FILE]
#include <fmt/format.h>

#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/witness.hpp"
#include "tools/cli.hpp"

namespace sovereign::cli {

void AddAuditCommands(CLI::App& app) {
  auto* group = app.add_subcommand("audit", "Check the keystore's audit log");
  group->require_subcommand(1);

  struct Args {
    std::string keystore;
    std::string log;
    std::string witness;
  };
  auto args = std::make_shared<Args>();
  auto* verify = group->add_subcommand(
      "verify", "Verify the audit log's MACs, hash chain and head; name the first bad entry");
  verify->add_option("--keystore", args->keystore,
                     "Keystore directory (holds the audit key and the log's head; else $SOVEREIGN_KEYSTORE)");
  verify->add_option("--log", args->log, "Verify this copy of the log instead of DIR/audit.log");
  verify->add_option("--witness", args->witness,
                     "Also check the head and the log against this rollback witness (as `serve` does on start)");
  verify->callback([args] {
    args->keystore = EnvOr(args->keystore, "SOVEREIGN_KEYSTORE");
    if (args->keystore.empty()) throw CommandError(kExitUsage, "audit verify: give --keystore DIR (or SOVEREIGN_KEYSTORE)");
    auto result = keystore_internal::VerifyKeystoreAuditLog(args->keystore, args->log);
    if (!result.ok()) {
      // A log that fails verification is a finding, not a usage error.
      throw CommandError(kExitError, fmt::format("audit log verification failed: {}", result.status().message()));
    }
    std::string out = fmt::format("{}\n", result->summary);
    if (!args->witness.empty()) {
      auto witnessed = keystore_internal::VerifyKeystoreWitness(args->keystore, args->log, args->witness);
      if (!witnessed.ok()) {
        throw CommandError(kExitError, fmt::format("witness check failed: {}", witnessed.status().message()));
      }
      out += fmt::format("{}\n", *witnessed);
    }
    WriteStdout(out);
  });
}

}  // namespace sovereign::cli
