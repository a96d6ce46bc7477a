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
  for (const RuleUse& u : uses) {
    if (u.rule >= rules.size() || u.values == 0) continue;
    const auto& quotas = rules[u.rule].quotas;
    for (std::size_t q = 0; q < quotas.size(); ++q) {
      const keystore_internal::RuleQuota& quota = quotas[q];
      using Counts = keystore_internal::RuleQuota::Counts;
      const bool counts = quota.counts == Counts::kAll || (quota.counts == Counts::kEquality && u.equality) ||
                          (quota.counts == Counts::kSubject && u.subject);
      if (!counts || (quota.per_minute == 0 && quota.per_day == 0)) continue;
      auto key = std::make_tuple(u.rule, q, std::string(principal));
      auto it = uses_.find(key);
      if (it == uses_.end()) {
        if (uses_.size() >= kMaxTrackedUses) DropPassed(minute, day);
        if (uses_.size() >= kMaxTrackedUses) {
          // Full of live windows: refuse rather than forget one (that would reset a quota).
          return QuotaRefusal{u.rule, "minute", 0, std::chrono::seconds(kMinute - seconds % kMinute)};
        }
        it = uses_.emplace(std::move(key), Use{}).first;
      }
      Use& use = it->second;
      if (use.minute != minute) use = Use{minute, 0, use.day, use.in_day};
      if (use.day != day) use = Use{use.minute, use.in_minute, day, 0};
      // Several uses of one request may fall under the same quota.
      std::uint64_t pending = u.values;
      for (const auto& [other, n] : charges) {
        if (other == &use) pending += n;
      }
      if (quota.per_minute != 0 && use.in_minute + pending > quota.per_minute) {
        return QuotaRefusal{u.rule, "minute", quota.per_minute, std::chrono::seconds(kMinute - seconds % kMinute)};
      }
      if (quota.per_day != 0 && use.in_day + pending > quota.per_day) {
        return QuotaRefusal{u.rule, "day", quota.per_day, std::chrono::seconds(kDay - seconds % kDay)};
      }
      charges.emplace_back(&use, u.values);
    }
  }
  for (auto& [use, values] : charges) {
    use->in_minute += values;
    use->in_day += values;
  }
  return std::nullopt;
}

}  // namespace sovereign::service
