// The machine's ceilings for the bench: how fast this CPU runs the primitives
// a backup and a verification are made of, on the corpus's own bytes.
//
//   ceiling SAMPLE_FILE [--seconds S] [--tries N] [--threads N] [--chunk BYTES]
//
// SAMPLE_FILE is cut into chunks of --chunk bytes (default 1 MiB, Coffer's
// average chunk size) and held in memory. Each figure is the best of N tries
// (default 3) of the rate over about S seconds (default 1), on one thread and
// on N threads (default: every core this process may run on), in MB/s (10^6
// bytes) of the chunks' plaintext:
//
//   zstd_compress     ZSTD_compressCCtx at level 3
//   zstd_decompress   ZSTD_decompressDCtx of those frames
//   blake2b           keyed BLAKE2b-256, as Coffer computes ids
//   encrypt           XChaCha20-Poly1305-IETF, as Coffer seals objects
//   decrypt           the same, authenticated
// The last three run Coffer's own store/crypto/primitives.cc (OpenSSL's
// AVX-512 code; libsodium's bytes), so the ceiling is that of the primitives
// Coffer uses.
//   backup_pipeline   hash + compress (kept raw if it does not shrink) + encrypt
//                     of what compression left: the CPU work of storing a chunk
//   verify_pipeline   decrypt + decompress + hash: the CPU work of checking one
//
// No tool that does this work per byte can be faster than these rates on this
// machine. Prints one JSON object on standard output. Built by bench/run with
// g++ -O2 -I. ... store/crypto/primitives.cc ... -lsodium -lzstd -lcrypto;
// not part of the CMake build.
#include <sodium.h>
#include <zstd.h>

#include "store/crypto/primitives.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>

namespace {

constexpr int kZstdLevel = 3;
constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;

struct Chunk {
  std::string plain;
  std::string frame;   // zstd frame of `plain`
  std::string stored;  // `frame` if smaller than `plain`, else `plain`
  bool compressed = false;
  std::string sealed;        // XChaCha20-Poly1305 of `stored` (ciphertext and tag)
  std::string sealed_plain;  // XChaCha20-Poly1305 of `plain`, for the decrypt figure
};

uint8_t g_key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
uint8_t g_id_key[crypto_generichash_KEYBYTES];
const coffer::crypto::IdHasher* g_hasher = nullptr;  // keyed with g_id_key
uint8_t g_nonce[kNonceSize];

// Scratch buffers of one thread, big enough for any chunk.
struct Scratch {
  explicit Scratch(size_t max_chunk)
      : out(ZSTD_compressBound(max_chunk) + kTagSize + 64),
        plain(max_chunk + kTagSize + 64),
        cctx(ZSTD_createCCtx()),
        dctx(ZSTD_createDCtx()) {}
  ~Scratch() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
  std::vector<uint8_t> out;
  std::vector<uint8_t> plain;
  ZSTD_CCtx* cctx;
  ZSTD_DCtx* dctx;
};

const uint8_t* U8(const std::string& s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

void Die(const char* what) {
  std::fprintf(stderr, "ceiling: %s\n", what);
  std::exit(1);
}

void Hash(Scratch& s, const std::string& data) {
  const coffer::ObjectId id = g_hasher->Hash({U8(data), data.size()});
  std::memcpy(s.out.data(), id.bytes.data(), id.bytes.size());
}

size_t Compress(Scratch& s, const std::string& data) {
  size_t n =
      ZSTD_compressCCtx(s.cctx, s.out.data(), s.out.size(), data.data(), data.size(), kZstdLevel);
  if (ZSTD_isError(n)) Die("zstd compression failed");
  return n;
}

void Decompress(Scratch& s, const Chunk& c) {
  size_t n =
      ZSTD_decompressDCtx(s.dctx, s.plain.data(), s.plain.size(), c.frame.data(), c.frame.size());
  if (ZSTD_isError(n) || n != c.plain.size()) Die("zstd decompression failed");
}

void Encrypt(Scratch& s, const uint8_t* data, size_t size) {
  coffer::crypto::XChaChaEncrypt(s.out.data(), data, size, {}, g_nonce, g_key);
}

void Decrypt(Scratch& s, const std::string& sealed, size_t plain_size) {
  if (sealed.size() != plain_size + kTagSize ||
      !coffer::crypto::XChaChaDecrypt(s.plain.data(), U8(sealed), sealed.size(), {}, g_nonce,
                                      g_key)) {
    Die("decryption failed");
  }
}

// Runs `op` over the chunks on `threads` threads for about `seconds`; each
// thread starts at its own place and cycles through all chunks. MB/s of the
// chunks' plaintext.
double Rate(const std::vector<Chunk>& chunks, size_t max_chunk, int threads, double seconds,
            const std::function<void(Scratch&, const Chunk&)>& op) {
  std::atomic<uint64_t> total_bytes{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Scratch scratch(max_chunk);
      size_t i = chunks.size() * t / threads;
      uint64_t bytes = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const Chunk& c = chunks[i];
        op(scratch, c);
        bytes += c.plain.size();
        if (++i == chunks.size()) i = 0;
      }
      total_bytes += bytes;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(total_bytes) / 1e6 / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Die("usage: ceiling SAMPLE_FILE [--seconds S] [--tries N] [--threads N] [--chunk BYTES]");
  }
  std::string path = argv[1];
  double seconds = 1.0;
  int tries = 3;
  size_t chunk_size = 1 << 20;
  cpu_set_t set;
  int threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else if (opt == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (opt == "--chunk")
      chunk_size = std::strtoull(argv[i + 1], nullptr, 10);
    else if (opt == "--tries")
      tries = std::atoi(argv[i + 1]);
    else
      Die(("unknown option " + opt).c_str());
  }
  if (seconds <= 0 || threads < 1 || tries < 1 || chunk_size < 64) Die("bad option value");
  if (sodium_init() < 0) Die("sodium_init failed");
  randombytes_buf(g_key, sizeof g_key);
  randombytes_buf(g_id_key, sizeof g_id_key);
  randombytes_buf(g_nonce, sizeof g_nonce);
  const coffer::crypto::IdHasher hasher({g_id_key, sizeof g_id_key});
  g_hasher = &hasher;

  std::ifstream in(path, std::ios::binary);
  if (!in) Die(("cannot open " + path).c_str());
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.empty()) Die("the sample is empty");

  std::vector<Chunk> chunks;
  Scratch prep(chunk_size);
  uint64_t plain_bytes = 0, stored_bytes = 0;
  for (size_t at = 0; at < data.size(); at += chunk_size) {
    Chunk c;
    c.plain = data.substr(at, chunk_size);
    size_t n = Compress(prep, c.plain);
    c.frame.assign(reinterpret_cast<char*>(prep.out.data()), n);
    c.compressed = c.frame.size() < c.plain.size();
    c.stored = c.compressed ? c.frame : c.plain;
    Encrypt(prep, U8(c.stored), c.stored.size());
    c.sealed.assign(reinterpret_cast<char*>(prep.out.data()), c.stored.size() + kTagSize);
    Encrypt(prep, U8(c.plain), c.plain.size());
    c.sealed_plain.assign(reinterpret_cast<char*>(prep.out.data()), c.plain.size() + kTagSize);
    plain_bytes += c.plain.size();
    stored_bytes += c.stored.size();
    chunks.push_back(std::move(c));
  }
  data.clear();
  data.shrink_to_fit();

  struct Figure {
    const char* name;
    std::function<void(Scratch&, const Chunk&)> op;
  };
  const std::vector<Figure> figures = {
      {"zstd_compress", [](Scratch& s, const Chunk& c) { Compress(s, c.plain); }},
      {"zstd_decompress", [](Scratch& s, const Chunk& c) { Decompress(s, c); }},
      {"blake2b", [](Scratch& s, const Chunk& c) { Hash(s, c.plain); }},
      {"encrypt", [](Scratch& s, const Chunk& c) { Encrypt(s, U8(c.plain), c.plain.size()); }},
      {"decrypt", [](Scratch& s, const Chunk& c) { Decrypt(s, c.sealed_plain, c.plain.size()); }},
      {"backup_pipeline",
       [](Scratch& s, const Chunk& c) {
         Hash(s, c.plain);
         size_t n = Compress(s, c.plain);
         if (n < c.plain.size()) {
           Encrypt(s, s.out.data(), n);  // in place, as libsodium allows
         } else {
           Encrypt(s, U8(c.plain), c.plain.size());
         }
       }},
      {"verify_pipeline",
       [](Scratch& s, const Chunk& c) {
         Decrypt(s, c.sealed, c.stored.size());
         if (c.compressed) Decompress(s, c);
         Hash(s, c.plain);
       }},
  };

  std::printf("{\n  \"sample_bytes\": %llu,\n  \"chunk_bytes\": %zu,\n  \"chunks\": %zu,\n",
              static_cast<unsigned long long>(plain_bytes), chunk_size, chunks.size());
  std::printf(
      "  \"stored_ratio\": %.4f,\n  \"threads\": %d,\n  \"seconds_per_figure\": %.2f,\n"
      "  \"tries\": %d,\n",
      static_cast<double>(stored_bytes) / static_cast<double>(plain_bytes), threads, seconds,
      tries);
  // A ceiling is the best the machine can do, and other processes only ever slow a
  // measurement down: so each figure is the best of --tries, one thread and all
  // threads taking turns, so that a busy moment does not land on one of them only.
  std::vector<double> one(figures.size()), all(figures.size());
  for (int t = 0; t < tries; ++t) {
    for (size_t i = 0; i < figures.size(); ++i) {
      one[i] = std::max(one[i], Rate(chunks, chunk_size, 1, seconds, figures[i].op));
      all[i] = std::max(all[i], Rate(chunks, chunk_size, threads, seconds, figures[i].op));
    }
  }
  for (int pass = 0; pass < 2; ++pass) {
    std::printf(pass == 0 ? "  \"mbs_1\": {" : "},\n  \"mbs_all\": {");
    for (size_t i = 0; i < figures.size(); ++i) {
      std::printf("%s\"%s\": %.1f", i ? ", " : "", figures[i].name, (pass == 0 ? one : all)[i]);
    }
  }
  std::printf("}\n}\n");
  return 0;
}
