// sovereign keystore init
#include <fmt/format.h>

#include "tools/cli.hpp"

namespace sovereign::cli {

void AddKeystoreCommands(CLI::App& app) {
  auto* group = app.add_subcommand("keystore", "Create and manage keystore directories");
  group->require_subcommand(1);

  struct InitArgs {
    std::string dir;
    std::string region;
  };
  auto args = std::make_shared<InitArgs>();
  auto* init = group->add_subcommand(
      "init", "Create a keystore directory: root key (0600), SQLite catalog and audit log for one region");
  init->add_option("--dir", args->dir, "Directory to create (must not hold a keystore)")->required()->type_name("DIR");
  init->add_option("--region", args->region, "Region this keystore serves, e.g. us, eu, sg")
      ->required()
      ->type_name("REGION");
  init->callback([args] {
    auto keystore = Check(EmbeddedKeystore::Init(args->dir, args->region));
    fmt::print("initialised keystore for region {} in {}\n", keystore->region(), keystore->directory().string());
  });
}

}  // namespace sovereign::cli
