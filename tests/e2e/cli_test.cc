// The everyday commands end to end: init, backup, snapshots, ls, cat and
// restore of a tree with every kind of entry, by every way to name a snapshot.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::ReadFile;

constexpr const char* kTime = "2020-01-02T03:04:05Z";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const auto& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

class CliTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    testing::MakeKitchenSinkTree(source_);
    summary_ = Backup({source_}, {"--time", kTime});
    snapshot_ = group_ + "/" + kTime;
    src_ = InSnapshot(source_);
  }

  std::string source_;  // absolute path of the source tree
  std::string src_;     // the same inside the snapshot
  std::string snapshot_;
  nlohmann::json summary_;
};

TEST_F(CliTest, BackupWithExplicitTimeNamesTheSnapshotByIt) {
  EXPECT_EQ(summary_.value("snapshot", ""), snapshot_) << summary_.dump();
  EXPECT_EQ(summary_.value("time", ""), kTime);
  EXPECT_EQ(summary_.value("group", ""), group_);
  EXPECT_FALSE(summary_.value("incomplete", true));
  EXPECT_TRUE(summary_["errors"].empty()) << summary_.dump();
}

TEST_F(CliTest, RestoreReproducesEveryEntryOfTheTree) {
  std::string target = RestoreAll(snapshot_);
  auto diffs = Compare(source_, target);
  for (const auto& d : diffs) ADD_FAILURE() << d;
  EXPECT_TRUE(diffs.empty());
}

TEST_F(CliTest, SnapshotsListsTheBackupAsTextAndJson) {
  Output text = Coffer({"snapshots"});
  ASSERT_EQ(text.code, 0) << text.all();
  std::string id = summary_.value("id", "");
  ASSERT_GE(id.size(), 12u);
  EXPECT_NE(text.out.find(id.substr(0, 8)), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(kTime), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(group_), std::string::npos) << text.out;

  nlohmann::json list = Snapshots();
  ASSERT_EQ(list.size(), 1u) << list.dump();
  const auto& s = list[0];
  EXPECT_EQ(s.value("id", ""), id);
  EXPECT_EQ(s.value("name", ""), snapshot_);
  EXPECT_EQ(s.value("group", ""), group_);
  EXPECT_EQ(s.value("time", ""), kTime);
  EXPECT_FALSE(s.value("incomplete", true));
  ASSERT_TRUE(s["paths"].is_array());
  ASSERT_EQ(s["paths"].size(), 1u);
  EXPECT_NE(s["paths"][0].get<std::string>().find(src_), std::string::npos) << s.dump();
  EXPECT_GT(s.value("files", 0), 10);
  EXPECT_GT(s.value("bytes", 0), 3 * 1024 * 1024);
}

TEST_F(CliTest, LsShowsANewlineInANameEscaped) {
  Output o = Coffer({"ls", snapshot_, src_});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_TRUE(HasLine(o.out, "line\\nbreak")) << o.out;
  EXPECT_TRUE(HasLine(o.out, "latin1-\\xe9\\xff") || HasLine(o.out, "latin1-\xe9\xff")) << o.out;
  EXPECT_TRUE(HasLine(o.out, "plain.txt")) << o.out;
  EXPECT_TRUE(HasLine(o.out, "sub")) << o.out;
  EXPECT_FALSE(HasLine(o.out, "line")) << "a raw newline split the name";
  EXPECT_FALSE(HasLine(o.out, "sub/hardlink2")) << "not recursive without -R";
}

// A path and a tag that are not UTF-8 (a Latin-1 folder name): proto3
// refused to parse them as string fields, so the server failed every call of
// the backup (its command line is in Hello), and a record holding them made
// the whole listing fail.
TEST_F(CliTest, APathAndATagThatAreNotUtf8AreBackedUpAndListed) {
  const std::string latin1 = tmp_ / "caf\xe9";
  ASSERT_EQ(mkdir(latin1.c_str(), 0755), 0);
  testing::WriteFile(latin1 + "/f", "hi");
  Output backup = Coffer({"backup", "--group", "host/latin1", "--tag", "t\xe9", latin1});
  ASSERT_EQ(backup.code, 0) << backup.all();
  Output list = Coffer({"snapshots"});
  EXPECT_EQ(list.code, 0) << list.all();
  EXPECT_NE(list.out.find("host/latin1"), std::string::npos) << list.out;
  nlohmann::json listed = Snapshots();
  auto latin1_snapshot = std::find_if(listed.begin(), listed.end(),
                                      [](const auto& s) { return s["group"] == "host/latin1"; });
  ASSERT_NE(latin1_snapshot, listed.end()) << listed.dump();
  // The path after the tag is the path, not a second tag.
  EXPECT_EQ((*latin1_snapshot)["tags"].size(), 1u) << latin1_snapshot->dump();
  EXPECT_EQ((*latin1_snapshot)["paths"].size(), 1u) << latin1_snapshot->dump();
  Output cat = Coffer({"cat", "host/latin1/latest", InSnapshot(latin1) + "/f"});
  EXPECT_EQ(cat.code, 0) << cat.all();
  EXPECT_EQ(cat.out, "hi");
}

TEST_F(CliTest, LsLongShowsModesSizesAndLinkTargets) {
  Output o = Coffer({"ls", "-l", snapshot_, src_});
  ASSERT_EQ(o.code, 0) << o.all();
  bool plain = false, link = false, setuid = false, dir = false, fifo = false;
  for (const auto& line : Lines(o.out)) {
    if (line.ends_with(" plain.txt") && line.find(" -> ") == std::string::npos) {
      plain = true;
      EXPECT_TRUE(line.starts_with("-rw-r--r--")) << line;
      EXPECT_NE(line.find(" 13 "), std::string::npos) << line;  // "hello coffer\n"
    }
    if (line.ends_with(" link -> plain.txt")) link = line.starts_with("l");
    if (line.ends_with(" setuid")) setuid = line.starts_with("-rwsr-xr-x");
    if (line.ends_with(" sub")) dir = line.starts_with("drwxr-x---");
    if (line.ends_with(" fifo")) fifo = line.starts_with("prw-r-----");
  }
  EXPECT_TRUE(plain && link && setuid && dir && fifo) << o.out;
}

TEST_F(CliTest, LsRecursiveShowsFullPathsBelowThePath) {
  Output o = Coffer({"ls", "-R", snapshot_, src_});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_TRUE(HasLine(o.out, src_ + "/sub/hardlink2")) << o.out;
  EXPECT_TRUE(HasLine(o.out, src_ + "/readonly-dir/inside")) << o.out;
  EXPECT_TRUE(HasLine(o.out, src_ + "/line\\nbreak")) << o.out;
  bool deep = false;
  for (const auto& l : Lines(o.out)) deep |= l.ends_with("/bottom.txt");
  EXPECT_TRUE(deep) << "the path deeper than PATH_MAX is listed";
}

TEST_F(CliTest, LsJsonPrintsOneObjectPerEntry) {
  Output o = Coffer({"ls", "--json", snapshot_, src_});
  ASSERT_EQ(o.code, 0) << o.all();
  bool newline = false, link = false, big = false;
  int count = 0;
  for (const auto& line : Lines(o.out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    ++count;
    for (const char* field :
         {"path", "type", "mode", "uid", "gid", "user", "group", "size", "mtime"}) {
      EXPECT_TRUE(j.contains(field)) << field << " missing in " << line;
    }
    std::string name = j.value("name", "");
    if (name == "line\nbreak") newline = j.value("path", "") == src_ + "/line\nbreak";
    if (name == "link") link = j.value("target", "") == "plain.txt";
    if (name == "big.bin") big = j.value("size", 0) == 3 * 1024 * 1024 + 17;
  }
  EXPECT_GT(count, 10);
  EXPECT_TRUE(newline && link && big) << o.out;
}

TEST_F(CliTest, CatWritesTheFileBytesExactly) {
  for (std::string name : {"plain.txt", "big.bin", "empty", "line\nbreak", "sparse.img"}) {
    Output o = Coffer({"cat", snapshot_, src_ + "/" + name});
    ASSERT_EQ(o.code, 0) << name << ": " << o.err;
    std::string expected = ReadFile(source_ + "/" + name);
    EXPECT_EQ(o.out.size(), expected.size()) << name;
    EXPECT_TRUE(o.out == expected) << name << " differs";
  }
}

TEST_F(CliTest, CatOfADirectoryOrMissingPathFails) {
  Output dir = Coffer({"cat", snapshot_, src_ + "/sub"});
  EXPECT_EQ(dir.code, 1) << dir.all();
  EXPECT_TRUE(dir.out.empty());
  Output missing = Coffer({"cat", snapshot_, src_ + "/no-such-file"});
  EXPECT_EQ(missing.code, 1) << missing.all();
  EXPECT_NE(missing.err.find("no-such-file"), std::string::npos) << missing.err;
}

TEST_F(CliTest, RestoreOfOneFileWritesOnlyThatFile) {
  std::string target = tmp_ / "one";
  Output o = Coffer({"restore", "--target", target, snapshot_, src_ + "/sub/hardlink2"});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(ReadFile(target + source_ + "/sub/hardlink2"), "hello coffer\n");
  struct stat st;
  EXPECT_NE(lstat((target + source_ + "/plain.txt").c_str(), &st), 0) << "restored more than asked";
  EXPECT_NE(lstat((target + source_ + "/big.bin").c_str(), &st), 0) << "restored more than asked";
}

TEST_F(CliTest, RestoreOfASubtreeReproducesIt) {
  std::string target = tmp_ / "sub";
  Output o = Coffer({"restore", "--target", target, snapshot_, src_ + "/deep"});
  ASSERT_EQ(o.code, 0) << o.all();
  auto diffs = testing::CompareTrees(source_ + "/deep", target + source_ + "/deep", geteuid() == 0);
  for (const auto& d : diffs) ADD_FAILURE() << d;
}

TEST_F(CliTest, LatestTimeAndIdPrefixNameTheSameSnapshot) {
  std::string id = summary_.value("id", "");
  ASSERT_GE(id.size(), 8u);
  std::string expected = ReadFile(source_ + "/plain.txt");
  for (const std::string& name :
       {group_ + "/latest", snapshot_, id.substr(0, 8), id.substr(0, 4), id}) {
    Output o = Coffer({"cat", name, src_ + "/plain.txt"});
    EXPECT_EQ(o.code, 0) << name << ": " << o.err;
    EXPECT_EQ(o.out, expected) << name;
    Output ls = Coffer({"ls", name, src_});
    EXPECT_EQ(ls.code, 0) << name << ": " << ls.err;
    EXPECT_TRUE(HasLine(ls.out, "plain.txt")) << name;
  }
  // restore by id prefix too
  std::string target = tmp_ / "by-id";
  Output r = Coffer({"restore", "--target", target, id.substr(0, 8), src_ + "/plain.txt"});
  EXPECT_EQ(r.code, 0) << r.all();
  EXPECT_EQ(ReadFile(target + source_ + "/plain.txt"), expected);
}

TEST_F(CliTest, LatestNamesTheNewestSnapshotOfTheGroup) {
  testing::WriteFile(source_ + "/plain.txt", "changed\n");
  nlohmann::json second = Backup({source_}, {"--time", "2021-01-01T00:00:00Z"});
  Output latest = Coffer({"cat", group_ + "/latest", src_ + "/plain.txt"});
  EXPECT_EQ(latest.code, 0) << latest.err;
  EXPECT_EQ(latest.out, "changed\n");
  Output old = Coffer({"cat", snapshot_, src_ + "/plain.txt"});
  EXPECT_EQ(old.out, "hello coffer\n");
  // plain.txt has two more hardlinks: three paths changed, their content read once.
  EXPECT_EQ(second.value("files_changed", -1), 3) << second.dump();
  EXPECT_EQ(second.value("bytes_read", -1), 8) << second.dump();
}

TEST_F(CliTest, SameExplicitTimeTwiceFails) {
  Output o = Coffer({"backup", "--group", group_, "--time", kTime, source_ + "/plain.txt"});
  EXPECT_NE(o.code, 0) << o.all();
  EXPECT_NE(o.err.find("already has a snapshot"), std::string::npos) << o.err;
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(CliTest, TimeGivenWithAnOffsetIsStoredInUtc) {
  Output o = Coffer({"backup", "-q", "--group", "host/other", "--time", "2026-11-24T03:00:00+01:00",
                     source_ + "/plain.txt"});
  ASSERT_EQ(o.code, 0) << o.all();
  Output cat = Coffer({"cat", "host/other/2026-11-24T02:00:00Z", src_ + "/plain.txt"});
  EXPECT_EQ(cat.code, 0) << cat.all();
  EXPECT_EQ(cat.out, "hello coffer\n");
}

TEST_F(CliTest, SecondBackupOfAnUnchangedTreeReadsNothing) {
  nlohmann::json list = Snapshots();
  ASSERT_EQ(list.size(), 1u);
  int64_t files = list[0].value("files", int64_t{-1});
  nlohmann::json second = Backup({source_});
  EXPECT_EQ(second.value("files_unchanged", int64_t{-2}), files) << second.dump();
  EXPECT_EQ(second.value("files_new", -1), 0) << second.dump();
  EXPECT_EQ(second.value("files_changed", -1), 0) << second.dump();
  EXPECT_EQ(second.value("bytes_read", -1), 0) << second.dump();
  EXPECT_NE(second.value("snapshot", ""), snapshot_);
  EXPECT_EQ(Snapshots().size(), 2u);
  std::string target = RestoreAll(group_ + "/latest");
  auto diffs = Compare(source_, target);
  for (const auto& d : diffs) ADD_FAILURE() << d;
}

}  // namespace
}  // namespace coffer::e2e
