// FieldKeyCache: the Client's in-memory cache of field keys (as FieldCiphers)
// by region, fetched from each region's KeySource and dropped at expiry.
//
// Keys are refreshed before they expire: in the last quarter of a key's life
// the first caller to notice fetches a new one while the others go on with
// the old, so however many threads need a key, one request renews it.
//
// Thread safety: safe for concurrent use. Each thread keeps a few recently
// used keys, each with an engine of its own, in a small per-thread front
// cache, so a hit touches no shared memory. Behind it, lookups take a shared
// lock; a miss takes the fetch lock so that many threads missing the same key
// at once cause one KeySource request.
//
// Security: a thread's front cache holds its keys only until their expiry; an
// idle thread releases them on its next call or when it exits.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <span>
#include <unordered_map>

#include "sdk/internal/field_cipher.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/status.hpp"

namespace sovereign::internal {

class FieldKeyCache {
 public:
  FieldKeyCache(std::shared_ptr<KeySource> source, std::chrono::seconds max_ttl);

  const std::string& region() const noexcept { return source_->region(); }
  KeySource& source() const noexcept { return *source_; }

  // PrimarySession returns this thread's session for the primary version of
  // (key, mode, label). The pointer is valid until this thread's next call.
  Result<FieldCipher::Session*> PrimarySession(std::string_view key, Mode mode, std::string_view label);

  // SessionByHeader returns this thread's session for the key an envelope
  // header names. The pointer is valid until this thread's next call.
  Result<FieldCipher::Session*> SessionByHeader(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                                std::uint32_t label_id);

  // SubjectPrimary and SubjectByHeader return the cipher of a per-subject
  // field key: for encryption under the primary version, and for the key an
  // envelope header (with its subject tag) names. Per-subject keys bypass
  // the per-thread front cache (a pipeline sees each subject a few times, not
  // millions) and are kept in maps bounded at kMaxSubjectEntries.
  Result<std::shared_ptr<const FieldCipher>> SubjectPrimary(std::string_view key, Mode mode, std::string_view label,
                                                            std::string_view subject);
  Result<std::shared_ptr<const FieldCipher>> SubjectByHeader(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                                             std::uint32_t label_id, const SubjectTag& tag);

  // Prefetch asks the key source, in batches of kPrefetchBatch, for every
  // subject request (by name or by tag) that is not cached and fresh, and
  // caches the answers, refusals included. Errors are not returned: the
  // lookup that needs a key reports them (fetching it alone if need be).
  void Prefetch(std::span<const FieldKeyRequest> requests);

  // About 300 bytes each (per-subject ciphers keep no OpenSSL contexts):
  // at most ~40 MB for both maps, room for several pipeline chunks' subjects.
  static constexpr std::size_t kMaxSubjectEntries = std::size_t{1} << 16;
  static constexpr std::size_t kPrefetchBatch = 500;

 private:
  // Entry is a cached key, or a cached denial (no cipher, `denial` set) so a
  // principal without `lease` does not ask for the same key on every call.
  struct Entry {
    std::shared_ptr<const FieldCipher> cipher;
    Status denial;
    std::int64_t deadline_ms = 0;  // coarse monotonic clock: unusable from here on
    std::int64_t refresh_ms = 0;   // from here on, one caller fetches a fresh key
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  // Admit turns fetched material into a cache entry after checking that it is
  // the key that was asked for (`expect` returns false for any mismatch).
  template <typename Expect>
  Result<Entry> Admit(Result<FieldKeyMaterial> material, Expect expect);
  template <typename Map, typename Key, typename Fetch>
  Result<Entry> Lookup(Map& map, const Key& key, Fetch fetch);
  Result<Entry> Primary(std::string_view map_key, std::string_view key, Mode mode, std::string_view label);
  Result<Entry> ByHeader(std::uint32_t key_id, std::uint32_t version, Mode mode, std::uint32_t label_id);
  // StoreLocked stores a fetched result (a key, or a refusal worth
  // remembering) under the exclusive lock, trimming the map first; false
  // when there was nothing to store.
  template <typename Map, typename Key>
  bool StoreLocked(Map& map, const Key& key, const Result<Entry>& entry);

  const std::uint64_t id_;  // distinguishes caches in the per-thread front caches
  std::shared_ptr<KeySource> source_;
  std::int64_t max_ttl_ms_;
  std::shared_mutex mutex_;
  std::mutex fetch_mutex_;
  // "<mode byte><key>\0<label>" → primary cipher
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> primary_;
  // (key id, version, mode, label id) packed → cipher
  std::unordered_map<std::uint64_t, Entry> by_id_;
  // SubjectPrimaryKey / SubjectHeaderKey → per-subject cipher
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> subject_primary_;
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> subject_by_id_;
};

}  // namespace sovereign::internal
