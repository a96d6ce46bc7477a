// sovereign subjects shred: crypto-shredding of one data subject under one key.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "tools/cli.hpp"

namespace sovereign::cli {
namespace {

struct Args {
  KeystoreArgs keystore;
  std::string key;
  std::string subject;
  std::string reason;
  bool json = false;
};

}  // namespace

void AddSubjectsCommands(CLI::App& app) {
  auto* group = app.add_subcommand("subjects", "Per-subject keys: shred a data subject (right to erasure)");
  group->require_subcommand(1);
  auto args = std::make_shared<Args>();

  auto* shred = group->add_subcommand(
      "shred", "Destroy a subject's keys under a key: every field encrypted for it becomes unrecoverable");
  AddKeystoreOptions(*shred, args->keystore);
  shred->add_option("--key", args->key, "Key name")->required();
  shred->add_option("--subject", args->subject, "Subject id the fields were encrypted for")
      ->required()
      ->type_name("ID");
  shred->add_option("--reason", args->reason, "Why (recorded in the audit log; at most 256 printable ASCII)")
      ->type_name("TEXT");
  shred->add_flag("--json", args->json, "Print the shred report as JSON");
  shred->callback([args] {
    // Messages name the key and the tag, never the subject id.
    Check(ValidateSubject(args->subject), "invalid --subject");
    Check(ValidateShredReason(args->reason), "invalid --reason");
    auto keystore = OpenRegionKeystore(args->keystore);
    const ShredReport report = Check(keystore.admin->ShredSubject(args->key, args->subject, args->reason),
                                     fmt::format("cannot shred a subject of key '{}'", args->key));
    if (args->json) {
      const nlohmann::json out = {{"region", keystore.region},
                                  {"key", report.key},
                                  {"subject_tag", report.subject_tag},
                                  {"subject_keys_destroyed", report.subject_keys_destroyed},
                                  {"already_shredded", report.already_shredded},
                                  {"wal_truncation_postponed", report.wal_truncation_postponed}};
      fmt::print("{}\n", out.dump(2));
    } else if (report.already_shredded) {
      fmt::print("subject {} of key '{}' was already shredded\n", report.subject_tag, report.key);
    } else {
      fmt::print("shredded subject {} of key '{}': {} subject key{} destroyed\n", report.subject_tag, report.key,
                 report.subject_keys_destroyed, report.subject_keys_destroyed == 1 ? "" : "s");
    }
    if (report.wal_truncation_postponed) {
      fmt::print(stderr,
                 "note: another process is reading the catalog, so its WAL (which may still hold the destroyed "
                 "keys' bytes) is truncated at the next complete checkpoint, not now\n");
    }
  });
}

}  // namespace sovereign::cli
