// The audit log of a real service session verifies, every kind of tampering
// is named, and a request whose audit record cannot be written gets nothing.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>

#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

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

// Session runs leases, batches and denials against a US keystore, then stops it.
struct Session {
  ServiceFixture f;
  fs::path store;
  Session() {
    store = f.Prepare("us").store_dir;
    f.Start("us");
    auto app = f.Client("us", f.pki().us_app());
    auto alice = f.Client("us", f.pki().cn_engineer());
    for (int i = 0; i < 3; ++i) {
      const auto ct = RemoteEncrypt(*app, "email", "v" + std::to_string(i), "/email");
      REQUIRE(app->PostJson("/v1/decrypt", Items({DecryptItem(ct, "/email", {})})).status == 200);
      REQUIRE(app->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}})).status ==
              200);
      REQUIRE(alice->PostJson("/v1/decrypt", Items({DecryptItem(ct, "/email", {})})).responded());
    }
    REQUIRE(f.Client("us", f.pki().us_officer())->PostJson("/v1/keys", {{"key", "payments"}}).status == 201);
    CHECK(f.server("us").Stop() == 0);
  }
  // Copy gives a tampering test its own copy of the keystore.
  fs::path Copy(const std::string& name) {
    const auto dir = f.root() / name;
    fs::copy(store, dir, fs::copy_options::recursive);
    fs::permissions(dir, fs::perms::owner_all);
    return dir;
  }
};

ProcessResult Verify(const fs::path& dir) { return RunCli({"audit", "verify", "--keystore", dir.string()}); }

TEST_CASE("service: audit verify passes on the log of a real session and counts every entry") {
  Session s;
  const auto lines = ReadLines(s.store / "audit.log");
  REQUIRE(lines.size() >= 13);
  auto r = Verify(s.store);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "ok: " + std::to_string(lines.size()) + " entries\n");
  // --log names the file explicitly.
  auto with_log =
      RunCli({"audit", "verify", "--keystore", s.store.string(), "--log", (s.store / "audit.log").string()});
  CHECK(with_log.exit_code == 0);
  // Every line is one canonical JSON object with a MAC, and none holds a value.
  std::size_t denied = 0;
  for (const auto& line : lines) {
    auto e = json::parse(line);
    CHECK(e["mac"].get<std::string>().size() == 64);
    CHECK(e["region"] == "us");
    if (e["outcome"] == "denied") ++denied;
    for (const std::string value : {"v0", "v1", "v2"}) CHECK(line.find(Base64Url(value)) == std::string::npos);
  }
  CHECK(denied >= 3);
}

TEST_CASE("service: audit verify names the entry for each kind of tampering") {
  Session s;
  const auto original = ReadLines(s.store / "audit.log");
  REQUIRE(original.size() >= 13);
  const std::size_t mid = original.size() / 2;  // index; the entry's seq is mid + 1
  struct Case {
    std::string name;
    std::function<std::vector<std::string>(std::vector<std::string>)> tamper;
    std::string names;  // what the message must contain
  };
  const auto seq = [](std::size_t index) { return "line " + std::to_string(index + 1); };
  const std::vector<Case> cases = {
      {"edited principal",
       [&](auto lines) {
         auto e = json::parse(lines[mid]);
         e["principal"] = "spiffe://corp.example/region/us/svc/someone-else";
         lines[mid] = e.dump();
         return lines;
       },
       seq(mid)},
      {"edited outcome, same length",
       [&](auto lines) {
         for (std::size_t i = 0; i < lines.size(); ++i) {
           auto at = lines[i].find("\"outcome\":\"denied\"");
           if (at != std::string::npos) {
             lines[i].replace(at, 18, "\"outcome\":\"ok\"    ");
             return lines;
           }
         }
         FAIL("no denied entry");
         return lines;
       },
       ""},
      {"deleted line",
       [&](auto lines) {
         lines.erase(lines.begin() + static_cast<long>(mid));
         return lines;
       },
       seq(mid)},
      {"swapped lines",
       [&](auto lines) {
         std::swap(lines[mid], lines[mid + 1]);
         return lines;
       },
       seq(mid)},
      {"truncated tail",
       [&](auto lines) {
         lines.pop_back();
         return lines;
       },
       ""},
      {"cut to half",
       [&](auto lines) {
         lines.resize(mid);
         return lines;
       },
       ""},
      {"duplicated line",
       [&](auto lines) {
         lines.insert(lines.begin() + static_cast<long>(mid), lines[mid]);
         return lines;
       },
       ""},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    CAPTURE(c.name);
    const auto dir = s.Copy("case" + std::to_string(i));
    WriteLines(dir / "audit.log", c.tamper(original));
    auto r = Verify(dir);
    INFO(r.out << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.out.find("ok:") == std::string::npos);
    CHECK_THAT(r.err, Catch::Contains("line") || Catch::Contains("entr"));
    if (!c.names.empty()) CHECK_THAT(r.err, Catch::Contains(c.names));
  }
  // A partial last line (a byte cut from the end of the file) is found too.
  const auto dir = s.Copy("partial");
  const auto size = fs::file_size(dir / "audit.log");
  fs::resize_file(dir / "audit.log", size - 10);
  auto r = Verify(dir);
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  // The untouched original still verifies.
  CHECK(Verify(s.store).exit_code == 0);
}

TEST_CASE("service: when the audit record cannot be written the request gets 503 and nothing else") {
  ServiceFixture f;
  auto& us = f.Prepare("us");
  auto& server = f.Start("us");
  auto app = f.Client("us", f.pki().us_app());
  const auto ct = RemoteEncrypt(*app, "email", "fail-closed-secret", "/email");
  const auto log = us.store_dir / "audit.log";
  const auto before = ReadLines(log);

  // A real write failure: the kernel refuses to grow any file of the server.
  server.LimitFileSize(fs::file_size(log));
  const struct {
    std::string endpoint;
    json body;
    std::string forbidden;
  } requests[] = {
      {"/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}), "field_key"},
      {"/v1/encrypt", Items({EncryptItem("users", "email", "random", "/email", {}, "x")}), "sov1:"},
      {"/v1/decrypt", Items({DecryptItem(ct, "/email", {})}), Base64Url("fail-closed-secret")},
  };
  for (const auto& req : requests) {
    auto r = app->PostJson(req.endpoint, req.body);
    INFO(req.endpoint << " -> " << r.status << " " << r.body);
    CHECK(r.status == 503);
    CHECK(r.ErrorCode() == "keystore_unavailable");
    CHECK(r.body.find(req.forbidden) == std::string::npos);
    CHECK(r.body.find("plaintext") == std::string::npos);
  }
  // A denial must be recorded too: without its record, it is refused as 503 as well.
  auto denied = f.Client("us", f.pki().cn_engineer())->PostJson("/v1/decrypt", Items({DecryptItem(ct, "/email", {})}));
  CHECK(denied.status == 503);
  CHECK(ReadLines(log) == before);
  CHECK(server.Running());

  // Once the disk has room again the service answers, and the log verifies.
  server.LimitFileSize(RLIM_INFINITY);
  auto again = app->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
  CHECK(again.status == 200);
  server.Stop();
  auto verify = Verify(us.store_dir);
  INFO(verify.err);
  CHECK(verify.exit_code == 0);
}

}  // namespace
}  // namespace sovereign::test
