// The streaming engine on its own: chunking, ordered output, dead letters
// and buffer reuse, with tiny chunks so that every slot is reused thousands
// of times, and a record long enough that its slot is not kept.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "pipeline/internal/stream.hpp"
#include "tests/support/test_support.hpp"

namespace {

using sovereign::ErrorCode;
using sovereign::OkStatus;
using sovereign::RecordStats;
using sovereign::Status;
using namespace sovereign::pipeline;

// Reverse writes each record reversed, and refuses records holding "bad".
class Reverse final : public RecordTransform {
 public:
  Status Transform(std::string_view record, std::string& out, RecordStats& stats) override {
    if (record.find("bad") != std::string_view::npos) return Status(ErrorCode::kInvalidArgument, "refused");
    out.append(record.rbegin(), record.rend());
    out.push_back('\n');
    ++stats.fields_encrypted;
    return OkStatus();
  }
};

// Echo writes each record as it is, and refuses records holding "bad".
class Echo final : public RecordTransform {
 public:
  Status Transform(std::string_view record, std::string& out, RecordStats& stats) override {
    if (record.find("bad") != std::string_view::npos) return Status(ErrorCode::kInvalidArgument, "refused");
    out.append(record).push_back('\n');
    ++stats.fields_encrypted;
    return OkStatus();
  }
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Run {
  StreamSummary summary;
  std::string out, dead;
};

Run Stream(const sovereign::test::TempDir& dir, const std::string& input, unsigned threads, std::size_t chunk,
           Format format = Format::kNdjson) {
  const std::string in_path = (dir.path() / "in").string(), out_path = (dir.path() / "out").string(), dead_path = (dir.path() / "dead").string();
  std::ofstream(in_path, std::ios::binary) << input;
  const int in = open(in_path.c_str(), O_RDONLY);
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int dead = open(dead_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE((in >= 0 && out >= 0 && dead >= 0));
  RecordReader reader(in, format, chunk);
  StreamOptions options;
  options.threads = threads;
  auto summary = RunStream(reader, format, out, dead, [format]() -> std::unique_ptr<RecordTransform> {
    if (format == Format::kCsv) return std::make_unique<Echo>();
    return std::make_unique<Reverse>();
  }, options);
  close(in);
  close(out);
  close(dead);
  REQUIRE(summary.ok());
  return Run{*summary, ReadAll(out_path), ReadAll(dead_path)};
}

// CheckDeadLetterLines checks that the dead letters name `lines`, in order.
void CheckDeadLetterLines(const std::string& dead, const std::vector<std::uint64_t>& lines) {
  std::size_t at = 0;
  for (std::uint64_t line : lines) {
    const std::string want = "{\"line\":" + std::to_string(line) + ",\"reason\":";
    const std::size_t found = dead.find(want, at);
    REQUIRE(found != std::string::npos);
    at = found + want.size();
  }
}

}  // namespace

TEST_CASE("stream: output is in input order and complete, whatever the chunk size and thread count") {
  sovereign::test::TempDir dir;
  std::mt19937 rng(7);
  std::string input, expected;
  std::uint64_t good = 0, bad = 0, blank = 0;
  std::vector<std::uint64_t> bad_lines;
  for (std::uint64_t line = 1; line <= 4000; ++line) {
    std::string record;
    const auto kind = rng() % 10;
    if (kind == 0) {
      ++blank;  // blank lines are not records
    } else {
      // Lengths from 1 byte to several chunks.
      const std::size_t n = 1 + rng() % (kind == 1 ? 5000 : 80);
      for (std::size_t i = 0; i < n; ++i) record.push_back(static_cast<char>('c' + rng() % 24));  // never "bad" by chance
      if (kind == 2) {
        record += "bad";
        bad_lines.push_back(line);
        ++bad;
      } else {
        expected.append(record.rbegin(), record.rend());
        expected.push_back('\n');
        ++good;
      }
    }
    input += record;
    if (line < 4000) input.push_back('\n');  // the last record has no line break
  }
  // A record longer than a reused slot may keep (16 MiB): its slot is dropped, the run goes on.
  input += "\n" + std::string(17 << 20, 'x') + "\nlast";
  expected += std::string(17 << 20, 'x') + "\ntsal\n";
  good += 2;

  for (const auto& [threads, chunk] : {std::pair{1u, std::size_t{64}}, {3u, std::size_t{100}}, {2u, std::size_t{4096}},
                                       {4u, kChunkBytes}}) {
    INFO("threads " << threads << ", chunk " << chunk);
    const Run run = Stream(dir, input, threads, chunk);
    CHECK(run.summary.records_in == good + bad);
    CHECK(run.summary.records_out == good);
    CHECK(run.summary.dead_letter == bad);
    CHECK(run.summary.stats.fields_encrypted == good);
    CHECK((run.out == expected));  // a reused buffer never leaks a previous chunk's bytes
    CheckDeadLetterLines(run.dead, bad_lines);
    CHECK(std::count(run.dead.begin(), run.dead.end(), '\n') == static_cast<std::ptrdiff_t>(bad));
  }
  CHECK(blank > 0);
}

TEST_CASE("stream: CSV records with quoted line breaks are cut only between records, across any chunk size") {
  sovereign::test::TempDir dir;
  std::mt19937 rng(11);
  std::string input, expected;
  std::uint64_t good = 0, line = 1;
  std::vector<std::uint64_t> bad_lines;
  for (int i = 0; i < 3000; ++i) {
    // 1 to 4 input lines per record: quoted cells may hold line breaks and doubled quotes.
    std::string record = "r" + std::to_string(i);
    const auto breaks = rng() % 4;
    for (unsigned b = 0; b < breaks; ++b) record += ",\"cell with\nbreak and \"\" quote\"";
    record += "," + std::string(rng() % 300, 'z');
    const bool bad = rng() % 9 == 0;
    if (bad) {
      record += ",bad";
      bad_lines.push_back(line);
    } else {
      expected += record + "\n";
      ++good;
    }
    input += record + (rng() % 5 == 0 ? "\r\n" : "\n");  // CRLF or LF
    line += breaks + 1;
  }
  for (const auto& [threads, chunk] : {std::pair{1u, std::size_t{16}}, {2u, std::size_t{97}}, {3u, std::size_t{4096}}}) {
    INFO("threads " << threads << ", chunk " << chunk);
    const Run run = Stream(dir, input, threads, chunk, Format::kCsv);
    CHECK(run.summary.records_in == good + bad_lines.size());
    CHECK(run.summary.records_out == good);
    CHECK((run.out == expected));
    CheckDeadLetterLines(run.dead, bad_lines);
  }
}
