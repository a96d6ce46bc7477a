// sovereign keys create | rotate | list (lifecycle commands: cmd_keys_lifecycle.cpp)
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "keystore/service/service.hpp"
#include "tools/cli.hpp"

namespace sovereign::cli {

namespace {

using service::Rfc3339;

std::string VersionSummary(const KeyInfo& key) {
  std::string out;
  for (const auto& v : key.versions) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", v.version, KeyVersionStateName(v.state));
  }
  return out;
}

}  // namespace

void AddKeysCommands(CLI::App& app) {
  auto* group = app.add_subcommand("keys", "Create, rotate, list, retire, disable, destroy keys and versions");
  group->require_subcommand(1);

  struct Args {
    KeystoreArgs keystore;
    std::string key;
    bool json = false;
  };
  auto args = std::make_shared<Args>();

  auto* create = group->add_subcommand("create", "Create a key; version 1 becomes primary");
  AddKeystoreOptions(*create, args->keystore);
  create->add_option("--key", args->key, "Key name: 1-64 of a-z 0-9 _ -, starting with a letter")->required();
  create->callback([args] {
    auto keystore = OpenRegionKeystore(args->keystore);
    KeyInfo key = Check(keystore.admin->CreateKey(args->key), fmt::format("cannot create key '{}'", args->key));
    fmt::print("created key {} (id {}) in region {}; version {} is primary\n", key.name, key.id, keystore.region,
               key.primary_version);
  });

  auto* rotate = group->add_subcommand("rotate", "Add a new primary version; older versions still decrypt");
  AddKeystoreOptions(*rotate, args->keystore);
  rotate->add_option("--key", args->key, "Key name")->required();
  rotate->callback([args] {
    auto keystore = OpenRegionKeystore(args->keystore);
    KeyInfo key = Check(keystore.admin->RotateKey(args->key), fmt::format("cannot rotate key '{}'", args->key));
    fmt::print("rotated key {}: version {} is now primary ({})\n", key.name, key.primary_version,
               VersionSummary(key));
  });

  auto* list = group->add_subcommand("list", "List keys with their versions, states and dates");
  AddKeystoreOptions(*list, args->keystore);
  list->add_flag("--json", args->json, "One JSON document instead of a table");
  list->callback([args] {
    auto keystore = OpenRegionKeystore(args->keystore);
    const auto keys = Check(keystore.admin->ListKeys());
    if (args->json) {
      nlohmann::json out = {{"region", keystore.region}, {"keys", nlohmann::json::array()}};
      for (const auto& key : keys) out["keys"].push_back(service::KeyJson(key, keystore.region));
      fmt::print("{}\n", out.dump(2));
      return;
    }
    if (keys.empty()) {
      fmt::print("no keys in region {} (create one with: sovereign keys create --key NAME)\n", keystore.region);
      return;
    }
    fmt::print("{:<20} {:>5} {:>8}  {:<20}  {}\n", "KEY", "ID", "PRIMARY", "CREATED", "VERSIONS");
    for (const auto& key : keys) {
      fmt::print("{:<20} {:>5} {:>8}  {:<20}  {}\n", key.name, key.id, key.primary_version, Rfc3339(key.created_at),
                 VersionSummary(key));
    }
  });

  AddKeysLifecycleCommands(*group);
}

}  // namespace sovereign::cli
