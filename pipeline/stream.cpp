#include "pipeline/internal/stream.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "pipeline/internal/json_text.hpp"

namespace sovereign::pipeline {

namespace {

struct Slot {
  Chunk in;
  std::string out;
  std::string dead;
  StreamSummary summary;
  bool done = false;
};

void AppendDeadLetter(std::uint64_t line, const Status& reason, std::string_view record, bool with_record,
                      std::string& dead) {
  dead.append(fmt::format("{{\"line\":{},\"reason\":", line));
  AppendJsonString(reason.message(), dead);
  if (with_record) {
    if (IsValidUtf8(record)) {
      dead.append(",\"record\":");
      AppendJsonString(record, dead);
    } else {
      // Not representable as a JSON string: the exact bytes, base64.
      std::string b64(4 * ((record.size() + 2) / 3) + 1, '\0');
      const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                    reinterpret_cast<const unsigned char*>(record.data()), static_cast<int>(record.size()));
      b64.resize(static_cast<std::size_t>(n));
      dead.append(",\"record_base64\":\"").append(b64).append("\"");
    }
  }
  dead.append("}\n");
}

// Records is a worker's scratch list of one chunk's records and their lines.
struct Records {
  std::vector<std::string_view> views;
  std::vector<std::uint64_t> lines;
};

void Process(Format format, RecordTransform& transform, bool with_record, Slot& slot, Records& records) {
  std::string_view data = slot.in.data;
  std::uint64_t line = slot.in.first_line;
  records.views.clear();
  records.lines.clear();
  while (!data.empty()) {
    std::uint64_t lines = 1;
    std::string_view record = NextRecord(format, data, lines);
    const std::uint64_t at = line;
    line += lines;
    if (format == Format::kCsv && !record.empty() && record.back() == '\r') record.remove_suffix(1);
    if (record.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank lines are not records
    records.views.push_back(record);
    records.lines.push_back(at);
  }
  transform.Prepare(records.views);
  for (std::size_t i = 0; i < records.views.size(); ++i) {
    const std::string_view record = records.views[i];
    ++slot.summary.records_in;
    const Status s = transform.Transform(record, slot.out, slot.summary.stats);
    if (s.ok()) {
      ++slot.summary.records_out;
    } else {
      ++slot.summary.dead_letter;
      AppendDeadLetter(records.lines[i], s, record, with_record, slot.dead);
    }
  }
}

// A slot whose buffers grew past this many chunk sizes (a chunk with a long
// record) is freed instead of kept for the next chunk, so long records do
// not pin their memory for the rest of the run. An ordinary chunk's buffers
// hold about 6 chunk sizes (input, and output up to twice as long, each with
// the string's doubling slack).
constexpr std::size_t kMaxKeptSlotChunks = 16;

// Recycle empties a written slot for the next chunk, keeping its buffers'
// capacity: a run then allocates (and page-faults) its few slots once
// instead of growing fresh strings for every chunk.
bool Recycle(Slot& slot, std::size_t chunk_bytes) {
  if (slot.in.data.capacity() + slot.out.capacity() + slot.dead.capacity() > kMaxKeptSlotChunks * chunk_bytes) {
    return false;
  }
  slot.in.data.clear();
  slot.out.clear();
  slot.dead.clear();
  slot.summary = StreamSummary{};
  slot.done = false;
  return true;
}

}  // namespace

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(ErrorCode::kInternal, fmt::format("cannot write output: {}", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return OkStatus();
}

Result<StreamSummary> RunStream(RecordReader& reader, Format format, int out_fd, int dead_fd,
                                const std::function<std::unique_ptr<RecordTransform>()>& make_transform,
                                const StreamOptions& options) {
  const unsigned threads = std::max(1u, options.threads);
  const std::size_t max_in_flight = 2 * threads + 2;
  std::mutex mu;
  std::condition_variable work_cv, done_cv, space_cv;
  std::map<std::uint64_t, std::unique_ptr<Slot>> in_flight;
  std::deque<Slot*> queue;
  std::vector<std::unique_ptr<Slot>> free_slots;  // written slots, ready for reuse
  bool reading_done = false;
  bool stop = false;
  Status fatal;
  StreamSummary total;

  std::vector<std::unique_ptr<RecordTransform>> transforms;
  for (unsigned i = 0; i < threads; ++i) transforms.push_back(make_transform());

  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      Records records;
      while (true) {
        Slot* slot;
        {
          std::unique_lock lock(mu);
          work_cv.wait(lock, [&] { return !queue.empty() || reading_done || stop; });
          if (queue.empty()) return;
          slot = queue.front();
          queue.pop_front();
        }
        Process(format, *transforms[i], options.dead_letter_records, *slot, records);
        {
          std::lock_guard lock(mu);
          slot->done = true;
        }
        done_cv.notify_all();
      }
    });
  }

  std::thread writer([&] {
    for (std::uint64_t next = 0;; ++next) {
      Slot* slot;
      {
        std::unique_lock lock(mu);
        done_cv.wait(lock, [&] {
          auto it = in_flight.find(next);
          return stop || (it != in_flight.end() && it->second->done) || (reading_done && in_flight.empty());
        });
        if (stop || in_flight.empty()) return;
        slot = in_flight[next].get();
      }
      Status s = WriteAll(out_fd, slot->out);
      if (s.ok()) s = WriteAll(dead_fd, slot->dead);
      std::lock_guard lock(mu);
      if (!s.ok()) {
        fatal = s;
        stop = true;
        work_cv.notify_all();
        space_cv.notify_all();
        return;
      }
      total.records_in += slot->summary.records_in;
      total.records_out += slot->summary.records_out;
      total.dead_letter += slot->summary.dead_letter;
      total.stats.Add(slot->summary.stats);
      auto written = in_flight.extract(next);
      if (Recycle(*written.mapped(), reader.chunk_bytes())) free_slots.push_back(std::move(written.mapped()));
      space_cv.notify_all();
      if (options.progress) options.progress(total, reader.bytes_read());
    }
  });

  for (std::uint64_t seq = 0;; ++seq) {
    std::unique_ptr<Slot> slot;
    {
      std::lock_guard lock(mu);
      if (!free_slots.empty()) {
        slot = std::move(free_slots.back());
        free_slots.pop_back();
      }
    }
    if (!slot) slot = std::make_unique<Slot>();
    auto more = reader.NextChunk(slot->in);
    std::unique_lock lock(mu);
    if (!more.ok() || !*more || stop) {
      if (!more.ok() && fatal.ok()) {
        fatal = more.status();
        stop = true;
      }
      reading_done = true;
      break;
    }
    space_cv.wait(lock, [&] { return in_flight.size() < max_in_flight || stop; });
    if (stop) {
      reading_done = true;
      break;
    }
    queue.push_back(slot.get());
    in_flight.emplace(seq, std::move(slot));
    work_cv.notify_one();
  }
  work_cv.notify_all();
  done_cv.notify_all();
  for (auto& w : workers) w.join();
  done_cv.notify_all();  // the writer may be waiting for the end of input
  writer.join();
  if (!fatal.ok()) return fatal;
  return total;
}

}  // namespace sovereign::pipeline
