// The rollback witness in process: the line format and its key, publishing
// (fail closed, shared appends), and the start-up check that refuses a store
// put back to an older copy, a forked history, and witnesses that are forged,
// another region's or out of order. Through a real `sovereign serve`:
// service_rollback_test.cpp.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/server_config.hpp"
#include "keystore/internal/service_keystore.hpp"
#include "keystore/internal/witness.hpp"
#include "keystore/internal/witness_publisher.hpp"
#include "keystore/internal/witnessed_keystore.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using nlohmann::json;
using test::ReadLines;
using test::TempDir;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

// Serving is what one `sovereign serve` start holds: the opened store, the
// publisher that passed the start-up check, and the witnessed keystore.
struct Serving {
  ki::OpenedKeystore opened;
  std::shared_ptr<ki::WitnessPublisher> witness;
  std::shared_ptr<ki::ServiceKeystore> keystore;
};

struct WitnessFixture {
  TempDir tmp;
  fs::path dir;
  fs::path witness;
  std::vector<std::string> logged;

  explicit WitnessFixture(const std::string& region = "us")
      : dir(tmp.path() / region), witness(tmp.path() / "witness" / (region + ".heads")) {
    fs::create_directories(witness.parent_path());
    auto ks = EmbeddedKeystore::Init(dir, region);
    REQUIRE(ks.ok());
    REQUIRE((*ks)->CreateKey("users").ok());
  }

  Result<Serving> Start(const fs::path& witness_file) {
    EmbeddedKeystoreOptions options;
    options.principal = "sovereign:serve";
    auto opened = ki::OpenServiceKeystore(dir, options);
    if (!opened.ok()) return opened.status();
    auto started = ki::StartWitness(witness_file, dir, [this](std::string_view line) { logged.emplace_back(line); });
    if (!started.ok()) return started.status();
    auto keystore = ki::WitnessKeystore(opened->service, *started);
    return Serving{std::move(opened).value(), std::move(started).value(), std::move(keystore)};
  }
  Result<Serving> Start() { return Start(witness); }

  ki::AuditHead Head() {
    auto files = ki::OpenKeystoreFiles(dir);
    REQUIRE(files.ok());
    auto head = files->catalog.ReadAuditHead();
    REQUIRE(head.ok());
    return *head;
  }

  // Copy and Restore take and put back catalog.db (with its WAL, if any) and
  // audit.log, as someone with the disk would, while nothing has them open.
  void Copy(const fs::path& to) const {
    fs::create_directories(to);
    for (const char* name : {"catalog.db", "catalog.db-wal", "audit.log"}) {
      if (fs::exists(dir / name)) fs::copy_file(dir / name, to / name, fs::copy_options::overwrite_existing);
    }
  }
  void Restore(const fs::path& from) const {
    for (const char* name : {"catalog.db-wal", "catalog.db-shm"}) fs::remove(dir / name);
    for (const char* name : {"catalog.db", "catalog.db-wal", "audit.log"}) {
      if (fs::exists(from / name)) fs::copy_file(from / name, dir / name, fs::copy_options::overwrite_existing);
    }
  }
};

void AppendText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
}

std::vector<std::uint8_t> WitnessKeyByHand(const SecretBytes& audit_key) {
  const auto key = audit_key.bytes(InsecureSecretKeyAccess::Get());
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  REQUIRE(kdf != nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  std::string info = "sovereign/v1/witness-key";
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(key.data()), key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  std::vector<std::uint8_t> out(32);
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  REQUIRE(ok == 1);
  return out;
}

std::string HmacHex(std::span<const std::uint8_t> key, const std::string& message) {
  std::array<unsigned char, 32> mac{};
  unsigned int size = 0;
  REQUIRE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(), &size) != nullptr);
  return test::ToHex({mac.data(), size});
}

TEST_CASE("witness: a line is canonical JSON of the head, MAC'd under HKDF(audit key, sovereign/v1/witness-key)") {
  WitnessFixture f;
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
  }
  const auto lines = ReadLines(f.witness);
  REQUIRE(lines.size() == 1);
  const json j = json::parse(lines[0]);
  CHECK(j.dump() == lines[0]);  // sorted keys, no spaces
  CHECK(j.size() == 5);
  const auto head = f.Head();
  CHECK(j["seq"] == head.seq);
  CHECK(j["hash"] == head.hash);
  CHECK(j["region"] == "us");
  CHECK(j["time"].get<std::string>().size() == std::string("2026-12-04T16:00:00.123Z").size());
  CHECK(j["time"].get<std::string>().back() == 'Z');

  auto files = ki::OpenKeystoreFiles(f.dir);
  REQUIRE(files.ok());
  json without = j;
  without.erase("mac");
  CHECK(j["mac"] == HmacHex(WitnessKeyByHand(files->audit_key), without.dump()));
  // Not the audit log's MAC: the audit key itself never MACs a witness line.
  CHECK(j["mac"] != HmacHex(files->audit_key.bytes(InsecureSecretKeyAccess::Get()), without.dump()));
}

TEST_CASE("witness: a missing witness is created on first use, 0600, and the fact is logged") {
  WitnessFixture f;
  REQUIRE(!fs::exists(f.witness));
  auto serving = f.Start();
  REQUIRE(serving.ok());
  CHECK(test::FileMode(f.witness) == 0600);
  REQUIRE(!f.logged.empty());
  CHECK(f.logged[0].find("did not exist: created it") != std::string::npos);
}

TEST_CASE("witness: every change is witnessed before it returns, and a restart with nothing new appends nothing") {
  WitnessFixture f;
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    auto& ks = *serving->keystore;
    REQUIRE(ks.RotateKeyAs("officer", "users").ok());
    auto last = json::parse(ReadLines(f.witness).back());
    CHECK(last["seq"] == f.Head().seq);
    CHECK(last["hash"] == f.Head().hash);
    REQUIRE(ks.ShredSubjectAs("officer", "users", "subject-1", "erasure").ok());
    CHECK(json::parse(ReadLines(f.witness).back())["seq"] == f.Head().seq);
    // A refusal is recorded, so it is witnessed too.
    CHECK(ks.RotateKeyAs("officer", "nope").code() == ErrorCode::kKeyNotFound);
    CHECK(json::parse(ReadLines(f.witness).back())["seq"] == f.Head().seq);
    // Reads move nothing and write nothing.
    const auto appends = serving->witness->appends();
    REQUIRE(ks.ReadAudit(0, 10).ok());
    CHECK(serving->witness->appends() == appends);
  }
  const auto before = ReadLines(f.witness).size();
  for (int i = 0; i < 2; ++i) {
    auto again = f.Start();
    REQUIRE(again.ok());
  }
  CHECK(ReadLines(f.witness).size() == before);
}

TEST_CASE("witness: older catalog.db and audit.log put back together are refused at start as a rollback") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  const fs::path backup = f.tmp.path() / "backup";
  f.Copy(backup);
  const auto old_head = f.Head();
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    REQUIRE(serving->keystore->ShredSubjectAs("officer", "users", "subject-1", "erasure").ok());
  }
  const auto witnessed = f.Head();
  f.Restore(backup);
  REQUIRE(f.Head().seq == old_head.seq);
  // The restored pair is self-consistent: the audit log alone cannot tell.
  REQUIRE(ki::VerifyKeystoreAuditLog(f.dir).ok());

  auto refused = f.Start();
  REQUIRE(!refused.ok());
  CHECK(refused.code() == ErrorCode::kFailedPrecondition);
  const std::string message = refused.status().message();
  CHECK(message.find("rollback detected") != std::string::npos);
  CHECK(message.find(fmt::format("at seq {}", old_head.seq)) != std::string::npos);
  CHECK(message.find(fmt::format("recorded seq {}", witnessed.seq)) != std::string::npos);
  CHECK(message.find(f.witness.string()) != std::string::npos);

  auto offline = ki::VerifyKeystoreWitness(f.dir, {}, f.witness);
  REQUIRE(!offline.ok());
  CHECK(offline.status().message().find("rollback detected") != std::string::npos);
}

TEST_CASE("witness: an older audit.log alone (the catalog current) is refused as a rollback of the log") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  const fs::path backup = f.tmp.path() / "backup";
  f.Copy(backup);
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    REQUIRE(serving->keystore->RotateKeyAs("officer", "users").ok());
  }
  fs::copy_file(backup / "audit.log", f.dir / "audit.log", fs::copy_options::overwrite_existing);
  auto refused = f.Start();
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("ends before seq") != std::string::npos);
}

TEST_CASE("witness: an older catalog.db alone (the log current) is refused at start as a rollback") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  const fs::path backup = f.tmp.path() / "backup";
  f.Copy(backup);
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    REQUIRE(serving->keystore->ShredSubjectAs("officer", "users", "subject-1", "erasure").ok());
  }
  fs::remove(backup / "audit.log");  // only the catalog goes back
  f.Restore(backup);
  auto refused = f.Start();
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("rollback detected: the catalog's audit head") != std::string::npos);
}

TEST_CASE("witness: an older catalog.db made to fit the log by an offline append is refused: the adoption shows") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  const fs::path backup = f.tmp.path() / "backup";
  f.Copy(backup);
  const auto old_head = f.Head();
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    REQUIRE(serving->keystore->ShredSubjectAs("officer", "users", "subject-1", "erasure").ok());
  }
  const auto witnessed = f.Head();
  fs::remove(backup / "audit.log");
  f.Restore(backup);
  // Any append now takes the shred's line for one a crash left uncommitted,
  // and the head fits the log again; the line it writes names the adoption.
  {
    auto ks = EmbeddedKeystore::Open(f.dir);
    REQUIRE(ks.ok());
    REQUIRE((*ks)->RotateKey("users").ok());
  }
  REQUIRE(f.Head().seq > witnessed.seq);
  CHECK(json::parse(ReadLines(f.dir / "audit.log").back())["adopted"] ==
        json::array({old_head.seq + 1, witnessed.seq}));
  auto refused = f.Start();
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find(fmt::format("adopted entries from seq {} on as left by a crash",
                                                    old_head.seq + 1)) != std::string::npos);

  // The same check guards every publish, so a catalog put back under a
  // running service is refused, not witnessed.
  auto files = ki::OpenKeystoreFiles(f.dir);
  REQUIRE(files.ok());
  auto mac = ki::NewWitnessMac(files->audit_key);
  REQUIRE(mac.ok());
  ki::WitnessPublisher publisher(
      f.witness, "us", std::move(mac).value(), [&]() -> Result<ki::AuditHead> { return f.Head(); }, witnessed,
      false, f.dir / "audit.log");
  Status published = publisher.Publish();
  CHECK(published.code() == ErrorCode::kKeystoreUnavailable);
  CHECK(published.message().find("rollback detected") != std::string::npos);
  CHECK(publisher.appends() == 0);
}

TEST_CASE("witness: entries a crash left past the witnessed head are adopted and witnessed, not refused") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  const fs::path backup = f.tmp.path() / "backup";
  f.Copy(backup);
  {
    auto ks = EmbeddedKeystore::Open(f.dir);
    REQUIRE(ks.ok());
    REQUIRE((*ks)->RotateKey("users").ok());
  }
  // The rotation's line is in the log but its commit "did not happen": the
  // state a crash between the log's fsync and the commit leaves.
  fs::remove(backup / "audit.log");
  f.Restore(backup);
  auto serving = f.Start();
  REQUIRE(serving.ok());
  REQUIRE(serving->keystore->RotateKeyAs("officer", "users").ok());
  CHECK(json::parse(ReadLines(f.dir / "audit.log").back()).contains("adopted"));
  CHECK(json::parse(ReadLines(f.witness).back())["seq"] == f.Head().seq);
}

TEST_CASE("witness: another history at the witnessed seq is refused as a fork") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  const fs::path backup = f.tmp.path() / "backup";
  f.Copy(backup);
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    REQUIRE(serving->keystore->RotateKeyAs("officer", "users").ok());
  }
  // The same number of entries, another content: seq matches, hash does not.
  f.Restore(backup);
  {
    auto ks = EmbeddedKeystore::Open(f.dir);
    REQUIRE(ks.ok());
    REQUIRE((*ks)->CreateKey("other").ok());
  }
  auto refused = f.Start();
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("forked history detected: the catalog's audit head") != std::string::npos);
  // Further along the other history the catalog is ahead, but the log's
  // entry at the witnessed seq is still not the witnessed one.
  {
    auto ks = EmbeddedKeystore::Open(f.dir);
    REQUIRE(ks.ok());
    REQUIRE((*ks)->CreateKey("more").ok());
  }
  auto ahead = f.Start();
  REQUIRE(!ahead.ok());
  CHECK(ahead.status().message().find("holds another entry at seq") != std::string::npos);
}

TEST_CASE("witness: changes made offline while the service was down are accepted and witnessed at start") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  {
    auto ks = EmbeddedKeystore::Open(f.dir);
    REQUIRE(ks.ok());
    REQUIRE((*ks)->RotateKey("users").ok());
  }
  auto serving = f.Start();
  REQUIRE(serving.ok());
  CHECK(json::parse(ReadLines(f.witness).back())["seq"] == f.Head().seq);
}

TEST_CASE("witness: a line whose MAC does not verify is refused, naming the line") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  // Someone who can append but has no key claims an older head: edit a real line.
  json forged = json::parse(ReadLines(f.witness).back());
  forged["seq"] = forged["seq"].get<std::uint64_t>() + 100;
  AppendText(f.witness, forged.dump() + "\n");
  auto refused = f.Start();
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("line 2 MAC does not verify") != std::string::npos);
}

TEST_CASE("witness: another region's witness, or another keystore's of the same region, is refused") {
  WitnessFixture us("us");
  WitnessFixture eu("eu");
  REQUIRE(eu.Start().ok());
  auto refused = us.Start(eu.witness);
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("is a head of region 'eu', not of this keystore's region 'us'") !=
        std::string::npos);

  WitnessFixture other_us("us");
  REQUIRE(other_us.Start().ok());
  auto foreign = us.Start(other_us.witness);
  REQUIRE(!foreign.ok());
  CHECK(foreign.status().message().find("MAC does not verify") != std::string::npos);
}

TEST_CASE("witness: an older head appended with a valid MAC is refused: heads only move forward") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  const auto old_head = f.Head();
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    REQUIRE(serving->keystore->RotateKeyAs("officer", "users").ok());
  }
  // Whoever holds the keystore's keys can seal lines, but cannot remove the
  // newer ones from an append-only witness: replaying the old head is caught.
  auto files = ki::OpenKeystoreFiles(f.dir);
  REQUIRE(files.ok());
  auto mac = ki::NewWitnessMac(files->audit_key);
  REQUIRE(mac.ok());
  auto line = ki::SealWitnessLine("us", old_head, std::chrono::system_clock::now(), *mac);
  REQUIRE(line.ok());
  AppendText(f.witness, *line + "\n");
  auto refused = f.Start();
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find(fmt::format("goes back to seq {}", old_head.seq)) != std::string::npos);
}

TEST_CASE("witness: an interrupted append is skipped and the next head starts on a line of its own") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  AppendText(f.witness, R"({"hash":"00ab)");  // a crash mid-write
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    bool skipped_logged = false;
    for (const auto& line : f.logged) skipped_logged |= line.find("skipped 1 unreadable line") != std::string::npos;
    CHECK(skipped_logged);
    REQUIRE(serving->keystore->RotateKeyAs("officer", "users").ok());
  }
  const auto lines = ReadLines(f.witness);
  REQUIRE(lines.size() == 3);
  CHECK(json::parse(lines.back())["seq"] == f.Head().seq);
  f.logged.clear();
  REQUIRE(f.Start().ok());
}

TEST_CASE("witness: a change that cannot be witnessed is not acknowledged (fail closed)") {
  WitnessFixture f;
  auto serving = f.Start();
  REQUIRE(serving.ok());
  auto& ks = *serving->keystore;
  // The witness vanished (or the storage failed): no change may be answered.
  fs::remove(f.witness);
  auto rotated = ks.RotateKeyAs("officer", "users");
  CHECK(rotated.code() == ErrorCode::kKeystoreUnavailable);
  CHECK(rotated.status().message().find("not acknowledged") != std::string::npos);
  CHECK(!fs::exists(f.witness));  // never re-created behind the operator's back
  auto recorded = ks.Record("app", ki::Event("app", "encrypt", "users"));
  CHECK(recorded.code() == ErrorCode::kKeystoreUnavailable);
  ki::FieldKeyRequest request;
  request.key_name = "users";
  request.label = "email";
  request.mode = Mode::kRandom;
  auto keys = ks.FieldKeysAs("app", "lease", {&request, 1});
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].code() == ErrorCode::kKeystoreUnavailable);
  // A directory in its place fails the same way.
  fs::create_directories(f.witness);
  CHECK(ks.RotateKeyAs("officer", "users").code() == ErrorCode::kKeystoreUnavailable);
}

TEST_CASE("witness: concurrent changes share appends, and each returns only once its head is witnessed") {
  WitnessFixture f;
  auto serving = f.Start();
  REQUIRE(serving.ok());
  auto& ks = *serving->keystore;
  const auto appends_before = serving->witness->appends();
  constexpr int kThreads = 8;
  constexpr int kRecords = 25;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRecords; ++i) {
        if (!ks.Record("app", ki::Event("app", "encrypt", "users")).ok()) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failed == 0);
  const auto appends = serving->witness->appends() - appends_before;
  CHECK(appends >= 1);
  CHECK(appends <= kThreads * kRecords);
  const auto lines = ReadLines(f.witness);
  CHECK(json::parse(lines.back())["seq"] == f.Head().seq);
  // Every line is a valid head and they never go back (checked by a start).
  REQUIRE(ki::VerifyKeystoreWitness(f.dir, {}, f.witness).ok());
  WARN("witness appends for " << kThreads * kRecords << " concurrent records: " << appends);
}

TEST_CASE("witness: the configuration names the witness path, never one inside the store") {
  const std::string base = R"({"region": "us", "listen": "127.0.0.1:0", "store": {"dir": "/var/lib/sov/us"},
    "tls": {"cert": "s.pem", "key": "s.key", "client_ca": "ca.pem"}, )";
  auto ok = ki::ParseServerConfig(base + R"("witness": {"path": "/mnt/witness/us.heads"}})", "/etc/sov");
  REQUIRE(ok.ok());
  CHECK(ok->witness_path == "/mnt/witness/us.heads");
  auto relative = ki::ParseServerConfig(base + R"("witness": {"path": "w/us.heads"}})", "/etc/sov");
  REQUIRE(relative.ok());
  CHECK(relative->witness_path == "/etc/sov/w/us.heads");
  auto none = ki::ParseServerConfig(base + R"("access": []})", "/etc/sov");
  REQUIRE(none.ok());
  CHECK(none->witness_path.empty());
  auto inside = ki::ParseServerConfig(base + R"("witness": {"path": "/var/lib/sov/us/heads"}})", "/etc/sov");
  REQUIRE(!inside.ok());
  CHECK(inside.status().message().find("must not be inside the store directory") != std::string::npos);
  auto unknown = ki::ParseServerConfig(base + R"("witness": {"file": "/mnt/w"}})", "/etc/sov");
  CHECK(!unknown.ok());
}

TEST_CASE("cli: audit verify --witness passes an intact store and names a rollback") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  const fs::path backup = f.tmp.path() / "backup";
  f.Copy(backup);
  {
    auto serving = f.Start();
    REQUIRE(serving.ok());
    REQUIRE(serving->keystore->RotateKeyAs("officer", "users").ok());
  }
  auto good = test::RunCli({"audit", "verify", "--keystore", f.dir.string(), "--witness", f.witness.string()});
  INFO(good.err);
  CHECK(good.exit_code == 0);
  CHECK(good.out.find("witness ok:") != std::string::npos);
  f.Restore(backup);
  auto bad = test::RunCli({"audit", "verify", "--keystore", f.dir.string(), "--witness", f.witness.string()});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("witness check failed: rollback detected") != std::string::npos);
}

// Not a test: the cost of the witness, printed (timings never gate tests).
// Run with: keystore_witness_test "[.timing]"
TEST_CASE("witness: cost of witnessing field key issues", "[.timing]") {
  for (const int threads : {1, 8, 32}) {
    for (const bool witnessed : {false, true}) {
      WitnessFixture f;
      auto serving = f.Start();
      REQUIRE(serving.ok());
      ki::ServiceKeystore& ks = witnessed ? *serving->keystore : *serving->opened.service;
      constexpr int kRecords = 640;
      std::atomic<int> failed{0};
      const auto start = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
          // Field key issues (the lease path): group-committed, one audit fsync per group.
          ki::FieldKeyRequest request;
          request.key_name = "users";
          request.label = "email";
          request.mode = Mode::kRandom;
          for (int i = 0; i < kRecords / threads; ++i) {
            failed += ks.FieldKeysAs("app", "lease", {&request, 1})[0].ok() ? 0 : 1;
          }
        });
      }
      for (auto& t : pool) t.join();
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      REQUIRE(failed == 0);
      std::printf("%d thread(s), %s: %.0f issues/s, %llu witness appends\n", threads,
                  witnessed ? "witness" : "no witness", kRecords / elapsed.count(),
                  static_cast<unsigned long long>(serving->witness->appends()));
    }
  }
}

// Not a test: how long the start-up check takes to read a long witness.
TEST_CASE("witness: cost of reading a witness of many heads", "[.timing]") {
  WitnessFixture f;
  REQUIRE(f.Start().ok());
  auto files = ki::OpenKeystoreFiles(f.dir);
  REQUIRE(files.ok());
  auto mac = ki::NewWitnessMac(files->audit_key);
  REQUIRE(mac.ok());
  const auto head = f.Head();
  constexpr std::uint64_t kHeads = 200000;
  {
    std::string text;
    for (std::uint64_t i = 0; i < kHeads; ++i) {
      auto line = ki::SealWitnessLine("us", head, std::chrono::system_clock::now(), *mac);
      REQUIRE(line.ok());
      text += *line + "\n";
    }
    AppendText(f.witness, text);
  }
  const auto start = std::chrono::steady_clock::now();
  auto contents = ki::ReadWitness(f.witness, "us", *mac);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(contents.ok());
  CHECK(contents->heads == kHeads + 1);
  std::printf("read %llu witness heads (%.1f MB) in %.2f s\n", static_cast<unsigned long long>(contents->heads),
              static_cast<double>(fs::file_size(f.witness)) / 1e6, elapsed.count());
}

}  // namespace
}  // namespace sovereign
