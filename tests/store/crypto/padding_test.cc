#include "store/crypto/padding.h"

#include <gtest/gtest.h>

#include <set>

#include "store/base/bytes.h"

namespace coffer::crypto {
namespace {

TEST(PaddingTest, PadmeLengthMatchesTheReferenceValues) {
  EXPECT_EQ(PadmeLength(0), 0u);
  EXPECT_EQ(PadmeLength(1), 1u);
  EXPECT_EQ(PadmeLength(9), 10u);
  EXPECT_EQ(PadmeLength(100), 104u);
  EXPECT_EQ(PadmeLength(1000), 1024u);
  EXPECT_EQ(PadmeLength(1 << 20), size_t{1} << 20);
  EXPECT_EQ(PadmeLength((1 << 20) + 1), (size_t{1} << 20) + (1 << 15));
}

TEST(PaddingTest, PadmeOverheadIsAtMostTwelvePercent) {
  for (size_t n = 1; n < 200000; n += 7) {
    EXPECT_GE(PadmeLength(n), n);
    EXPECT_LE(PadmeLength(n), n + n * 12 / 100 + 1) << n;
  }
}

TEST(PaddingTest, UnpadReturnsWhatPadWrapped) {
  for (size_t n : {0, 1, 2, 7, 100, 1000, 65537}) {
    Bytes buf(PaddedSize(n), 0xAA);
    Pad(buf, n);
    ASSERT_EQ(Unpad(buf), n);
  }
}

TEST(PaddingTest, UnpadRefusesMissingOrNonCanonicalPadding) {
  Bytes buf(PaddedSize(100), 0);
  EXPECT_EQ(Unpad(buf), std::nullopt);  // no marker
  Pad(buf, 100);
  buf.push_back(0);
  EXPECT_EQ(Unpad(buf), std::nullopt);  // longer than Padmé says
  Bytes no_marker(PaddedSize(100), 0x11);
  EXPECT_EQ(Unpad(no_marker), std::nullopt);
  EXPECT_EQ(Unpad(Bytes()), std::nullopt);
}

}  // namespace
}  // namespace coffer::crypto
