// Quotas: how many values (batch items) each principal has had processed
// under each access rule, per fixed minute and per fixed UTC day, against the
// rule's `quota` (keystore/internal/access_policy.hpp).
//
// A request is charged all or nothing: when any rule it uses would go over a
// window's limit, nothing is charged and the whole request is refused (429),
// so a refused request never eats into the quota of a later one.
//
// Counts live in memory: a restart or a policy reload starts every window
// afresh (docs/operations.md says so). Memory is bounded: at most
// kMaxTrackedUses (rule, principal) pairs are held; when full, pairs whose
// windows have all passed are dropped, and if none has, a new pair is refused
// rather than an old one forgotten (forgetting would reset a quota).
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "keystore/internal/access_policy.hpp"

namespace sovereign::service {

inline constexpr std::size_t kMaxTrackedUses = 100000;

// QuotaRefusal says which rule and window refused, for the 429 answer and the
// audit entry.
struct QuotaRefusal {
  std::size_t rule = 0;
  std::string_view window;  // "minute" or "day"
  std::uint64_t limit = 0;
  std::chrono::seconds retry_after{0};
};

class Quotas {
 public:
  // RuleUse is the values of one request allowed by one rule, and whether
  // they are equality-revealing (deterministic, index) or for a subject.
  struct RuleUse {
    std::size_t rule = 0;
    bool equality = false;
    bool subject = false;
    std::uint64_t values = 0;
  };

  // Charge adds `uses` for `principal`, or nothing when one of them would
  // exceed its rule's quota in `policy` (the refusal is returned). Rules
  // without a quota are not tracked.
  std::optional<QuotaRefusal> Charge(const keystore_internal::AccessPolicy& policy, std::string_view principal,
                                     const std::vector<RuleUse>& uses, std::chrono::system_clock::time_point now);

  // Reset forgets every count (a new policy numbers its rules anew).
  void Reset();

 private:
  struct Use {
    std::int64_t minute = -1;  // the window the count belongs to
    std::uint64_t in_minute = 0;
    std::int64_t day = -1;
    std::uint64_t in_day = 0;
  };
  void DropPassed(std::int64_t minute, std::int64_t day);

  std::mutex mu_;
  // By (rule, which of its quotas, principal).
  std::map<std::tuple<std::size_t, std::size_t, std::string>, Use, std::less<>> uses_;
};

}  // namespace sovereign::service
