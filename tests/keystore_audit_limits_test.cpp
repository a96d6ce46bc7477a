// The audit log's one definition of a valid line: the writer never writes a
// line the verifier or the tail reconciliation would reject, both reject the
// same over-long line, pages stay within their byte cap, and the open-time
// check of the whole chain finds damage in the middle of the log.
#include <algorithm>
#include <array>
#include <chrono>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "keystore/internal/audit_entry.hpp"
#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/service_keystore.hpp"
#include "keystore/internal/sqlite.hpp"
#include "sdk/internal/hex.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using test::ReadFile;
using test::ReadLines;
using test::TempDir;
using test::WriteLines;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

// Store is a freshly initialised keystore (one entry: keystore.init) and the
// keystore's own writer, used the way the service uses it.
struct Store {
  TempDir tmp;
  fs::path dir = tmp.path() / "ks";
  fs::path log = dir / "audit.log";
  Store() { REQUIRE(EmbeddedKeystore::Init(dir, "us").ok()); }

  Status Append(std::span<const ki::AuditEvent> events) {
    auto files = ki::OpenKeystoreFiles(dir);
    REQUIRE(files.ok());
    auto writer = ki::AuditLog::New(files->dir / "audit.log", files->audit_key, files->region, "unix:test");
    REQUIRE(writer.ok());
    auto tx = ki::Transaction::BeginImmediate(files->catalog.db());
    REQUIRE(tx.ok());
    Status s = writer->AppendMany(files->catalog, events, std::chrono::system_clock::now());
    if (s.ok()) s = tx->Commit();
    return s;
  }
  Status Append(const ki::AuditEvent& event) { return Append(std::span<const ki::AuditEvent>(&event, 1)); }

  ki::AuditHead Head() {
    auto files = ki::OpenKeystoreFiles(dir);
    REQUIRE(files.ok());
    auto head = files->catalog.ReadAuditHead();
    REQUIRE(head.ok());
    return *head;
  }
};

// Noted is an event whose line is about `note_bytes` longer than a bare one.
ki::AuditEvent Noted(std::size_t note_bytes) {
  ki::AuditEvent event;
  event.op = "test.note";
  event.note = std::string(note_bytes, 'n');
  return event;
}

TEST_CASE("a line just under the audit line limit is written, verifies, and appends go on after reopening") {
  Store s;
  REQUIRE(s.Append(Noted(ki::kMaxAuditLineBytes - 600)).ok());
  const auto lines = ReadLines(s.log);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].size() > ki::kMaxAuditLineBytes - 1024);
  CHECK(lines[1].size() <= ki::kMaxAuditLineBytes);
  auto verified = ki::VerifyKeystoreAuditLog(s.dir);
  INFO(verified.status().message());
  REQUIRE(verified.ok());
  CHECK(verified->summary == "ok: 2 entries");
  // A new process (no known tail) reconciles with the long last line and appends.
  auto reopened = EmbeddedKeystore::Open(s.dir);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->CreateKey("users").ok());
  CHECK(ki::OpenKeystoreFiles(s.dir, ki::OpenChecks{.verify_audit_log = true}).ok());
}

TEST_CASE("the writer refuses an entry whose line would pass the limit: nothing is written, the head stays") {
  Store s;
  const std::string before = ReadFile(s.log);
  const auto head = s.Head();
  Status refused = s.Append(Noted(ki::kMaxAuditLineBytes));
  CHECK(refused.code() == ErrorCode::kKeystoreUnavailable);
  CHECK_THAT(refused.message(), Catch::Contains("line limit") && Catch::Contains("nothing was written"));
  CHECK(refused.message().find(std::string(64, 'n')) == std::string::npos);  // never the content
  CHECK(ReadFile(s.log) == before);
  CHECK(s.Head().seq == head.seq);
  // So is a group whose lines together pass what one append may write.
  std::vector<ki::AuditEvent> group(8, Noted(ki::kMaxAppendBytes / 6));
  Status too_much = s.Append(group);
  CHECK(too_much.code() == ErrorCode::kKeystoreUnavailable);
  CHECK(ReadFile(s.log) == before);
  // The log is as good as before: it verifies and takes the next entry.
  CHECK(ki::VerifyKeystoreAuditLog(s.dir).ok());
  CHECK(s.Append(Noted(10)).ok());
  CHECK(ki::VerifyKeystoreAuditLog(s.dir).ok());
}

// ForgeLine builds the next entry after the log's last line with a valid MAC
// (as only the holder of the audit key could) and a note of `note_bytes`.
std::string ForgeLine(Store& s, std::size_t note_bytes) {
  auto files = ki::OpenKeystoreFiles(s.dir);
  REQUIRE(files.ok());
  const auto lines = ReadLines(s.log);
  auto prev = ki::Sha256Hex(lines.back());
  REQUIRE(prev.ok());
  nlohmann::json entry = {{"seq", lines.size() + 1}, {"prev", *prev},         {"time", "2026-01-01T00:00:00.000Z"},
                          {"op", "test.note"},       {"outcome", "ok"},       {"principal", "unix:test"},
                          {"region", "us"},          {"note", std::string(note_bytes, 'n')}};
  auto mac = internal::HmacSha256::New(files->audit_key.bytes(InsecureSecretKeyAccess::Get()));
  REQUIRE(mac.ok());
  const std::string unsealed = entry.dump();
  std::array<std::uint8_t, 32> tag{};
  REQUIRE(mac->Compute({reinterpret_cast<const std::uint8_t*>(unsealed.data()), unsealed.size()}, tag).ok());
  entry["mac"] = internal::ToHex(tag);
  return entry.dump();
}

TEST_CASE("verify and the keystore's appends both reject a line past the limit, even with a valid MAC") {
  Store s;
  // The same forgery just under the limit is a valid entry (after the head):
  // the test's forging is right, so only the length differs below.
  {
    Store small;
    auto lines = ReadLines(small.log);
    lines.push_back(ForgeLine(small, ki::kMaxAuditLineBytes - 600));
    WriteLines(small.log, lines);
    auto verified = ki::VerifyKeystoreAuditLog(small.dir);
    INFO(verified.status().message());
    CHECK(verified.ok());
  }
  auto lines = ReadLines(s.log);
  lines.push_back(ForgeLine(s, ki::kMaxAuditLineBytes));
  REQUIRE(lines.back().size() > ki::kMaxAuditLineBytes);
  WriteLines(s.log, lines);
  auto verified = ki::VerifyKeystoreAuditLog(s.dir);
  CHECK(verified.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(verified.status().message(), Catch::Contains("line 2") && Catch::Contains("line limit"));
  auto ks = EmbeddedKeystore::Open(s.dir);
  REQUIRE(ks.ok());
  auto created = (*ks)->CreateKey("users");
  CHECK(created.code() == ErrorCode::kKeystoreUnavailable);
  CHECK_THAT(created.status().message(), Catch::Contains("line limit"));
  CHECK_FALSE(ki::OpenKeystoreFiles(s.dir, ki::OpenChecks{.verify_audit_log = true}).ok());
}

TEST_CASE("a page of the audit log stops at the byte cap and the next page goes on from its last seq") {
  Store s;
  // 24 entries of ~200 KiB: about 4.8 MiB, more than one page's bytes.
  std::vector<ki::AuditEvent> big(4, Noted(200 * 1024));
  for (int i = 0; i < 6; ++i) REQUIRE(s.Append(big).ok());
  const auto all = ReadLines(s.log);
  REQUIRE(all.size() == 25);
  const auto head = s.Head();
  std::vector<std::string> read;
  std::uint64_t after = 0;
  int pages = 0;
  while (after < head.seq) {
    auto page = ki::ReadAuditLines(s.log, after, head.seq, 1000);
    REQUIRE(page.ok());
    REQUIRE_FALSE(page->empty());
    std::size_t bytes = 0;
    for (const auto& line : *page) bytes += line.size();
    CHECK(bytes <= ki::kMaxAuditPageBytes);
    read.insert(read.end(), page->begin(), page->end());
    after = *ki::PeekSeq(page->back());
    ++pages;
  }
  CHECK(pages == 2);
  CHECK(read == all);
  // The entry count limit applies too.
  auto two = ki::ReadAuditLines(s.log, 3, head.seq, 2);
  REQUIRE(two.ok());
  REQUIRE(two->size() == 2);
  CHECK(*ki::PeekSeq((*two)[0]) == 4);
}

TEST_CASE("PeekSeq reads the top-level seq of a written line, not one inside a string") {
  Store s;
  ki::AuditEvent event = Noted(0);
  event.note = "\"seq\":999";
  event.reason = "x";
  REQUIRE(s.Append(event).ok());
  const auto lines = ReadLines(s.log);
  CHECK(ki::PeekSeq(lines[0]) == 1u);
  CHECK(ki::PeekSeq(lines[1]) == 2u);
  CHECK_FALSE(ki::PeekSeq("{\"prev\":\"00\"}").has_value());
}

TEST_CASE("opening with the audit log check refuses a line deleted in the middle; a plain open does not look") {
  Store s;
  std::vector<ki::AuditEvent> events(10, Noted(10));
  REQUIRE(s.Append(events).ok());
  auto lines = ReadLines(s.log);
  REQUIRE(lines.size() == 11);
  lines.erase(lines.begin() + 5);
  WriteLines(s.log, lines);
  CHECK(ki::OpenKeystoreFiles(s.dir).ok());
  auto checked = ki::OpenKeystoreFiles(s.dir, ki::OpenChecks{.verify_audit_log = true});
  CHECK(checked.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(checked.status().message(), Catch::Contains("line 6") && Catch::Contains("deleted"));
}

// Not run by default (hidden tag; timings never gate tests): the figure in
// docs/operations.md. Run: keystore_audit_limits_test "[timing]".
TEST_CASE("timing: the start-up verification of a 1,000,000-entry log", "[.][timing]") {
  Store s;
  ki::AuditEvent event;  // a typical service entry: one remote encrypt batch
  event.op = "encrypt";
  event.principal = "spiffe://corp.example/region/us/svc/accounts";
  event.key = "users";
  event.counts = nlohmann::json::array({{{"key", "users"}, {"label", "email"}, {"ok", 100}}});
  const std::vector<ki::AuditEvent> group(ki::kMaxAppendEntries, event);
  const std::size_t target = 1'000'000;
  {
    auto files = ki::OpenKeystoreFiles(s.dir);
    REQUIRE(files.ok());
    auto writer = ki::AuditLog::New(files->dir / "audit.log", files->audit_key, files->region, "unix:test");
    REQUIRE(writer.ok());
    for (std::size_t written = 1; written < target;) {
      const std::size_t n = std::min(group.size(), target - written);
      auto tx = ki::Transaction::BeginImmediate(files->catalog.db());
      REQUIRE(tx.ok());
      REQUIRE(writer->AppendMany(files->catalog, std::span(group).first(n), std::chrono::system_clock::now()).ok());
      REQUIRE(tx->Commit().ok());
      written += n;
    }
  }
  const auto bytes = fs::file_size(s.log);
  const auto start = std::chrono::steady_clock::now();
  auto opened = ki::OpenKeystoreFiles(s.dir, ki::OpenChecks{.verify_audit_log = true});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(opened.ok());
  const auto plain_start = std::chrono::steady_clock::now();
  REQUIRE(ki::OpenKeystoreFiles(s.dir).ok());
  const double plain = std::chrono::duration<double>(std::chrono::steady_clock::now() - plain_start).count();
  WARN("verified open of " << target << " entries (" << bytes / (1024 * 1024) << " MiB): " << seconds << " s, "
                           << static_cast<double>(target) / seconds << " entries/s, "
                           << static_cast<double>(bytes) / seconds / (1024 * 1024) << " MiB/s; plain open "
                           << plain << " s");
}

}  // namespace
}  // namespace sovereign

namespace sovereign {
namespace {

TEST_CASE("verify refuses more entries past the head than an append adopts, as the keystore's appends do") {
  Store s;
  {
    // Two appends whose transactions never commit: their lines stay, the head does not move.
    auto files = ki::OpenKeystoreFiles(s.dir);
    REQUIRE(files.ok());
    auto writer = ki::AuditLog::New(files->dir / "audit.log", files->audit_key, files->region, "unix:test");
    REQUIRE(writer.ok());
    const std::vector<ki::AuditEvent> group(ki::kMaxAppendEntries, Noted(1));
    for (int i = 0; i < 2; ++i) {
      auto tx = ki::Transaction::BeginImmediate(files->catalog.db());
      REQUIRE(tx.ok());
      REQUIRE(writer->AppendMany(files->catalog, group, std::chrono::system_clock::now()).ok());
    }  // rolled back
  }
  REQUIRE(ReadLines(s.log).size() == 1 + 2 * ki::kMaxAppendEntries);
  REQUIRE(s.Head().seq == 1);
  auto verified = ki::VerifyKeystoreAuditLog(s.dir);
  CHECK(verified.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(verified.status().message(), Catch::Contains("line 258") && Catch::Contains("512 entries follow"));
  auto ks = EmbeddedKeystore::Open(s.dir);
  REQUIRE(ks.ok());
  CHECK((*ks)->CreateKey("users").code() == ErrorCode::kKeystoreUnavailable);
  CHECK_FALSE(ki::OpenKeystoreFiles(s.dir, ki::OpenChecks{.verify_audit_log = true}).ok());
}

}  // namespace
}  // namespace sovereign
