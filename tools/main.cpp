// sovereign: the command-line tool for key officers and data engineers.
#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "sovereign/hardening.hpp"
#include "tools/cli.hpp"

int main(int argc, char** argv) {
  using namespace sovereign::cli;
  // The tool handles field keys: keep them out of core dumps and debuggers.
  if (const sovereign::Status hardened = sovereign::HardenProcess(); !hardened.ok()) {
    fmt::print(stderr, "sovereign: {}\n", hardened.message());
    return kExitError;
  }
  CLI::App app{"Sovereign: field-level encryption with region-bound keys", "sovereign"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sovereign 0.1.0");
  AddKeystoreCommands(app);
  AddKeysCommands(app);
  AddFieldCommands(app);
  AddServeCommands(app);
  AddAuditCommands(app);
  AddSubjectsCommands(app);
  AddPipelineCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "sovereign: {}\nRun with --help for usage.\n", e.what());
    return kExitUsage;
  } catch (const CommandError& e) {
    fmt::print(stderr, "sovereign: {}\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    fmt::print(stderr, "sovereign: unexpected error: {}\n", e.what());
    return kExitError;
  }
  return kExitOk;
}
