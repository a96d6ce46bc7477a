// RunStream: the streaming engine. One reader (the calling thread) cuts the
// input into chunks, N workers transform chunks, one writer writes results
// in input order. At most 2N+2 chunks are in flight, so memory is bounded
// by that many chunks (their buffers reused, a few chunk sizes each) plus the
// longest record, whatever the input size.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pipeline/internal/record_reader.hpp"
#include "pipeline/internal/transform.hpp"
#include "sovereign/policy.hpp"

namespace sovereign::pipeline {

struct StreamSummary {
  std::uint64_t records_in = 0;
  std::uint64_t records_out = 0;
  std::uint64_t dead_letter = 0;
  RecordStats stats;
};

struct StreamOptions {
  unsigned threads = 1;
  // Dead-letter entries carry the original record only when true (a file);
  // false when they go to stderr, which may be logged.
  bool dead_letter_records = true;
  // Called by the writer after each chunk with running totals.
  std::function<void(const StreamSummary&, std::uint64_t bytes_in)> progress;
};

// RunStream transforms every record of `reader` with transforms made by
// `make_transform` (one per worker) and writes them to `out_fd`, dead
// letters ({"line","reason","record"} JSON lines) to `dead_fd`. Errors are
// fatal: unreadable input or unwritable output.
Result<StreamSummary> RunStream(RecordReader& reader, Format format, int out_fd, int dead_fd,
                                const std::function<std::unique_ptr<RecordTransform>()>& make_transform,
                                const StreamOptions& options);

// WriteAll writes all of `bytes` to `fd`.
Status WriteAll(int fd, std::string_view bytes);

}  // namespace sovereign::pipeline
