// The values people type (durations, sizes) and read (sizes, durations,
// names, modes) on coffer's command line.
#include "tools/units.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace coffer::tools {
namespace {

using std::chrono::milliseconds;

int64_t Millis(std::string_view text) {
  auto parsed = ParseDuration(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
  return parsed.ok() ? parsed->count() : -1;
}

TEST(ParseDurationTest, UnitsAddUpAndABareNumberIsSeconds) {
  EXPECT_EQ(Millis("30s"), 30'000);
  EXPECT_EQ(Millis("5m"), 300'000);
  EXPECT_EQ(Millis("1h30m"), 5'400'000);
  EXPECT_EQ(Millis("2d"), 172'800'000);
  EXPECT_EQ(Millis("90"), 90'000);
  EXPECT_EQ(Millis("5m5"), 305'000);  // a trailing number is seconds
  EXPECT_EQ(Millis("0"), 0);
}

TEST(ParseDurationTest, FractionsAreAllowed) {
  EXPECT_EQ(Millis("1.5h"), 5'400'000);
  EXPECT_EQ(Millis("0.25"), 250);
  EXPECT_EQ(Millis("2.5s"), 2'500);
}

TEST(ParseDurationTest, WhatIsNotADurationIsAUsageError) {
  for (const char* text : {"", "s", "h5", "5x", "-5", "5 m", "1.5.5", "1..5", "5M", "1w"}) {
    auto parsed = ParseDuration(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(parsed.status().message().find("invalid duration '" + std::string(text) + "'"),
              std::string::npos)
        << parsed.status().message();
  }
}

TEST(ParseDurationTest, MoreThanMillisecondsInSixtyFourBitsIsRefused) {
  EXPECT_FALSE(ParseDuration("100000000000000000000").ok());
  EXPECT_FALSE(ParseDuration("200000000000d").ok());
  EXPECT_EQ(Millis("100000000000d"), 8'640'000'000'000'000'000);  // under the bound
}

uint64_t Bytes(std::string_view text) {
  auto parsed = ParseSize(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
  return parsed.ok() ? *parsed : 0;
}

TEST(ParseSizeTest, SuffixesArePowersOf1024InEitherCase) {
  EXPECT_EQ(Bytes("0"), 0u);
  EXPECT_EQ(Bytes("100"), 100u);
  EXPECT_EQ(Bytes("512K"), 512u * 1024);
  EXPECT_EQ(Bytes("512k"), 512u * 1024);
  EXPECT_EQ(Bytes("64M"), 64u * 1024 * 1024);
  EXPECT_EQ(Bytes("64m"), 64u * 1024 * 1024);
  EXPECT_EQ(Bytes("1G"), 1024ull * 1024 * 1024);
}

TEST(ParseSizeTest, WhatIsNotASizeIsAUsageError) {
  for (const char* text : {"", "M", "1.5G", "-1", "1T", "12a", "1 M", "1MB", " 1"}) {
    auto parsed = ParseSize(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(parsed.status().message().find("invalid size '" + std::string(text) + "'"),
              std::string::npos)
        << parsed.status().message();
  }
}

TEST(ParseSizeTest, SizesThatWouldWrapAroundAreRefused) {
  EXPECT_EQ(Bytes("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(ParseSize("18446744073709551616").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999").ok());
  EXPECT_EQ(Bytes("17179869183G"), UINT64_MAX - (1ull << 30) + 1);  // 2^64 - 1 GiB
  EXPECT_FALSE(ParseSize("17179869184G").ok());                     // 2^64
  EXPECT_FALSE(ParseSize("18014398509481984K").ok());               // 2^54 KiB = 2^64
}

TEST(HumanBytesTest, BytesUpTo1023ThenOneDecimalInTheLargestUnit) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(1024 * 1024), "1.0 MiB");
  EXPECT_EQ(HumanBytes(1024 * 1024 - 1), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(HumanBytes(1024 * 1024 - 60), "1023.9 KiB");
  EXPECT_EQ(HumanBytes(1288490189), "1.2 GiB");
  EXPECT_EQ(HumanBytes(1ull << 40), "1.0 TiB");
  EXPECT_EQ(HumanBytes(1ull << 50), "1.0 PiB");
  // PiB is the largest unit: more stays in it.
  EXPECT_EQ(HumanBytes(1ull << 60), "1024.0 PiB");
  EXPECT_EQ(HumanBytes(UINT64_MAX), "16384.0 PiB");
}

TEST(HumanDurationTest, SecondsUnderAMinuteThenMinutesThenHours) {
  EXPECT_EQ(HumanDuration(0), "0.0 s");
  EXPECT_EQ(HumanDuration(1'500'000'000), "1.5 s");
  EXPECT_EQ(HumanDuration(59'900'000'000), "59.9 s");
  EXPECT_EQ(HumanDuration(59'990'000'000), "59.9 s");  // not "60.0 s"
  EXPECT_EQ(HumanDuration(60'000'000'000), "1m00s");
  EXPECT_EQ(HumanDuration(125'700'000'000), "2m05s");  // whole seconds, not rounded
  EXPECT_EQ(HumanDuration(3'599'000'000'000), "59m59s");
  EXPECT_EQ(HumanDuration(3'600'000'000'000), "1h00m00s");
  EXPECT_EQ(HumanDuration(3'723'000'000'000), "1h02m03s");
  EXPECT_EQ(HumanDuration(100 * 3'600'000'000'000), "100h00m00s");
}

TEST(EscapeNameTest, PrintableBytesPassThrough) {
  EXPECT_EQ(EscapeName(""), "");
  EXPECT_EQ(EscapeName("etc/hosts ~#!"), "etc/hosts ~#!");
  EXPECT_EQ(EscapeName("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 as it is
}

TEST(EscapeNameTest, ControlBytesAreEscaped) {
  EXPECT_EQ(EscapeName("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeName("a\tb"), "a\\tb");
  EXPECT_EQ(EscapeName("a\rb"), "a\\x0db");
  EXPECT_EQ(EscapeName("\x1b[31m"), "\\x1b[31m");  // no terminal escapes reach the screen
  EXPECT_EQ(EscapeName("\x7f"), "\\x7f");
  EXPECT_EQ(EscapeName(std::string_view("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(EscapeName("\x01\x1f"), "\\x01\\x1f");
}

TEST(EscapeNameTest, ABackslashIsDoubledSoThatEscapesAreUnambiguous) {
  EXPECT_EQ(EscapeName("a\\nb"), "a\\\\nb");  // a backslash and an n, not a newline
  EXPECT_EQ(EscapeName("\\"), "\\\\");
}

TEST(EscapeNameTest, BytesThatAreNotUtf8AreEscapedSoThatNamesStayApart) {
  EXPECT_EQ(EscapeName("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(EscapeName("a\xc3"), "a\\xc3");                  // a cut sequence
  EXPECT_EQ(EscapeName("\xc3("), "\\xc3(");                  // a lead byte without its follower
  EXPECT_EQ(EscapeName("\x80"), "\\x80");                    // a follower without a lead
  EXPECT_EQ(EscapeName("\xc0\xaf"), "\\xc0\\xaf");           // an overlong '/'
  EXPECT_EQ(EscapeName("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(EscapeName("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(EscapeName("\xc2\x9b"), "\\xc2\\x9b");  // C1 CSI: a terminal escape too
  // Well-formed sequences of every length stay as they are.
  EXPECT_EQ(EscapeName("\xc2\xa0\xe2\x82\xac\xf0\x9f\x92\xbe"),
            "\xc2\xa0\xe2\x82\xac\xf0\x9f\x92\xbe");
}

std::string Mode(pb::Entry::Type type, uint32_t mode) {
  pb::Entry entry;
  entry.set_type(type);
  entry.set_mode(mode);
  return ModeString(entry);
}

TEST(ModeStringTest, TheFirstLetterIsTheType) {
  EXPECT_EQ(Mode(pb::Entry::FILE, 0644), "-rw-r--r--");
  EXPECT_EQ(Mode(pb::Entry::DIRECTORY, 0755), "drwxr-xr-x");
  EXPECT_EQ(Mode(pb::Entry::SYMLINK, 0777), "lrwxrwxrwx");
  EXPECT_EQ(Mode(pb::Entry::FIFO, 0600), "prw-------");
  EXPECT_EQ(Mode(pb::Entry::CHAR_DEVICE, 0620), "crw--w----");
  EXPECT_EQ(Mode(pb::Entry::BLOCK_DEVICE, 0660), "brw-rw----");
}

TEST(ModeStringTest, EachPermissionBitHasItsPlace) {
  EXPECT_EQ(Mode(pb::Entry::FILE, 0), "----------");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0400), "-r--------");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0200), "--w-------");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0100), "---x------");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0040), "----r-----");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0020), "-----w----");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0010), "------x---");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0004), "-------r--");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0002), "--------w-");
  EXPECT_EQ(Mode(pb::Entry::FILE, 0001), "---------x");
}

TEST(ModeStringTest, SetuidSetgidAndStickyAsLsShowsThem) {
  // Lower case when the execute bit under it is set, upper case when not.
  EXPECT_EQ(Mode(pb::Entry::FILE, 04755), "-rwsr-xr-x");
  EXPECT_EQ(Mode(pb::Entry::FILE, 04644), "-rwSr--r--");
  EXPECT_EQ(Mode(pb::Entry::FILE, 02755), "-rwxr-sr-x");
  EXPECT_EQ(Mode(pb::Entry::FILE, 02745), "-rwxr-Sr-x");
  EXPECT_EQ(Mode(pb::Entry::DIRECTORY, 01777), "drwxrwxrwt");
  EXPECT_EQ(Mode(pb::Entry::DIRECTORY, 01776), "drwxrwxrwT");
  EXPECT_EQ(Mode(pb::Entry::FILE, 07000), "---S--S--T");
  EXPECT_EQ(Mode(pb::Entry::FILE, 07777), "-rwsrwsrwt");
}

TEST(TodayLocalTest, IsADateInTheLocalTimeZone) {
  const std::string today = TodayLocal();
  ASSERT_EQ(today.size(), 10u) << today;
  for (size_t i = 0; i < today.size(); ++i) {
    if (i == 4 || i == 7) {
      EXPECT_EQ(today[i], '-') << today;
    } else {
      EXPECT_TRUE(today[i] >= '0' && today[i] <= '9') << today;
    }
  }
}

}  // namespace
}  // namespace coffer::tools
