// Helpers for the keystore tests: raw file and catalog access, as an attacker
// or an operator with shell access would have it.
#pragma once

#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sovereign::test {

inline unsigned FileMode(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("lstat " + path.string());
  return st.st_mode & 07777;
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

inline std::vector<std::string> ReadLines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline void WriteLines(const std::filesystem::path& path, const std::vector<std::string>& lines) {
  std::string content;
  for (const auto& line : lines) content += line + "\n";
  WriteFile(path, content);
}

// Sql runs `sql` on DIR/catalog.db through a separate connection.
inline void Sql(const std::filesystem::path& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open((dir / "catalog.db").c_str(), &db) != SQLITE_OK) throw std::runtime_error("sqlite3_open");
  sqlite3_busy_timeout(db, 10000);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string message = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("sql failed: " + message);
}

// Contains reports whether `haystack` holds `needle` as a byte sequence.
inline bool Contains(const std::string& haystack, std::span<const std::uint8_t> needle) {
  return haystack.find(std::string(needle.begin(), needle.end())) != std::string::npos;
}

// RunWithFileSizeLimit runs `body` in a forked child whose writes that would
// grow any file past `log`'s current size + `extra` bytes fail with EFBIG (a
// genuine write failure, like a full disk), and returns its exit status
// (100 + signal number if it was killed).
template <typename Body>
int RunWithFileSizeLimit(const std::filesystem::path& log, std::uintmax_t extra, Body body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit {};
    limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(std::filesystem::file_size(log) + extra);
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(90);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

}  // namespace sovereign::test
