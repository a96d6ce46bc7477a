// Per-subject key benchmark: how fast an embedded keystore creates and serves
// subject keys in batches (as a pipeline's prefetch asks for them) while its
// catalog grows to --subjects subjects (default 1,000,000), beside the same
// keystore issuing plain version field keys in batches of the same size —
// the baseline, measured in the same run on the same disk. Every issue, plain
// or per subject, is audited and committed (one audit fsync and one WAL sync
// per group of up to 256 requests).
//
//   sovereign_subject_bench [--subjects N] [--batch B] [--lookups M] [--dir DIR] [--smoke] [--keep]
//
// Prints rates (keys/s) per phase, subject/plain ratios, shred latency and
// the catalog's size. Figures are informational: nothing is asserted.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using sovereign::FieldKeyRequest;

struct Options {
  std::size_t subjects = 1'000'000;
  std::size_t batch = 500;
  std::size_t lookups = 100'000;
  fs::path dir;
  bool keep = false;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: sovereign_subject_bench [--subjects N] [--batch B] [--lookups M] [--dir DIR] "
               "[--smoke] [--keep]\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--subjects") {
      o.subjects = std::stoul(value());
    } else if (a == "--batch") {
      o.batch = std::stoul(value());
    } else if (a == "--lookups") {
      o.lookups = std::stoul(value());
    } else if (a == "--dir") {
      o.dir = value();
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--smoke") {
      o.subjects = 3000;
      o.lookups = 2000;
    } else {
      Usage(("unknown argument " + a).c_str());
    }
  }
  if (o.batch == 0 || o.subjects == 0 || o.lookups == 0) Usage("sizes must be positive");
  return o;
}

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Issue runs `requests` through FieldKeys in batches and returns keys/s;
// any failed item aborts the benchmark (a benchmark of errors is worthless).
double Issue(sovereign::KeySource& ks, std::span<const FieldKeyRequest> requests, std::size_t batch,
             std::vector<sovereign::FieldKeyMaterial>* keep = nullptr) {
  const auto start = Clock::now();
  for (std::size_t at = 0; at < requests.size(); at += batch) {
    const std::size_t n = std::min(batch, requests.size() - at);
    auto results = ks.FieldKeys(requests.subspan(at, n));
    for (auto& r : results) {
      if (!r.ok()) {
        std::fprintf(stderr, "issue failed: %s\n", r.status().ToString().c_str());
        std::exit(1);
      }
      if (keep != nullptr) keep->push_back(std::move(r).value());
    }
  }
  return static_cast<double>(requests.size()) / Seconds(start);
}

std::string SubjectId(std::size_t i) { return fmt::format("user-{:08d}", i); }

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  const bool temporary = o.dir.empty();
  if (temporary) o.dir = fs::temp_directory_path() / fmt::format("sovereign-subject-bench-{}", ::getpid());
  const fs::path ks_dir = o.dir / "ks";
  fs::create_directories(o.dir);
  auto ks = sovereign::EmbeddedKeystore::Init(ks_dir, "us");
  if (!ks.ok()) {
    std::fprintf(stderr, "%s\n", ks.status().ToString().c_str());
    return 1;
  }
  if (auto k = (*ks)->CreateKey("users"); !k.ok()) {
    std::fprintf(stderr, "%s\n", k.status().ToString().c_str());
    return 1;
  }
  fmt::print("subject keys: {} subjects, batches of {}, {} lookups, keystore in {}\n", o.subjects, o.batch,
             o.lookups, ks_dir.string());

  // Baseline: plain field keys of the version, the same number as the lookups.
  std::vector<FieldKeyRequest> plain(o.lookups);
  for (auto& r : plain) {
    r.key_name = "users";
    r.label = "email";
  }
  const double plain_rate = Issue(**ks, plain, o.batch);
  fmt::print("  plain version keys (baseline)      {:>10.0f} keys/s\n", plain_rate);

  // Create every subject's key, reporting the rate per tenth of the run.
  std::vector<std::string> ids(o.subjects);
  for (std::size_t i = 0; i < o.subjects; ++i) ids[i] = SubjectId(i);
  std::vector<sovereign::SubjectTag> tags;
  tags.reserve(o.subjects);
  std::uint32_t key_id = 0, version = 0, label_id = 0;
  const std::size_t step = std::max<std::size_t>(o.batch, o.subjects / 10 / o.batch * o.batch);
  const auto create_start = Clock::now();
  for (std::size_t at = 0; at < o.subjects; at += step) {
    const std::size_t n = std::min(step, o.subjects - at);
    std::vector<FieldKeyRequest> requests(n);
    for (std::size_t i = 0; i < n; ++i) {
      requests[i].key_name = "users";
      requests[i].label = "email";
      requests[i].subject = ids[at + i];
    }
    std::vector<sovereign::FieldKeyMaterial> keys;
    const double rate = Issue(**ks, requests, o.batch, &keys);
    for (const auto& k : keys) tags.push_back(*k.subject_tag);
    key_id = keys.front().key_id;
    version = keys.front().version;
    label_id = keys.front().label_id;
    fmt::print("  create subject keys {:>9}..{:<9}  {:>10.0f} keys/s\n", at + 1, at + n, rate);
  }
  const double create_rate = static_cast<double>(o.subjects) / Seconds(create_start);
  fmt::print("  create subject keys, whole run      {:>10.0f} keys/s ({:.1f} s)\n", create_rate,
             Seconds(create_start));

  std::mt19937_64 rng(20261129);
  std::uniform_int_distribution<std::size_t> pick(0, o.subjects - 1);
  std::vector<std::size_t> sample(o.lookups);
  for (auto& s : sample) s = pick(rng);

  // Existing subjects by id (encryption of a known subject).
  std::vector<FieldKeyRequest> by_id(o.lookups);
  for (std::size_t i = 0; i < o.lookups; ++i) {
    by_id[i].key_name = "users";
    by_id[i].label = "email";
    by_id[i].subject = ids[sample[i]];
  }
  const double encrypt_rate = Issue(**ks, by_id, o.batch);
  fmt::print("  existing subject, by id (encrypt)   {:>10.0f} keys/s\n", encrypt_rate);

  // Existing subjects by tag (decryption).
  std::vector<FieldKeyRequest> by_tag(o.lookups);
  for (std::size_t i = 0; i < o.lookups; ++i) {
    by_tag[i].by_name = false;
    by_tag[i].key_id = key_id;
    by_tag[i].version = version;
    by_tag[i].label_id = label_id;
    by_tag[i].subject_tag = tags[sample[i]];
  }
  const double decrypt_rate = Issue(**ks, by_tag, o.batch);
  fmt::print("  existing subject, by tag (decrypt)  {:>10.0f} keys/s\n", decrypt_rate);

  // End to end through a Client: prefetch a chunk's subjects, then encrypt.
  auto client = sovereign::Client::New(*ks);
  if (!client.ok()) return 1;
  std::vector<sovereign::FieldSpec> specs(std::min<std::size_t>(o.lookups, 20'000));
  for (std::size_t i = 0; i < specs.size(); ++i) {
    specs[i] = {"us", "users", "email"};
    specs[i].subject = ids[sample[i]];
  }
  const auto client_start = Clock::now();
  for (std::size_t at = 0; at < specs.size(); at += o.batch) {
    const std::size_t n = std::min(o.batch, specs.size() - at);
    (*client)->PrefetchKeys(std::span(specs).subspan(at, n));
    for (std::size_t i = at; i < at + n; ++i) {
      auto ct = (*client)->Encrypt(specs[i], "ann@example.com", {"/email", std::nullopt});
      if (!ct.ok()) {
        std::fprintf(stderr, "encrypt failed: %s\n", ct.status().ToString().c_str());
        return 1;
      }
    }
  }
  const double client_rate = static_cast<double>(specs.size()) / Seconds(client_start);
  fmt::print("  Client: prefetch + encrypt          {:>10.0f} values/s (each of a different subject)\n",
             client_rate);

  // Shreds at full size.
  std::vector<double> shred_ms;
  for (std::size_t i = 0; i < 50; ++i) {
    const auto start = Clock::now();
    auto r = (*ks)->ShredSubject("users", ids[sample[i]], "benchmark");
    if (!r.ok()) {
      std::fprintf(stderr, "shred failed: %s\n", r.status().ToString().c_str());
      return 1;
    }
    shred_ms.push_back(Seconds(start) * 1000);
  }
  std::sort(shred_ms.begin(), shred_ms.end());
  fmt::print("  shred one subject                   median {:.2f} ms, max {:.2f} ms (50 shreds)\n",
             shred_ms[shred_ms.size() / 2], shred_ms.back());

  const auto catalog_mb = static_cast<double>(fs::file_size(ks_dir / "catalog.db")) / 1e6;
  const auto audit_mb = static_cast<double>(fs::file_size(ks_dir / "audit.log")) / 1e6;
  fmt::print("  catalog {:.1f} MB ({:.0f} bytes per subject), audit log {:.1f} MB\n", catalog_mb,
             catalog_mb * 1e6 / static_cast<double>(o.subjects), audit_mb);
  fmt::print("ratios to plain version keys in batches: create {:.2f}x, by id {:.2f}x, by tag {:.2f}x\n",
             create_rate / plain_rate, encrypt_rate / plain_rate, decrypt_rate / plain_rate);
  ks->reset();
  if (temporary && !o.keep) fs::remove_all(o.dir);
  return 0;
}
