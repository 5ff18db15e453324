// How fast Seal, Open and IdOf run on 1 MiB chunks, in MB/s. Not a test: it
// asserts nothing about speed (see bench/micro/CMakeLists.txt).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "store/crypto/sealer.h"
#include "tests/store/crypto/test_data.h"

namespace coffer::crypto {
namespace {

void Measure(const char* what, const Bytes& chunk) {
  KeySet keys = KeySet::Generate();
  Sealer sealer(keys, 3);
  const ObjectId id = sealer.IdOf(chunk);
  constexpr int kRounds = 200;
  using Clock = std::chrono::steady_clock;
  Bytes sealed;
  auto t0 = Clock::now();
  for (int i = 0; i < kRounds; ++i) sealed = *sealer.Seal(ObjectKind::kChunk, id, chunk);
  auto t1 = Clock::now();
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(sealer.Open(ObjectKind::kChunk, id, sealed).ok());
  auto t2 = Clock::now();
  for (int i = 0; i < kRounds; ++i) (void)sealer.IdOf(chunk);
  auto t3 = Clock::now();
  const double mb = kRounds * chunk.size() / 1e6;
  auto rate = [&](auto a, auto b) { return mb / std::chrono::duration<double>(b - a).count(); };
  std::printf("%-14s seal %7.0f MB/s  open %7.0f MB/s  id %7.0f MB/s  (sealed %zu of %zu)\n", what,
              rate(t0, t1), rate(t1, t2), rate(t2, t3), sealed.size(), chunk.size());
}

TEST(SealerBench, OneMiBChunks) {
  Measure("incompressible", testing::RandomBytes(1 << 20));
  Measure("compressible", testing::CompressibleBytes(1 << 20));
}

}  // namespace
}  // namespace coffer::crypto
