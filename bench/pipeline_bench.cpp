// Pipeline benchmark: sovereign encrypt / decrypt of a users NDJSON file
// (5 policy fields) at 1 and 2 threads, beside baselines measured in the
// same run on the same file: `jq -c .` and a plain parse-and-write through
// the project's own JSON path (the splice engine's validating scanner; and
// nlohmann::json parse + dump, the record API's path). A third baseline,
// the floor, does in-process only what any implementation on this OpenSSL
// must do per record: the validating scan, the primitives of every policy
// value on reused contexts, base64url of each result, and splicing the
// record. Prints MB/s, records/s, ratios and the peak RSS of each child.
//
//   sovereign_pipeline_bench [--records N] [--threads 1,2] [--smoke] [--dir DIR] [--keep]
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/raw_openssl.hpp"
#include "bench/users_generator.hpp"
#include "pipeline/internal/json_scan.hpp"
#include "sdk/internal/base64url.hpp"
#include "sovereign/policy.hpp"
#include "sovereign/keystore.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr const char* kFloor = "floor: scan + raw OpenSSL + splice";

struct Timing {
  double seconds = 0;
  long max_rss_kb = 0;
  int exit_code = 0;
};

// RunChild runs argv with stdin from `in` and stdout to `out`, and returns
// wall time and the child's own peak RSS (wait4).
Timing RunChild(const std::vector<std::string>& argv, const std::string& in, const std::string& out) {
  // The previous run's output (hundreds of MB) is written back first, or its
  // writeback competes with this run for the machine's cores.
  sync();
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int i = open(in.c_str(), O_RDONLY);
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open("/dev/null", O_WRONLY);
    dup2(i, 0);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru{};
  wait4(pid, &status, 0, &ru);
  Timing t;
  t.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  t.max_rss_kb = ru.ru_maxrss;
  t.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return t;
}

// InProcess times `body` over the file read in 1 MiB chunks of whole lines.
Timing InProcess(const std::string& path, const std::function<void(std::string_view line, std::string& out)>& body) {
  sync();
  const auto start = Clock::now();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  std::FILE* null = std::fopen("/dev/null", "wb");
  std::string buffer, out;
  std::vector<char> block(1 << 20);
  std::size_t n;
  auto flush_lines = [&](bool all) {
    std::size_t pos = 0;
    while (true) {
      const std::size_t nl = buffer.find('\n', pos);
      if (nl == std::string::npos) break;
      body(std::string_view(buffer).substr(pos, nl - pos), out);
      pos = nl + 1;
    }
    if (all && pos < buffer.size()) body(std::string_view(buffer).substr(pos), out), pos = buffer.size();
    buffer.erase(0, pos);
    std::fwrite(out.data(), 1, out.size(), null);
    out.clear();
  };
  while ((n = std::fread(block.data(), 1, block.size(), f)) > 0) {
    buffer.append(block.data(), n);
    flush_lines(false);
  }
  flush_lines(true);
  std::fclose(f);
  std::fclose(null);
  Timing t;
  t.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return t;
}

// Floor encrypts one record the cheapest way the primitives allow: for each
// policy value, AES-256-GCM on a reused keyed context (random mode) or S2V +
// CTR on reused contexts (deterministic mode), HMAC-SHA256 on a reused
// context for a blind index, base64url of nonce + ciphertext + tag, and the
// record spliced around them. No envelope header, key cache, binding,
// validation of values or error handling: a bound, not an implementation.
class Floor {
 public:
  explicit Floor(const sovereign::FieldPolicy& policy)
      : policy_(policy), trie_(sovereign::pipeline::PathTrie::Build(policy)), scanner_(&trie_),
        gcm_(std::span<const std::uint8_t, 32>(key_.data(), 32)), siv_(std::span<const std::uint8_t, 64>(key_)) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    hmac_.reset(EVP_MAC_CTX_new(mac));
    EVP_MAC_free(mac);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    if (!hmac_ || EVP_MAC_init(hmac_.get(), key_.data(), 32, params) != 1) std::abort();
  }

  void Record(std::string_view line, std::string& out) {
    if (!scanner_.Scan(line, scan_).ok()) return;
    std::size_t at = 0;
    for (const auto& v : scan_.values) {
      const auto& field = policy_.fields()[static_cast<std::size_t>(v.field)];
      // The string's contents (the users file has no escapes in policy values).
      const std::string_view text = line.substr(v.begin + 1, v.end - v.begin - 2);
      const std::span<const std::uint8_t> plain(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
      std::size_t n = 0;
      if (field.mode == sovereign::Mode::kRandom) {
        sovereign_bench::NonceFill({sealed_.data(), sovereign_bench::kNonceSize});
        n = sovereign_bench::kNonceSize + text.size() + sovereign_bench::kTagSize;
        if (!gcm_.Seal({sealed_.data(), sovereign_bench::kNonceSize}, aad_, plain,
                       sealed_.data() + sovereign_bench::kNonceSize, sealed_.data() + n - sovereign_bench::kTagSize)) std::abort();
      } else {
        n = text.size() + 16;
        if (!siv_.Seal(aad_, plain, sealed_.data())) std::abort();
      }
      if (field.index) {
        std::size_t len = 0;
        if (EVP_MAC_init(hmac_.get(), nullptr, 0, nullptr) != 1 || EVP_MAC_update(hmac_.get(), plain.data(), plain.size()) != 1 ||
            EVP_MAC_final(hmac_.get(), mac_.data(), &len, mac_.size()) != 1) std::abort();
      }
      out.append(line.substr(at, v.begin + 1 - at)).append("sov1:");
      const std::size_t start = out.size();
      out.resize(start + sovereign::internal::Base64UrlEncodedSize(n));
      sovereign::internal::Base64UrlEncodeTo({sealed_.data(), n}, out.data() + start);
      at = v.end - 1;
    }
    out.append(line.substr(at)).push_back('\n');
  }

 private:
  const sovereign::FieldPolicy& policy_;
  sovereign::pipeline::PathTrie trie_;
  sovereign::pipeline::JsonScanner scanner_;
  sovereign::pipeline::ScanResult scan_;
  std::array<std::uint8_t, 64> key_{1, 2, 3};
  std::array<std::uint8_t, 30> aad_{};  // the size of a typical field's associated data
  sovereign_bench::RawGcm gcm_;
  sovereign_bench::RawSiv siv_;
  sovereign_bench::MacCtx hmac_;
  std::array<std::uint8_t, 4096> sealed_{};
  std::array<std::uint8_t, 32> mac_{};
};

bool HaveProgram(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t records = 200000;
  std::vector<unsigned> threads = {1, 2};
  std::string dir;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--records" && i + 1 < argc) records = std::stoull(argv[++i]);
    else if (a == "--smoke") records = 2000;
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keep") keep = true;
    else if (a == "--threads" && i + 1 < argc) {
      threads.clear();
      std::string list = argv[++i];
      for (std::size_t p = 0; p < list.size();) {
        const std::size_t c = list.find(',', p);
        threads.push_back(static_cast<unsigned>(std::stoul(list.substr(p, c - p))));
        p = c == std::string::npos ? list.size() : c + 1;
      }
    } else {
      std::fprintf(stderr, "usage: %s [--records N] [--threads 1,2] [--smoke] [--dir DIR] [--keep]\n", argv[0]);
      return 2;
    }
  }
  const fs::path root = dir.empty() ? fs::temp_directory_path() / fmt::format("sovereign-pipeline-bench-{}", getpid())
                                    : fs::path(dir);
  fs::create_directories(root);
  const std::string users = (root / "users.ndjson").string();
  const std::string encrypted = (root / "users.enc.ndjson").string();
  const std::string scratch = (root / "out.ndjson").string();
  const std::string policy = (root / "policy.json").string();
  const std::string keystore = (root / "us").string();

  const std::uint64_t bytes = sovereign_bench::GenerateUsersFile(users, records);
  if (!fs::exists(keystore)) {
    auto ks = sovereign::EmbeddedKeystore::Init(keystore, "us");
    if (!ks.ok() || !(*ks)->CreateKey("users").ok()) {
      std::fprintf(stderr, "cannot create keystore\n");
      return 1;
    }
  }
  std::ofstream(policy) << sovereign_bench::UsersPolicyJson(keystore);
  const double mb = static_cast<double>(bytes) / 1e6;
  fmt::print("users file: {} records, {:.1f} MB ({:.0f} bytes/record), 5 policy fields\n", records, mb,
             static_cast<double>(bytes) / static_cast<double>(records));
  fmt::print("{:<44} {:>9} {:>10} {:>12} {:>10}\n", "run", "seconds", "MB/s", "records/s", "peak RSS");
  std::map<std::string, double> rate;
  // Ratios compare records/s: every run handles the same records, while the
  // encrypted file that decrypt reads is about twice the size of the plaintext one.
  auto report = [&](const std::string& name, const Timing& t, double input_mb) {
    rate[name] = static_cast<double>(records) / t.seconds;
    fmt::print("{:<44} {:>9.3f} {:>10.1f} {:>12.0f} {:>10}{}\n", name, t.seconds, input_mb / t.seconds,
               static_cast<double>(records) / t.seconds, t.max_rss_kb ? fmt::format("{:.1f} MB", static_cast<double>(t.max_rss_kb) / 1024.0) : "-",
               t.exit_code ? fmt::format("  (exit {})", t.exit_code) : "");
  };

  if (HaveProgram("jq")) {
    report("baseline: jq -c .", RunChild({"jq", "-c", "."}, users, scratch), mb);
  } else {
    fmt::print("baseline: jq not found, skipped (Debian: apt-get install jq)\n");
  }
  sovereign::pipeline::JsonScanner scanner(nullptr);
  sovereign::pipeline::ScanResult scan;
  report("baseline: scan + write (splice engine path)", InProcess(users, [&](std::string_view line, std::string& out) {
           if (scanner.Scan(line, scan).ok()) out.append(line).push_back('\n');
         }), mb);
  auto parsed = sovereign::FieldPolicy::ParseFile(policy);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n", parsed.status().ToString().c_str());
    return 1;
  }
  Floor floor(*parsed);
  report(kFloor, InProcess(users, [&](std::string_view line, std::string& out) { floor.Record(line, out); }), mb);
  report("baseline: nlohmann parse + dump (record API)", InProcess(users, [&](std::string_view line, std::string& out) {
           out += nlohmann::ordered_json::parse(line).dump();
           out.push_back('\n');
         }), mb);

  const std::string cli = SOVEREIGN_CLI_PATH;
  for (unsigned n : threads) {
    const auto t = RunChild({cli, "encrypt", "--policy", policy, "--threads", std::to_string(n), "--no-progress"}, users,
                            n == threads.front() ? encrypted : scratch);
    report(fmt::format("sovereign encrypt --threads {}", n), t, mb);
  }
  const double enc_mb = static_cast<double>(fs::file_size(encrypted)) / 1e6;
  for (unsigned n : threads) {
    const auto t = RunChild({cli, "decrypt", "--policy", policy, "--threads", std::to_string(n), "--no-progress"},
                            encrypted, scratch);
    report(fmt::format("sovereign decrypt --threads {}", n), t, enc_mb);
  }

  fmt::print("\nratios of records/s (MB/s above is of the file each run reads):\n");
  const std::string jq = "baseline: jq -c .";
  if (rate.count(jq)) {
    fmt::print("  floor / jq -c . : {:.1f}x (no encrypt at 1 thread on this OpenSSL can exceed this)\n", rate[kFloor] / rate[jq]);
  }
  for (const char* op : {"encrypt", "decrypt"}) {
    const std::string one = fmt::format("sovereign {} --threads {}", op, threads.front());
    if (rate.count(jq)) fmt::print("  {} at {} thread(s) / jq -c . : {:.1f}x (target >= 10x)\n", op, threads.front(), rate[one] / rate[jq]);
    fmt::print("  {} at {} thread(s) / scan + write : {:.2f}x\n", op, threads.front(), rate[one] / rate["baseline: scan + write (splice engine path)"]);
    if (std::string(op) == "encrypt") fmt::print("  encrypt at {} thread(s) / floor : {:.2f}x\n", threads.front(), rate[one] / rate[kFloor]);
    if (threads.size() > 1) {
      const std::string two = fmt::format("sovereign {} --threads {}", op, threads[1]);
      fmt::print("  {} speed-up {} -> {} threads: {:.2f}x (target >= 1.7x at 1 -> 2)\n", op, threads.front(), threads[1],
                 rate[two] / rate[one]);
    }
  }
  if (!keep && dir.empty()) fs::remove_all(root);
  return 0;
}
