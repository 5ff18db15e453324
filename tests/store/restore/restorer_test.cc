#include "store/restore/restorer.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <utility>
#include <vector>

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
                                  const std::string& path = "",
                                  std::function<void(RestoreStep, const std::string&)> step = {}) {
    RestoreOptions options;
    options.target = target;
    options.restore_owners = geteuid() == 0;
    options.before_step = std::move(step);
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

// Hard links are not only files': a FIFO, a device node or a symlink with
// two names was restored as two separate inodes.
TEST_F(RestorerTest, HardLinksOfFifosSymlinksAndDeviceNodesAreLinksAgain) {
  std::filesystem::create_directories(source_ + "/a");
  std::filesystem::create_directories(source_ + "/b");
  std::vector<std::pair<std::string, std::string>> pairs;  // (first, second), below source_
  ASSERT_EQ(mkfifo((source_ + "/a/fifo").c_str(), 0640), 0);
  pairs.emplace_back("a/fifo", "b/fifo2");
  ASSERT_EQ(symlink("target", (source_ + "/a/link").c_str()), 0);
  pairs.emplace_back("a/link", "a/link2");
  if (mknod((source_ + "/a/null").c_str(), S_IFCHR | 0644, makedev(1, 3)) == 0) {
    pairs.emplace_back("a/null", "b/null2");
  }
  for (const auto& [first, second] : pairs) {
    ASSERT_EQ(link((source_ + "/" + first).c_str(), (source_ + "/" + second).c_str()), 0) << first;
  }
  Snapshot snap = BackupSource();
  const std::string target = tmp_ / "out";
  auto result = RestoreTo(snap, target);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  for (const auto& e : result->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
  for (const auto& [first, second] : pairs) {
    struct stat one, two;
    ASSERT_EQ(lstat((target + source_ + "/" + first).c_str(), &one), 0) << first;
    ASSERT_EQ(lstat((target + source_ + "/" + second).c_str(), &two), 0) << second;
    EXPECT_EQ(one.st_ino, two.st_ino) << first << " and " << second << " are not one inode";
    EXPECT_EQ(one.st_nlink, 2u) << first;
  }
}

// A default ACL in the target would hand its entries to every file created
// below it; what the snapshot did not have must not be granted.
TEST_F(RestorerTest, AclsTheSnapshotDoesNotHaveAreNotInheritedFromTheTarget) {
  std::filesystem::create_directories(source_ + "/dir/sub");
  testing::WriteFile(source_ + "/dir/file", "secret");
  ASSERT_EQ(chmod((source_ + "/dir/file").c_str(), 0640), 0);
  Snapshot snap = BackupSource();
  std::string target = tmp_ / "out";
  std::filesystem::create_directories(target);
  const std::string setfacl = "setfacl -d -m u:nobody:rwx '" + target + "' 2>&1";
  if (std::system(setfacl.c_str()) != 0) GTEST_SKIP() << "setfacl (package acl) is not usable here";

  auto result = RestoreTo(snap, target);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  for (const auto& e : result->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
  auto has = [](const std::string& path, const char* name) {
    return getxattr(path.c_str(), name, nullptr, 0) >= 0;
  };
  const std::string restored = target + source_;
  for (const std::string& path :
       {restored, restored + "/dir", restored + "/dir/sub", restored + "/dir/file"}) {
    EXPECT_FALSE(has(path, "system.posix_acl_access")) << path;
    EXPECT_FALSE(has(path, "system.posix_acl_default")) << path;
  }
  struct stat st;
  ASSERT_EQ(stat((restored + "/dir/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
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

TEST_F(RestorerTest, MissingPathIsNotFoundAndCreatesNothing) {
  mkdir(source_.c_str(), 0755);
  testing::WriteFile(source_ + "/x", "");
  Snapshot snap = BackupSource();
  const std::string target = tmp_ / "out";
  for (const std::string& missing : {std::string("no/such/path"), source_.substr(1) + "/x/below"}) {
    auto result = RestoreTo(snap, target, missing);
    EXPECT_EQ(result.status().code(), Code::kNotFound) << missing;
    struct stat st;
    EXPECT_NE(lstat(target.c_str(), &st), 0) << "the target was created for " << missing;
  }
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
    testing::WriteFile(source_ + "/small" + std::to_string(i),
                       testing::RandomBytes(100 + 37 * i, i));
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
    EXPECT_EQ(testing::ReadFile(tmp_ / "again" + source_ + name),
              testing::ReadFile(source_ + name));
  }
}

TEST_F(RestorerTest, ADamagedSnapshotRecordIsNotRestored) {
  mkdir(source_.c_str(), 0755);
  testing::WriteFile(source_ + "/x", "x");
  Snapshot snap = BackupSource();
  snap.record.Clear();
  snap.damage = Status::Corruption("snapshot record: authentication failed");
  auto result = RestoreTo(snap, tmp_ / "out");
  EXPECT_EQ(result.status().code(), Code::kCorruption);
  struct stat st;
  EXPECT_NE(stat((tmp_ / "out" + source_).c_str(), &st), 0) << "restored from a damaged record";
}

// What a folder holds, as "name mode size" lines (not following symlinks):
// enough to tell that nothing in it was created, removed, chmod'ed or written.
std::map<std::string, std::string> Contents(const std::string& dir) {
  std::map<std::string, std::string> out;
  struct stat st;
  if (lstat(dir.c_str(), &st) == 0) {
    out["."] = std::to_string(st.st_mode) + " " + std::to_string(st.st_nlink);
  }
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || lstat((dir + "/" + name).c_str(), &st) != 0) continue;
    out[name] = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                std::to_string(st.st_nlink) + " " + std::to_string(st.st_uid);
  }
  closedir(d);
  return out;
}

ino_t Inode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

mode_t Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

// A target where a directory of the snapshot already exists as a symlink to
// a folder outside (what a raced symlink leaves behind): the restore reports
// that directory, follows nothing into the outside folder, and restores the
// rest, fifos, devices and hard links included.
TEST_F(RestorerTest, ASymlinkInPlaceOfADirectoryIsReportedNotFollowed) {
  const bool root = geteuid() == 0;
  mkdir(source_.c_str(), 0755);
  mkdir((source_ + "/dir").c_str(), 0755);
  for (const std::string& dir : {source_ + "/dir", source_}) {
    ASSERT_EQ(mkfifo((dir + "/fifo").c_str(), 0644), 0);
    ASSERT_EQ(chmod((dir + "/fifo").c_str(), 0644), 0);
    if (root) {
      ASSERT_EQ(mknod((dir + "/dev").c_str(), S_IFCHR | 0644, makedev(1, 3)), 0);
    }
    testing::WriteFile(dir + "/h1", "linked " + dir);
    ASSERT_EQ(link((dir + "/h1").c_str(), (dir + "/h2").c_str()), 0);
  }
  ASSERT_EQ(link((source_ + "/dir/h1").c_str(), (source_ + "/z").c_str()), 0);  // a third link
  Snapshot snap = BackupSource();

  const std::string outside = tmp_ / "outside";
  mkdir(outside.c_str(), 0700);
  testing::WriteFile(outside + "/keep", "precious");
  chmod((outside + "/keep").c_str(), 0600);
  const auto before = Contents(outside);
  const std::string target = tmp_ / "out";
  const std::string restored = target + source_;
  std::filesystem::create_directories(restored);
  ASSERT_EQ(symlink(outside.c_str(), (restored + "/dir").c_str()), 0);

  auto result = RestoreTo(snap, target);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(Contents(outside), before) << "the restore reached into the outside folder";
  EXPECT_EQ(testing::ReadFile(outside + "/keep"), "precious");
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_EQ(result->errors[0].path, source_.substr(1) + "/dir");
  EXPECT_NE(result->errors[0].status.message().find("not followed"), std::string::npos)
      << result->errors[0].status.message();
  EXPECT_TRUE(S_ISLNK(Mode(restored + "/dir"))) << "the symlink was replaced";

  // Everything else is restored as it was.
  EXPECT_TRUE(S_ISFIFO(Mode(restored + "/fifo")));
  EXPECT_EQ(Mode(restored + "/fifo") & 07777, 0644u);
  if (root) {
    struct stat st {};
    ASSERT_EQ(lstat((restored + "/dev").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
    EXPECT_EQ(st.st_mode & 07777, 0644u);
  }
  EXPECT_EQ(testing::ReadFile(restored + "/h1"), "linked " + source_);
  EXPECT_EQ(Inode(restored + "/h1"), Inode(restored + "/h2"));
  // z's other links were in the directory not restored: it is restored on its own.
  EXPECT_EQ(testing::ReadFile(restored + "/z"), "linked " + source_ + "/dir");
}

// The race itself, stepped through the restorer's seam: a fifo swapped for a
// symlink to a file outside between its creation and its chmod.
TEST_F(RestorerTest, AFifoSwappedForASymlinkIsNotChmodedThroughIt) {
  mkdir(source_.c_str(), 0755);
  ASSERT_EQ(mkfifo((source_ + "/fifo").c_str(), 0666), 0);
  ASSERT_EQ(chmod((source_ + "/fifo").c_str(), 0666), 0);
  Snapshot snap = BackupSource();
  const std::string victim = tmp_ / "victim";
  testing::WriteFile(victim, "secret");
  chmod(victim.c_str(), 0600);
  const std::string target = tmp_ / "out";
  int swapped = 0;
  auto result = RestoreTo(snap, target, "", [&](RestoreStep step, const std::string& rel) {
    if (step != RestoreStep::kNodeMetadata || !rel.ends_with("/fifo")) return;
    const std::string path = target + "/" + rel;
    ASSERT_EQ(unlink(path.c_str()), 0);
    ASSERT_EQ(symlink(victim.c_str(), path.c_str()), 0);
    ++swapped;
  });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(swapped, 1);
  EXPECT_EQ(Mode(victim) & 07777, 0600u) << "chmod followed the symlink out of the target";
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_EQ(result->errors[0].path, source_.substr(1) + "/fifo");
}

// A further hard link is made from the first link's directory, held open: a
// directory on the path renamed and replaced by a symlink meanwhile cannot
// redirect it to a file outside the target.
TEST_F(RestorerTest, AFurtherHardLinkIsMadeFromTheFirstLinksDirectoryNotByPath) {
  mkdir(source_.c_str(), 0755);
  mkdir((source_ + "/a").c_str(), 0755);
  mkdir((source_ + "/b").c_str(), 0755);
  testing::WriteFile(source_ + "/a/f", "the linked file");
  ASSERT_EQ(link((source_ + "/a/f").c_str(), (source_ + "/b/f").c_str()), 0);
  Snapshot snap = BackupSource();
  const std::string outside = tmp_ / "outside";
  mkdir(outside.c_str(), 0700);
  testing::WriteFile(outside + "/f", "not to be linked");
  const std::string target = tmp_ / "out";
  const std::string restored = target + source_;
  int swapped = 0;
  auto result = RestoreTo(snap, target, "", [&](RestoreStep step, const std::string& rel) {
    if (step != RestoreStep::kLink) return;
    ASSERT_EQ(rename((restored + "/a").c_str(), (restored + "/a.moved").c_str()), 0);
    ASSERT_EQ(symlink(outside.c_str(), (restored + "/a").c_str()), 0);
    ++swapped;
  });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(swapped, 1);
  for (const auto& e : result->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
  EXPECT_NE(Inode(restored + "/b/f"), Inode(outside + "/f")) << "linked a file outside the target";
  EXPECT_EQ(Inode(restored + "/b/f"), Inode(restored + "/a.moved/f"));
  EXPECT_EQ(testing::ReadFile(restored + "/b/f"), "the linked file");
  EXPECT_EQ(testing::ReadFile(outside + "/f"), "not to be linked");
}

}  // namespace
}  // namespace coffer::restore
