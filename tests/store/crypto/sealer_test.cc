#include "store/crypto/sealer.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/crypto/zstd_codec.h"
#include "tests/store/crypto/test_data.h"

namespace coffer::crypto {
namespace {

using testing::CompressibleBytes;
using testing::RandomBytes;

class SealerTest : public ::testing::TestWithParam<bool> {
 protected:
  SealerTest()
      : keys_(GetParam() ? KeySet::Generate() : KeySet::Unencrypted()), sealer_(keys_, 3) {}

  Bytes SealOrDie(ByteView plain, ObjectKind kind = ObjectKind::kChunk) {
    Result<Bytes> sealed = sealer_.Seal(kind, sealer_.IdOf(plain), plain);
    EXPECT_TRUE(sealed.ok()) << sealed.status().ToString();
    return sealed.ok() ? *sealed : Bytes();
  }

  void ExpectRoundTrip(const Bytes& plain) {
    const ObjectId id = sealer_.IdOf(plain);
    Result<Bytes> sealed = sealer_.Seal(ObjectKind::kChunk, id, plain);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    Result<Bytes> opened = sealer_.Open(ObjectKind::kChunk, id, *sealed);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_TRUE(*opened == plain);
    Result<Bytes> checked = sealer_.Open(ObjectKind::kChunk, id, *sealed, IdCheck::kAlways);
    EXPECT_TRUE(checked.ok()) << checked.status().ToString();
  }

  KeySet keys_;
  Sealer sealer_;
};

INSTANTIATE_TEST_SUITE_P(Modes, SealerTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Encrypted" : "Unencrypted"; });

// Text-like bytes whose zstd size differs between levels 3 and 5: words with
// numbers in them, as source files and logs have.
Bytes TextLikeBytes(size_t n) {
  std::mt19937 rng(7);
  std::string text;
  while (text.size() < n) {
    text += "entry " + std::to_string(rng() % 100000) + " of " + std::to_string(rng() % 977) +
            (rng() % 3 ? " kept\n" : " removed at " + std::to_string(rng()) + "\n");
  }
  text.resize(n);
  return Bytes(text.begin(), text.end());
}

size_t ZstdSize(ByteView data, int level) {
  Bytes out(ZSTD_compressBound(data.size()));
  return ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
}

TEST(SealerLevelTest, SmallEffortIsTwoLevelsHigher) {
  const KeySet keys = KeySet::Unencrypted();  // the payload is then the sealed bytes after 2
  const Sealer sealer(keys, 3);
  const Bytes plain = TextLikeBytes(100 * 1024);
  ASSERT_NE(ZstdSize(plain, 3), ZstdSize(plain, 5)) << "the levels must be told apart";
  auto payload_size = [&](const Sealer& s, Effort effort) {
    Result<Bytes> sealed = s.Seal(ObjectKind::kChunk, s.IdOf(plain), plain, effort);
    EXPECT_TRUE(sealed.ok());
    return sealed.ok() ? sealed->size() - 2 : 0;
  };
  EXPECT_EQ(payload_size(sealer, Effort::kStandard), ZstdSize(plain, 3));
  EXPECT_EQ(payload_size(sealer, Effort::kSmall), ZstdSize(plain, 5));
  const Sealer strongest(keys, kMaxZstdLevel);  // never above the highest level
  EXPECT_EQ(payload_size(strongest, Effort::kSmall), ZstdSize(plain, kMaxZstdLevel));
}

TEST_P(SealerTest, EmptyObjectRoundTrips) {
  ExpectRoundTrip({});
}

TEST_P(SealerTest, SmallObjectRoundTrips) {
  ExpectRoundTrip({'h', 'i'});
  ExpectRoundTrip(CompressibleBytes(300));
}

TEST_P(SealerTest, FiveMiBCompressibleObjectRoundTripsAndShrinks) {
  const Bytes plain = CompressibleBytes(5 << 20);
  ExpectRoundTrip(plain);
  EXPECT_LT(SealOrDie(plain).size(), plain.size() / 2);
}

TEST_P(SealerTest, FiveMiBIncompressibleObjectRoundTripsUncompressed) {
  const Bytes plain = RandomBytes(5 << 20);
  ExpectRoundTrip(plain);
  const Bytes sealed = SealOrDie(plain);
  EXPECT_EQ(sealed[1] & Sealer::kFlagCompressed, 0);
  EXPECT_LE(sealed.size(), plain.size() + plain.size() / 32 + 64);
}

TEST_P(SealerTest, EncryptedFlagFollowsTheKeySet) {
  EXPECT_EQ(sealer_.encrypted(), GetParam());
  const Bytes sealed = SealOrDie(RandomBytes(100));
  EXPECT_EQ(sealed[0], Sealer::kFormatVersion);
  EXPECT_EQ((sealed[1] & Sealer::kFlagEncrypted) != 0, GetParam());
}

TEST_P(SealerTest, SamePlaintextGivesTheSameId) {
  const Bytes plain = RandomBytes(1000);
  EXPECT_EQ(sealer_.IdOf(plain), sealer_.IdOf(plain));
  EXPECT_NE(sealer_.IdOf(plain), sealer_.IdOf(RandomBytes(1000, 2)));
}

TEST_P(SealerTest, OpenFailsUnderAnotherId) {
  const Bytes plain = CompressibleBytes(1000);
  const Bytes sealed = SealOrDie(plain);
  const ObjectId other = sealer_.IdOf(RandomBytes(10));
  Result<Bytes> opened = sealer_.Open(ObjectKind::kChunk, other, sealed);
  EXPECT_EQ(opened.status().code(), Code::kCorruption);
  EXPECT_NE(opened.status().message().find("chunk " + other.short_hex()), std::string::npos)
      << opened.status().message();
}

TEST_P(SealerTest, SealRefusesPlaintextAboveTheLimit) {
  const Bytes plain(Sealer::kMaxPlaintextSize + 1);
  EXPECT_EQ(sealer_.Seal(ObjectKind::kChunk, ObjectId{}, plain).status().code(),
            Code::kInvalidArgument);
}

TEST_P(SealerTest, ConcurrentSealAndOpenRoundTrip) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const uint32_t seed = t * 100 + i;
        const Bytes plain = i % 2 ? RandomBytes(20000, seed) : CompressibleBytes(20000, seed);
        const ObjectId id = sealer_.IdOf(plain);
        Result<Bytes> sealed = sealer_.Seal(ObjectKind::kChunk, id, plain);
        Result<Bytes> opened = sealed.ok() ? sealer_.Open(ObjectKind::kChunk, id, *sealed) : sealed;
        if (!opened.ok() || *opened != plain) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

class EncryptedSealerTest : public ::testing::Test {
 protected:
  Bytes SealOrDie(const Sealer& s, ByteView plain, ObjectKind kind = ObjectKind::kChunk) {
    Result<Bytes> sealed = s.Seal(kind, s.IdOf(plain), plain);
    EXPECT_TRUE(sealed.ok()) << sealed.status().ToString();
    return sealed.ok() ? *sealed : Bytes();
  }

  KeySet keys_ = KeySet::Generate();
  Sealer sealer_{keys_, 3};
};

TEST_F(EncryptedSealerTest, IdsAreKeyed) {
  const Bytes plain = RandomBytes(100);
  KeySet other_keys = KeySet::Generate();
  KeySet none = KeySet::Unencrypted();
  EXPECT_NE(sealer_.IdOf(plain), Sealer(other_keys, 3).IdOf(plain));
  EXPECT_NE(sealer_.IdOf(plain), Sealer(none, 3).IdOf(plain));
}

TEST_F(EncryptedSealerTest, SealingTwiceGivesDifferentBytesButTheSameId) {
  const Bytes plain = CompressibleBytes(4000);
  EXPECT_NE(SealOrDie(sealer_, plain), SealOrDie(sealer_, plain));
  EXPECT_EQ(sealer_.IdOf(plain), sealer_.IdOf(plain));
}

TEST_F(EncryptedSealerTest, DistinctivePlaintextDoesNotAppearInSealedBytes) {
  const std::string secret = "TOP-SECRET-PAYROLL-2024-0xDEADBEEF";
  // Raw (too short to compress) and compressed paths alike.
  for (const std::string& plain : {secret, secret + std::string(5000, ' ') + secret}) {
    const Bytes sealed = SealOrDie(sealer_, AsBytes(plain));
    const std::string_view haystack = AsChars(sealed);
    EXPECT_EQ(haystack.find(secret), std::string_view::npos);
    EXPECT_EQ(haystack.find("TOP-SECRET"), std::string_view::npos);
  }
}

TEST_F(EncryptedSealerTest, PaddedSizesTakeFewDistinctValues) {
  std::set<size_t> sizes;
  size_t count = 0;
  for (size_t n = 60000; n < 64000; n += 3, ++count) {
    sizes.insert(SealOrDie(sealer_, RandomBytes(n, static_cast<uint32_t>(n))).size());
  }
  EXPECT_GT(count, 1000u);
  EXPECT_LE(sizes.size(), 5u) << "distinct sealed sizes for " << count << " plaintexts";
}

TEST(SealerDeathTest, AbortsRatherThanSealWithoutTheKeyWhenItsKeySetWasMovedFrom) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  KeySet keys = KeySet::Generate();
  Sealer sealer(keys, 3);
  KeySet moved = std::move(keys);
  EXPECT_DEATH((void)sealer.Seal(ObjectKind::kChunk, ObjectId{}, RandomBytes(10)), "moved");
  EXPECT_DEATH((void)sealer.IdOf(RandomBytes(10)), "moved");
}

}  // namespace
}  // namespace coffer::crypto
