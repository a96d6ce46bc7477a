// IssueQueue: group commit for field key issuance.
//
// Every issue needs its audit record durable (write + fsync) and the catalog
// head committed (a WAL sync) before the key is returned. Done one request at
// a time that is two syncs per key; IssueQueue lets concurrent requests share
// them. A request is queued and its thread waits; whichever waiting thread
// finds no group running becomes the leader, takes up to kMaxAppendEntries
// queued requests (oldest first) and runs them as one group — the caller's
// RunGroup does one transaction, one audit append and one commit for all of
// them — then hands every request of the group its result.
//
// Thread safety: Submit is safe to call concurrently. Every request's result
// is set by the group that ran it; a request whose group ended without
// setting it (a bug, or an exception out of RunGroup) gets kInternal, so no
// waiter is left hanging and none gets a key by accident.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>

#include "keystore/internal/field_key_request.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/mode.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// IssueRequest is one field key request queued for a group, with who asks
// and for which operation (audited). The views must outlive Submit (the
// submitting thread waits, so its arguments do).
struct IssueRequest : FieldKeyRequest {
  std::string_view principal;  // empty: the keystore's own principal
  std::string_view op;

  // Set by the group that ran the request.
  std::optional<Result<FieldKeyMaterial>> result;
  // With a kShredded result for an encryption key: the decoy (PreparedIssue).
  std::optional<FieldKeyMaterial> decoy;
  bool done = false;  // guarded by the queue's mutex
};

class IssueQueue {
 public:
  using RunGroup = std::function<void(std::span<IssueRequest* const>)>;

  // Submit queues `request` and returns its result once a group has run it,
  // possibly on this thread with other threads' requests.
  Result<FieldKeyMaterial> Submit(IssueRequest& request, const RunGroup& run);

  // SubmitAll queues every request (in order) and returns once each has its
  // result (read `result` of each): a batch shares groups with itself and
  // with other threads' requests.
  void SubmitAll(std::span<IssueRequest* const> requests, const RunGroup& run);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IssueRequest*> pending_;
  bool running_ = false;  // a leader is running a group
};

}  // namespace sovereign::keystore_internal
