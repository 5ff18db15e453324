// coffer diff as users run it: the marks and what changed, the JSON lines,
// a PATH, and bad calls (store/diff/tree_diff.h has the walk's own tests).
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::WriteFile;

class DiffTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    std::filesystem::create_directories(source_ + "/etc/cron.d");
    WriteFile(source_ + "/etc/hosts", "127.0.0.1 localhost\n");
    WriteFile(source_ + "/etc/cron.d/old-job", "0 * * * * true\n");
    WriteFile(source_ + "/etc/motd", "hello\n");
    before_ = Backup({source_}, {"--time", "2026-12-01T02:00:00Z"})["snapshot"];

    WriteFile(source_ + "/etc/hosts", "127.0.0.1 localhost\n10.0.0.2 db\n");
    std::filesystem::remove(source_ + "/etc/cron.d/old-job");
    std::filesystem::create_directories(source_ + "/etc/new dir");
    WriteFile(source_ + "/etc/new dir/tab\there", "new\n");
    chmod((source_ + "/etc/motd").c_str(), 0600);
    after_ = Backup({source_}, {"--time", "2026-12-02T02:00:00Z"})["snapshot"];
    etc_ = InSnapshot(source_) + "/etc";
  }

  std::string source_, before_, after_, etc_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(DiffTest, ListsAddedRemovedAndChangedWithWhatChanged) {
  Output o = Coffer({"diff", before_, after_, etc_});
  ASSERT_EQ(o.code, 0) << o.all();
  std::set<std::string> lines;
  for (const std::string& line : Lines(o.out)) lines.insert(line);
  const std::string etc = etc_;
  EXPECT_TRUE(lines.count("M " + etc + "/hosts  (content, times)")) << o.out;
  EXPECT_TRUE(lines.count("M " + etc + "/motd  (mode)")) << o.out;
  EXPECT_TRUE(lines.count("- " + etc + "/cron.d/old-job")) << o.out;
  EXPECT_TRUE(lines.count("+ " + etc + "/new dir/")) << o.out;
  EXPECT_TRUE(lines.count("+ " + etc + "/new dir/tab\\there")) << o.out;  // escaped, one line
  size_t changed = 0;
  for (const std::string& line : Lines(o.out)) changed += line.starts_with("M ");
  EXPECT_EQ(Lines(o.out).back(),
            "2 added (4 B), 1 removed (15 B), " + std::to_string(changed) + " changed")
      << o.out;
  // etc/ and etc/cron.d/ changed their times; nothing else changed.
  EXPECT_EQ(changed, 4u) << o.out;

  // -q leaves out the totals only.
  Output quiet = Coffer({"-q", "diff", before_, after_, etc_});
  ASSERT_EQ(quiet.code, 0) << quiet.all();
  EXPECT_EQ(Lines(quiet.out).size(), Lines(o.out).size() - 1);
}

TEST_F(DiffTest, JsonHasOneChangePerLineThenTheStatistics) {
  Output o = Coffer({"diff", "--json", before_, after_});
  ASSERT_EQ(o.code, 0) << o.all();
  std::vector<nlohmann::json> changes;
  nlohmann::json statistics;
  for (const std::string& line : Lines(o.out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    if (j["message_type"] == "change") changes.push_back(j);
    if (j["message_type"] == "statistics") statistics = j;
  }
  ASSERT_TRUE(statistics.is_object()) << o.out;
  EXPECT_EQ(Lines(o.out).back(), statistics.dump());
  EXPECT_EQ(statistics["before"], before_);
  EXPECT_EQ(statistics["after"], after_);
  EXPECT_EQ(statistics["added"], 2);
  EXPECT_EQ(statistics["removed"], 1);
  EXPECT_EQ(statistics["added_bytes"], 4);
  EXPECT_EQ(statistics["removed_bytes"], 15);
  EXPECT_GT(statistics["trees_read"].get<int>(), 0);

  bool hosts_seen = false;
  for (const auto& change : changes) {
    if (change["path"] != etc_ + "/hosts") continue;
    hosts_seen = true;
    EXPECT_EQ(change["change"], "changed");
    EXPECT_EQ(change["type"], "FILE");
    EXPECT_EQ(change["type_before"], "FILE");
    EXPECT_EQ(change["size_before"], 20);
    EXPECT_EQ(change["size_after"], 32);
    EXPECT_EQ(change["what"], nlohmann::json::array({"content", "times"}));
  }
  EXPECT_TRUE(hosts_seen) << o.out;
  for (const auto& change : changes) {
    if (change["path"] == etc_ + "/cron.d/old-job") {
      EXPECT_EQ(change["change"], "removed");
      EXPECT_FALSE(change.contains("size_after"));
    }
  }
}

TEST_F(DiffTest, ASnapshotWithItselfShowsNothingAndReadsNoTree) {
  Output o = Coffer({"diff", "--json", after_, group_ + "/latest"});
  ASSERT_EQ(o.code, 0) << o.all();
  auto lines = Lines(o.out);
  ASSERT_EQ(lines.size(), 1u) << o.out;
  auto statistics = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(statistics["changed"], 0);
  EXPECT_EQ(statistics["trees_read"], 0);
}

TEST_F(DiffTest, APathInOneSnapshotOnlyIsAllAddedOrRemoved) {
  Output added = Coffer({"diff", before_, after_, etc_ + "/new dir"});
  ASSERT_EQ(added.code, 0) << added.all();
  EXPECT_EQ(Lines(added.out), (std::vector<std::string>{
                                  "+ " + etc_ + "/new dir/", "+ " + etc_ + "/new dir/tab\\there",
                                  "2 added (4 B), 0 removed (0 B), 0 changed"}));
  Output removed = Coffer({"diff", before_, after_, "/" + etc_ + "/cron.d/old-job"});
  ASSERT_EQ(removed.code, 0) << removed.all();
  EXPECT_EQ(Lines(removed.out)[0], "- " + etc_ + "/cron.d/old-job");
}

TEST_F(DiffTest, BadCallsSayWhatIsWrong) {
  Output bad_name = Coffer({"diff", group_ + "/yesterday-ish", after_});
  EXPECT_EQ(bad_name.code, 2) << bad_name.all();
  Output unknown = Coffer({"diff", before_, group_ + "/2020-01-01T00:00:00Z"});
  EXPECT_EQ(unknown.code, 1) << unknown.all();
  EXPECT_NE(unknown.err.find("2020-01-01T00:00:00Z"), std::string::npos) << unknown.err;
  Output nowhere = Coffer({"diff", before_, after_, "no/such/path"});
  EXPECT_EQ(nowhere.code, 1) << nowhere.all();
  EXPECT_EQ(nowhere.err,
            "coffer: 'no/such/path' is in neither " + before_ + " nor " + after_ + "\n");
  Output one_name = Coffer({"diff", before_});
  EXPECT_EQ(one_name.code, 2) << one_name.all();
  EXPECT_EQ(Lines(one_name.err).size(), 1u) << one_name.err;
}

}  // namespace
}  // namespace coffer::e2e
