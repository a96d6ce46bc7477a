// sovereign keystore init | backup | restore | rotate-root
#include <fmt/format.h>

#include "keystore/internal/backup.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/root_rotation.hpp"
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

  struct BackupArgs {
    std::string dir;
    std::string file;
    std::string root_key;
  };
  auto backup_args = std::make_shared<BackupArgs>();
  auto* backup = group->add_subcommand(
      "backup", "Write a consistent snapshot of the catalog and audit log (keys stay wrapped; no root key) to FILE");
  backup->add_option("--dir", backup_args->dir, "Keystore directory")->required()->type_name("DIR");
  backup->add_option("--out", backup_args->file, "Backup file to create (0600; never replaced)")
      ->required()
      ->type_name("FILE");
  backup->callback([backup_args] {
    auto summary = Check(keystore_internal::BackupKeystore(backup_args->dir, backup_args->file,
                                                           keystore_internal::DefaultPrincipal()),
                         "cannot back up the keystore");
    fmt::print("backed up region {}: catalog {} bytes, audit log {} entries, to {}; back up {}/root.key separately\n",
               summary.region, summary.catalog_bytes, summary.audit_entries, backup_args->file, backup_args->dir);
  });

  auto* restore = group->add_subcommand(
      "restore", "Create a keystore directory from a backup and the root key file kept apart from it");
  restore->add_option("--dir", backup_args->dir, "Directory to create (must not exist, or be empty)")
      ->required()
      ->type_name("DIR");
  restore->add_option("--from", backup_args->file, "Backup file")->required()->type_name("FILE");
  restore->add_option("--root-key", backup_args->root_key, "The keystore's root.key, backed up separately")
      ->required()
      ->type_name("FILE");
  restore->callback([backup_args] {
    auto summary = Check(keystore_internal::RestoreKeystore(backup_args->file, backup_args->dir,
                                                            backup_args->root_key,
                                                            keystore_internal::DefaultPrincipal()),
                         "cannot restore the keystore");
    fmt::print("restored region {} into {}: catalog verified, audit log verified ({} entries)\n", summary.region,
               backup_args->dir, summary.audit_entries);
  });

  auto* rotate_root = group->add_subcommand(
      "rotate-root", "Replace the root key and re-wrap every key version under the new one (crash-safe)");
  rotate_root->add_option("--dir", backup_args->dir, "Keystore directory")->required()->type_name("DIR");
  rotate_root->callback([backup_args] {
    const std::size_t rewrapped = Check(
        keystore_internal::RotateRootKey(backup_args->dir, keystore_internal::DefaultPrincipal()),
        "cannot rotate the root key");
    fmt::print("rotated the root key of {}: {} key versions and the audit key re-wrapped; restart processes that "
               "have it open, and back up the new {}/root.key\n",
               backup_args->dir, rewrapped, backup_args->dir);
  });
}

}  // namespace sovereign::cli
