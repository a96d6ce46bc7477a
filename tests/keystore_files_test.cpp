// The keystore directory: file modes, init/open preconditions and the root key file.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using test::FileMode;
using test::TempDir;
namespace fs = std::filesystem;

std::shared_ptr<EmbeddedKeystore> MustInit(const fs::path& dir, std::string_view region = "us") {
  auto ks = EmbeddedKeystore::Init(dir, region);
  INFO(ks.status().ToString());
  REQUIRE(ks.ok());
  return *ks;
}

TEST_CASE("init creates a 0700 directory and 0600 files whatever the umask") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  mode_t old = ::umask(0);  // the most permissive umask: modes must still be private
  auto ks = EmbeddedKeystore::Init(dir, "us");
  ::umask(old);
  REQUIRE(ks.ok());
  CHECK((*ks)->region() == "us");
  CHECK(FileMode(dir) == 0700);
  CHECK(FileMode(dir / "root.key") == 0600);
  CHECK(FileMode(dir / "catalog.db") == 0600);
  CHECK(FileMode(dir / "audit.log") == 0600);
  CHECK(fs::file_size(dir / "root.key") == 40);
  CHECK(test::ReadFile(dir / "root.key").substr(0, 8) == std::string("SOVRKEY\x01", 8));
  // No staging directory is left next to the keystore.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("init into an existing empty directory makes it 0700") {
  TempDir tmp;
  fs::create_directory(tmp.path() / "ks");
  fs::permissions(tmp.path() / "ks", fs::perms::all);
  MustInit(tmp.path() / "ks");
  CHECK(FileMode(tmp.path() / "ks") == 0700);
}

TEST_CASE("init on an existing keystore is kAlreadyExists and changes nothing") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  REQUIRE(MustInit(dir)->CreateKey("users").ok());
  const std::string root = test::ReadFile(dir / "root.key");
  const std::string log = test::ReadFile(dir / "audit.log");
  auto again = EmbeddedKeystore::Init(dir, "eu");
  CHECK(again.code() == ErrorCode::kAlreadyExists);
  CHECK_THAT(again.status().message(), Catch::Contains(dir.string()));
  CHECK(test::ReadFile(dir / "root.key") == root);
  CHECK(test::ReadFile(dir / "audit.log") == log);
  auto reopened = EmbeddedKeystore::Open(dir);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->region() == "us");
  CHECK((*reopened)->GetKey("users").ok());
}

TEST_CASE("init refuses a non-empty directory of unrelated files") {
  TempDir tmp;
  test::WriteFile(tmp.path() / "notes.txt", "hello");
  auto ks = EmbeddedKeystore::Init(tmp.path(), "us");
  CHECK(ks.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(ks.status().message(), Catch::Contains("not empty"));
  CHECK(test::ReadFile(tmp.path() / "notes.txt") == "hello");
  CHECK_FALSE(fs::exists(tmp.path() / "root.key"));
}

TEST_CASE("init validates the region") {
  TempDir tmp;
  CHECK(EmbeddedKeystore::Init(tmp.path() / "ks", "US!").code() == ErrorCode::kInvalidArgument);
  CHECK_FALSE(fs::exists(tmp.path() / "ks"));
}

TEST_CASE("open of a missing or uninitialised directory is kFailedPrecondition naming it") {
  TempDir tmp;
  auto missing = EmbeddedKeystore::Open(tmp.path() / "nope");
  CHECK(missing.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(missing.status().message(), Catch::Contains("nope"));
  auto empty = EmbeddedKeystore::Open(tmp.path());
  CHECK(empty.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(empty.status().message(), Catch::Contains("not an initialised keystore"));
}

TEST_CASE("open refuses a root key that group or others may read, naming the file, mode and fix") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  MustInit(dir);
  const fs::path root = dir / "root.key";
  for (mode_t mode : {0640, 0604, 0660, 0602}) {
    CAPTURE(mode);
    REQUIRE(::chmod(root.c_str(), mode) == 0);
    auto ks = EmbeddedKeystore::Open(dir);
    CHECK(ks.code() == ErrorCode::kFailedPrecondition);
    CHECK_THAT(ks.status().message(), Catch::Contains(root.string()));
    CHECK_THAT(ks.status().message(), Catch::Contains(fmt::format("{:04o}", mode)));
    CHECK_THAT(ks.status().message(), Catch::Contains("chmod 600 " + root.string()));
  }
  REQUIRE(::chmod(root.c_str(), 0600) == 0);
  CHECK(EmbeddedKeystore::Open(dir).ok());
}

TEST_CASE("open refuses a root key that is a symbolic link") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  MustInit(dir);
  fs::rename(dir / "root.key", tmp.path() / "elsewhere.key");
  fs::create_symlink(tmp.path() / "elsewhere.key", dir / "root.key");
  auto ks = EmbeddedKeystore::Open(dir);
  CHECK(ks.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(ks.status().message(), Catch::Contains("symbolic link"));
}

TEST_CASE("open refuses a keystore directory that others may write") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  MustInit(dir);
  REQUIRE(::chmod(dir.c_str(), 0777) == 0);
  auto ks = EmbeddedKeystore::Open(dir);
  CHECK(ks.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(ks.status().message(), Catch::Contains("chmod 700"));
}

TEST_CASE("open with another keystore's root key says the root key does not belong to the catalog") {
  TempDir tmp;
  MustInit(tmp.path() / "a");
  MustInit(tmp.path() / "b");
  fs::copy_file(tmp.path() / "b" / "root.key", tmp.path() / "a" / "root.key", fs::copy_options::overwrite_existing);
  REQUIRE(::chmod((tmp.path() / "a" / "root.key").c_str(), 0600) == 0);
  auto ks = EmbeddedKeystore::Open(tmp.path() / "a");
  CHECK(ks.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(ks.status().message(), Catch::Contains("does not belong to catalog"));
  CHECK_THAT(ks.status().message(), Catch::Contains((tmp.path() / "a" / "root.key").string()));
}

TEST_CASE("open refuses a truncated or foreign root key file") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  MustInit(dir);
  std::string root = test::ReadFile(dir / "root.key");
  test::WriteFile(dir / "root.key", root.substr(0, 39));
  CHECK(EmbeddedKeystore::Open(dir).code() == ErrorCode::kFailedPrecondition);
  root[0] = 'X';
  test::WriteFile(dir / "root.key", root);
  auto ks = EmbeddedKeystore::Open(dir);
  CHECK(ks.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(ks.status().message(), Catch::Contains("header"));
}

TEST_CASE("open of a keystore whose root key is missing names the file") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  MustInit(dir);
  fs::remove(dir / "root.key");
  auto ks = EmbeddedKeystore::Open(dir);
  CHECK(ks.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(ks.status().message(), Catch::Contains("root.key is missing"));
}

}  // namespace
}  // namespace sovereign

namespace sovereign {
namespace {

TEST_CASE("open refuses a catalog or audit log that group or others may access, naming the file, mode and fix") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  MustInit(dir);
  for (const char* name : {"catalog.db", "audit.log"}) {
    const fs::path file = dir / name;
    for (mode_t mode : {0640, 0604, 0620, 0602}) {
      CAPTURE(name, mode);
      REQUIRE(::chmod(file.c_str(), mode) == 0);
      auto ks = EmbeddedKeystore::Open(dir);
      CHECK(ks.code() == ErrorCode::kFailedPrecondition);
      CHECK_THAT(ks.status().message(), Catch::Contains(file.string()));
      CHECK_THAT(ks.status().message(), Catch::Contains(fmt::format("{:04o}", mode)));
      CHECK_THAT(ks.status().message(), Catch::Contains("chmod 600 " + file.string()));
    }
    REQUIRE(::chmod(file.c_str(), 0600) == 0);
  }
  CHECK(EmbeddedKeystore::Open(dir).ok());
}

TEST_CASE("open refuses a root key, catalog or audit log with a second hard link, naming the file") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  MustInit(dir);
  for (const char* name : {"root.key", "catalog.db", "audit.log"}) {
    CAPTURE(name);
    const fs::path file = dir / name;
    const fs::path other = tmp.path() / (std::string(name) + ".copy");
    fs::create_hard_link(file, other);
    auto ks = EmbeddedKeystore::Open(dir);
    CHECK(ks.code() == ErrorCode::kFailedPrecondition);
    CHECK_THAT(ks.status().message(), Catch::Contains(file.string()) && Catch::Contains("2 hard links"));
    fs::remove(other);
  }
  CHECK(EmbeddedKeystore::Open(dir).ok());
}

TEST_CASE("open refuses a catalog or audit log that is a symbolic link") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "ks";
  MustInit(dir);
  for (const char* name : {"catalog.db", "audit.log"}) {
    CAPTURE(name);
    const fs::path file = dir / name;
    const fs::path moved = tmp.path() / name;
    fs::rename(file, moved);
    fs::create_symlink(moved, file);
    auto ks = EmbeddedKeystore::Open(dir);
    CHECK(ks.code() == ErrorCode::kFailedPrecondition);
    CHECK_THAT(ks.status().message(), Catch::Contains(file.string()) && Catch::Contains("symbolic link"));
    fs::remove(file);
    fs::rename(moved, file);
  }
  CHECK(EmbeddedKeystore::Open(dir).ok());
}

}  // namespace
}  // namespace sovereign
