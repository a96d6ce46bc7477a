// AtomicFile: an output file that appears under its name only when complete.
//
// The bytes go to a temporary file in the target's directory (created with
// O_EXCL, mode 0600); Commit fsyncs it, renames it over the target and
// fsyncs the directory. Destroying an uncommitted AtomicFile removes the
// temporary file, and so does SIGINT, SIGTERM, SIGHUP or SIGPIPE once
// InstallCleanupHandlers has run. SIGKILL leaves the temporary file (never
// the target name) behind.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "sovereign/status.hpp"

namespace sovereign::pipeline {

class AtomicFile {
 public:
  static Result<std::unique_ptr<AtomicFile>> Create(const std::filesystem::path& target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  int fd() const { return fd_; }
  // Commit makes the file visible under its target name. Errors leave no target.
  Status Commit();

 private:
  AtomicFile() = default;
  std::filesystem::path target_;
  std::string temp_;
  int fd_ = -1;
  int slot_ = -1;
  bool committed_ = false;
};

// InstallCleanupHandlers makes the signals above remove every uncommitted
// temporary file, then die of the signal as before.
void InstallCleanupHandlers();

}  // namespace sovereign::pipeline
