// A snapshot whose trees hold names that are no file names ("..", or ".."
// followed by a NUL byte, which the kernel reads as "..") must not make a
// restore write outside its target. Only the key holder can make such trees
// in an encrypted repository; in an unencrypted one, whoever holds it can.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "store/model/tree.h"
#include "store/repo/write_session.h"
#include "store/restore/restorer.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::restore {
namespace {

using testing::TempDir;

class RestorerNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo", /*encrypted=*/false);
    ASSERT_NE(repo_, nullptr);
    ASSERT_EQ(mkdir((tmp_ / "out").c_str(), 0755), 0);
  }

  // A snapshot whose root holds a directory named `name`, holding the file "escaped".
  Snapshot SnapshotWithDirectoryNamed(const std::string& name) {
    WriteSession session(*repo_, 1);
    pb::Tree inner;
    inner.add_entries()->set_name("escaped");
    ObjectId inner_id = *session.AddTree(inner);
    pb::Tree root;
    pb::Entry* dir = root.add_entries();
    dir->set_name(name);
    dir->set_type(pb::Entry::DIRECTORY);
    dir->set_mode(0755);
    dir->set_subtree_id(inner_id.bytes.data(), inner_id.bytes.size());
    ObjectId root_id = *session.AddTree(root);
    pb::Snapshot record;
    record.set_version(1);
    record.set_group("host/evil");
    record.set_time_ns(1'000'000'000);
    record.set_root_tree_id(root_id.bytes.data(), root_id.bytes.size());
    Result<Snapshot> snap = session.Commit(record);
    EXPECT_TRUE(snap.ok()) << snap.status().ToString();
    return *snap;
  }

  Result<RestoreResult> RestoreTo(const Snapshot& snap, const std::string& path) {
    RestoreOptions options;
    options.target = tmp_ / "out/target";
    Restorer restorer(*repo_, options);
    return restorer.Restore(snap, path);
  }

  bool Escaped() const {
    struct stat st;
    return lstat((tmp_ / "out/escaped").c_str(), &st) == 0;
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(RestorerNamesTest, ANameWithANulByteIsRefusedNotCut) {
  Snapshot snap = SnapshotWithDirectoryNamed(std::string("..\0x", 4));
  Result<RestoreResult> result = RestoreTo(snap, "");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(Escaped()) << "the restore wrote above its target";
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_TRUE(result->damaged());
}

TEST_F(RestorerNamesTest, ADotDotNamedOnThePathIsRefused) {
  Snapshot snap = SnapshotWithDirectoryNamed("..");
  Result<RestoreResult> result = RestoreTo(snap, "../escaped");
  EXPECT_EQ(result.status().code(), Code::kCorruption) << result.status().ToString();
  EXPECT_FALSE(Escaped()) << "the restore wrote above its target";
}

TEST(CheckEntryNameTest, RefusesWhatIsNoFileName) {
  for (std::string bad : {std::string(), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("..\0x", 4), std::string("a\0", 2)}) {
    EXPECT_EQ(model::CheckEntryName(bad).code(), Code::kCorruption)
        << ::testing::PrintToString(bad);
  }
  for (std::string good : {"a", "...", ".hidden", "a b", "\xff\x01"}) {
    EXPECT_TRUE(model::CheckEntryName(good).ok()) << good;
  }
}

}  // namespace
}  // namespace coffer::restore
