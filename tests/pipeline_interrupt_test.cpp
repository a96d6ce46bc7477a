// An interrupted pipeline run never leaves a partial file under the target name.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/support/pipeline_support.hpp"

namespace sovereign::test {
namespace {

// Started is a CLI process whose stdin the test feeds by hand.
struct Started {
  pid_t pid = -1;
  int stdin_fd = -1;
};

Started Start(const std::vector<std::string>& args) {
  int in[2];
  REQUIRE(pipe(in) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    close(in[0]);
    close(in[1]);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDERR_FILENO);
    std::vector<char*> argv;
    std::string path = SOVEREIGN_CLI_PATH;
    argv.push_back(path.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  return {pid, in[1]};
}

// HasTemp reports whether a temporary output file exists (with bytes in it, when asked).
bool HasTemp(const std::filesystem::path& dir, bool non_empty = false) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find("out.ndjson.sovereign-") == std::string::npos) continue;
    std::error_code ec;
    if (!non_empty || std::filesystem::file_size(e.path(), ec) > 0) return true;
  }
  return false;
}

// Interrupt feeds part of a large input, waits until output is being
// written, then sends `sig`; returns how the process ended.
int Interrupt(PipelineWorld& w, int sig, const std::string& out) {
  const std::string policy = w.WritePolicy(UsersPolicy());
  const std::string chunk = Ndjson(GenerateUsers(4000, 9));
  Started p = Start({"encrypt", "--policy", policy, "--out", out, "--dead-letter", w.File("dead.ndjson")});
  signal(SIGPIPE, SIG_IGN);
  // Several MiB so that chunks reach the writer while input is still open.
  for (int i = 0; i < 8; ++i) REQUIRE(write(p.stdin_fd, chunk.data(), chunk.size()) == static_cast<ssize_t>(chunk.size()));
  for (int i = 0; i < 500 && !HasTemp(w.dir(), true); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(HasTemp(w.dir(), true));
  kill(p.pid, sig);
  int status = 0;
  waitpid(p.pid, &status, 0);
  close(p.stdin_fd);
  return status;
}

}  // namespace

TEST_CASE("interrupt: SIGTERM mid-stream leaves neither the target nor a temporary file") {
  PipelineWorld w;
  const std::string out = w.File("out.ndjson");
  const int status = Interrupt(w, SIGTERM, out);
  CHECK(WIFSIGNALED(status));
  CHECK(!std::filesystem::exists(out));
  CHECK(!std::filesystem::exists(w.File("dead.ndjson")));
  CHECK(!HasTemp(w.dir()));
}

TEST_CASE("interrupt: SIGKILL mid-stream never leaves a partial file under the target name") {
  PipelineWorld w;
  const std::string out = w.File("out.ndjson");
  WriteFile(out, "previous complete output\n");
  const int status = Interrupt(w, SIGKILL, out);
  CHECK(WIFSIGNALED(status));
  // The previous file is untouched; only a dot-named temporary may remain.
  CHECK(ReadFile(out) == "previous complete output\n");
}

}  // namespace sovereign::test
