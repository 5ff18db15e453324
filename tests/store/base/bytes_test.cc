#include "store/base/bytes.h"

#include <gtest/gtest.h>

#include "store/base/object_id.h"

namespace coffer {
namespace {

TEST(BytesTest, HexRoundTrip) {
  Bytes in = {0x00, 0x7f, 0xff, 0x10};
  EXPECT_EQ(ToHex(in), "007fff10");
  Bytes out;
  ASSERT_TRUE(FromHex("007FFF10", &out));
  EXPECT_EQ(out, in);
  EXPECT_FALSE(FromHex("abc", &out));
  EXPECT_FALSE(FromHex("zz", &out));
}

TEST(ObjectIdTest, ParsesOnlyFullLengthIds) {
  std::string hex(64, 'a');
  auto id = ObjectId::FromHex(hex);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->hex(), hex);
  EXPECT_FALSE(ObjectId::FromHex(hex.substr(2)).has_value());
}

}  // namespace
}  // namespace coffer
