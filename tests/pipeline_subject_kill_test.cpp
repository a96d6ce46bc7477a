// A pipeline creating many subject keys, SIGKILLed mid-run: the keystore
// still opens, its audit log verifies, no output appears under the target
// name, and a full re-run succeeds and decrypts back to the input.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "sovereign/keystore.hpp"
#include "tests/support/pipeline_support.hpp"

namespace sovereign::test {
namespace {

pid_t Spawn(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv;
    std::string path = SOVEREIGN_CLI_PATH;
    argv.push_back(path.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

void CheckKeystoreIntact(PipelineWorld& w) {
  {
    auto ks = EmbeddedKeystore::Open(w.KeystoreDir("us"));
    INFO(ks.status().ToString());
    REQUIRE(ks.ok());
    REQUIRE((*ks)->GetKey("users").ok());
  }
  auto verify = RunCli({"audit", "verify", "--keystore", w.KeystoreDir("us")});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
}

}  // namespace

TEST_CASE("subject kill: SIGKILL while subject keys are created leaves the keystore whole and no partial output") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(OrderedJson::parse(R"({"region": "us", "record_id": "/id", "fields": [
      {"path": "/email", "key": "users", "subject": "/user"},
      {"path": "/note", "key": "users", "mode": "deterministic", "subject": "/user"}]})"));
  std::string input;
  for (int i = 0; i < 20000; ++i) {
    input += fmt::format(R"({{"id":"r{}","user":"subject-{}","email":"m{}@x.org","note":"n{}"}})", i, i, i, i % 100);
    input += '\n';
  }
  const std::string in = w.File("in.ndjson");
  const std::string out = w.File("out.ndjson");
  WriteFile(in, input);
  int killed = 0;
  for (const int delay_ms : {40, 150, 400, 900, 1600}) {
    INFO("delay " << delay_ms << " ms");
    const pid_t pid = Spawn({"encrypt", "--policy", policy, "--in", in, "--out", out, "--threads", "2"});
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      REQUIRE(waitpid(pid, &status, 0) == pid);
    }
    if (WIFSIGNALED(status)) {
      ++killed;
      // The target never holds a partial file; only a dot-named temporary may
      // remain. A kill that lands after the rename (while the process exits)
      // finds the output complete.
      if (std::filesystem::exists(out)) {
        CHECK(Lines(ReadFile(out)).size() == 20000);
        std::filesystem::remove(out);
      }
      for (const auto& e : std::filesystem::directory_iterator(w.dir())) {
        const std::string name = e.path().filename().string();
        if (name.rfind(".out.ndjson.sovereign-", 0) == 0) std::filesystem::remove(e.path());
      }
    } else {
      // Finished before the kill: then the output is complete.
      CHECK(WEXITSTATUS(status) == 0);
      CHECK(Lines(ReadFile(out)).size() == 20000);
      std::filesystem::remove(out);
    }
    CheckKeystoreIntact(w);
  }
  CHECK(killed >= 2);

  auto full = RunCli({"encrypt", "--policy", policy, "--in", in, "--out", out, "--threads", "2"});
  INFO(full.err);
  REQUIRE(full.exit_code == 0);
  CHECK(Summary(full)["records_out"] == 20000);
  CheckKeystoreIntact(w);
  auto back = RunCli({"decrypt", "--policy", policy, "--in", out});
  INFO(back.err);
  REQUIRE(back.exit_code == 0);
  CHECK(back.out == input);
}

}  // namespace sovereign::test
