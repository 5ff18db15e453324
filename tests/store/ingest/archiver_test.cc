#include "store/ingest/archiver.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "store/model/tree.h"
#include "store/repo/snapshot_needs.h"
#include "store/restore/restorer.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::ingest {
namespace {

using testing::TempDir;

class ArchiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
    source_ = tmp_ / "src";
    mkdir(source_.c_str(), 0755);
  }

  Result<BackupResult> Backup(const std::vector<std::string>& paths, int64_t seconds,
                              BackupOptions options = {}) {
    options.group = "host/test";
    options.time_ns = seconds * 1'000'000'000;
    Archiver archiver(*repo_, options, nullptr);
    return archiver.BackupPaths(paths);
  }

  // The entry of `source_` in a snapshot: paths are stored without the leading slash.
  std::string InSnapshot(const std::string& rel = "") {
    return source_.substr(1) + (rel.empty() ? "" : "/" + rel);
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  std::string source_;
};

TEST_F(ArchiverTest, StoresPathsAsAbsolutePathsWithoutTheLeadingSlash) {
  testing::WriteFile(source_ + "/a.txt", "alpha");
  auto result = Backup({source_}, 1000);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  auto entry = repo_->LookupPath(result->snapshot, InSnapshot("a.txt"));
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  EXPECT_EQ(entry->size(), 5u);
  EXPECT_EQ(result->snapshot.record.paths(0), source_);
  EXPECT_EQ(result->snapshot.record.stats().files_new(), 1u);
}

TEST_F(ArchiverTest, UnchangedFilesAreNotReadAgain) {
  testing::WriteFile(source_ + "/big", testing::RandomBytes(5 << 20, 1));
  testing::WriteFile(source_ + "/small", "small");
  auto first = Backup({source_}, 1000);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->snapshot.record.stats().bytes_read(), (5u << 20) + 5);

  auto second = Backup({source_}, 2000);
  ASSERT_TRUE(second.ok());
  const auto& stats = second->snapshot.record.stats();
  EXPECT_EQ(stats.bytes_read(), 0u);
  EXPECT_EQ(stats.files_unchanged(), 2u);
  EXPECT_EQ(stats.chunks_added(), 0u);
  // An identical directory encodes to the identical tree, so it deduplicates.
  // (Its parents may differ: other tests touch the shared temporary folder.)
  EXPECT_EQ(repo_->LookupPath(second->snapshot, InSnapshot())->subtree_id(),
            repo_->LookupPath(first->snapshot, InSnapshot())->subtree_id());
  EXPECT_EQ(second->snapshot.record.parent_id(),
            std::string(first->snapshot.ref.id.bytes.begin(), first->snapshot.ref.id.bytes.end()));
}

// What a re-backup reuses from the parent snapshot for an inode whose ctime
// has not moved, and reads again when it has.
TEST_F(ArchiverTest, AReBackupReadsXattrsAndSymlinksAgainOnlyWhenTheirCtimeMoved) {
  mkdir((source_ + "/kept").c_str(), 0755);
  mkdir((source_ + "/changed").c_str(), 0755);
  testing::SetXattr(source_ + "/kept", "user.note", "kept");
  testing::SetXattr(source_ + "/changed", "user.note", "before");
  ASSERT_EQ(symlink("target-before", (source_ + "/link").c_str()), 0);
  ASSERT_EQ(symlink("stays", (source_ + "/steady").c_str()), 0);
  ASSERT_TRUE(Backup({source_}, 1000).ok());

  testing::SetXattr(source_ + "/changed", "user.note", "after");
  ASSERT_EQ(unlink((source_ + "/link").c_str()), 0);
  ASSERT_EQ(symlink("target-after", (source_ + "/link").c_str()), 0);
  auto second = Backup({source_}, 2000);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto xattr = [&](const std::string& rel) {
    auto entry = repo_->LookupPath(second->snapshot, InSnapshot(rel));
    EXPECT_TRUE(entry.ok()) << rel;
    EXPECT_EQ(entry->xattrs_size(), 1) << rel;
    return entry->xattrs_size() == 1 ? entry->xattrs(0).value() : std::string();
  };
  EXPECT_EQ(xattr("kept"), "kept");
  EXPECT_EQ(xattr("changed"), "after");
  EXPECT_EQ(repo_->LookupPath(second->snapshot, InSnapshot("link"))->symlink_target(),
            "target-after");
  EXPECT_EQ(repo_->LookupPath(second->snapshot, InSnapshot("steady"))->symlink_target(), "stays");

  // A third backup reuses what the second moved out of its parent's tree.
  auto third = Backup({source_}, 3000);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(repo_->LookupPath(third->snapshot, InSnapshot())->subtree_id(),
            repo_->LookupPath(second->snapshot, InSnapshot())->subtree_id());
}

// Attributes are read from the open file or directory where the walk opens
// one, and from the path for what it does not open: a second name of a
// hardlinked file, a symlink, a FIFO. Each kind must keep its own.
TEST_F(ArchiverTest, XattrsAreReadForEveryKindOfEntry) {
  testing::WriteFile(source_ + "/file", "content");
  // Names longer in all than the first listing buffer (1 KiB), and a value
  // longer than the first value buffer (256 bytes), within what ext4 keeps
  // for one inode (a 4 KiB block).
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 24; ++i) {
    many.emplace_back("user.a-rather-long-attribute-name-number-" + std::to_string(100 + i),
                      i == 7 ? testing::RandomBytes(300, 7) : "v" + std::to_string(i));
  }
  for (const auto& [name, value] : many) testing::SetXattr(source_ + "/file", name, value);
  mkdir((source_ + "/dir").c_str(), 0755);
  testing::SetXattr(source_ + "/dir", "user.kind", "directory");
  testing::WriteFile(source_ + "/linked", "shared");
  testing::SetXattr(source_ + "/linked", "user.kind", "hardlinked");
  ASSERT_EQ(link((source_ + "/linked").c_str(), (source_ + "/second-name").c_str()), 0);
  ASSERT_EQ(symlink("file", (source_ + "/symlink").c_str()), 0);
  ASSERT_EQ(mkfifo((source_ + "/fifo").c_str(), 0644), 0);
  // Only trusted.* (root) may be set on a symlink or a FIFO.
  const bool root = geteuid() == 0;
  if (root) {
    testing::SetXattr(source_ + "/symlink", "trusted.kind", "symlink");
    testing::SetXattr(source_ + "/fifo", "trusted.kind", "fifo");
  }

  auto result = Backup({source_}, 1000);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->snapshot.record.stats().errors(), 0u);
  auto xattrs = [&](const std::string& rel) {
    std::vector<std::pair<std::string, std::string>> found;
    auto entry = repo_->LookupPath(result->snapshot, InSnapshot(rel));
    EXPECT_TRUE(entry.ok()) << rel;
    if (entry.ok()) {
      for (const auto& x : entry->xattrs()) found.emplace_back(x.name(), x.value());
    }
    return found;
  };
  EXPECT_EQ(xattrs("file"), many);  // sorted by name, as they were made
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(xattrs("dir"), (Pairs{{"user.kind", "directory"}}));
  EXPECT_EQ(xattrs("linked"), (Pairs{{"user.kind", "hardlinked"}}));
  EXPECT_EQ(xattrs("second-name"), (Pairs{{"user.kind", "hardlinked"}}));
  if (root) {
    EXPECT_EQ(xattrs("symlink"), (Pairs{{"trusted.kind", "symlink"}}));
    EXPECT_EQ(xattrs("fifo"), (Pairs{{"trusted.kind", "fifo"}}));
  } else {
    GTEST_LOG_(INFO) << "not root: the symlink's and the FIFO's attributes are not checked";
  }
}

TEST_F(ArchiverTest, ForceReadsEverythingAgain) {
  testing::WriteFile(source_ + "/f", "content");
  ASSERT_TRUE(Backup({source_}, 1000).ok());
  BackupOptions options;
  options.force = true;
  auto second = Backup({source_}, 2000, options);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->snapshot.record.stats().bytes_read(), 7u);
}

TEST_F(ArchiverTest, AnInsertionInABigFileStoresAboutOneChunk) {
  std::string data = testing::RandomBytes(32 << 20, 2);
  testing::WriteFile(source_ + "/big", data);
  auto first = Backup({source_}, 1000);
  ASSERT_TRUE(first.ok());
  data.insert(data.size() / 2, "inserted in the middle");
  testing::WriteFile(source_ + "/big", data);
  auto second = Backup({source_}, 2000);
  ASSERT_TRUE(second.ok());
  const auto& stats = second->snapshot.record.stats();
  EXPECT_EQ(stats.files_changed(), 1u);
  EXPECT_LE(stats.chunks_added(), 3u);
  EXPECT_LT(stats.bytes_added(), 10u << 20) << "a 22-byte insertion re-stored most of 32 MiB";
}

TEST_F(ArchiverTest, DuplicateFilesAreStoredOnce) {
  std::string data = testing::RandomBytes(2 << 20, 3);
  testing::WriteFile(source_ + "/one", data);
  testing::WriteFile(source_ + "/two", data);
  auto result = Backup({source_}, 1000);
  ASSERT_TRUE(result.ok());
  EXPECT_LT(result->snapshot.record.stats().bytes_added(), (2u << 20) + (256u << 10));
}

TEST_F(ArchiverTest, HardlinksAreReadOnceAndKeepTheirInode) {
  testing::WriteFile(source_ + "/a", testing::RandomBytes(1 << 20, 4));
  ASSERT_EQ(link((source_ + "/a").c_str(), (source_ + "/b").c_str()), 0);
  auto result = Backup({source_}, 1000);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->snapshot.record.stats().bytes_read(), 1u << 20);
  auto a = repo_->LookupPath(result->snapshot, InSnapshot("a"));
  auto b = repo_->LookupPath(result->snapshot, InSnapshot("b"));
  EXPECT_EQ(a->inode(), b->inode());
  EXPECT_EQ(a->nlink(), 2u);
}

TEST_F(ArchiverTest, HolesAreNotStoredAsData) {
  testing::MakeSparseFile(source_ + "/sparse", 256ull << 20, {100 << 20}, 4096);
  auto result = Backup({source_}, 1000);
  ASSERT_TRUE(result.ok());
  EXPECT_LE(result->snapshot.record.stats().bytes_read(), 1u << 20);
  auto entry = repo_->LookupPath(result->snapshot, InSnapshot("sparse"));
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->size(), 256ull << 20);
  uint64_t total = 0;
  for (const auto& e : entry->extents()) total += e.size();
  EXPECT_EQ(total, 256ull << 20);
}

// keep.txt, `excluded_file` and cache/inner in the source, and the
// excludes that leave only keep.txt of them.
BackupOptions ExcludesAndATreeForThem(const std::string& source, const std::string& excluded_file) {
  testing::WriteFile(source + "/keep.txt", "k");
  testing::WriteFile(source + "/" + excluded_file, "x");
  mkdir((source + "/cache").c_str(), 0755);
  testing::WriteFile(source + "/cache/inner", "i");
  BackupOptions options;
  options.excludes = {"*.tmp", "cache"};
  return options;
}

TEST_F(ArchiverTest, ExcludedEntriesAreLeftOut) {
  const BackupOptions options = ExcludesAndATreeForThem(source_, "skip.tmp");
  auto result = Backup({source_}, 1000, options);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(repo_->LookupPath(result->snapshot, InSnapshot("keep.txt")).ok());
  EXPECT_FALSE(repo_->LookupPath(result->snapshot, InSnapshot("skip.tmp")).ok());
  EXPECT_FALSE(repo_->LookupPath(result->snapshot, InSnapshot("cache")).ok());
}

TEST_F(ArchiverTest, ExcludesApplyToTheNamedPathsAndWhatLiesInThem) {
  const BackupOptions options = ExcludesAndATreeForThem(source_, "named.tmp");
  auto result = Backup({source_ + "/keep.txt", source_ + "/named.tmp", source_ + "/cache/inner"},
                       1000, options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->errors.empty());
  EXPECT_TRUE(repo_->LookupPath(result->snapshot, InSnapshot("keep.txt")).ok());
  EXPECT_FALSE(repo_->LookupPath(result->snapshot, InSnapshot("named.tmp")).ok());
  EXPECT_FALSE(repo_->LookupPath(result->snapshot, InSnapshot("cache")).ok());

  auto nothing_left = Backup({source_ + "/named.tmp", source_ + "/cache"}, 1001, options);
  ASSERT_FALSE(nothing_left.ok());
  EXPECT_EQ(nothing_left.status().code(), Code::kInvalidArgument);
  EXPECT_NE(nothing_left.status().message().find("every PATH given is excluded"), std::string::npos)
      << nothing_left.status().ToString();
}

TEST_F(ArchiverTest, AMissingPathIsReportedAndTheRestStored) {
  testing::WriteFile(source_ + "/here", "h");
  auto result = Backup({source_, tmp_ / "does-not-exist"}, 1000);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_EQ(result->errors[0].path, tmp_ / "does-not-exist");
  EXPECT_TRUE(result->snapshot.record.incomplete());
  EXPECT_TRUE(repo_->LookupPath(result->snapshot, InSnapshot("here")).ok());
}

// An empty directory holds no entries: its tree must be stored all the
// same, even when it is the last thing the walk visits.
TEST_F(ArchiverTest, EmptyDirectoriesNamedOnTheCommandLineAreStored) {
  std::string full = tmp_ / "a-full", empty = tmp_ / "b-empty", emptied = tmp_ / "c-emptied";
  mkdir(full.c_str(), 0755);
  mkdir(empty.c_str(), 0755);
  mkdir(emptied.c_str(), 0755);
  testing::WriteFile(full + "/f", "f");
  testing::WriteFile(emptied + "/only.tmp", "t");
  BackupOptions options;
  options.excludes = {"*.tmp"};
  int64_t seconds = 1000;
  for (const std::vector<std::string>& paths :
       {std::vector<std::string>{empty}, std::vector<std::string>{full, empty},
        std::vector<std::string>{full, emptied}, std::vector<std::string>{empty, emptied}}) {
    auto result = Backup(paths, ++seconds, options);
    ASSERT_TRUE(result.ok()) << paths.size() << " paths, last " << paths.back() << ": "
                             << result.status().ToString();
    for (const std::string& path : paths) {
      auto entry = repo_->LookupPath(result->snapshot, path.substr(1));
      ASSERT_TRUE(entry.ok()) << path << ": " << entry.status().ToString();
      auto id = ObjectId::FromBytes(AsBytes(entry->subtree_id()));
      ASSERT_TRUE(id.has_value()) << path;
      auto tree = repo_->ReadTree(*id);
      ASSERT_TRUE(tree.ok()) << path << ": " << tree.status().ToString();
      EXPECT_EQ(tree->entries_size(), path == full ? 1 : 0) << path;
    }
  }
}

TEST_F(ArchiverTest, ASymlinkAboveAPathIsStoredAsTheDirectoryItNames) {
  std::string real = tmp_ / "real", link = tmp_ / "link";
  mkdir(real.c_str(), 0750);
  mkdir((real + "/dir").c_str(), 0755);
  testing::WriteFile(real + "/dir/f", "f");
  ASSERT_EQ(symlink("real", link.c_str()), 0);
  auto result = Backup({link + "/dir"}, 1000);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->errors.empty());
  auto above = repo_->LookupPath(result->snapshot, link.substr(1));
  ASSERT_TRUE(above.ok()) << above.status().ToString();
  EXPECT_EQ(above->type(), pb::Entry::DIRECTORY);
  EXPECT_EQ(above->mode() & 07777, 0750u);
  EXPECT_TRUE(repo_->LookupPath(result->snapshot, link.substr(1) + "/dir/f").ok());
}

// As the kernel resolves paths: /var/run is the symlink, /var/run/ the
// directory it names.
TEST_F(ArchiverTest, ASymlinkGivenWithATrailingSlashIsStoredAsTheDirectoryItNames) {
  std::string real = tmp_ / "real", link = tmp_ / "link";
  mkdir(real.c_str(), 0755);
  testing::WriteFile(real + "/f", "f");
  ASSERT_EQ(symlink("real", link.c_str()), 0);

  auto as_link = Backup({link}, 1000);
  ASSERT_TRUE(as_link.ok()) << as_link.status().ToString();
  auto entry = repo_->LookupPath(as_link->snapshot, link.substr(1));
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  EXPECT_EQ(entry->type(), pb::Entry::SYMLINK);

  auto followed = Backup({link + "/"}, 1001);
  ASSERT_TRUE(followed.ok()) << followed.status().ToString();
  entry = repo_->LookupPath(followed->snapshot, link.substr(1));
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  EXPECT_EQ(entry->type(), pb::Entry::DIRECTORY);
  auto file = repo_->LookupPath(followed->snapshot, link.substr(1) + "/f");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->size(), 1u);
}

TEST_F(ArchiverTest, APathThatFailsAboveItLeavesNothingOfItBehind) {
  testing::WriteFile(source_ + "/kept", "k");
  testing::WriteFile(tmp_ / "a-file", "not a directory");
  // Each failing PATH, and the directory above it the walk must not keep.
  const std::pair<std::string, std::string> cases[] = {{tmp_ / "typo/deeper/file", tmp_ / "typo"},
                                                       {tmp_ / "a-file/below", tmp_ / "a-file"}};
  int64_t seconds = 1000;
  for (const auto& [bad, above] : cases) {
    auto result = Backup({bad, source_ + "/kept"}, ++seconds);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    ASSERT_EQ(result->errors.size(), 1u);
    EXPECT_EQ(result->errors[0].path, bad);
    EXPECT_FALSE(repo_->LookupPath(result->snapshot, above.substr(1)).ok())
        << above << " is in the snapshot";
    EXPECT_TRUE(repo_->LookupPath(result->snapshot, InSnapshot("kept")).ok());
  }
}

TEST_F(ArchiverTest, ARelativePathWithoutACurrentDirectoryIsAnError) {
  char before[PATH_MAX];
  ASSERT_NE(getcwd(before, sizeof before), nullptr);
  std::string gone = tmp_ / "gone";
  mkdir(gone.c_str(), 0755);
  ASSERT_EQ(chdir(gone.c_str()), 0);
  ASSERT_EQ(rmdir(gone.c_str()), 0);
  auto result = Backup({"etc/hostname"}, 1000);
  ASSERT_EQ(chdir(before), 0);
  EXPECT_FALSE(result.ok()) << "a relative PATH was taken from somewhere";
  EXPECT_NE(result.status().message().find("current directory"), std::string::npos)
      << result.status().ToString();
  EXPECT_TRUE(repo_->ListSnapshots()->empty());
}

TEST_F(ArchiverTest, NothingToBackUpIsAnError) {
  auto result = Backup({tmp_ / "nope"}, 1000);
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(repo_->ListSnapshots()->empty());
}

// A disk image: 64 KiB chunks aligned to its start, zero chunks as holes.
class ImageBackupTest : public ArchiverTest {
 protected:
  static constexpr uint64_t kChunk = 65536;

  void SetUp() override {
    ArchiverTest::SetUp();
    // 100 chunks and 1000 bytes; chunks 20..59 zero.
    image_ = testing::RandomBytes(100 * kChunk + 1000, 5);
    std::fill_n(image_.begin() + 20 * kChunk, 40 * kChunk, '\0');
    disk_ = source_ + "/disk.raw";
    testing::WriteFile(disk_, image_);
  }

  std::string Restored(const Snapshot& snapshot, const std::string& path) {
    std::string target = tmp_ / ("restored-" + std::to_string(++restores_));
    restore::RestoreOptions options;
    options.target = target;
    restore::Restorer restorer(*repo_, options);
    auto result = restorer.Restore(snapshot, path.substr(1));
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return target + path;
  }

  std::string image_, disk_;
  int restores_ = 0;
};

TEST_F(ImageBackupTest, WithImageAFileIsStoredInAlignedChunksWithZerosAsHoles) {
  BackupOptions options;
  options.image = true;
  auto first = Backup({disk_}, 1000, options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->snapshot.record.stats().chunks_added(), 61u);  // 60 chunks and the tail
  auto entry = repo_->LookupPath(first->snapshot, disk_.substr(1));
  ASSERT_TRUE(entry.ok());
  ASSERT_EQ(entry->extents_size(), 20 + 1 + 41);
  EXPECT_TRUE(entry->extents(20).chunk_id().empty());
  EXPECT_EQ(entry->extents(20).size(), 40 * kChunk);
  EXPECT_EQ(testing::ReadFile(Restored(first->snapshot, disk_)), image_);

  // One byte changed in chunk 70: one chunk is new.
  image_[70 * kChunk + 123] ^= 1;
  testing::WriteFile(disk_, image_);
  auto second = Backup({disk_}, 2000, options);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->snapshot.record.stats().chunks_added(), 1u);
  EXPECT_EQ(testing::ReadFile(Restored(second->snapshot, disk_)), image_);
}

TEST_F(ImageBackupTest, ABlockDeviceNamedAsAPathIsReadAsItsContent) {
  BackupOptions options;
  options.image = true;
  ASSERT_TRUE(Backup({disk_}, 1000, options).ok());

  // A loop device over the same bytes: the device's content, under its name.
  std::string device;
  {
    FILE* out = popen(("losetup --find --show " + disk_ + " 2>/dev/null").c_str(), "r");
    char line[256] = {};
    if (out && fgets(line, sizeof line, out)) device = line;
    if (out) pclose(out);
    if (!device.empty() && device.back() == '\n') device.pop_back();
  }
  if (device.empty())
    GTEST_SKIP() << "cannot attach a loop device (needs root and /dev/loop-control)";
  struct Detach {
    std::string device;
    ~Detach() { (void)!system(("losetup --detach " + device).c_str()); }
  } detach{device};

  // A loop device's size is whole 512-byte sectors.
  const uint64_t sectors = image_.size() / 512 * 512;
  auto result = Backup({device}, 2000);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  auto entry = repo_->LookupPath(result->snapshot, device.substr(1));
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  EXPECT_EQ(entry->type(), pb::Entry::FILE);
  EXPECT_EQ(entry->size(), sectors);
  // The same chunks as the file's image, but the cut last one.
  EXPECT_LE(result->snapshot.record.stats().chunks_added(), 1u);
  EXPECT_EQ(testing::ReadFile(Restored(result->snapshot, device)), image_.substr(0, sectors));
}

// The needs set a backup writes is what its trees reach, read tree by tree,
// for a first backup of a real tree with odd names, hardlinks, holes and
// xattrs, and for the next after a change: there as a difference.
TEST_F(ArchiverTest, BackupsNameExactlyWhatTheirTreesReach) {
  testing::MakeKitchenSinkTree(source_);
  testing::WriteFile(source_ + "/big", testing::RandomBytes(3 << 20, 5));
  auto walked = [&](const Snapshot& s) {
    auto set = CollectNeeds(*repo_, *ObjectId::FromBytes(AsBytes(s.record.root_tree_id())), {});
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    return set.ok() ? *set : NeedsSet{};
  };
  auto first = Backup({source_}, 1000);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->snapshot.needs.has_value());
  auto chain = ReadNeedsChain(repo_->store(), *first->snapshot.needs);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->set, walked(first->snapshot));
  EXPECT_GT(chain->set.size(), 20u);

  testing::WriteFile(source_ + "/new file", "new");
  auto second = Backup({source_}, 2000);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  chain = ReadNeedsChain(repo_->store(), *second->snapshot.needs);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->set, walked(second->snapshot));
  EXPECT_EQ(chain->lists, 2u);
}

TEST_F(ArchiverTest, StreamFailsWithoutSnapshotWhenTheProducerFails) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "partial dump", 12), 12);
  close(fds[1]);
  BackupOptions options;
  options.group = "host/db";
  options.time_ns = 1'000'000'000;
  Archiver archiver(*repo_, options, nullptr);
  auto result = archiver.BackupStream(
      fds[0], "db.sql", [] { return Status::Aborted("pg_dump exited with status 1"); });
  close(fds[0]);
  EXPECT_EQ(result.status().code(), Code::kAborted);
  EXPECT_TRUE(repo_->ListSnapshots()->empty());
}

TEST_F(ArchiverTest, StreamIsStoredAsOneFile) {
  std::string data = testing::RandomBytes(9 << 20, 5);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t writer = fork();
  if (writer == 0) {
    close(fds[0]);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = write(fds[1], data.data() + off, std::min<size_t>(65536, data.size() - off));
      if (n <= 0) _exit(1);
      off += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  BackupOptions options;
  options.group = "host/db";
  options.time_ns = 1'000'000'000;
  Archiver archiver(*repo_, options, nullptr);
  auto result = archiver.BackupStream(fds[0], "db.sql", [] { return Status::Ok(); });
  close(fds[0]);
  waitpid(writer, nullptr, 0);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  auto entry = repo_->LookupPath(result->snapshot, "db.sql");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->size(), data.size());
  testing::TempDir out;
  int fd = open((out / "copy").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_TRUE(restore::WriteFileContent(*repo_, *entry, fd).ok());
  close(fd);
  EXPECT_EQ(testing::ReadFile(out / "copy"), data);
}

TEST(AbsolutePathTest, NormalizesLexically) {
  EXPECT_EQ(AbsolutePath("a/./b/../c", "/home/u"), "/home/u/a/c");
  EXPECT_EQ(AbsolutePath("/srv/data/", "/x"), "/srv/data");
  EXPECT_EQ(AbsolutePath("../..", "/a"), "/");
  EXPECT_EQ(AbsolutePath(".", "/"), "/");
}

}  // namespace
}  // namespace coffer::ingest
