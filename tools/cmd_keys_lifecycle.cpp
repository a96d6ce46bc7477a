// sovereign keys retire | enable | disable | destroy | status
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "keystore/service/service.hpp"
#include "tools/cli.hpp"

namespace sovereign::cli {
namespace {

using service::Rfc3339;


struct Args {
  KeystoreArgs keystore;
  std::string key;
  std::uint32_t version = 0;
  bool confirm = false;
  bool json = false;
};

// Warnings names every version whose random-mode usage bound passed the
// warning threshold; the primary is the one that matters (it still encrypts).
std::vector<std::string> Warnings(const KeyInfo& key) {
  std::vector<std::string> out;
  for (const auto& v : key.versions) {
    const std::uint64_t bound = RandomEncryptionsBound(v);
    if (bound < kRandomEncryptionsWarning) continue;
    out.push_back(fmt::format(
        "version {} may have made up to {} random-mode encryptions (warning at 2^30, limit 2^32 per field key){}",
        v.version, bound, v.version == key.primary_version ? ": rotate the key now" : ""));
  }
  return out;
}

// StatusJson is the service's key description (one shape for the CLI and the
// API) with the usage warnings `keys status` prints.
nlohmann::json StatusJson(const KeyInfo& key, const std::string& region) {
  nlohmann::json out = service::KeyJson(key, region);
  out["warnings"] = Warnings(key);
  return out;
}

void PrintStatus(const KeyInfo& key, const std::string& region) {
  const std::string retired = key.min_decrypt_version > 1
                                  ? fmt::format("versions below {} are retired", key.min_decrypt_version)
                                  : std::string("no version is retired");
  fmt::print("key {} (id {}) in region {}, created {}; primary version {}; {}\n", key.name, key.id, region,
             Rfc3339(key.created_at), key.primary_version, retired);
  fmt::print("subject keys: {}; shredded subjects: {}\n", key.subject_keys, key.shredded_subjects);
  fmt::print("{:>8}  {:<9}  {:<20}  {:<20}  {:>10}  {:>22}\n", "VERSION", "STATE", "CREATED", "LAST USED", "ISSUES",
             "RANDOM ENCRYPTIONS <=");
  for (const auto& v : key.versions) {
    const std::string state =
        fmt::format("{}{}", KeyVersionStateName(v.state), v.version == key.primary_version ? "*" : "");
    fmt::print("{:>8}  {:<9}  {:<20}  {:<20}  {:>10}  {:>22}\n", v.version, state, Rfc3339(v.created_at),
               v.last_used_at ? Rfc3339(*v.last_used_at) : "never", v.issues, RandomEncryptionsBound(v));
  }
  for (const auto& warning : Warnings(key)) fmt::print("warning: {}\n", warning);
}

void PrintChange(std::string_view what, const KeyInfo& key) {
  std::string versions;
  for (const auto& v : key.versions) {
    versions += fmt::format("{}{} {}", versions.empty() ? "" : ", ", v.version, KeyVersionStateName(v.state));
  }
  fmt::print("{} key {}: primary {} ({})\n", what, key.name, key.primary_version, versions);
}

CLI::App* AddVersionCommand(CLI::App& keys, const std::shared_ptr<Args>& args, const char* name, const char* help) {
  auto* command = keys.add_subcommand(name, help);
  AddKeystoreOptions(*command, args->keystore);
  command->add_option("--key", args->key, "Key name")->required();
  command->add_option("--version", args->version, "Key version")->required()->check(CLI::Range(1u, 4294967295u));
  return command;
}

}  // namespace

void AddKeysLifecycleCommands(CLI::App& keys) {
  auto args = std::make_shared<Args>();

  auto* retire = keys.add_subcommand("retire", "Retire every version below V: they no longer decrypt (not undone)");
  AddKeystoreOptions(*retire, args->keystore);
  retire->add_option("--key", args->key, "Key name")->required();
  retire->add_option("--below", args->version, "First version that stays usable (at most the primary)")
      ->required()
      ->check(CLI::Range(1u, 4294967295u));
  retire->callback([args] {
    auto keystore = OpenRegionKeystore(args->keystore);
    PrintChange(fmt::format("retired versions below {} of", args->version),
                Check(keystore.admin->RetireVersionsBelow(args->key, args->version),
                      fmt::format("cannot retire versions of key '{}'", args->key)));
  });

  auto* disable = AddVersionCommand(keys, args, "disable", "Disable a version (reversible); never the primary");
  disable->callback([args] {
    auto keystore = OpenRegionKeystore(args->keystore);
    PrintChange(fmt::format("disabled version {} of", args->version),
                Check(keystore.admin->SetVersionEnabled(args->key, args->version, false),
                      fmt::format("cannot disable version {} of key '{}'", args->version, args->key)));
  });

  auto* enable = AddVersionCommand(keys, args, "enable", "Enable a disabled version again");
  enable->callback([args] {
    auto keystore = OpenRegionKeystore(args->keystore);
    PrintChange(fmt::format("enabled version {} of", args->version),
                Check(keystore.admin->SetVersionEnabled(args->key, args->version, true),
                      fmt::format("cannot enable version {} of key '{}'", args->version, args->key)));
  });

  auto* destroy = AddVersionCommand(
      keys, args, "destroy", "Wipe a version's key material: its ciphertexts can never be decrypted again");
  destroy->add_flag("--confirm", args->confirm, "Required: destruction cannot be undone");
  destroy->callback([args] {
    if (!args->confirm) {
      throw CommandError(kExitUsage, fmt::format("destroying version {} of key '{}' cannot be undone: add --confirm",
                                                 args->version, args->key));
    }
    auto keystore = OpenRegionKeystore(args->keystore);
    PrintChange(fmt::format("destroyed version {} of", args->version),
                Check(keystore.admin->DestroyVersion(args->key, args->version),
                      fmt::format("cannot destroy version {} of key '{}'", args->version, args->key)));
  });

  auto* status = keys.add_subcommand("status", "A key's versions: states, dates, last use, usage and warnings");
  AddKeystoreOptions(*status, args->keystore);
  status->add_option("--key", args->key, "Key name")->required();
  status->add_flag("--json", args->json, "One JSON document instead of a table");
  status->callback([args] {
    auto keystore = OpenRegionKeystore(args->keystore);
    const KeyInfo key = Check(keystore.admin->GetKey(args->key));
    if (args->json) {
      fmt::print("{}\n", StatusJson(key, keystore.region).dump(2));
    } else {
      PrintStatus(key, keystore.region);
    }
  });
}

}  // namespace sovereign::cli
