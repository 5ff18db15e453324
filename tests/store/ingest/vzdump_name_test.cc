#include "store/ingest/vzdump_name.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace coffer::ingest {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

// Runs the test body in time zone `zone`, restoring the one before.
class TimeZone {
 public:
  explicit TimeZone(const char* zone) {
    if (const char* old = std::getenv("TZ")) saved_ = old;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~TimeZone() {
    if (saved_)
      setenv("TZ", saved_->c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }

 private:
  std::optional<std::string> saved_;
};

TEST(VzdumpNameTest, ArchivesOfContainersAndVmsWithEveryCompression) {
  TimeZone utc("UTC");
  auto ct = ParseVzdumpName("vzdump-lxc-101-2026_12_01-02_00_05.tar.zst");
  ASSERT_TRUE(ct);
  EXPECT_EQ(ct->guest, VzdumpName::Guest::kContainer);
  EXPECT_EQ(ct->group(), "ct/101");
  EXPECT_EQ(ct->format, "tar");
  EXPECT_EQ(ct->compression, "zst");
  EXPECT_EQ(ct->base, "vzdump-lxc-101-2026_12_01-02_00_05");
  EXPECT_EQ(ct->log_name(), "vzdump-lxc-101-2026_12_01-02_00_05.log");
  EXPECT_EQ(ct->time_ns, 1796090405 * kSecond);  // 2026-12-01T02:00:05Z

  auto vm = ParseVzdumpName("vzdump-qemu-999999999-2026_01_31-23_59_59.vma");
  ASSERT_TRUE(vm);
  EXPECT_EQ(vm->group(), "vm/999999999");
  EXPECT_EQ(vm->format, "vma");
  EXPECT_EQ(vm->compression, "");
  for (const char* suffix : {".gz", ".lzo", ".zst"}) {
    EXPECT_TRUE(ParseVzdumpName(std::string("vzdump-qemu-100-2026_01_31-23_59_59.vma") + suffix));
    EXPECT_TRUE(ParseVzdumpName(std::string("vzdump-lxc-100-2026_01_31-23_59_59.tar") + suffix));
  }
}

TEST(VzdumpNameTest, TheTimeIsTheHostsLocalTime) {
  TimeZone berlin("Europe/Berlin");
  // Winter: UTC+1; summer: UTC+2.
  EXPECT_EQ(ParseVzdumpName("vzdump-lxc-101-2026_12_01-03_00_05.tar")->time_ns,
            1796090405 * kSecond);
  EXPECT_EQ(ParseVzdumpName("vzdump-lxc-101-2026_07_01-04_00_00.tar")->time_ns,
            1782871200 * kSecond);  // 2026-07-01T02:00:00Z
  // 2026-10-25 02:30 happens twice in Berlin: the earlier, still summer time.
  EXPECT_EQ(ParseVzdumpName("vzdump-lxc-101-2026_10_25-02_30_00.tar")->time_ns,
            1792888200 * kSecond);  // 2026-10-25T00:30:00Z
  // Just after midnight in winter: an hour that DST would move to the day before.
  EXPECT_EQ(ParseVzdumpName("vzdump-lxc-101-2026_12_01-00_30_00.tar")->time_ns,
            1796081400 * kSecond);  // 2026-11-30T23:30:00Z
}

TEST(VzdumpNameTest, OtherNamesAreNotArchives) {
  TimeZone utc("UTC");
  for (const char* name : {
           "vzdump-lxc-101-2026_12_01-02_00_05.tar.dat",  // being written
           "vzdump-lxc-101-2026_12_01-02_00_05.log",
           "vzdump-lxc-101-2026_12_01-02_00_05.tar.zst.notes",
           "vzdump-lxc-101-2026_12_01-02_00_05.tar.zst.protected",
           "vzdump-lxc-101-2026_12_01-02_00_05.vma",  // a container is a tar
           "vzdump-qemu-101-2026_12_01-02_00_05.tar",
           "vzdump-lxc-101-2026_12_01-02_00_05.tar.bz2",
           "vzdump-lxc-0101-2026_12_01-02_00_05.tar",
           "vzdump-lxc--2026_12_01-02_00_05.tar",
           "vzdump-lxc-1234567890-2026_12_01-02_00_05.tar",
           "vzdump-lxc-101-2026_02_29-02_00_05.tar",  // 2026 is not a leap year
           "vzdump-lxc-101-2026_02_31-02_00_05.tar",
           "vzdump-lxc-101-2026_13_01-02_00_05.tar",
           "vzdump-lxc-101-2026_12_01-24_00_00.tar",
           "vzdump-lxc-101-2026_12_1-02_00_05.tar",
           "vzdump-lxc-101-1969_12_31-23_59_59.tar",
           "vzdump-lxc-101-2263_01_01-00_00_00.tar",
           "vzdump-openvz-101-2026_12_01-02_00_05.tar",
           "backup.vma.zst",
           "",
       }) {
    EXPECT_FALSE(ParseVzdumpName(name)) << name;
  }
  EXPECT_TRUE(ParseVzdumpName("vzdump-lxc-101-2028_02_29-02_00_05.tar"));
}

TEST(VzdumpNameTest, ALogNamesTheArchiveItBelongsTo) {
  TimeZone berlin("Europe/Berlin");
  auto archive = ParseVzdumpName("vzdump-qemu-101-2026_12_01-03_00_05.vma.zst");
  auto log = ParseVzdumpLogName("vzdump-qemu-101-2026_12_01-03_00_05.log");
  ASSERT_TRUE(archive);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->group(), archive->group());
  EXPECT_EQ(log->time_ns, archive->time_ns);  // read in the same zone
  EXPECT_EQ(log->time_ns, 1796090405 * kSecond);
  EXPECT_EQ(log->base, archive->base);
  EXPECT_EQ(log->format, "vma");
  EXPECT_EQ(log->compression, "");
  EXPECT_EQ(log->log_name(), "vzdump-qemu-101-2026_12_01-03_00_05.log");

  auto ct = ParseVzdumpLogName("vzdump-lxc-7-2026_07_01-04_00_00.log");
  ASSERT_TRUE(ct);
  EXPECT_EQ(ct->group(), "ct/7");
  EXPECT_EQ(ct->format, "tar");
}

TEST(VzdumpNameTest, OnlyALogsNameIsALogName) {
  TimeZone utc("UTC");
  for (const char* name : {
           "vzdump-lxc-101-2026_12_01-02_00_05.tar",
           "vzdump-lxc-101-2026_12_01-02_00_05.tar.zst",
           "vzdump-lxc-101-2026_12_01-02_00_05.tar.log",
           "vzdump-lxc-101-2026_12_01-02_00_05.log.gz",
           "vzdump-lxc-101-2026_12_01-02_00_05.log.notes",
           "vzdump-lxc-101-2026_12_01-02_00_05.LOG",
           "vzdump-lxc-101-2026_12_01-02_00_05",
           "vzdump-lxc-101-2026_02_31-02_00_05.log",
           "vzdump-lxc-0101-2026_12_01-02_00_05.log",
           "vzdump-openvz-101-2026_12_01-02_00_05.log",
           "lxc-101.log",  // vzdump's temporary log in /var/log/vzdump
           "",
       }) {
    EXPECT_FALSE(ParseVzdumpLogName(name)) << name;
  }
}

TEST(VzdumpNameTest, EveryNameAnArchiveOfTheBaseCanHave) {
  TimeZone utc("UTC");
  auto log = ParseVzdumpLogName("vzdump-lxc-101-2026_12_01-02_00_05.log");
  ASSERT_TRUE(log);
  const std::vector<std::string> names = log->archive_names();
  EXPECT_EQ(names, (std::vector<std::string>{"vzdump-lxc-101-2026_12_01-02_00_05.tar",
                                             "vzdump-lxc-101-2026_12_01-02_00_05.tar.zst",
                                             "vzdump-lxc-101-2026_12_01-02_00_05.tar.gz",
                                             "vzdump-lxc-101-2026_12_01-02_00_05.tar.lzo"}));
  for (const std::string& name : names) {
    auto archive = ParseVzdumpName(name);
    ASSERT_TRUE(archive) << name;
    EXPECT_EQ(archive->base, log->base);
  }
}

}  // namespace
}  // namespace coffer::ingest
