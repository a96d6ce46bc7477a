// The audit log is not an attack surface of the real service: a huge denied
// request cannot make the next start fail, a start verifies the whole chain,
// GET /v1/audit pages within caps, a 503 names no server path, and the
// service's private files must be private.
#include <unistd.h>

#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/sqlite.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

std::vector<std::string> ReadLines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void WriteLines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& line : lines) out << line << "\n";
}

ProcessResult Verify(const fs::path& dir) { return RunCli({"audit", "verify", "--keystore", dir.string()}); }

// AppendNotes appends `groups` groups of `per_group` entries with a note of
// `note_bytes` to a stopped keystore, with the keystore's own writer.
void AppendNotes(const fs::path& dir, int groups, std::size_t per_group, std::size_t note_bytes) {
  auto files = ki::OpenKeystoreFiles(dir);
  REQUIRE(files.ok());
  auto writer = ki::AuditLog::New(files->dir / "audit.log", files->audit_key, files->region, "unix:test");
  REQUIRE(writer.ok());
  ki::AuditEvent event;
  event.op = "test.note";
  event.note = std::string(note_bytes, 'n');
  const std::vector<ki::AuditEvent> events(per_group, event);
  for (int i = 0; i < groups; ++i) {
    auto tx = ki::Transaction::BeginImmediate(files->catalog.db());
    REQUIRE(tx.ok());
    REQUIRE(writer->AppendMany(files->catalog, events, std::chrono::system_clock::now()).ok());
    REQUIRE(tx->Commit().ok());
  }
}

// StartFails starts `region`'s server expecting it to refuse; returns what it printed.
std::string StartFails(ServiceFixture& f, const std::string& region) {
  try {
    f.Start(region);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("sovereign serve started");
  return {};
}

TEST_CASE("service: after a huge denied request the service restarts, the officer rotates and audit verify says ok") {
  ServiceFixture f;
  auto& us = f.Prepare("us");
  f.Start("us");
  // The encrypt-only CN engineer sends 1000 items under long key names: close
  // to the 4 MiB body limit. Whatever the answer (refused whole, or every
  // item refused), nothing is encrypted, and no line it leaves in the log may
  // stop the service.
  auto alice = f.Client("us", f.pki().cn_engineer());
  json items = json::array();
  for (int i = 0; i < 1000; ++i) {
    items.push_back(EncryptItem(std::string(3900, 'k') + std::to_string(i), "email", "random", "/email", {}, "x"));
  }
  const std::string body = Items(items).dump();
  REQUIRE(body.size() > 3'900'000);
  REQUIRE(body.size() < 4 * 1024 * 1024);
  auto r = alice->Post("/v1/encrypt", body);
  INFO(r.status << " " << r.body.substr(0, 300));
  CHECK(r.responded());
  CHECK(r.body.find("\"ciphertext\"") == std::string::npos);
  for (const auto& line : ReadLines(us.store_dir / "audit.log")) CHECK(line.size() <= ki::kMaxAuditLineBytes);
  CHECK(f.server("us").Stop() == 0);

  f.Start("us");
  auto officer = f.Client("us", f.pki().us_officer());
  CHECK(officer->Post("/v1/keys/users/rotate", "").status == 200);
  auto app = f.Client("us", f.pki().us_app());
  CHECK(app->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}})).status == 200);
  CHECK(f.server("us").Stop() == 0);
  auto verified = Verify(us.store_dir);
  INFO(verified.err);
  CHECK(verified.exit_code == 0);
  CHECK_THAT(verified.out, Catch::StartsWith("ok: "));
}

TEST_CASE("service: a start verifies the whole audit chain and refuses a log tampered in the middle, naming the line") {
  ServiceFixture f;
  auto& us = f.Prepare("us");
  AppendNotes(us.store_dir, 2, 20, 10);
  const auto log = us.store_dir / "audit.log";
  const auto original = ReadLines(log);
  REQUIRE(original.size() > 30);
  const std::size_t mid = original.size() / 2;  // an index; the line number is mid + 1
  const std::string line = "line " + std::to_string(mid + 1);
  struct Case {
    std::string name;
    std::function<void(std::vector<std::string>&)> tamper;
  };
  const std::vector<Case> cases = {
      {"deleted", [&](auto& lines) { lines.erase(lines.begin() + static_cast<long>(mid)); }},
      {"edited",
       [&](auto& lines) {
         auto e = json::parse(lines[mid]);
         e["principal"] = "spiffe://corp.example/region/us/svc/someone-else";
         lines[mid] = e.dump();
       }},
      {"swapped", [&](auto& lines) { std::swap(lines[mid], lines[mid + 1]); }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto lines = original;
    c.tamper(lines);
    WriteLines(log, lines);
    const std::string out = StartFails(f, "us");
    CHECK_THAT(out, !Catch::Contains("exit code 0)"));
    CHECK_THAT(out, Catch::Contains(line) && Catch::Contains("audit log"));
  }
  WriteLines(log, original);
  f.Start("us");
  CHECK(f.Client("us", f.pki().us_officer())->Get("/v1/health").status == 200);
  CHECK(f.server("us").Stop() == 0);
}

TEST_CASE("service: a log ending in a line just under the limit starts, and GET /v1/audit pages through it "
          "within an entry and a byte cap") {
  ServiceFixture f;
  auto& us = f.Prepare("us");
  AppendNotes(us.store_dir, 5, 256, 10);           // 1280 small entries: more than 1000
  AppendNotes(us.store_dir, 6, 4, 200 * 1024);     // 24 entries of 200 KiB: more than 4 MiB
  AppendNotes(us.store_dir, 1, 1, ki::kMaxAuditLineBytes - 600);  // a line just under the limit
  const auto last_line = ReadLines(us.store_dir / "audit.log").back().size();
  CHECK(last_line > ki::kMaxAuditLineBytes - 1024);
  CHECK(last_line <= ki::kMaxAuditLineBytes);
  f.Start("us");  // the start verifies the whole log, the long last line included
  auto officer = f.Client("us", f.pki().us_officer());

  std::vector<std::string> read;
  std::string cursor;
  int pages = 0;
  for (;;) {
    auto r = officer->Get("/v1/audit" + cursor);
    REQUIRE(r.status == 200);
    CHECK(r.body.size() < ki::kMaxAuditPageBytes + 64 * 1024);
    const auto page = r.json();
    REQUIRE(page["entries"].is_array());
    CHECK(page["entries"].size() <= 1000);
    for (const auto& e : page["entries"]) read.push_back(e.get<std::string>());
    ++pages;
    if (page["next_after"].is_null()) {
      CHECK(json::parse(read.back())["seq"] == page["head"]["seq"]);
      break;
    }
    CHECK(page["next_after"] == json::parse(read.back())["seq"]);
    cursor = "?after=" + std::to_string(page["next_after"].get<std::uint64_t>());
    REQUIRE(pages < 20);
  }
  CHECK(pages >= 3);
  // Every entry up to the last one read, in order, exactly as stored.
  const auto lines = ReadLines(us.store_dir / "audit.log");
  REQUIRE(read.size() <= lines.size());
  CHECK(std::vector<std::string>(lines.begin(), lines.begin() + static_cast<long>(read.size())) == read);

  // A huge limit is capped at 1000.
  auto big = officer->Get("/v1/audit?limit=1000000000");
  REQUIRE(big.status == 200);
  CHECK(big.json()["entries"].size() == 1000);
  CHECK(big.json()["limit"] == 1000);
  auto small = officer->Get("/v1/audit?after=5&limit=3");
  REQUIRE(small.status == 200);
  CHECK(small.json()["entries"].size() == 3);
  CHECK(small.json()["next_after"] == 8);

  // Malformed parameters are 400 naming the parameter.
  const std::vector<std::pair<std::string, std::string>> malformed = {
      {"?limit=abc", "limit"}, {"?after=-1", "after"}, {"?limit=0", "limit"},
      {"?after=1&after=2", "after"}, {"?limit=", "limit"}, {"?page=2", "page"},
      {"?after=99999999999999999999999", "after"},
  };
  for (const auto& [query, name] : malformed) {
    auto r = officer->Get("/v1/audit" + query);
    INFO(query << " -> " << r.status << " " << r.body);
    CHECK(r.status == 400);
    CHECK(r.ErrorCode() == "invalid_argument");
    CHECK_THAT(r.body, Catch::Contains(name));
  }
  CHECK(f.server("us").Stop() == 0);
  CHECK(Verify(us.store_dir).exit_code == 0);
}

TEST_CASE("service: a 503 answer names no server path; the service log does") {
  ServiceFixture f;
  auto& us = f.Prepare("us");
  auto& server = f.Start("us");
  auto app = f.Client("us", f.pki().us_app());
  auto officer = f.Client("us", f.pki().us_officer());
  REQUIRE(app->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}})).status ==
          200);
  const auto log = us.store_dir / "audit.log";
  const auto mark = server.Mark();
  server.LimitFileSize(fs::file_size(log));
  const struct {
    std::string method, endpoint;
    json body;
  } requests[] = {
      {"POST", "/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}})},
      {"POST", "/v1/encrypt", Items({EncryptItem("users", "email", "random", "/email", {}, "x")})},
      {"POST", "/v1/keys", {{"key", "payments"}}},
      {"GET", "/v1/audit", nullptr},
  };
  for (const auto& req : requests) {
    auto& client = req.endpoint == "/v1/keys" || req.endpoint == "/v1/audit" ? officer : app;
    auto r = req.method == "GET" ? client->Get(req.endpoint) : client->PostJson(req.endpoint, req.body);
    INFO(req.endpoint << " -> " << r.status << " " << r.body);
    CHECK(r.status == 503);
    CHECK(r.ErrorCode() == "keystore_unavailable");
    CHECK(r.body.find(f.root().string()) == std::string::npos);
    CHECK(r.body.find("audit.log") == std::string::npos);
    CHECK(r.body.find("File too large") == std::string::npos);
  }
  // The operator still learns what broke, and where.
  CHECK(server.WaitForOutput(log.string(), mark, std::chrono::seconds(5)));
  server.LimitFileSize(RLIM_INFINITY);
  CHECK(server.Stop() == 0);
}

TEST_CASE("service: serve refuses a server TLS key that group may read or that has a second hard link") {
  ServiceFixture f;
  f.Prepare("us");
  const fs::path key = f.pki().server().key;
  fs::permissions(key, fs::perms::group_read, fs::perm_options::add);
  std::string out = StartFails(f, "us");
  CHECK_THAT(out, Catch::Contains(key.string()) && Catch::Contains("0640") && Catch::Contains("chmod 600"));
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);

  const fs::path second = f.root() / "server-key-link.pem";
  fs::create_hard_link(key, second);
  out = StartFails(f, "us");
  CHECK_THAT(out, Catch::Contains(key.string()) && Catch::Contains("hard link"));
  fs::remove(second);
  f.Start("us");
  CHECK(f.server("us").Stop() == 0);
}

TEST_CASE("service: serve refuses a catalog or audit log that others may read or that is hard-linked") {
  ServiceFixture f;
  auto& us = f.Prepare("us");
  for (const std::string name : {"catalog.db", "audit.log"}) {
    CAPTURE(name);
    const fs::path file = us.store_dir / name;
    fs::permissions(file, fs::perms::others_read, fs::perm_options::add);
    std::string out = StartFails(f, "us");
    CHECK_THAT(out, Catch::Contains(file.string()) && Catch::Contains("0604") && Catch::Contains("chmod 600"));
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    const fs::path second = f.root() / (name + ".link");
    fs::create_hard_link(file, second);
    out = StartFails(f, "us");
    CHECK_THAT(out, Catch::Contains(file.string()) && Catch::Contains("hard link"));
    fs::remove(second);
  }
  f.Start("us");
  CHECK(f.server("us").Stop() == 0);
}

}  // namespace
}  // namespace sovereign::test
