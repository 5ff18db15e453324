#include "store/ingest/exclude.h"

#include <gtest/gtest.h>

#include "tests/testing/fs_fixtures.h"

namespace coffer::ingest {
namespace {

TEST(ExcludeTest, PatternWithoutSlashMatchesAnyName) {
  ExcludeMatcher m({"*.tmp", "cache/"});
  EXPECT_TRUE(m.Excluded("/srv/a/b.tmp", "b.tmp"));
  EXPECT_TRUE(m.Excluded("/home/u/cache", "cache"));
  EXPECT_FALSE(m.Excluded("/srv/a/b.txt", "b.txt"));
}

TEST(ExcludeTest, PatternWithSlashMatchesTheWholePath) {
  ExcludeMatcher m({"/srv/*/logs"});
  EXPECT_TRUE(m.Excluded("/srv/web/logs", "logs"));
  EXPECT_FALSE(m.Excluded("/home/logs", "logs"));
}

TEST(ExcludeTest, FileSkipsCommentsAndBlankLines) {
  testing::TempDir tmp;
  testing::WriteFile(tmp / "ex", "# comment\n\n*.iso\n/var/cache\n");
  auto patterns = ReadExcludeFile(tmp / "ex");
  ASSERT_TRUE(patterns.ok());
  EXPECT_EQ(*patterns, (std::vector<std::string>{"*.iso", "/var/cache"}));
  EXPECT_FALSE(ReadExcludeFile(tmp / "missing").ok());
}

}  // namespace
}  // namespace coffer::ingest
