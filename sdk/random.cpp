#include "sdk/internal/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sovereign::internal {

namespace {

// Bumped in the child after every fork(); a per-thread buffer filled under an
// older generation is discarded, so a child never reuses its parent's bytes.
std::atomic<std::uint64_t> g_fork_generation{1};

void OnForkChild() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

void RegisterForkHandler() {
  static const bool registered = [] { return pthread_atfork(nullptr, nullptr, OnForkChild) == 0; }();
  if (!registered) {
    std::fputs("sovereign: pthread_atfork failed; refusing to buffer randomness\n", stderr);
    std::abort();
  }
}

constexpr std::size_t kBufferSize = 4096;

struct NonceBuffer {
  std::array<std::uint8_t, kBufferSize> bytes;
  std::size_t used = kBufferSize;  // empty
  std::uint64_t generation = 0;

  ~NonceBuffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

}  // namespace

void FillRandom(std::span<std::uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    std::fputs("sovereign: the OpenSSL CSPRNG failed; aborting\n", stderr);
    std::abort();
  }
}

void FillNonce(std::span<std::uint8_t> out) {
  static constexpr std::size_t kMaxNonce = 64;
  if (out.empty()) return;
  if (out.size() > kMaxNonce) std::abort();  // programming error: nonces are small
  thread_local NonceBuffer buffer;
  const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (buffer.generation != generation) {
    RegisterForkHandler();
    buffer.used = kBufferSize;
    buffer.generation = g_fork_generation.load(std::memory_order_relaxed);
  }
  if (kBufferSize - buffer.used < out.size()) {
    FillRandom(buffer.bytes);
    buffer.used = 0;
  }
  std::memcpy(out.data(), buffer.bytes.data() + buffer.used, out.size());
  // Handed-out bytes are erased so no later read of the buffer can repeat them.
  std::memset(buffer.bytes.data() + buffer.used, 0, out.size());
  buffer.used += out.size();
}

}  // namespace sovereign::internal
