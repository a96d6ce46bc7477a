// Tests of FillRandom and FillNonce: distinct outputs, per-thread buffers, fork safety.
#include "sdk/internal/random.hpp"
#include "sovereign/secret.hpp"

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace sovereign::internal {
namespace {

using Nonce = std::array<std::uint8_t, 12>;

Nonce DrawNonce() {
  Nonce n{};
  FillNonce(n);
  return n;
}

std::vector<Nonce> DrawNonces(std::size_t count) {
  std::vector<Nonce> out(count);
  for (auto& n : out) FillNonce(n);
  return out;
}

bool WriteAll(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    const ssize_t w = ::write(fd, p, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    size -= static_cast<std::size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, void* data, std::size_t size) {
  auto* p = static_cast<std::uint8_t*>(data);
  while (size > 0) {
    const ssize_t r = ::read(fd, p, size);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    size -= static_cast<std::size_t>(r);
  }
  return true;
}

// ForkResult is what one fork experiment saw; filled without Catch macros,
// which are not safe to use between fork() and _exit() or off the main thread.
struct ForkResult {
  bool ok = false;
  Nonce before_fork{};
  std::vector<Nonce> parent;
  std::vector<Nonce> child;
};

// ForkAndDraw draws one nonce (so the calling thread's buffer holds ~4 KiB of
// unused bytes), forks, lets the child produce `count` nonces with
// `child_body` and send them through a pipe, draws `count` nonces in the
// parent, and collects the child's. A child that inherited the buffer would
// return exactly the parent's nonces.
template <typename ChildBody>
ForkResult ForkAndDraw(std::size_t count, ChildBody child_body) {
  ForkResult r;
  int fds[2];
  if (::pipe(fds) != 0) return r;
  r.before_fork = DrawNonce();
  const pid_t pid = ::fork();
  if (pid < 0) return r;
  if (pid == 0) {
    ::close(fds[0]);
    const std::vector<Nonce> nonces = child_body(count);
    const bool ok = nonces.size() == count && WriteAll(fds[1], nonces.data(), count * sizeof(Nonce));
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  r.parent = DrawNonces(count);
  r.child.resize(count);
  const bool read_ok = ReadAll(fds[0], r.child.data(), count * sizeof(Nonce));
  ::close(fds[0]);
  int status = 0;
  r.ok = ::waitpid(pid, &status, 0) == pid && read_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return r;
}

// InFreshThread runs `f` on a new thread, whose nonce buffer starts empty, so
// the buffer position at fork time does not depend on earlier tests.
template <typename F>
ForkResult InFreshThread(F f) {
  ForkResult r;
  std::thread([&] { r = f(); }).join();
  return r;
}

std::size_t Overlap(const std::vector<Nonce>& a, const std::vector<Nonce>& b) {
  const std::set<Nonce> set_a(a.begin(), a.end());
  return static_cast<std::size_t>(std::count_if(b.begin(), b.end(), [&](const Nonce& n) { return set_a.count(n) > 0; }));
}

TEST_CASE("FillRandom produces distinct values and uses every byte value") {
  std::set<std::array<std::uint8_t, 16>> seen;
  for (int i = 0; i < 10000; ++i) {
    std::array<std::uint8_t, 16> v{};
    FillRandom(v);
    REQUIRE(seen.insert(v).second);
  }
  std::vector<std::uint8_t> big(1 << 16);
  FillRandom(big);
  std::array<int, 256> histogram{};
  for (std::uint8_t b : big) ++histogram[b];
  // Expected 256 per value; a missing value would mean a broken generator.
  CHECK(*std::min_element(histogram.begin(), histogram.end()) > 0);
}

TEST_CASE("FillNonce gives 100000 distinct 96-bit nonces") {
  const std::vector<Nonce> nonces = DrawNonces(100000);
  const std::set<Nonce> unique(nonces.begin(), nonces.end());
  CHECK(unique.size() == nonces.size());
}

TEST_CASE("FillNonce fills every size up to 64 bytes and never repeats across buffer refills") {
  // Sizes in turn cross the 4 KiB refill boundary at many offsets. Sizes
  // below 16 bytes may collide by chance, so only 16..64 are checked for repeats.
  for (std::size_t size = 1; size < 16; ++size) {
    std::vector<std::uint8_t> n(size, 0);
    FillNonce(n);
  }
  std::set<std::vector<std::uint8_t>> seen;
  for (int round = 0; round < 200; ++round) {
    for (std::size_t size = 16; size <= 64; ++size) {
      std::vector<std::uint8_t> n(size, 0);
      FillNonce(n);
      REQUIRE(seen.insert(n).second);
    }
  }
}

// An empty std::vector's data() is null: memcpy(nullptr, p, 0) is undefined
// behaviour that the UBSan build reports, so empty requests must return early.
TEST_CASE("FillRandom and FillNonce accept an empty span") {
  std::vector<std::uint8_t> none;
  REQUIRE(none.data() == nullptr);
  FillRandom(none);
  FillNonce(none);
  CHECK(none.empty());
}

TEST_CASE("FillNonce gives distinct nonces across threads") {
  constexpr int kThreads = 8;
  constexpr std::size_t kPerThread = 20000;
  std::vector<std::vector<Nonce>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&per_thread, t] { per_thread[static_cast<std::size_t>(t)] = DrawNonces(kPerThread); });
  }
  for (auto& th : threads) th.join();
  std::set<Nonce> all;
  for (const auto& nonces : per_thread) all.insert(nonces.begin(), nonces.end());
  CHECK(all.size() == kThreads * kPerThread);
}

// 256 draws of 12 bytes (3 KiB) on each side fit in what is left of the
// 4 KiB buffer after the first draw: an inherited buffer would overlap fully.
TEST_CASE("FillNonce in a forked child never repeats the parent's nonces") {
  constexpr std::size_t kCount = 256;
  const ForkResult r = InFreshThread([] { return ForkAndDraw(kCount, [](std::size_t n) { return DrawNonces(n); }); });
  REQUIRE(r.ok);
  CHECK(Overlap(r.parent, r.child) == 0);
  CHECK(std::find(r.child.begin(), r.child.end(), r.before_fork) == r.child.end());
  const std::set<Nonce> child_unique(r.child.begin(), r.child.end());
  CHECK(child_unique.size() == kCount);
}

TEST_CASE("FillNonce in a grandchild never repeats its parent's or grandparent's nonces") {
  constexpr std::size_t kCount = 128;
  // The child forks again (after its own first draw) and returns its own
  // nonces followed by the grandchild's.
  const ForkResult r = InFreshThread([] {
    return ForkAndDraw(2 * kCount, [](std::size_t n) {
      const ForkResult inner = ForkAndDraw(n / 2, [](std::size_t m) { return DrawNonces(m); });
      if (!inner.ok) return std::vector<Nonce>{};
      std::vector<Nonce> out = inner.parent;
      out.insert(out.end(), inner.child.begin(), inner.child.end());
      return out;
    });
  });
  REQUIRE(r.ok);
  const std::set<Nonce> descendants(r.child.begin(), r.child.end());
  CHECK(descendants.size() == 2 * kCount);  // child and grandchild are disjoint
  CHECK(Overlap(r.parent, r.child) == 0);   // and disjoint from the top process
}

}  // namespace
}  // namespace sovereign::internal

// OpenSSL's DRBG takes its reseed buffers from the secure heap once one
// exists. Secrets that filled it would make the next reseed, and so
// RAND_bytes, fail (the process aborts: no randomness, no crypto). Secrets
// must leave it room. Run in a child so a failure is a failed test, not a
// crashed test binary.
TEST_CASE("the CSPRNG keeps reseeding while secrets fill the secure heap") {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::vector<sovereign::SecretBytes> held;
    for (int i = 0; i < 200000; ++i) held.push_back(sovereign::SecretBytes::Random(32));  // > 1 MiB of secrets
    std::array<std::uint8_t, 16> bytes{};
    for (int i = 0; i < 300000; ++i) sovereign::internal::FillRandom(bytes);  // several reseed intervals
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
