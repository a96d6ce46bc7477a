// RecordTransform: what a pipeline worker does to one input record.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sovereign/client.hpp"
#include "sovereign/policy.hpp"

namespace sovereign::pipeline {

struct PathTrie;

enum class Operation : std::uint8_t { kEncrypt, kDecrypt, kRewrap };

struct TransformOptions {
  Operation operation = Operation::kEncrypt;
  OnDenied on_denied = OnDenied::kKeep;
};

// A RecordTransform is used by one thread at a time (it owns scratch buffers).
class RecordTransform {
 public:
  virtual ~RecordTransform() = default;
  // Transform appends the transformed record and its line terminator to
  // `out` and adds its counts to `stats`; or returns why the record goes to
  // the dead-letter output, leaving `out` and `stats` unchanged. Reasons
  // name paths and byte offsets, never values.
  virtual Status Transform(std::string_view record, std::string& out, RecordStats& stats) = 0;

  // Prepare is called with every record of a chunk before Transform is
  // called for them, in the same order: it fetches in a few batches the
  // per-subject keys the chunk needs (Client::PrefetchKeys / PrefetchKeysFor),
  // instead of one keystore round trip per new subject. The views stay
  // valid until the last of those Transform calls. Purely an optimisation:
  // a record it cannot make sense of is left to Transform to refuse.
  virtual void Prepare(std::span<const std::string_view> /*records*/) {}
};

// NewNdjsonTransform splices one JSON object per line: bytes outside policy
// values are copied verbatim. `trie` must outlive the transform.
std::unique_ptr<RecordTransform> NewNdjsonTransform(const Client& client, const FieldPolicy& policy,
                                                    const PathTrie& trie, TransformOptions options);

// NewCsvTransform rewrites one CSV record (without its terminator) of the
// header's width; unchanged cells are copied verbatim.
std::unique_ptr<RecordTransform> NewCsvTransform(const Client& client, const FieldPolicy& policy,
                                                 const CsvHeader& header, TransformOptions options);

}  // namespace sovereign::pipeline
