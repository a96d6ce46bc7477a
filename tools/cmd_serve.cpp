// sovereign serve --config FILE
#include <memory>
#include <string>

#include "keystore/service/server.hpp"
#include "tools/cli.hpp"

namespace sovereign::cli {

void AddServeCommands(CLI::App& app) {
  auto* serve = app.add_subcommand(
      "serve", "Serve this region's keystore over HTTPS with mandatory client certificates (docs/operations.md)");
  auto config = std::make_shared<std::string>();
  serve->add_option("--config", *config, "Service configuration (keystore.json)")->required();
  serve->callback([config] {
    const int code = service::Serve(*config);
    if (code != kExitOk) throw CommandError(code, "the keystore service did not start or stopped with an error");
  });
}

}  // namespace sovereign::cli
