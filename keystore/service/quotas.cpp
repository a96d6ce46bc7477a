#include "keystore/service/quotas.hpp"

#include <algorithm>

namespace sovereign::service {
namespace {

constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kDay = 86400;

}  // namespace

void Quotas::Reset() {
  std::lock_guard lock(mu_);
  uses_.clear();
}

void Quotas::DropPassed(std::int64_t minute, std::int64_t day) {
  std::erase_if(uses_, [&](const auto& entry) {
    const Use& use = entry.second;
    return use.day != day && use.minute != minute;
  });
}

std::optional<QuotaRefusal> Quotas::Charge(const keystore_internal::AccessPolicy& policy, std::string_view principal,
                                           const std::vector<RuleUse>& uses,
                                           std::chrono::system_clock::time_point now) {
  const std::int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t minute = seconds / kMinute;
  const std::int64_t day = seconds / kDay;
  const auto& rules = policy.rules();

  std::lock_guard lock(mu_);
  // Check every rule the request uses before charging any.
  std::vector<std::pair<Use*, std::uint64_t>> charges;
  for (const auto& [rule, equality, values] : uses) {
    if (rule >= rules.size() || values == 0) continue;
    const keystore_internal::RuleQuota& quota = rules[rule].quota;
    if (quota.per_minute == 0 && quota.per_day == 0) continue;
    if (quota.equality_only && !equality) continue;
    auto key = std::make_pair(rule, std::string(principal));
    auto it = uses_.find(key);
    if (it == uses_.end()) {
      if (uses_.size() >= kMaxTrackedUses) DropPassed(minute, day);
      if (uses_.size() >= kMaxTrackedUses) {
        return QuotaRefusal{rule, "minute", quota.per_minute, std::chrono::seconds(kMinute)};
      }
      it = uses_.emplace(std::move(key), Use{}).first;
    }
    Use& use = it->second;
    if (use.minute != minute) use = Use{minute, 0, use.day, use.in_day};
    if (use.day != day) use = Use{use.minute, use.in_minute, day, 0};
    // Several items of one request may fall under the same rule twice.
    std::uint64_t pending = values;
    for (const auto& [other, n] : charges) {
      if (other == &use) pending += n;
    }
    if (quota.per_minute != 0 && use.in_minute + pending > quota.per_minute) {
      return QuotaRefusal{rule, "minute", quota.per_minute, std::chrono::seconds(kMinute - seconds % kMinute)};
    }
    if (quota.per_day != 0 && use.in_day + pending > quota.per_day) {
      return QuotaRefusal{rule, "day", quota.per_day, std::chrono::seconds(kDay - seconds % kDay)};
    }
    charges.emplace_back(&use, values);
  }
  for (auto& [use, values] : charges) {
    use->in_minute += values;
    use->in_day += values;
  }
  return std::nullopt;
}

}  // namespace sovereign::service
