// Field encrypt/decrypt through the public API (sovereign::Client on a real
// EmbeddedKeystore) beside the raw OpenSSL primitive, both measured in the
// same run; a summary table prints API/raw ratios at the end (STYLE.md item 9).
//
//   ./build/bench/sovereign_field_bench --benchmark_min_time=0.2
//
// For each (mode, op, size) the benchmarks run back to back — raw first, then
// the API's binary and text forms — so a noisy machine drifts less between a
// baseline and the API line it is compared with.
#include <benchmark/benchmark.h>
#include <openssl/rand.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bench/raw_openssl.hpp"
#include "bench/ratio_reporter.hpp"
#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"

namespace {

using sovereign::Client;
using sovereign::FieldContext;
using sovereign::FieldSpec;
using sovereign::Mode;
using sovereign_bench::EcbSiv;
using sovereign_bench::EvpSiv;
using sovereign_bench::RawGcm;
using sovereign_bench::RawSiv;

constexpr std::int64_t kSizes[] = {16, 32, 64, 256, 1024};
constexpr double kTargetRatio = 0.6;
constexpr std::int64_t kTargetSize = 32;

// Path and record id as an application would pass them; with a 2-letter
// region they give the SDK 30 bytes of associated data (header 8 + path 11 + record id 11).
const FieldContext& Context() {
  static const FieldContext context{"/email", "user-42"};
  return context;
}

FieldSpec Spec(Mode mode) { return FieldSpec{"us", "users", "email", mode}; }

struct Env {
  std::filesystem::path temp_dir;
  std::shared_ptr<sovereign::EmbeddedKeystore> keystore;
  std::unique_ptr<Client> client;
  std::size_t aad_size = 0;  // associated data the SDK authenticates per field
};
Env* g_env = nullptr;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "sovereign_field_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(sovereign::Result<T> result, const char* what) {
  if (!result.ok()) Fail(std::string(what) + ": " + result.status().ToString());
  return std::move(result).value();
}

std::string Plaintext(std::int64_t size) {
  std::string s(static_cast<std::size_t>(size), 'a');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

std::span<const std::uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

template <std::size_t N>
std::array<std::uint8_t, N> RandomKey() {
  std::array<std::uint8_t, N> key{};
  if (RAND_bytes(key.data(), static_cast<int>(N)) != 1) Fail("RAND_bytes");
  return key;
}

void Count(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// ---- public API ------------------------------------------------------------

void ApiEncryptBinary(benchmark::State& state, Mode mode) {
  const std::string plaintext = Plaintext(state.range(0));
  const FieldSpec spec = Spec(mode);
  for (auto _ : state) {
    auto ciphertext = g_env->client->EncryptBinary(spec, plaintext, Context());
    if (!ciphertext.ok()) {
      state.SkipWithError("EncryptBinary failed");
      break;
    }
    benchmark::DoNotOptimize(ciphertext->data());
  }
  Count(state);
}

void ApiEncryptText(benchmark::State& state, Mode mode) {
  const std::string plaintext = Plaintext(state.range(0));
  const FieldSpec spec = Spec(mode);
  for (auto _ : state) {
    auto ciphertext = g_env->client->Encrypt(spec, plaintext, Context());
    if (!ciphertext.ok()) {
      state.SkipWithError("Encrypt failed");
      break;
    }
    benchmark::DoNotOptimize(ciphertext->data());
  }
  Count(state);
}

// The append forms write into a buffer the caller reuses, as a record writer does.
void ApiEncryptAppend(benchmark::State& state, Mode mode) {
  const std::string plaintext = Plaintext(state.range(0));
  const FieldSpec spec = Spec(mode);
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!g_env->client->EncryptAppend(spec, plaintext, Context(), out).ok()) {
      state.SkipWithError("EncryptAppend failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  Count(state);
}

void ApiDecryptAppend(benchmark::State& state, Mode mode) {
  const auto ciphertext = Must(g_env->client->Encrypt(Spec(mode), Plaintext(state.range(0)), Context()), "Encrypt");
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!g_env->client->DecryptAppend(ciphertext, Context(), out).ok()) {
      state.SkipWithError("DecryptAppend failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  Count(state);
}

void ApiDecryptBinary(benchmark::State& state, Mode mode) {
  const auto ciphertext =
      Must(g_env->client->EncryptBinary(Spec(mode), Plaintext(state.range(0)), Context()), "EncryptBinary");
  for (auto _ : state) {
    auto plaintext = g_env->client->DecryptBinary(ciphertext, Context());
    if (!plaintext.ok()) {
      state.SkipWithError("DecryptBinary failed");
      break;
    }
    benchmark::DoNotOptimize(plaintext->data());
  }
  Count(state);
}

void ApiDecryptText(benchmark::State& state, Mode mode) {
  const auto ciphertext = Must(g_env->client->Encrypt(Spec(mode), Plaintext(state.range(0)), Context()), "Encrypt");
  for (auto _ : state) {
    auto plaintext = g_env->client->Decrypt(ciphertext, Context());
    if (!plaintext.ok()) {
      state.SkipWithError("Decrypt failed");
      break;
    }
    benchmark::DoNotOptimize(plaintext->data());
  }
  Count(state);
}

// ---- raw OpenSSL -------------------------------------------------------------
// Outputs go to preallocated buffers; the associated data has the SDK's size.

void RawGcmEncrypt(benchmark::State& state) {
  const auto key = RandomKey<32>();
  RawGcm gcm(key);
  const std::string plaintext = Plaintext(state.range(0));
  const std::vector<std::uint8_t> aad(g_env->aad_size, 0x5a);
  const std::size_t n = plaintext.size();
  std::vector<std::uint8_t> out(sovereign_bench::kNonceSize + n + sovereign_bench::kTagSize);
  const std::span<std::uint8_t> nonce(out.data(), sovereign_bench::kNonceSize);
  for (auto _ : state) {
    sovereign_bench::NonceFill(nonce);
    if (!gcm.Seal(nonce, aad, Bytes(plaintext), out.data() + nonce.size(), out.data() + nonce.size() + n)) {
      state.SkipWithError("raw GCM seal failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  Count(state);
}

void RawGcmDecrypt(benchmark::State& state) {
  const auto key = RandomKey<32>();
  RawGcm gcm(key);
  const std::string plaintext = Plaintext(state.range(0));
  const std::vector<std::uint8_t> aad(g_env->aad_size, 0x5a);
  const std::size_t n = plaintext.size();
  std::array<std::uint8_t, sovereign_bench::kNonceSize> nonce{};
  std::array<std::uint8_t, sovereign_bench::kTagSize> tag{};
  std::vector<std::uint8_t> ciphertext(n), opened(n);
  sovereign_bench::NonceFill(nonce);
  if (!gcm.Seal(nonce, aad, Bytes(plaintext), ciphertext.data(), tag.data())) Fail("raw GCM seal");
  for (auto _ : state) {
    if (!gcm.Open(nonce, aad, ciphertext, tag, opened.data())) {
      state.SkipWithError("raw GCM open failed");
      break;
    }
    benchmark::DoNotOptimize(opened.data());
    benchmark::ClobberMemory();
  }
  Count(state);
}

// Seal and open for both SIV baselines (S2V+CTR and EVP AES-256-SIV).
template <typename Siv>
void RawSivEncrypt(benchmark::State& state) {
  const auto key = RandomKey<64>();
  Siv siv(key);
  const std::string plaintext = Plaintext(state.range(0));
  const std::vector<std::uint8_t> aad(g_env->aad_size, 0x5a);
  std::vector<std::uint8_t> out(plaintext.size() + sovereign_bench::kTagSize);
  for (auto _ : state) {
    if (!siv.Seal(aad, Bytes(plaintext), out.data())) {
      state.SkipWithError("raw SIV seal failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  Count(state);
}

template <typename Siv>
void RawSivDecrypt(benchmark::State& state) {
  const auto key = RandomKey<64>();
  Siv siv(key);
  const std::string plaintext = Plaintext(state.range(0));
  const std::vector<std::uint8_t> aad(g_env->aad_size, 0x5a);
  std::vector<std::uint8_t> sealed(plaintext.size() + sovereign_bench::kTagSize), opened(plaintext.size());
  if (!siv.Seal(aad, Bytes(plaintext), sealed.data())) Fail("raw SIV seal");
  for (auto _ : state) {
    if (!siv.Open(aad, sealed, opened.data())) {
      state.SkipWithError("raw SIV open failed");
      break;
    }
    benchmark::DoNotOptimize(opened.data());
    benchmark::ClobberMemory();
  }
  Count(state);
}

// ---- setup -------------------------------------------------------------------

Env MakeEnv() {
  Env env;
  std::string pattern = (std::filesystem::temp_directory_path() / "sovereign-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp failed");
  env.temp_dir = pattern;
  env.keystore = Must(sovereign::EmbeddedKeystore::Init(env.temp_dir / "keystore", "us"), "EmbeddedKeystore::Init");
  (void)Must(env.keystore->CreateKey("users"), "CreateKey");
  env.client = Must(Client::New(env.keystore), "Client::New");
  // The associated data is the envelope header plus the encoded context (docs/format.md).
  const auto sample = Must(env.client->EncryptBinary(Spec(Mode::kRandom), "x", Context()), "EncryptBinary");
  const std::size_t header = Must(sovereign::ParseEnvelopeHeader(sample), "ParseEnvelopeHeader").second;
  env.aad_size = header + 4 + Context().path.size() + 1 + 4 + Context().record_id->size();
  return env;
}

// SelfCheck makes sure every line measures a correct computation: API round
// trips, raw round trips, and the S2V+CTR baseline byte-identical to OpenSSL's SIV.
void SelfCheck() {
  const auto siv_key = RandomKey<64>();
  RawSiv raw(siv_key);
  EvpSiv evp(siv_key);
  EcbSiv ecb(siv_key);
  const std::vector<std::uint8_t> aad(g_env->aad_size, 0x5a);
  for (const std::int64_t size : kSizes) {
    const std::string plaintext = Plaintext(size);
    std::vector<std::uint8_t> a(plaintext.size() + 16), b(a.size()), c(a.size()), opened(plaintext.size());
    if (!raw.Seal(aad, Bytes(plaintext), a.data()) || !evp.Seal(aad, Bytes(plaintext), b.data()) ||
        !ecb.Seal(aad, Bytes(plaintext), c.data()) || a != b || a != c) {
      Fail("raw S2V+CTR baselines do not match EVP AES-256-SIV");
    }
    if (!raw.Open(aad, a, opened.data()) || !evp.Open(aad, a, opened.data()) || !ecb.Open(aad, a, opened.data()) ||
        std::string(opened.begin(), opened.end()) != plaintext) {
      Fail("raw SIV open failed");
    }
    a[20] ^= 1;
    if (raw.Open(aad, a, opened.data()) || evp.Open(aad, a, opened.data()) || ecb.Open(aad, a, opened.data())) {
      Fail("raw SIV accepted a forgery");
    }
    for (const Mode mode : {Mode::kRandom, Mode::kDeterministic}) {
      const auto text = Must(g_env->client->Encrypt(Spec(mode), plaintext, Context()), "Encrypt");
      const auto binary = Must(g_env->client->EncryptBinary(Spec(mode), plaintext, Context()), "EncryptBinary");
      if (Must(g_env->client->Decrypt(text, Context()), "Decrypt") != plaintext ||
          Must(g_env->client->DecryptBinary(binary, Context()), "DecryptBinary") != plaintext) {
        Fail("API round trip mismatch");
      }
    }
  }
}

void Register() {
  using Fn = void (*)(benchmark::State&, Mode);
  struct Api {
    const char* op;
    const char* form;
    Fn fn;
  };
  const Api api[] = {{"encrypt", "api_binary", ApiEncryptBinary}, {"encrypt", "api_text", ApiEncryptText},
                     {"encrypt", "api_append", ApiEncryptAppend}, {"decrypt", "api_binary", ApiDecryptBinary},
                     {"decrypt", "api_text", ApiDecryptText},     {"decrypt", "api_append", ApiDecryptAppend}};
  for (const Mode mode : {Mode::kRandom, Mode::kDeterministic}) {
    const std::string m = mode == Mode::kRandom ? "random" : "deterministic";
    for (const std::string op : {"encrypt", "decrypt"}) {
      for (const std::int64_t size : kSizes) {
        const std::string prefix = m + "/" + op + "/";
        if (mode == Mode::kRandom) {
          benchmark::RegisterBenchmark((prefix + "raw").c_str(), op == "encrypt" ? RawGcmEncrypt : RawGcmDecrypt)
              ->Arg(size);
        } else {
          benchmark::RegisterBenchmark((prefix + "raw").c_str(),
                                       op == "encrypt" ? RawSivEncrypt<RawSiv> : RawSivDecrypt<RawSiv>)
              ->Arg(size);
          benchmark::RegisterBenchmark((prefix + "raw_evp_siv").c_str(),
                                       op == "encrypt" ? RawSivEncrypt<EvpSiv> : RawSivDecrypt<EvpSiv>)
              ->Arg(size);
          benchmark::RegisterBenchmark((prefix + "raw_ecb_cmac").c_str(),
                                       op == "encrypt" ? RawSivEncrypt<EcbSiv> : RawSivDecrypt<EcbSiv>)
              ->Arg(size);
        }
        for (const Api& a : api) {
          if (op != a.op) continue;
          benchmark::RegisterBenchmark((prefix + a.form).c_str(), a.fn, mode)->Arg(size);
        }
      }
    }
    // One Client shared by all threads; wall-clock rate so that 2 threads can show 2x.
    benchmark::RegisterBenchmark((m + "/encrypt/api_binary_mt").c_str(), ApiEncryptBinary, mode)
        ->Arg(kTargetSize)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Env env = MakeEnv();
  g_env = &env;
  SelfCheck();
  std::cout << "keystore: " << (env.temp_dir / "keystore").string() << "\n"
            << "associated data per field: " << env.aad_size << " bytes (raw baselines use the same size)\n"
            << "self-check: API round trips ok; raw S2V+CTR == EVP AES-256-SIV\n";
  Register();
  sovereign_bench::RatioReporter reporter(kTargetRatio, kTargetSize);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary(std::cout);
  benchmark::Shutdown();

  g_env = nullptr;
  env.client.reset();
  env.keystore.reset();
  std::error_code ec;
  std::filesystem::remove_all(env.temp_dir, ec);
  return 0;
}
