// Backups of a stream: standard input, or the output of a command that must
// succeed for a snapshot to be written.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

class StdinTest : public CofferTest {};

TEST_F(StdinTest, StdinIsStoredUnderStdinName) {
  std::string data = "CREATE TABLE t (x int);\n" + testing::RandomBytes(1536 * 1024, 5);
  Output o = Coffer({"backup", "--group", group_, "--stdin", "--stdin-name", "db.sql"}, {}, data);
  ASSERT_EQ(o.code, 0) << o.all();
  Output cat = Coffer({"cat", group_ + "/latest", "db.sql"});
  EXPECT_EQ(cat.code, 0) << cat.err;
  EXPECT_TRUE(cat.out == data) << "got " << cat.out.size() << " bytes of " << data.size();
  Output ls = Coffer({"ls", group_ + "/latest"});
  EXPECT_EQ(ls.out, "db.sql\n");
}

TEST_F(StdinTest, EmptyStdinIsStoredAsAnEmptyFile) {
  Output o = Coffer({"backup", "--group", group_, "--stdin"}, {}, "");
  ASSERT_EQ(o.code, 0) << o.all();
  Output cat = Coffer({"cat", group_ + "/latest", "stdin"});
  EXPECT_EQ(cat.code, 0) << cat.err;
  EXPECT_EQ(cat.out, "");
}

TEST_F(StdinTest, StdinNameWithASlashIsRefused) {
  Output o = Coffer({"backup", "--group", group_, "--stdin", "--stdin-name", "a/b"}, {}, "x");
  EXPECT_EQ(o.code, 2) << o.all();
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(StdinTest, FailingCommandExitsNonZeroAndWritesNoSnapshot) {
  Output o = Coffer({"backup", "--group", group_, "--stdin-from-command", "--", "sh", "-c",
                     "printf data; exit 3"});
  EXPECT_NE(o.code, 0) << o.all();
  EXPECT_NE(o.err.find("status 3"), std::string::npos) << o.err;
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(StdinTest, CommandKilledBySignalWritesNoSnapshot) {
  Output o = Coffer({"backup", "--group", group_, "--stdin-from-command", "--", "sh", "-c",
                     "printf data; kill -TERM $$"});
  EXPECT_NE(o.code, 0) << o.all();
  EXPECT_NE(o.err.find("signal"), std::string::npos) << o.err;
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(StdinTest, CommandOutputIsStored) {
  Output o = Coffer({"backup", "--group", group_, "--stdin-name", "greeting",
                     "--stdin-from-command", "--", "printf", "hello"});
  ASSERT_EQ(o.code, 0) << o.all();
  Output cat = Coffer({"cat", group_ + "/latest", "greeting"});
  EXPECT_EQ(cat.code, 0) << cat.err;
  EXPECT_EQ(cat.out, "hello");
}

TEST_F(StdinTest, CommandArgumentsStartingWithADashArePassedThrough) {
  Output o = Coffer({"backup", "--group", group_, "--stdin-from-command", "--", "sh", "-c",
                     "echo \"$0 $1\"", "-x", "--y"});
  ASSERT_EQ(o.code, 0) << o.all();
  Output cat = Coffer({"cat", group_ + "/latest", "stdin"});
  EXPECT_EQ(cat.out, "-x --y\n");
}

TEST_F(StdinTest, MissingCommandFailsWithoutSnapshot) {
  Output o = Coffer({"backup", "--group", group_, "--stdin-from-command", "--",
                     "/nonexistent/coffer-no-such-command", "arg"});
  EXPECT_EQ(o.code, 1) << o.all();
  EXPECT_EQ(o.err,
            "coffer: cannot run /nonexistent/coffer-no-such-command: No such file or directory\n");
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(StdinTest, StdinFromCommandWithoutCommandIsAUsageError) {
  Output o = Coffer({"backup", "--group", group_, "--stdin-from-command"});
  EXPECT_EQ(o.code, 2) << o.all();
  EXPECT_TRUE(Snapshots().empty());
}

}  // namespace
}  // namespace coffer::e2e
