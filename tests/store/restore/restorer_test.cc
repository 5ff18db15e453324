#include "store/restore/restorer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "store/ingest/archiver.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::restore {
namespace {

using testing::TempDir;

class RestorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
    source_ = tmp_ / "src";
  }

  Snapshot BackupSource() {
    ingest::BackupOptions options;
    options.group = "host/test";
    options.time_ns = 1'000'000'000;
    ingest::Archiver archiver(*repo_, options, nullptr);
    auto result = archiver.BackupPaths({source_});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    for (const auto& e : result->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
    return result->snapshot;
  }

  Result<RestoreResult> RestoreTo(const Snapshot& snap, const std::string& target,
                                  const std::string& path = "") {
    RestoreOptions options;
    options.target = target;
    options.restore_owners = geteuid() == 0;
    Restorer restorer(*repo_, options);
    return restorer.Restore(snap, path);
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  std::string source_;
};

TEST_F(RestorerTest, RoundTripReproducesEveryField) {
  testing::MakeKitchenSinkTree(source_);
  Snapshot snap = BackupSource();
  std::string target = tmp_ / "out";
  auto result = RestoreTo(snap, target);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  for (const auto& e : result->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
  auto diffs = testing::CompareTrees(source_, target + source_, geteuid() == 0);
  for (const auto& d : diffs) ADD_FAILURE() << d;
  EXPECT_TRUE(diffs.empty());
}

TEST_F(RestorerTest, RestoresOneFileUnderItsPath) {
  testing::MakeKitchenSinkTree(source_);
  Snapshot snap = BackupSource();
  std::string target = tmp_ / "one";
  auto result = RestoreTo(snap, target, source_.substr(1) + "/sub/hardlink2");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->errors.empty());
  EXPECT_EQ(testing::ReadFile(target + source_ + "/sub/hardlink2"), "hello coffer\n");
  struct stat st;
  EXPECT_NE(stat((target + source_ + "/plain.txt").c_str(), &st), 0) << "restored more than asked";
}

TEST_F(RestorerTest, MissingPathIsNotFound) {
  mkdir(source_.c_str(), 0755);
  testing::WriteFile(source_ + "/x", "");
  Snapshot snap = BackupSource();
  auto result = RestoreTo(snap, tmp_ / "out", "no/such/path");
  EXPECT_EQ(result.status().code(), Code::kNotFound);
}

TEST_F(RestorerTest, ADamagedChunkFailsOnlyTheFilesThatUseIt) {
  mkdir(source_.c_str(), 0755);
  testing::WriteFile(source_ + "/victim", testing::RandomBytes(100000, 9));
  testing::WriteFile(source_ + "/bystander", "fine");
  Snapshot snap = BackupSource();
  auto victim = repo_->LookupPath(snap, source_.substr(1) + "/victim");
  ASSERT_TRUE(victim.ok());
  auto id = *ObjectId::FromBytes(AsBytes(victim->extents(0).chunk_id()));
  Bytes sealed = *repo_->store().Get(ObjectKind::kChunk, id);
  sealed[sealed.size() - 5] ^= 0x40;
  ASSERT_TRUE(repo_->store().Put(ObjectKind::kChunk, id, sealed).ok());

  auto result = RestoreTo(snap, tmp_ / "out");
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_EQ(result->errors[0].path, source_.substr(1) + "/victim");
  EXPECT_TRUE(result->damaged());
  EXPECT_EQ(testing::ReadFile(tmp_ / "out" + source_ + "/bystander"), "fine");
}

// More chunks than one fetch window holds: the last write batch holds small
// files and then the large one, whose chunks span several windows.
TEST_F(RestorerTest, FilesSpanningSeveralFetchWindowsRestoreWhole) {
  mkdir(source_.c_str(), 0755);
  for (int i = 0; i < 150; ++i) {
    testing::WriteFile(source_ + "/small" + std::to_string(i), testing::RandomBytes(100 + 37 * i, i));
  }
  testing::WriteFile(source_ + "/zlarge", testing::RandomBytes(24 << 20, 1000));
  Snapshot snap = BackupSource();
  auto result = RestoreTo(snap, tmp_ / "out");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  for (const auto& e : result->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
  auto diffs = testing::CompareTrees(source_, tmp_ / "out" + source_, geteuid() == 0);
  for (const auto& d : diffs) ADD_FAILURE() << d;

  // A damaged chunk in the middle of the large file fails that file alone.
  auto large = repo_->LookupPath(snap, source_.substr(1) + "/zlarge");
  ASSERT_TRUE(large.ok());
  ASSERT_GT(large->extents_size(), 10);
  auto id = *ObjectId::FromBytes(AsBytes(large->extents(large->extents_size() / 2).chunk_id()));
  Bytes sealed = *repo_->store().Get(ObjectKind::kChunk, id);
  sealed[sealed.size() / 2] ^= 0x40;
  ASSERT_TRUE(repo_->store().Put(ObjectKind::kChunk, id, sealed).ok());
  auto damaged = RestoreTo(snap, tmp_ / "again");
  ASSERT_TRUE(damaged.ok()) << damaged.status().ToString();
  ASSERT_EQ(damaged->errors.size(), 1u);
  EXPECT_EQ(damaged->errors[0].path, source_.substr(1) + "/zlarge");
  EXPECT_EQ(damaged->errors[0].status.code(), Code::kCorruption);
  for (int i : {0, 75, 149}) {
    std::string name = "/small" + std::to_string(i);
    EXPECT_EQ(testing::ReadFile(tmp_ / "again" + source_ + name), testing::ReadFile(source_ + name));
  }
}

}  // namespace
}  // namespace coffer::restore
