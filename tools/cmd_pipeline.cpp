// sovereign encrypt | decrypt | rewrap: NDJSON and CSV streams through a field policy.
//
// Exit codes for these commands (docs/cli.md): 0 all records written,
// 2 some records dead-lettered, 1 fatal (bad policy, unreadable input,
// unwritable output). Output files appear only when complete.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pipeline/internal/atomic_file.hpp"
#include "pipeline/internal/csv.hpp"
#include "pipeline/internal/json_scan.hpp"
#include "pipeline/internal/stream.hpp"
#include "tools/cli.hpp"
#include "tools/pipeline_progress.hpp"

namespace sovereign::cli {

namespace {

using pipeline::Format;
using pipeline::Operation;

struct Args {
  KeystoreArgs keystore;
  std::string policy;
  std::string in;
  std::string out;
  std::string format;
  std::string dead_letter;
  std::string on_denied = "keep";
  unsigned threads = 1;
  bool progress = false;
  bool no_progress = false;
};

[[noreturn]] void Fatal(const std::string& message) { throw CommandError(kExitError, message); }

Format ChooseFormat(const Args& args) {
  if (!args.format.empty()) return args.format == "csv" ? Format::kCsv : Format::kNdjson;
  for (const std::string& name : {args.in, args.out}) {
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".csv") == 0) return Format::kCsv;
  }
  return Format::kNdjson;
}

std::vector<OpenedKeystore> OpenPolicyKeystores(const FieldPolicy& policy, const Args& args) {
  const KeystoreArgs resolved = ResolveKeystoreArgs(args.keystore);
  if (!resolved.keystore.empty() || !resolved.keystores.empty()) return OpenKeystores(resolved);
  if (policy.keystores() == "{}") Fatal("no keystores: the policy has no \"keystores\" and no --keystore(s) was given");
  auto opened = OpenKeystoreMapJson(policy.keystores(), policy.base_dir(), args.policy);
  if (!opened.ok()) Fatal(opened.status().message());
  return std::move(opened).value();
}

// CheckKeys refuses, before any record is read, a policy naming a key that
// a configured keystore does not have.
void CheckKeys(const Client& client, const FieldPolicy& policy, const std::vector<OpenedKeystore>& keystores,
               const std::string& policy_name) {
  for (std::size_t i = 0; i < policy.fields().size(); ++i) {
    const PolicyField& f = policy.fields()[i];
    for (const auto& k : keystores) {
      auto probe = client.EncryptBinary(FieldSpec{k.region, f.key, f.label, f.mode}, "", FieldContext{f.path, {}});
      if (probe.code() == ErrorCode::kKeyNotFound) {
        Fatal(fmt::format("{}: fields[{}] ({}): key \"{}\" not found in region {}", policy_name, i, f.path, f.key,
                          k.region));
      }
    }
  }
}

std::string Summary(Operation op, const pipeline::StreamSummary& s, double seconds) {
  nlohmann::ordered_json j;
  j["records_in"] = s.records_in;
  j["records_out"] = s.records_out;
  j["dead_letter"] = s.dead_letter;
  switch (op) {
    case Operation::kEncrypt: j["fields_encrypted"] = s.stats.fields_encrypted; break;
    case Operation::kDecrypt: j["fields_decrypted"] = s.stats.fields_decrypted; break;
    case Operation::kRewrap:
      j["fields_rewrapped"] = s.stats.fields_rewrapped;
      j["rewrapped_from"] = s.stats.rewrapped_from;
      break;
  }
  j["fields_skipped"] = s.stats.fields_skipped;
  j["denied"] = s.stats.denied;
  if (op != Operation::kEncrypt) j["shredded"] = s.stats.shredded;
  j["seconds"] = std::round(seconds * 1000) / 1000;
  return j.dump() + "\n";
}

void Run(const Args& args, Operation op) {
  const auto start = std::chrono::steady_clock::now();
  if (!args.keystore.region.empty()) Fatal("--region does not apply here: the policy's \"region\" rule chooses");
  auto parsed = FieldPolicy::ParseFile(args.policy);
  if (!parsed.ok()) Fatal(parsed.status().message());
  const FieldPolicy policy = std::move(parsed).value();
  const Format format = ChooseFormat(args);

  std::vector<OpenedKeystore> keystores;
  try {
    keystores = OpenPolicyKeystores(policy, args);
  } catch (const CommandError& e) {
    Fatal(e.what());
  }
  std::vector<std::shared_ptr<KeySource>> sources;
  for (const auto& k : keystores) sources.push_back(k.source);
  auto client_or = Client::New(std::move(sources));
  if (!client_or.ok()) Fatal(client_or.status().message());
  const std::unique_ptr<Client> client = std::move(client_or).value();
  if (op != Operation::kDecrypt) CheckKeys(*client, policy, keystores, args.policy);

  int in_fd = STDIN_FILENO;
  if (!args.in.empty()) {
    in_fd = ::open(args.in.c_str(), O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) Fatal(fmt::format("cannot read {}: {}", args.in, std::strerror(errno)));
  }
  struct stat st{};
  const std::uint64_t input_size = fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;

  pipeline::InstallCleanupHandlers();
  std::unique_ptr<pipeline::AtomicFile> out_file, dead_file;
  if (!args.out.empty()) {
    auto f = pipeline::AtomicFile::Create(args.out);
    if (!f.ok()) Fatal(f.status().message());
    out_file = std::move(f).value();
  }
  if (!args.dead_letter.empty()) {
    auto f = pipeline::AtomicFile::Create(args.dead_letter);
    if (!f.ok()) Fatal(f.status().message());
    dead_file = std::move(f).value();
  }
  const int out_fd = out_file ? out_file->fd() : STDOUT_FILENO;
  const int dead_fd = dead_file ? dead_file->fd() : STDERR_FILENO;

  pipeline::RecordReader reader(in_fd, format, pipeline::kChunkBytes);
  const pipeline::TransformOptions options{
      op, args.on_denied == "redact" ? OnDenied::kRedact : args.on_denied == "fail" ? OnDenied::kFail : OnDenied::kKeep};
  const pipeline::PathTrie trie = pipeline::PathTrie::Build(policy);
  std::optional<CsvHeader> header;
  if (format == Format::kCsv) {
    auto first = reader.NextOne();
    if (!first.ok()) Fatal(first.status().message());
    if (*first) {
      // Output records end in \n, the header too.
      if (!(*first)->empty() && (*first)->back() == '\r') (*first)->pop_back();
      std::vector<std::string> columns;
      if (!pipeline::ParseCsvHeader(**first, columns)) Fatal("the CSV header row is malformed");
      auto h = CsvHeader::New(policy, std::move(columns));
      if (!h.ok()) Fatal(h.status().message());
      header = std::move(h).value();
      const Status w = pipeline::WriteAll(out_fd, **first + "\n");
      if (!w.ok()) Fatal(w.message());
    }
  }
  auto make_transform = [&]() -> std::unique_ptr<pipeline::RecordTransform> {
    if (format == Format::kCsv) return pipeline::NewCsvTransform(*client, policy, *header, options);
    return pipeline::NewNdjsonTransform(*client, policy, trie, options);
  };

  const bool show_progress = args.progress || (!args.no_progress && isatty(STDERR_FILENO));
  ProgressLine progress(input_size);
  pipeline::StreamOptions stream_options;
  stream_options.threads = args.threads;
  stream_options.dead_letter_records = dead_file != nullptr;
  if (show_progress) {
    stream_options.progress = [&](const pipeline::StreamSummary& s, std::uint64_t bytes) { progress.Update(s.records_in, bytes); };
  }
  pipeline::StreamSummary summary;
  if (format != Format::kCsv || header) {
    auto result = pipeline::RunStream(reader, format, out_fd, dead_fd, make_transform, stream_options);
    if (!result.ok()) Fatal(result.status().message());
    summary = std::move(result).value();
  }
  if (show_progress) progress.Finish();
  if (in_fd != STDIN_FILENO) ::close(in_fd);
  // The dead letters first: if their file cannot be committed, the output
  // must not replace its target either, or those records would be lost.
  if (dead_file) {
    const Status s = dead_file->Commit();
    if (!s.ok()) Fatal(s.message());
  }
  if (out_file) {
    const Status s = out_file->Commit();
    if (!s.ok()) Fatal(s.message());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string line = Summary(op, summary, seconds);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
  if (summary.dead_letter > 0) {
    std::fflush(stdout);
    std::_Exit(kExitUsage);  // 2: some records were dead-lettered; everything is committed
  }
}

}  // namespace

void AddPipelineCommands(CLI::App& app) {
  auto args = std::make_shared<Args>();
  const struct {
    const char* name;
    const char* help;
    Operation op;
  } commands[] = {
      {"encrypt", "Encrypt the policy's fields of every record of an NDJSON or CSV stream", Operation::kEncrypt},
      {"decrypt", "Decrypt the policy's fields of every record of an NDJSON or CSV stream", Operation::kDecrypt},
      {"rewrap", "Re-encrypt the policy's fields under each key's primary version", Operation::kRewrap},
  };
  for (const auto& c : commands) {
    auto* cmd = app.add_subcommand(c.name, c.help);
    cmd->add_option("--policy", args->policy, "Field policy file (docs/policy.md)")->required()->type_name("FILE");
    cmd->add_option("--in", args->in, "Input file (default: stdin)")->type_name("FILE");
    cmd->add_option("--out", args->out, "Output file, written atomically (default: stdout)")->type_name("FILE");
    cmd->add_option("--format", args->format, "ndjson or csv (default: from the file extension, else ndjson)")
        ->check(CLI::IsMember({"ndjson", "csv"}));
    cmd->add_option("--threads", args->threads, "Worker threads")->check(CLI::Range(1u, 256u))->capture_default_str();
    cmd->add_option("--dead-letter", args->dead_letter,
                    "File for records that cannot be processed, with line, reason and the original record "
                    "(default: line and reason only, on stderr)")
        ->type_name("FILE");
    auto* on = cmd->add_flag("--progress", args->progress, "Show a progress line on stderr");
    auto* off = cmd->add_flag("--no-progress", args->no_progress, "Never show a progress line");
    on->excludes(off);
    if (c.op != Operation::kEncrypt) {
      cmd->add_option("--on-denied", args->on_denied,
                      "Fields this principal may not decrypt, and (decrypt only) fields whose subject was shredded: "
                      "keep (ciphertext), redact (" +
                          std::string(kRedactedMarker) + ") or fail (record to dead-letter)")
          ->check(CLI::IsMember({"keep", "redact", "fail"}))
          ->capture_default_str();
    }
    AddKeystoreOptions(*cmd, args->keystore);
    const Operation op = c.op;
    cmd->callback([args, op] { Run(*args, op); });
  }
}

}  // namespace sovereign::cli
