// Crash safety: a backup killed with SIGKILL at any crash point leaves the
// repository with exactly its earlier snapshots, intact, and ready for the
// next backup.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::RandomBytes;
using testing::WriteFile;

constexpr int kSigkillStatus = 128 + 9;

// Several multi-MiB random files and many small ones in a few directories.
void MakeTree(const std::string& root, uint64_t seed, int big_files = 3) {
  mkdir(root.c_str(), 0755);
  for (int i = 0; i < big_files; ++i) {
    WriteFile(root + "/big" + std::to_string(i) + ".bin",
              RandomBytes(2 * 1024 * 1024 + 1000 * i, seed * 100 + i));
  }
  for (int d = 0; d < 4; ++d) {
    std::string dir = root + "/dir" + std::to_string(d);
    mkdir(dir.c_str(), 0755);
    for (int f = 0; f < 20; ++f) {
      WriteFile(dir + "/small" + std::to_string(f),
                "file " + std::to_string(f) + " of " + dir + " seed " + std::to_string(seed) +
                    "\n" + RandomBytes(100 + f * 37, seed * 1000 + d * 50 + f));
    }
  }
}

class CrashTest : public CofferTest, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    MakeTree(source_, 1);
    first_ = Backup({source_}, {"--time", "2020-01-02T03:04:05Z"});
    saved_ = tmp_ / "saved";
    Output copy = RunProcess({"cp", "-a", source_, saved_});
    ASSERT_EQ(copy.code, 0) << copy.all();
    // Change the tree: new big files (new chunks), changed and new small files and dirs.
    for (int i = 0; i < 3; ++i) {
      WriteFile(source_ + "/big" + std::to_string(i) + ".bin",
                RandomBytes(2 * 1024 * 1024 + 7, 77 + i));
    }
    MakeTree(source_ + "/added", 2, /*big_files=*/0);
    WriteFile(source_ + "/dir0/small0", "changed");
  }

  void ExpectOnlyTheFirstSnapshotRestoresExactly() {
    nlohmann::json list = Snapshots();
    ASSERT_EQ(list.size(), 1u) << list.dump();
    EXPECT_EQ(list[0].value("id", ""), first_.value("id", "?"));
    EXPECT_FALSE(list[0].value("incomplete", true));
    std::string target = RestoreAll(first_.value("snapshot", ""));
    auto diffs = testing::CompareTrees(saved_, target + source_, geteuid() == 0);
    for (const auto& d : diffs) ADD_FAILURE() << "first snapshot after the crash: " << d;
  }

  std::string source_, saved_;
  nlohmann::json first_;
};

TEST_P(CrashTest, KilledBackupLeavesEarlierSnapshotsAndNextBackupWorks) {
  Output crashed = Coffer({"backup", "--group", group_, source_},
                          {std::string("COFFER_CRASH_AT=") + GetParam()});
  ASSERT_EQ(crashed.code, kSigkillStatus) << "the crash point was not reached: " << crashed.all();

  ExpectOnlyTheFirstSnapshotRestoresExactly();

  nlohmann::json next = Backup({source_});
  EXPECT_FALSE(next.value("incomplete", true)) << next.dump();
  nlohmann::json list = Snapshots();
  ASSERT_EQ(list.size(), 2u) << list.dump();
  std::string target = RestoreAll(group_ + "/latest");
  auto diffs = Compare(source_, target);
  for (const auto& d : diffs) ADD_FAILURE() << "backup after the crash: " << d;
  // And the first one is still intact after the next backup.
  std::string again = RestoreAll(first_.value("snapshot", ""));
  EXPECT_TRUE(testing::CompareTrees(saved_, again + source_, geteuid() == 0).empty());
}

INSTANTIATE_TEST_SUITE_P(AtEveryPoint, CrashTest,
                         ::testing::Values("file-chunk:3", "chunk-stored:2", "tree-stored:2",
                                           "before-commit"),
                         [](const auto& info) {
                           std::string name;
                           for (char c : std::string(info.param)) {
                             if (std::isalnum(static_cast<unsigned char>(c))) name.push_back(c);
                           }
                           return name;
                         });

// A crash during the very first backup leaves an empty, usable repository.
TEST_F(CofferTest, CrashDuringFirstBackupLeavesNoSnapshotAndNextBackupWorks) {
  std::string source = tmp_ / "src";
  MakeTree(source, 3);
  Output crashed =
      Coffer({"backup", "--group", group_, source}, {"COFFER_CRASH_AT=chunk-stored:3"});
  ASSERT_EQ(crashed.code, kSigkillStatus) << crashed.all();
  EXPECT_TRUE(Snapshots().empty());
  Backup({source});
  std::string target = RestoreAll(group_ + "/latest");
  EXPECT_TRUE(Compare(source, target).empty());
}

// A crash while a stream is read: no snapshot; the next stream backup works.
TEST_F(CofferTest, CrashDuringStdinBackupLeavesNoSnapshot) {
  std::string data = RandomBytes(4 * 1024 * 1024, 9);
  Output crashed = Coffer({"backup", "--group", group_, "--stdin", "--stdin-name", "s"},
                          {"COFFER_CRASH_AT=file-chunk:2"}, data);
  ASSERT_EQ(crashed.code, kSigkillStatus) << crashed.all();
  EXPECT_TRUE(Snapshots().empty());
  Output ok = Coffer({"backup", "--group", group_, "--stdin", "--stdin-name", "s"}, {}, data);
  ASSERT_EQ(ok.code, 0) << ok.all();
  Output cat = Coffer({"cat", group_ + "/latest", "s"});
  EXPECT_EQ(cat.code, 0) << cat.err;
  EXPECT_TRUE(cat.out == data);
}

}  // namespace
}  // namespace coffer::e2e
