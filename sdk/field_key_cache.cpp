#include "sdk/internal/field_key_cache.hpp"

#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <optional>
#include <unordered_set>

namespace sovereign::internal {

namespace {

// Coarse monotonic milliseconds: a few ns per call, precise enough for TTLs of seconds.
std::int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// PrimaryKey builds the primary-map key in a caller-provided buffer to avoid allocating.
std::string_view PrimaryKey(std::array<char, 160>& buffer, std::string& fallback, Mode mode, std::string_view key,
                            std::string_view label) {
  const std::size_t size = 2 + key.size() + label.size();
  char* p = buffer.data();
  if (size > buffer.size()) {
    fallback.resize(size);
    p = fallback.data();
  }
  p[0] = static_cast<char>(mode);
  std::copy(key.begin(), key.end(), p + 1);
  p[1 + key.size()] = '\0';
  std::copy(label.begin(), label.end(), p + 2 + key.size());
  return {p, size};
}

// SubjectPrimaryKey is "<mode><u32 len><key><u32 len><label><subject>":
// length-prefixed, so no choice of key, label and subject (any bytes, not
// validated yet when the cache is asked) collides with another.
std::string SubjectPrimaryKey(Mode mode, std::string_view key, std::string_view label, std::string_view subject) {
  std::string out;
  out.reserve(9 + key.size() + label.size() + subject.size());
  out.push_back(static_cast<char>(mode));
  for (std::string_view part : {key, label}) {
    const auto n = static_cast<std::uint32_t>(part.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out.append(part);
  }
  out.append(subject);
  return out;
}

// SubjectHeaderKey is key id, version and label id (4 bytes each), the mode
// byte and the tag: fixed size, so unambiguous.
std::string SubjectHeaderKey(std::uint32_t key_id, std::uint32_t version, Mode mode, std::uint32_t label_id,
                             const SubjectTag& tag) {
  std::string out(13 + tag.size(), '\0');
  std::memcpy(out.data(), &key_id, 4);
  std::memcpy(out.data() + 4, &version, 4);
  std::memcpy(out.data() + 8, &label_id, 4);
  out[12] = static_cast<char>(mode);
  std::memcpy(out.data() + 13, tag.data(), tag.size());
  return out;
}

// Matches reports whether `m` is the key `r` asked for.
bool Matches(const FieldKeyRequest& r, const FieldKeyMaterial& m) {
  if (m.mode != r.mode || m.key_id == 0 || m.version == 0 || m.label_id == 0) return false;
  if (r.by_name) return m.key_name == r.key_name && m.label == r.label && m.subject_tag.has_value() == r.subject.has_value();
  return m.key_id == r.key_id && m.version == r.version && m.label_id == r.label_id && m.subject_tag == r.subject_tag;
}

// FetchOne asks `source` for one key; a source that answers with the wrong
// number of results is an internal error, never an exception.
Result<FieldKeyMaterial> FetchOne(KeySource& source, const FieldKeyRequest& r) {
  auto results = source.FieldKeys({&r, 1});
  if (results.size() != 1) return Status(ErrorCode::kInternal, "the keystore answered the wrong number of keys");
  return std::move(results.front());
}

// Trim keeps a map within `limit` entries: expired entries go first, then,
// if it is still full, every other entry (the map has no recency order; a
// dropped key is simply fetched again).
template <typename Map>
void Trim(Map& map, std::size_t limit, std::int64_t now) {
  if (map.size() < limit) return;
  std::erase_if(map, [&](const auto& item) { return item.second.deadline_ms <= now; });
  bool drop = false;
  if (map.size() >= limit) std::erase_if(map, [&](const auto&) { return drop = !drop; });
}

std::atomic<std::uint64_t> g_next_cache_id{1};

// How long a denial is remembered before the keystore is asked again.
constexpr std::int64_t kDenialCacheMs = 30'000;

// One recently used key of one cache, with an engine reserved for this thread.
struct FrontSlot {
  std::uint64_t cache_id = 0;  // 0: empty
  bool by_header = false;
  std::uint64_t packed = 0;    // by_header: packed (key id, version, mode, label id)
  Mode mode = Mode::kRandom;   // !by_header: mode, key name and label of the primary key
  std::string key;
  std::string label;
  std::int64_t deadline_ms = 0;
  std::int64_t refresh_ms = 0;  // a hit only before this; then the shared cache decides
  std::shared_ptr<const FieldCipher> cipher;
  FieldCipher::Session session;  // declared after `cipher`, so destroyed before it
};

constexpr std::size_t kFrontSlots = 8;

struct FrontCache {
  std::array<FrontSlot, kFrontSlots> slots;
  std::size_t next = 0;
  std::int64_t next_sweep_ms = 0;

  // Sweep releases expired keys (and their engines) at most once a second, so
  // a thread that keeps calling never holds a key long past its expiry.
  void Sweep(std::int64_t now) {
    if (now < next_sweep_ms) return;
    next_sweep_ms = now + 1000;
    for (auto& slot : slots) {
      if (slot.cache_id != 0 && slot.deadline_ms <= now) {
        slot.session = FieldCipher::Session();
        slot.cipher.reset();
        slot.cache_id = 0;
      }
    }
  }

  // Fill takes a slot for `entry` with an engine of its own and returns it;
  // the caller sets the lookup fields.
  // `stale` is this key's slot when it is due for refresh: it is reused, and
  // keeps its engine when the cache still holds the same cipher.
  FrontSlot& Fill(std::int64_t now, FrontSlot* stale, std::uint64_t cache_id,
                  const std::shared_ptr<const FieldCipher>& cipher, std::int64_t deadline_ms,
                  std::int64_t refresh_ms) {
    FrontSlot& slot = stale ? *stale : Victim(now);
    if (slot.cipher != cipher || !slot.session.ok()) {
      slot.session = FieldCipher::Session();
      slot.cipher = cipher;
      slot.session = slot.cipher->Borrow();
    }
    slot.cache_id = cache_id;
    slot.deadline_ms = deadline_ms;
    slot.refresh_ms = refresh_ms;
    return slot;
  }

  FrontSlot& Victim(std::int64_t now) {
    for (auto& slot : slots) {
      if (slot.cache_id == 0 || slot.deadline_ms <= now) return slot;
    }
    FrontSlot& slot = slots[next];
    next = (next + 1) % kFrontSlots;
    return slot;
  }
};

thread_local FrontCache t_front;

}  // namespace

FieldKeyCache::FieldKeyCache(std::shared_ptr<KeySource> source, std::chrono::seconds max_ttl)
    : id_(g_next_cache_id.fetch_add(1, std::memory_order_relaxed)),
      source_(std::move(source)),
      max_ttl_ms_(std::chrono::milliseconds(max_ttl).count()) {}

template <typename Expect>
Result<FieldKeyCache::Entry> FieldKeyCache::Admit(Result<FieldKeyMaterial> material, Expect expect) {
  if (!material.ok()) return material.status();
  if (material->region != source_->region() || !expect(*material)) {
    return Status(ErrorCode::kInternal, "the keystore answered with a key other than the one requested");
  }
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(material->expires_at -
                                                                               std::chrono::system_clock::now());
  const std::int64_t ttl = std::min<std::int64_t>(remaining.count(), max_ttl_ms_);
  auto cipher = FieldCipher::New(std::move(material).value());
  if (!cipher.ok()) return cipher.status();
  const std::int64_t now = NowMs();
  return Entry{std::move(cipher).value(), Status(), now + ttl, now + ttl * 3 / 4};
}

template <typename Map, typename Key, typename Fetch>
Result<FieldKeyCache::Entry> FieldKeyCache::Lookup(Map& map, const Key& key, Fetch fetch) {
  // Returns a fresh entry as it is, a cached denial as its status, and
  // `current` (still valid, due for refresh) or nothing otherwise.
  auto find = [&](std::optional<Entry>& current) -> std::optional<Result<Entry>> {
    std::shared_lock lock(mutex_);
    auto it = map.find(key);
    const std::int64_t now = NowMs();
    if (it == map.end() || it->second.deadline_ms <= now) return std::nullopt;
    if (!it->second.cipher) return Result<Entry>(it->second.denial);
    // A key whose random-mode budget is spent must be issued again, now.
    if (it->second.cipher->RandomBudgetSpent()) return std::nullopt;
    if (now < it->second.refresh_ms) return Result<Entry>(it->second);
    current = it->second;
    return std::nullopt;
  };
  std::optional<Entry> current;
  if (auto hit = find(current)) return *hit;
  std::unique_lock fetch_lock(fetch_mutex_, std::defer_lock);
  if (current) {
    // Due for refresh but still valid: if another thread is fetching, use this one meanwhile.
    if (!fetch_lock.try_lock()) return *current;
  } else {
    fetch_lock.lock();
  }
  std::optional<Entry> again;
  if (auto hit = find(again)) return *hit;  // fetched by another thread while this one waited
  auto entry = fetch();
  std::unique_lock lock(mutex_);
  if (StoreLocked(map, key, entry)) return entry;
  // A failed refresh keeps the still-valid key until its deadline; an expired
  // key is dropped even when it cannot be renewed.
  if (current) return *current;
  if (auto it = map.find(key); it != map.end()) map.erase(it);
  return entry.status();
}

template <typename Map, typename Key>
bool FieldKeyCache::StoreLocked(Map& map, const Key& key, const Result<Entry>& entry) {
  const std::int64_t now = NowMs();
  Trim(map, kMaxSubjectEntries, now);
  if (entry.ok()) {
    map.insert_or_assign(typename Map::key_type(key), *entry);
    return true;
  }
  // Denials, unusable (disabled, retired, destroyed) versions and shredded
  // subjects are remembered, replacing any key still cached: a version
  // disabled at the keystore stops working here at the latest when the key
  // was due for refresh (3/4 of its TTL), and is not asked for again on
  // every call.
  if (entry.code() == ErrorCode::kDenied || entry.code() == ErrorCode::kKeyVersionUnusable ||
      entry.code() == ErrorCode::kShredded) {
    const std::int64_t ttl = std::min<std::int64_t>(kDenialCacheMs, max_ttl_ms_);
    map.insert_or_assign(typename Map::key_type(key), Entry{nullptr, entry.status(), now + ttl, now + ttl});
    return true;
  }
  return false;
}

Result<FieldCipher::Session*> FieldKeyCache::PrimarySession(std::string_view key, Mode mode,
                                                            std::string_view label) {
  const std::int64_t now = NowMs();
  t_front.Sweep(now);
  FrontSlot* stale = nullptr;
  for (auto& slot : t_front.slots) {
    if (slot.cache_id == id_ && !slot.by_header && slot.mode == mode && slot.key == key && slot.label == label) {
      if (slot.refresh_ms > now && !slot.cipher->RandomBudgetSpent()) return &slot.session;
      stale = &slot;
    }
  }
  std::array<char, 160> buffer;
  std::string fallback;
  const std::string_view map_key = PrimaryKey(buffer, fallback, mode, key, label);
  auto entry = Primary(map_key, key, mode, label);
  if (!entry.ok()) return entry.status();
  FrontSlot& slot = t_front.Fill(now, stale, id_, entry->cipher, entry->deadline_ms, entry->refresh_ms);
  slot.by_header = false;
  slot.mode = mode;
  slot.key.assign(key);
  slot.label.assign(label);
  return &slot.session;
}

Result<FieldCipher::Session*> FieldKeyCache::SessionByHeader(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                                             std::uint32_t label_id) {
  const std::uint64_t packed = std::uint64_t{key_id} << 40 ^ std::uint64_t{label_id} << 16 ^
                               std::uint64_t{version} << 2 ^ (static_cast<std::uint64_t>(mode) & 3);
  const std::int64_t now = NowMs();
  t_front.Sweep(now);
  FrontSlot* stale = nullptr;
  for (auto& slot : t_front.slots) {
    if (slot.cache_id == id_ && slot.by_header && slot.packed == packed && slot.cipher->material().key_id == key_id &&
        slot.cipher->material().version == version && slot.cipher->material().label_id == label_id &&
        slot.cipher->material().mode == mode) {
      if (slot.refresh_ms > now) return &slot.session;
      stale = &slot;
    }
  }
  auto entry = ByHeader(key_id, version, mode, label_id);
  if (!entry.ok()) return entry.status();
  FrontSlot& slot = t_front.Fill(now, stale, id_, entry->cipher, entry->deadline_ms, entry->refresh_ms);
  slot.by_header = true;
  slot.packed = packed;
  return &slot.session;
}

Result<FieldKeyCache::Entry> FieldKeyCache::Primary(std::string_view map_key, std::string_view key, Mode mode,
                                                    std::string_view label) {
  return Lookup(primary_, map_key, [&] {
    return Admit(source_->PrimaryFieldKey(key, mode, label), [&](const FieldKeyMaterial& m) {
      return m.key_name == key && m.mode == mode && m.label == label && m.key_id != 0 && m.version != 0 &&
             m.label_id != 0 && !m.subject_tag;
    });
  });
}

Result<FieldKeyCache::Entry> FieldKeyCache::ByHeader(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                                     std::uint32_t label_id) {
  // key id and label id fit 24 bits each in practice; pack losslessly when they do, else bypass the map.
  auto fetch = [&] {
    return Admit(source_->FieldKey(key_id, version, mode, label_id), [&](const FieldKeyMaterial& m) {
      return m.key_id == key_id && m.version == version && m.mode == mode && m.label_id == label_id && !m.subject_tag;
    });
  };
  if (key_id >= (1u << 24) || label_id >= (1u << 24) || version >= (1u << 14)) {
    return fetch();
  }
  const std::uint64_t packed = std::uint64_t{key_id} << 40 | std::uint64_t{label_id} << 16 |
                               std::uint64_t{version} << 2 | (static_cast<std::uint64_t>(mode) & 3);
  return Lookup(by_id_, packed, fetch);
}

Result<std::shared_ptr<const FieldCipher>> FieldKeyCache::SubjectPrimary(std::string_view key, Mode mode,
                                                                         std::string_view label,
                                                                         std::string_view subject) {
  FieldKeyRequest r;
  r.key_name = key;
  r.label = label;
  r.mode = mode;
  r.subject = subject;
  auto entry = Lookup(subject_primary_, SubjectPrimaryKey(mode, key, label, subject), [&] {
    return Admit(FetchOne(*source_, r), [&](const FieldKeyMaterial& m) { return Matches(r, m); });
  });
  if (!entry.ok()) return entry.status();
  return entry->cipher;
}

Result<std::shared_ptr<const FieldCipher>> FieldKeyCache::SubjectByHeader(std::uint32_t key_id, std::uint32_t version,
                                                                          Mode mode, std::uint32_t label_id,
                                                                          const SubjectTag& tag) {
  FieldKeyRequest r;
  r.by_name = false;
  r.key_id = key_id;
  r.version = version;
  r.label_id = label_id;
  r.mode = mode;
  r.subject_tag = tag;
  auto entry = Lookup(subject_by_id_, SubjectHeaderKey(key_id, version, mode, label_id, tag), [&] {
    return Admit(FetchOne(*source_, r), [&](const FieldKeyMaterial& m) { return Matches(r, m); });
  });
  if (!entry.ok()) return entry.status();
  return entry->cipher;
}

void FieldKeyCache::Prefetch(std::span<const FieldKeyRequest> requests) {
  // Which requests are missing (or due for refresh), under the shared lock.
  std::vector<FieldKeyRequest> missing;
  std::vector<std::string> map_keys;
  std::unordered_set<std::string_view> seen;  // views into map_keys, which is reserved so they stay put
  map_keys.reserve(requests.size());
  {
    std::shared_lock lock(mutex_);
    const std::int64_t now = NowMs();
    for (const FieldKeyRequest& r : requests) {
      if (r.by_name ? !r.subject : !r.subject_tag) continue;
      std::string k = r.by_name ? SubjectPrimaryKey(r.mode, r.key_name, r.label, *r.subject)
                                : SubjectHeaderKey(r.key_id, r.version, r.mode, r.label_id, *r.subject_tag);
      const auto& map = r.by_name ? subject_primary_ : subject_by_id_;
      auto it = map.find(k);
      if (it != map.end() && now < it->second.refresh_ms &&
          !(it->second.cipher && it->second.cipher->RandomBudgetSpent())) {
        continue;
      }
      map_keys.push_back(std::move(k));
      if (!seen.insert(map_keys.back()).second) {
        map_keys.pop_back();
        continue;
      }
      missing.push_back(r);
    }
  }
  // Fetched without the fetch lock: a batch is slow, and a key that another
  // thread fetches at the same time is only fetched twice.
  for (std::size_t start = 0; start < missing.size(); start += kPrefetchBatch) {
    const std::size_t n = std::min(kPrefetchBatch, missing.size() - start);
    auto results = source_->FieldKeys(std::span(missing).subspan(start, n));
    if (results.size() != n) return;
    std::vector<Result<Entry>> entries;
    entries.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const FieldKeyRequest& r = missing[start + i];
      entries.push_back(Admit(std::move(results[i]), [&](const FieldKeyMaterial& m) { return Matches(r, m); }));
    }
    std::unique_lock lock(mutex_);
    for (std::size_t i = 0; i < n; ++i) {
      auto& map = missing[start + i].by_name ? subject_primary_ : subject_by_id_;
      StoreLocked(map, map_keys[start + i], entries[i]);
    }
  }
}

}  // namespace sovereign::internal
