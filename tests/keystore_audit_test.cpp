// The audit log: what each operation records, the hash chain and MACs, the
// detection of every kind of tampering, and failing closed when it cannot be written.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "keystore/internal/keystore_dir.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using test::ReadLines;
using test::TempDir;
using test::WriteLines;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

// A keystore with six audit entries: init, create, rotate, two issues, one refusal.
struct AuditFixture {
  TempDir tmp;
  fs::path dir = tmp.path() / "ks";
  fs::path log = dir / "audit.log";
  std::shared_ptr<EmbeddedKeystore> ks;
  AuditFixture() {
    EmbeddedKeystoreOptions options;
    options.principal = "spiffe://corp/region/us/svc/accounts";
    auto init = EmbeddedKeystore::Init(dir, "us", options);
    REQUIRE(init.ok());
    ks = *init;
    REQUIRE(ks->CreateKey("users").ok());
    REQUIRE(ks->RotateKey("users").ok());
    REQUIRE(ks->PrimaryFieldKey("users", Mode::kDeterministic, "email").ok());
    REQUIRE(ks->FieldKey(1, 1, Mode::kDeterministic, 1).ok());
    REQUIRE(ks->FieldKey(1, 9, Mode::kRandom, 1).code() == ErrorCode::kKeyNotFound);
  }
  Status Verify() { return ki::VerifyKeystoreAuditLog(dir).status(); }
};

TEST_CASE("every operation writes one audit line with who, what and outcome, and no key bytes") {
  AuditFixture f;
  auto lines = ReadLines(f.log);
  REQUIRE(lines.size() == 6);
  std::vector<nlohmann::json> e;
  for (const auto& line : lines) e.push_back(nlohmann::json::parse(line));
  for (std::size_t i = 0; i < e.size(); ++i) {
    CHECK(e[i]["seq"] == i + 1);
    CHECK(e[i]["region"] == "us");
    CHECK(e[i]["prev"].get<std::string>().size() == 64);
    CHECK(e[i]["mac"].get<std::string>().size() == 64);
    CHECK(e[i]["time"].get<std::string>().back() == 'Z');
  }
  CHECK(e[0]["prev"] == std::string(64, '0'));
  CHECK(e[0]["op"] == "keystore.init");
  CHECK(e[0]["principal"] == "spiffe://corp/region/us/svc/accounts");
  CHECK(e[1]["op"] == "key.create");
  CHECK(e[1]["key"] == "users");
  CHECK(e[1]["key_id"] == 1);
  CHECK(e[1]["versions"] == nlohmann::json::array({1}));
  CHECK(e[1]["principal"] == "spiffe://corp/region/us/svc/accounts");
  CHECK(e[1]["outcome"] == "ok");
  CHECK(e[2]["op"] == "key.rotate");
  CHECK(e[2]["versions"] == nlohmann::json::array({2}));
  CHECK(e[3]["op"] == "field_key.issue");
  CHECK(e[3]["mode"] == "deterministic");
  CHECK(e[3]["labels"] == nlohmann::json::array({"email"}));
  CHECK(e[3]["versions"] == nlohmann::json::array({2}));
  CHECK(e[4]["versions"] == nlohmann::json::array({1}));
  CHECK(e[5]["outcome"] == "error");
  CHECK(e[5]["reason"] == "key_not_found");
  CHECK(e[5]["versions"] == nlohmann::json::array({9}));

  auto fk = f.ks->PrimaryFieldKey("users", Mode::kDeterministic, "email");
  REQUIRE(fk.ok());
  const std::string content = test::ReadFile(f.log);
  CHECK_FALSE(test::Contains(content, fk->key.bytes(InsecureSecretKeyAccess::Get())));
  CHECK(content.find(test::ToHex(fk->key.bytes(InsecureSecretKeyAccess::Get()))) == std::string::npos);
}

TEST_CASE("the default principal is the effective unix user") {
  TempDir tmp;
  auto ks = EmbeddedKeystore::Init(tmp.path() / "ks", "us");
  REQUIRE(ks.ok());
  auto first = nlohmann::json::parse(ReadLines(tmp.path() / "ks" / "audit.log").at(0));
  CHECK_THAT(first["principal"].get<std::string>(), Catch::StartsWith("unix:"));
}

TEST_CASE("an untouched audit log verifies") {
  AuditFixture f;
  auto v = ki::VerifyKeystoreAuditLog(f.dir);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  CHECK(v->entries == 6);
  CHECK(v->beyond_head == 0);
  CHECK(v->summary == "ok: 6 entries");
}

TEST_CASE("audit verification names the first bad line and the kind of tampering") {
  AuditFixture f;
  f.ks.reset();
  auto lines = ReadLines(f.log);
  REQUIRE(lines.size() == 6);
  auto expect = [&](const std::vector<std::string>& tampered, std::string_view line, std::string_view why) {
    WriteLines(f.log, tampered);
    Status s = f.Verify();
    INFO(s.ToString());
    CHECK(s.code() == ErrorCode::kFailedPrecondition);
    CHECK_THAT(s.message(), Catch::Contains(std::string(line)));
    CHECK_THAT(s.message(), Catch::Contains(std::string(why)));
  };

  SECTION("an edited field") {
    auto t = lines;
    const std::string from = "\"outcome\":\"ok\"";
    t[2].replace(t[2].find(from), from.size(), "\"outcome\":\"no\"");
    expect(t, "line 3:", "edited or forged");
  }
  SECTION("an edit that is not canonical JSON") {
    auto t = lines;
    t[1].insert(1, " ");
    expect(t, "line 2:", "edited");
  }
  SECTION("a deleted line") {
    auto t = lines;
    t.erase(t.begin() + 2);
    expect(t, "line 3:", "entry 3 was deleted");
  }
  SECTION("two lines swapped") {
    auto t = lines;
    std::swap(t[2], t[3]);
    expect(t, "line 3:", "reordered");
  }
  SECTION("a forged line inserted") {
    auto t = lines;
    auto forged = nlohmann::json::parse(lines[1]);
    forged["seq"] = 3;
    forged["op"] = "key.create";
    forged["key"] = "backdoor";
    t.insert(t.begin() + 2, forged.dump());
    expect(t, "line 3:", "inserted");
  }
  SECTION("a line replayed") {
    auto t = lines;
    t.push_back(lines[5]);
    expect(t, "line 7:", "duplicated");
  }
  SECTION("the tail truncated") {
    auto t = lines;
    t.resize(4);
    expect(t, "line 5:", "truncated tail");
  }
  SECTION("the tail cut mid-line") {
    test::WriteFile(f.log, test::ReadFile(f.log).substr(0, test::ReadFile(f.log).size() - 20));
    Status s = f.Verify();
    CHECK_THAT(s.message(), Catch::Contains("truncated tail"));
  }
  SECTION("the whole log emptied") {
    expect({}, "line 1:", "truncated tail");
  }
}

TEST_CASE("the keystore refuses to append to a tampered log") {
  AuditFixture f;
  auto lines = ReadLines(f.log);
  lines.resize(5);
  WriteLines(f.log, lines);
  auto r = f.ks->PrimaryFieldKey("users", Mode::kRandom, "email");
  CHECK(r.code() == ErrorCode::kKeystoreUnavailable);
  CHECK_THAT(r.status().message(), Catch::Contains("audit head"));
  CHECK(f.ks->CreateKey("other").code() == ErrorCode::kKeystoreUnavailable);
  CHECK(f.ks->GetKey("other").code() == ErrorCode::kKeyNotFound);  // the create was rolled back
}

TEST_CASE("an in-place edit of the last entry, same size, is caught by the next append of the same keystore") {
  AuditFixture f;
  // The open keystore wrote the last entry itself, so it knows where the log
  // ends; an edit that keeps the size and the catalog head must not slip past.
  const std::string content = test::ReadFile(f.log);
  const auto at = content.rfind("\"outcome\":\"");
  REQUIRE(at != std::string::npos);
  {
    std::fstream file(f.log, std::ios::in | std::ios::out | std::ios::binary);  // same inode, same size
    file.seekp(static_cast<std::streamoff>(at + 11));
    file.put(content[at + 11] == 'e' ? 'f' : 'e');
  }
  REQUIRE(fs::file_size(f.log) == content.size());
  auto r = f.ks->PrimaryFieldKey("users", Mode::kRandom, "email");
  CHECK(r.code() == ErrorCode::kKeystoreUnavailable);
  CHECK_THAT(r.status().message(), Catch::Contains("does not verify"));
}

TEST_CASE("an entry written before a crash stopped the commit is adopted, not a break") {
  AuditFixture f;
  // Simulate a crash between the log fsync and the catalog commit: roll the
  // head back by one entry.
  auto lines = ReadLines(f.log);
  auto hash = nlohmann::json::parse(lines[5])["prev"].get<std::string>();
  test::Sql(f.dir, "UPDATE audit_head SET seq = 5, hash = '" + hash + "'");
  auto v = ki::VerifyKeystoreAuditLog(f.dir);
  REQUIRE(v.ok());
  CHECK(v->beyond_head == 1);
  REQUIRE(f.ks->PrimaryFieldKey("users", Mode::kRandom, "email").ok());
  auto after = ki::VerifyKeystoreAuditLog(f.dir);
  REQUIRE(after.ok());
  CHECK(after->entries == 7);
  CHECK(after->beyond_head == 0);
}

TEST_CASE("an incomplete last line left by a crash is cut off on the next append") {
  AuditFixture f;
  {
    std::ofstream out(f.log, std::ios::app | std::ios::binary);
    out << "{\"mac\":\"00";
  }
  REQUIRE(f.ks->PrimaryFieldKey("users", Mode::kRandom, "email").ok());
  auto v = ki::VerifyKeystoreAuditLog(f.dir);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  CHECK(v->entries == 7);
}

TEST_CASE("a field key is not returned when its audit record cannot be written (log replaced)") {
  AuditFixture f;
  fs::remove(f.log);
  fs::create_directory(f.log);
  auto r = f.ks->PrimaryFieldKey("users", Mode::kRandom, "email");
  CHECK(r.code() == ErrorCode::kKeystoreUnavailable);
  CHECK_THAT(r.status().message(), Catch::Contains(f.log.string()));
  CHECK(f.ks->FieldKey(1, 1, Mode::kDeterministic, 1).code() == ErrorCode::kKeystoreUnavailable);
}

TEST_CASE("a failed audit write fails the request closed and leaves the log intact") {
  AuditFixture f;
  const std::string before = test::ReadFile(f.log);
  for (std::uintmax_t extra : {0u, 25u}) {  // nothing written, and a partial line written
    CAPTURE(extra);
    auto dir = f.dir;
    int code = test::RunWithFileSizeLimit(f.log, extra, [&dir] {
      auto ks = EmbeddedKeystore::Open(dir);
      if (!ks.ok()) return 2;
      auto primary = (*ks)->PrimaryFieldKey("users", Mode::kDeterministic, "email");
      if (primary.ok()) return 3;
      if (primary.code() != ErrorCode::kKeystoreUnavailable) return 4;
      if (primary.status().message().find("audit log") == std::string::npos) return 5;
      auto by_id = (*ks)->FieldKey(1, 1, Mode::kDeterministic, 1);
      if (by_id.ok() || by_id.code() != ErrorCode::kKeystoreUnavailable) return 6;
      auto create = (*ks)->CreateKey("other");
      if (create.code() != ErrorCode::kKeystoreUnavailable) return 7;
      return 0;
    });
    CHECK(code == 0);
    CHECK(test::ReadFile(f.log) == before);
  }
  CHECK(f.ks->GetKey("other").code() == ErrorCode::kKeyNotFound);
  auto v = ki::VerifyKeystoreAuditLog(f.dir);
  REQUIRE(v.ok());
  CHECK(v->entries == 6);
  CHECK(f.ks->PrimaryFieldKey("users", Mode::kRandom, "email").ok());
}

}  // namespace
}  // namespace sovereign
