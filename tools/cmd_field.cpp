// sovereign field encrypt | decrypt | index: one value on stdin, one result on stdout.
#include <fmt/format.h>

#include "tools/cli.hpp"

namespace sovereign::cli {

namespace {

struct Args {
  KeystoreArgs keystore;
  std::string key;
  std::string label;
  std::string path;
  std::string record_id;
  std::string subject;
  std::string mode = "random";
  std::string normalize = "trim-casefold";
  std::string on_denied = "fail";
  unsigned bits = 32;
  bool strip_newline = false;
};

FieldContext ContextFrom(const Args& args, const CLI::App& command) {
  FieldContext ctx{args.path, std::nullopt};
  if (command.count("--record-id") > 0) ctx.record_id = args.record_id;
  return ctx;
}

// Session is a Client over the configured keystores and the region to use for new ciphertexts.
struct Session {
  std::vector<OpenedKeystore> keystores;
  std::unique_ptr<Client> client;
  std::string region;
};

Session Open(const Args& args, bool needs_region) {
  Session s;
  s.keystores = OpenKeystores(args.keystore);
  if (needs_region) s.region = ChooseRegion(args.keystore, s.keystores);
  std::vector<std::shared_ptr<KeySource>> sources;
  for (const auto& k : s.keystores) sources.push_back(k.source);
  s.client = Check(Client::New(std::move(sources)));
  return s;
}

void AddContextOptions(CLI::App& command, Args& args) {
  command.add_option("--path", args.path, "JSON Pointer of the field, e.g. /email")->required()->type_name("POINTER");
  command.add_option("--record-id", args.record_id, "Record id the ciphertext is bound to")->type_name("ID");
}

std::string_view TrimWhitespace(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

void AddFieldCommands(CLI::App& app) {
  auto* group = app.add_subcommand("field", "Encrypt, decrypt or index one value (stdin to stdout)");
  group->require_subcommand(1);
  auto args = std::make_shared<Args>();

  auto* encrypt = group->add_subcommand(
      "encrypt", "Encrypt all of stdin (bytes, exactly) and print the text ciphertext and a newline");
  AddKeystoreOptions(*encrypt, args->keystore);
  encrypt->add_option("--key", args->key, "Key name")->required();
  encrypt->add_option("--label", args->label, "Field label, e.g. email")->required();
  AddContextOptions(*encrypt, *args);
  encrypt->add_option("--mode", args->mode, "random (AES-256-GCM) or deterministic (AES-256-SIV)")
      ->check(CLI::IsMember({"random", "deterministic"}))
      ->capture_default_str();
  encrypt->add_option("--subject", args->subject,
                      "Encrypt under this data subject's own key (crypto-shredding: `subjects shred`)")
      ->type_name("ID");
  encrypt->add_flag("--strip-newline", args->strip_newline, "Remove one trailing \\n (or \\r\\n) from the input");
  encrypt->callback([args, encrypt] {
    Session session = Open(*args, /*needs_region=*/true);
    std::string value = ReadAllStdin();
    if (args->strip_newline && !value.empty() && value.back() == '\n') {
      value.pop_back();
      if (!value.empty() && value.back() == '\r') value.pop_back();
    }
    FieldSpec spec{session.region, args->key, args->label, Check(ParseMode(args->mode))};
    if (encrypt->count("--subject") > 0) spec.subject = args->subject;
    std::string ciphertext;
    Check(session.client->EncryptAppend(spec, value, ContextFrom(*args, *encrypt), ciphertext), "cannot encrypt");
    ciphertext.push_back('\n');
    WriteStdout(ciphertext);
  });

  auto* decrypt = group->add_subcommand(
      "decrypt", "Decrypt a text ciphertext on stdin (surrounding whitespace ignored); print exactly the plaintext");
  AddKeystoreOptions(*decrypt, args->keystore);
  AddContextOptions(*decrypt, *args);
  decrypt->add_option("--on-denied", args->on_denied,
                      "When this principal may not decrypt: fail (exit 3), keep (print the ciphertext unchanged) "
                      "or redact (print " + std::string(kRedactedMarker) + ")")
      ->check(CLI::IsMember({"fail", "keep", "redact"}))
      ->capture_default_str();
  decrypt->callback([args, decrypt] {
    Session session = Open(*args, /*needs_region=*/false);
    const std::string input = ReadAllStdin();
    const std::string_view ciphertext = TrimWhitespace(input);
    std::string plaintext;
    const Status status = session.client->DecryptAppend(ciphertext, ContextFrom(*args, *decrypt), plaintext);
    if (status.code() == ErrorCode::kDenied && args->on_denied != "fail") {
      WriteStdout(args->on_denied == "keep" ? ciphertext : kRedactedMarker);
      return;
    }
    Check(status, "cannot decrypt");
    WriteStdout(plaintext);
  });

  auto* index = group->add_subcommand("index", "Print the blind index (hex) of the value on stdin");
  AddKeystoreOptions(*index, args->keystore);
  index->add_option("--key", args->key, "Key name")->required();
  index->add_option("--label", args->label, "Field label, e.g. email")->required();
  index->add_option("--bits", args->bits, "Index length in bits (8-64); fewer bits, more false positives")
      ->check(CLI::Range(kMinIndexBits, kMaxIndexBits))
      ->capture_default_str();
  index->add_option("--normalize", args->normalize, "exact, trim-casefold or digits")
      ->check(CLI::IsMember({"exact", "trim-casefold", "digits"}))
      ->capture_default_str();
  index->callback([args] {
    Session session = Open(*args, /*needs_region=*/true);
    const std::string value = ReadAllStdin();
    BlindIndexOptions options{args->bits, Check(ParseIndexNormalization(args->normalize))};
    const FieldSpec spec{session.region, args->key, args->label, Mode::kIndex};
    std::string out = Check(session.client->BlindIndex(spec, value, options), "cannot index");
    out.push_back('\n');
    WriteStdout(out);
  });
}

}  // namespace sovereign::cli
