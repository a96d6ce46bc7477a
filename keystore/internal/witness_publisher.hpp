// WitnessPublisher: appends the keystore's audit head to its witness file
// (format in witness.hpp) so a later restore of older files is detected.
//
// Thread safety: Publish may be called from any number of threads. Calls
// that overlap share appends (group commit): one thread at a time reads the
// current head and writes it with one write + fsync; every caller whose
// head that covers returns with it.
//
// Security: a head is written only after the catalog commit that made it, so
// the witness never runs ahead of what the keystore holds; heads written are
// strictly increasing (a head that went back while serving is refused, not
// written).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "keystore/internal/catalog.hpp"
#include "keystore/internal/witness.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

class WitnessPublisher {
 public:
  // HeadSource reads the keystore's committed audit head; called from any thread.
  using HeadSource = std::function<Result<AuditHead>()>;

  // `published` is the newest head already in the witness ({0, ""} for none);
  // `ends_mid_line` says the file ends in an interrupted append, so the next
  // line must start on a fresh one. `audit_log` is the store's log, checked
  // against the last published head before each new one is written.
  WitnessPublisher(std::filesystem::path path, std::string region, internal::HmacSha256 mac, HeadSource source,
                   AuditHead published, bool ends_mid_line, std::filesystem::path audit_log);

  // Publish returns ok once the witness durably holds a head at least as new
  // as the keystore's head when Publish was called (immediately when it
  // already does). Before writing a head it checks the store against the last
  // one published (CheckAuditAgainstWitness), so a catalog put back under the
  // running service is refused, not witnessed. Otherwise kKeystoreUnavailable
  // naming the witness: the caller must not acknowledge the change (fail
  // closed). The file is opened per append without O_CREAT, so a witness
  // removed or replaced by a directory fails instead of being re-created.
  Status Publish();

  // appends is how many lines this object has written.
  std::uint64_t appends() const;

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  // AppendHead writes `head` as the next line. Only the round's leader calls it.
  Status AppendHead(const AuditHead& head);

  const std::filesystem::path path_;
  const std::string region_;
  const std::filesystem::path audit_log_;
  internal::HmacSha256 mac_;  // used by the round's leader only
  HeadSource source_;
  bool needs_newline_;        // leader only

  mutable std::mutex mu_;
  std::condition_variable done_;
  AuditHead published_;       // guarded by mu_
  bool writing_ = false;      // a leader is appending
  std::uint64_t failures_ = 0;
  Status last_error_;
  std::uint64_t appends_ = 0;
};

// StartWitness is `sovereign serve`'s start-up with a witness at `path` for
// the keystore in `store_dir`: it creates the file (0600) if it does not
// exist, reads it (ReadWitness), refuses a keystore that is behind it or has
// forked from it (CheckAuditAgainstWitness), then publishes the current head
// and returns a publisher reading heads through its own catalog connection.
// `log` receives one line per notable fact (file created, torn lines skipped,
// the heads compared). The errors of those functions otherwise.
Result<std::shared_ptr<WitnessPublisher>> StartWitness(const std::filesystem::path& path,
                                                       const std::filesystem::path& store_dir,
                                                       const std::function<void(std::string_view)>& log);

}  // namespace sovereign::keystore_internal
