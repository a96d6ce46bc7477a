#include "keystore/internal/issue_queue.hpp"

#include <vector>

#include "keystore/internal/audit_log.hpp"

namespace sovereign::keystore_internal {

Result<FieldKeyMaterial> IssueQueue::Submit(IssueRequest& request, const RunGroup& run) {
  std::unique_lock lock(mu_);
  pending_.push_back(&request);
  for (;;) {
    cv_.wait(lock, [&] { return request.done || !running_; });
    if (request.done) break;
    // Lead: take the oldest requests (ours among them, or we lead again).
    running_ = true;
    std::vector<IssueRequest*> group;
    while (!pending_.empty() && group.size() < kMaxAppendEntries) {
      group.push_back(pending_.front());
      pending_.pop_front();
    }
    lock.unlock();
    // Whatever happens in `run`, the group ends: every request gets a result
    // and the next leader may start.
    struct EndGroup {
      IssueQueue& queue;
      std::unique_lock<std::mutex>& lock;
      const std::vector<IssueRequest*>& group;
      ~EndGroup() {
        lock.lock();
        for (IssueRequest* r : group) {
          if (!r->result) r->result = Status(ErrorCode::kInternal, "field key issue: the request was not run");
          r->done = true;
        }
        queue.running_ = false;
        queue.cv_.notify_all();
      }
    } end{*this, lock, group};
    run(group);
  }
  Result<FieldKeyMaterial> out = std::move(*request.result);
  return out;
}

}  // namespace sovereign::keystore_internal
