#include "keystore/internal/issue_queue.hpp"

#include <vector>

#include "keystore/internal/audit_log.hpp"

namespace sovereign::keystore_internal {

Result<FieldKeyMaterial> IssueQueue::Submit(IssueRequest& request, const RunGroup& run) {
  IssueRequest* const one[] = {&request};
  SubmitAll(one, run);
  Result<FieldKeyMaterial> out = std::move(*request.result);
  return out;
}

void IssueQueue::SubmitAll(std::span<IssueRequest* const> requests, const RunGroup& run) {
  if (requests.empty()) return;
  std::unique_lock lock(mu_);
  pending_.insert(pending_.end(), requests.begin(), requests.end());
  // Groups run oldest first, so the batch's last request is done last.
  IssueRequest* const last = requests.back();
  for (;;) {
    cv_.wait(lock, [&] { return last->done || !running_; });
    if (last->done) break;
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
}

}  // namespace sovereign::keystore_internal
