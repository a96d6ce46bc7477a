#include "sdk/internal/field_key_cache.hpp"

#include <time.h>

#include <array>

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

}  // namespace

FieldKeyCache::FieldKeyCache(std::shared_ptr<KeySource> source, std::chrono::seconds max_ttl)
    : source_(std::move(source)), max_ttl_ms_(std::chrono::milliseconds(max_ttl).count()) {}

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
  return Entry{std::move(cipher).value(), NowMs() + ttl};
}

template <typename Map, typename Key, typename Fetch>
Result<std::shared_ptr<const FieldCipher>> FieldKeyCache::Lookup(Map& map, const Key& key, Fetch fetch) {
  {
    std::shared_lock lock(mutex_);
    auto it = map.find(key);
    if (it != map.end() && it->second.deadline_ms > NowMs()) return it->second.cipher;
  }
  std::lock_guard fetch_lock(fetch_mutex_);
  {
    // Another thread may have fetched it while this one waited.
    std::shared_lock lock(mutex_);
    auto it = map.find(key);
    if (it != map.end() && it->second.deadline_ms > NowMs()) return it->second.cipher;
  }
  auto entry = fetch();
  std::unique_lock lock(mutex_);
  if (!entry.ok()) {
    // Expired keys are dropped even when they cannot be refreshed.
    if (auto it = map.find(key); it != map.end()) map.erase(it);
    return entry.status();
  }
  auto cipher = entry->cipher;
  map.insert_or_assign(typename Map::key_type(key), std::move(entry).value());
  return cipher;
}

Result<std::shared_ptr<const FieldCipher>> FieldKeyCache::Primary(std::string_view key, Mode mode,
                                                                  std::string_view label) {
  std::array<char, 160> buffer;
  std::string fallback;
  const std::string_view map_key = PrimaryKey(buffer, fallback, mode, key, label);
  return Lookup(primary_, map_key, [&] {
    return Admit(source_->PrimaryFieldKey(key, mode, label), [&](const FieldKeyMaterial& m) {
      return m.key_name == key && m.mode == mode && m.label == label && m.key_id != 0 && m.version != 0 &&
             m.label_id != 0;
    });
  });
}

Result<std::shared_ptr<const FieldCipher>> FieldKeyCache::ByHeader(std::uint32_t key_id, std::uint32_t version,
                                                                   Mode mode, std::uint32_t label_id) {
  // key id and label id fit 24 bits each in practice; pack losslessly when they do, else bypass the map.
  auto fetch = [&] {
    return Admit(source_->FieldKey(key_id, version, mode, label_id), [&](const FieldKeyMaterial& m) {
      return m.key_id == key_id && m.version == version && m.mode == mode && m.label_id == label_id;
    });
  };
  if (key_id >= (1u << 24) || label_id >= (1u << 24) || version >= (1u << 14)) {
    auto entry = fetch();
    if (!entry.ok()) return entry.status();
    return std::shared_ptr<const FieldCipher>(entry->cipher);
  }
  const std::uint64_t packed = std::uint64_t{key_id} << 40 | std::uint64_t{label_id} << 16 |
                               std::uint64_t{version} << 2 | (static_cast<std::uint64_t>(mode) & 3);
  return Lookup(by_id_, packed, fetch);
}

}  // namespace sovereign::internal
