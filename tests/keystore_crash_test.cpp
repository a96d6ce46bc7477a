// Crash safety of key rotation and root key rotation: a child process loops
// `RotateKey` + encrypt + `RotateRootKey` on a real keystore directory and is
// killed with SIGKILL after a random delay, many times. After every kill the
// keystore must open (finishing or undoing an interrupted root rotation), list
// every version the child saw created, decrypt every ciphertext the child
// recorded before it died, and pass audit verification.
//
// A second test does the same to a child creating subject keys in batches
// and shredding subjects: every subject value recorded before a kill
// decrypts, and every recorded shred holds.
//
// SOVEREIGN_CRASH_ITERATIONS sets the number of kills per test (default 12; CI: 60).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <random>
#include <sstream>
#include <thread>

#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/root_rotation.hpp"
#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using test::TempDir;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

int Iterations() {
  const char* env = std::getenv("SOVEREIGN_CRASH_ITERATIONS");
  const int n = env != nullptr ? std::atoi(env) : 0;
  return n > 0 ? n : 12;
}

// AppendDurably appends `line` to `path` and fsyncs it: once this returns,
// the line survives the process being killed.
void AppendDurably(const fs::path& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(fd) != 0) {
    ::_exit(4);
  }
  ::close(fd);
}

// ChildLoop never returns: it rotates and encrypts until killed. Every
// ciphertext goes into the ledger only after Encrypt returned it; an error
// is written to `error_file` and ends the child with status 3.
[[noreturn]] void ChildLoop(const fs::path& dir, const fs::path& ledger, const fs::path& error_file, int seed) {
  const auto fail = [&](const Status& s) {
    AppendDurably(error_file, s.ToString() + "\n");
    ::_exit(3);
  };
  for (int i = 0;; ++i) {
    {
      auto ks = EmbeddedKeystore::Open(dir);
      if (!ks.ok()) fail(ks.status());
      auto key = (*ks)->RotateKey("users");
      if (!key.ok()) fail(key.status());
      auto client = Client::New(*ks);
      if (!client.ok()) fail(client.status());
      const std::string value = "child " + std::to_string(seed) + " value " + std::to_string(i);
      auto ct = (*client)->Encrypt({"us", "users", "email", Mode::kRandom}, value, {"/email", std::nullopt});
      if (!ct.ok()) fail(ct.status());
      AppendDurably(ledger, *ct + "\t" + value + "\n");
    }
    auto rotated = ki::RotateRootKey(dir, "unix:crash-test");
    if (!rotated.ok()) fail(rotated.status());
  }
}

// KillAfter forks a child running `loop` (which never returns), SIGKILLs it
// after `delay_ms` and requires that the kill, not an error, ended it.
template <typename Loop>
void KillAfter(int delay_ms, const fs::path& error_file, Loop loop) {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) loop();
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    FAIL("the child stopped by itself: " << (fs::exists(error_file) ? test::ReadFile(error_file) : "no message"));
  }
}

std::vector<std::pair<std::string, std::string>> ReadLedger(const fs::path& ledger) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!fs::exists(ledger)) return out;
  for (const auto& line : test::ReadLines(ledger)) {
    const auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

// CheckConsistent opens the keystore as a fresh process would and checks
// versions, ciphertexts and the audit log.
void CheckConsistent(const fs::path& dir, const fs::path& ledger) {
  auto ks = EmbeddedKeystore::Open(dir);
  INFO(ks.status().ToString());
  REQUIRE(ks.ok());
  CHECK_FALSE(fs::exists(dir / "root.key.new"));
  auto key = (*ks)->GetKey("users");
  REQUIRE(key.ok());
  // Versions are 1..primary with no gap and all enabled. The newest ones
  // (those a kill can have caught mid-rotation) must unwrap; older ones are
  // covered by the ledger's ciphertexts below.
  REQUIRE(key->versions.size() == key->primary_version);
  for (std::uint32_t v = 1; v <= key->primary_version; ++v) {
    CHECK(key->versions[v - 1].version == v);
    CHECK(key->versions[v - 1].state == KeyVersionState::kEnabled);
    if (v + 3 <= key->primary_version) continue;
    auto material = (*ks)->FieldKey(key->id, v, Mode::kDeterministic, 1);
    INFO("version " << v << ": " << material.status().ToString());
    CHECK(material.ok());
  }
  auto client = Client::New(*ks);
  REQUIRE(client.ok());
  for (const auto& [ct, value] : ReadLedger(ledger)) {
    auto pt = (*client)->Decrypt(ct, {"/email", std::nullopt});
    INFO(pt.status().ToString());
    REQUIRE(pt.ok());
    CHECK(*pt == value);
  }
  auto verified = ki::VerifyKeystoreAuditLog(dir);
  INFO(verified.status().ToString());
  CHECK(verified.ok());
}

TEST_CASE("crash: SIGKILL at random points of key and root key rotation loses no version, ciphertext or audit entry") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "us";
  const fs::path ledger = tmp.path() / "ledger";
  const fs::path error_file = tmp.path() / "child-error";
  {
    auto ks = EmbeddedKeystore::Init(dir, "us");
    REQUIRE(ks.ok());
    REQUIRE((*ks)->CreateKey("users").ok());
    // Registers label "email" (id 1), which CheckConsistent issues keys for.
    auto client = Client::New(*ks);
    REQUIRE(client.ok());
    auto ct = (*client)->Encrypt({"us", "users", "email", Mode::kRandom}, "first", {"/email", std::nullopt});
    REQUIRE(ct.ok());
    test::WriteFile(ledger, *ct + "\tfirst\n");
  }
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int> delay_ms(1, 150);
  const int iterations = Iterations();
  for (int i = 0; i < iterations; ++i) {
    const int delay = delay_ms(rng);
    INFO("iteration " << i << ", killed after " << delay << " ms");
    KillAfter(delay, error_file, [&] { ChildLoop(dir, ledger, error_file, i); });
    CheckConsistent(dir, ledger);
  }
  const auto sealed = ReadLedger(ledger);
  INFO(sealed.size() << " ciphertexts recorded over " << iterations << " kills");
  CHECK_FALSE(sealed.empty());
}

// SubjectChildLoop never returns: it creates subject keys in batches of 40
// (one prefetch each) and encrypts a value for each, rotates the key every
// few batches, and shreds one earlier subject per batch. The ledger gets
// "V\tsubject\tciphertext\tvalue" after an encryption returned, and
// "S\tsubject" before and "D\tsubject" after a shred.
[[noreturn]] void SubjectChildLoop(const fs::path& dir, const fs::path& ledger, const fs::path& error_file, int seed) {
  const auto fail = [&](const Status& s) {
    AppendDurably(error_file, s.ToString() + "\n");
    ::_exit(3);
  };
  auto ks = EmbeddedKeystore::Open(dir);
  if (!ks.ok()) fail(ks.status());
  auto client = Client::New(*ks);
  if (!client.ok()) fail(client.status());
  std::string previous;
  for (int batch = 0;; ++batch) {
    if (batch % 5 == 4) {
      auto key = (*ks)->RotateKey("users");
      if (!key.ok()) fail(key.status());
    }
    std::vector<FieldSpec> specs;
    for (int j = 0; j < 40; ++j) {
      FieldSpec spec{"us", "users", "email"};
      spec.subject = "s" + std::to_string(seed) + "-" + std::to_string(batch) + "-" + std::to_string(j);
      specs.push_back(std::move(spec));
    }
    (*client)->PrefetchKeys(specs);
    std::string lines;
    for (const FieldSpec& spec : specs) {
      const std::string value = "value of " + *spec.subject;
      auto ct = (*client)->Encrypt(spec, value, {"/email", std::nullopt});
      if (!ct.ok()) fail(ct.status());
      lines += "V\t" + *spec.subject + "\t" + *ct + "\t" + value + "\n";
    }
    AppendDurably(ledger, lines);
    if (!previous.empty()) {
      AppendDurably(ledger, "S\t" + previous + "\n");
      auto shred = (*ks)->ShredSubject("users", previous, "crash test");
      if (!shred.ok()) fail(shred.status());
      AppendDurably(ledger, "D\t" + previous + "\n");
    }
    previous = *specs[static_cast<std::size_t>(batch) % specs.size()].subject;
  }
}

TEST_CASE("crash: SIGKILL while subject keys are created and shredded loses no subject key and no shred") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "us";
  const fs::path ledger = tmp.path() / "ledger";
  const fs::path error_file = tmp.path() / "child-error";
  {
    auto ks = EmbeddedKeystore::Init(dir, "us");
    REQUIRE(ks.ok());
    REQUIRE((*ks)->CreateKey("users").ok());
  }
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<int> delay_ms(5, 250);
  const int iterations = Iterations();
  std::size_t values = 0;
  for (int i = 0; i < iterations; ++i) {
    const int delay = delay_ms(rng);
    INFO("iteration " << i << ", killed after " << delay << " ms");
    KillAfter(delay, error_file, [&] { SubjectChildLoop(dir, ledger, error_file, i); });

    // A shred is certain once "D" is recorded, possible once "S" is.
    std::set<std::string> shredding, shredded;
    std::vector<std::vector<std::string>> sealed;
    if (fs::exists(ledger)) {
      for (const auto& line : test::ReadLines(ledger)) {
        std::vector<std::string> parts;
        std::istringstream in(line);
        for (std::string part; std::getline(in, part, '\t');) parts.push_back(part);
        REQUIRE(parts.size() >= 2);
        if (parts[0] == "S") shredding.insert(parts[1]);
        if (parts[0] == "D") shredded.insert(parts[1]);
        if (parts[0] == "V") sealed.push_back(parts);
      }
    }
    auto ks = EmbeddedKeystore::Open(dir);
    INFO(ks.status().ToString());
    REQUIRE(ks.ok());
    auto client = Client::New(*ks);
    REQUIRE(client.ok());
    // Everything this child recorded, and a sample of what earlier ones did
    // (checked in full after their own kill), through one batched prefetch.
    std::vector<const std::vector<std::string>*> check;
    std::uniform_int_distribution<std::size_t> pick(0, values == 0 ? 0 : values - 1);
    for (int k = 0; k < 100 && values > 0; ++k) check.push_back(&sealed.at(pick(rng)));
    for (std::size_t k = values; k < sealed.size(); ++k) check.push_back(&sealed[k]);
    std::vector<std::string_view> texts;
    for (const auto* v : check) texts.push_back(v->at(2));
    (*client)->PrefetchKeysFor(texts);
    for (const auto* checked : check) {
      const auto& v = *checked;
      REQUIRE(v.size() == 4);
      auto pt = (*client)->Decrypt(v[2], {"/email", std::nullopt});
      INFO(v[1] << ": " << pt.status().ToString());
      if (shredded.count(v[1]) != 0) {
        CHECK(pt.code() == ErrorCode::kShredded);
      } else if (shredding.count(v[1]) != 0) {
        CHECK((pt.code() == ErrorCode::kShredded || (pt.ok() && *pt == v[3])));
      } else {
        REQUIRE(pt.ok());
        CHECK(*pt == v[3]);
      }
    }
    values = sealed.size();
    auto verified = ki::VerifyKeystoreAuditLog(dir);
    INFO(verified.status().ToString());
    CHECK(verified.ok());
  }
  INFO(values << " subject values recorded over " << iterations << " kills");
  CHECK(values > 0);
}

}  // namespace
}  // namespace sovereign
