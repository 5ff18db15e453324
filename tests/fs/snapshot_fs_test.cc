// SnapshotFs without a mount: lookups, attributes, listings, reads at odd
// offsets, holes, hardlinks, xattrs, refresh and damage, and the partitions
// of disk images, over a real repository made with the store API.
#include "fs/snapshot_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "fs/file_reader.h"
#include "store/gc/collector.h"
#include "store/ingest/archiver.h"
#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::fs {
namespace {

using testing::TempDir;

constexpr int64_t kSecond = 1'000'000'000;

// Records what SnapshotFs tells the kernel.
class RecordingKernel : public KernelCache {
 public:
  struct Offered {
    uint64_t ino, offset;
    std::string data;
  };
  void Offer(uint64_t ino, uint64_t offset, ByteView data, ChunkPtr keep) override {
    ASSERT_NE(keep, nullptr);
    std::lock_guard lock(mu);
    offers.push_back({ino, offset, std::string(data.begin(), data.end())});
  }
  void Trim() override {
    std::lock_guard lock(mu);
    ++trims;
  }
  std::mutex mu;
  std::vector<Offered> offers;
  int trims = 0;
};

class SnapshotFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
    source_ = tmp_ / "src";
    ASSERT_EQ(mkdir(source_.c_str(), 0755), 0);
    big_ = testing::RandomBytes(5 * 1024 * 1024 + 123, 77);  // several chunks
    testing::WriteFile(source_ + "/big.bin", big_);
    testing::WriteFile(source_ + "/small.txt", "hello coffer\n");
    testing::SetXattr(source_ + "/small.txt", "user.colour", "blue");
    testing::SetXattr(source_ + "/small.txt", "user.empty", "");
    ASSERT_EQ(link((source_ + "/small.txt").c_str(), (source_ + "/link.txt").c_str()), 0);
    ASSERT_EQ(symlink("small.txt", (source_ + "/sym").c_str()), 0);
    ASSERT_EQ(mkdir((source_ + "/sub").c_str(), 0700), 0);
    testing::MakeSparseFile(source_ + "/sub/sparse.img", 8 << 20, {0, 3 << 20}, 4096);
    options_.now_ns = [this] { return now_; };
    options_.log = [this](const std::string& line) { log_.push_back(line); };
  }

  Snapshot Backup(int64_t time_ns) {
    ingest::BackupOptions options;
    options.group = "host/test";
    options.time_ns = time_ns;
    ingest::Archiver archiver(*repo_, options, nullptr);
    auto result = archiver.BackupPaths({source_});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result->snapshot;
  }

  // Backs up `paths` as disk images (BackupOptions::image).
  void BackupImages(const std::vector<std::string>& paths, int64_t time_ns) {
    ingest::BackupOptions options;
    options.group = "host/test";
    options.time_ns = time_ns;
    options.image = true;
    ingest::Archiver archiver(*repo_, options, nullptr);
    auto result = archiver.BackupPaths(paths);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
  }

  void StartFs() {
    fs_ = std::make_unique<SnapshotFs>(*repo_, options_);
    ASSERT_TRUE(fs_->Start().ok());
  }

  // Looks up every component of `path` from the root (counting lookups as the kernel would).
  Result<Attr> Walk(const std::string& path) {
    uint64_t ino = InodeTable::kRootIno;
    Result<Attr> attr = Status::NotFound(path);
    for (const std::string& part : model::SplitPath(path)) {
      attr = fs_->Lookup(ino, part);
      if (!attr.ok()) return attr;
      ino = attr->ino;
    }
    return attr;
  }
  std::string InSnapshot(const std::string& time, const std::string& rel) {
    return "host/test/" + time + source_ + (rel.empty() ? "" : "/" + rel);
  }

  std::string ReadAt(FileHandle& file, uint64_t offset, size_t size) {
    auto data = fs_->Read(file, offset, size);
    EXPECT_TRUE(data.ok()) << data.status().ToString();
    if (!data.ok()) return {};
    std::string out;
    for (const auto& v : data->iov) out.append(static_cast<const char*>(v.iov_base), v.iov_len);
    EXPECT_EQ(out.size(), data->size);
    return out;
  }

  std::unique_ptr<FileHandle> OpenPath(const std::string& path) {
    auto attr = Walk(path);
    EXPECT_TRUE(attr.ok()) << path << ": " << attr.status().ToString();
    if (!attr.ok()) return nullptr;
    auto file = fs_->Open(attr->ino);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return file.ok() ? std::move(file).value() : nullptr;
  }

  std::vector<std::string> List(const std::string& path) {
    uint64_t ino = InodeTable::kRootIno;
    if (!path.empty()) ino = Walk(path)->ino;
    auto dir = fs_->OpenDir(ino);
    EXPECT_TRUE(dir.ok()) << dir.status().ToString();
    std::vector<std::string> names;
    for (size_t i = 0; i < (*dir)->count(); ++i) {
      auto item = fs_->ItemAt(**dir, i);
      EXPECT_TRUE(item.ok()) << item.status().ToString();
      if (item.ok()) names.emplace_back(item->name);
    }
    return names;
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  std::string source_, big_;
  int64_t now_ = 1000 * kSecond;
  FsOptions options_;
  std::vector<std::string> log_;
  std::unique_ptr<SnapshotFs> fs_;
  const std::string t1_ = "1970-01-01T00:00:01Z";
};

TEST_F(SnapshotFsTest, SyntheticLayoutIsTypeGroupTimeAndLatest) {
  Backup(1 * kSecond);
  StartFs();
  EXPECT_EQ(List(""), (std::vector<std::string>{".", "..", "host"}));
  EXPECT_EQ(List("host"), (std::vector<std::string>{".", "..", "test"}));
  EXPECT_EQ(List("host/test"), (std::vector<std::string>{".", "..", t1_, "latest"}));
  auto group = Walk("host/test");
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(group->st.st_mode, S_IFDIR | 0555);
  EXPECT_EQ(group->st.st_mtim.tv_sec, 1);
  auto latest = Walk("host/test/latest");
  ASSERT_TRUE(latest.ok());
  EXPECT_TRUE(S_ISLNK(latest->st.st_mode));
  EXPECT_EQ(*fs_->ReadLink(latest->ino), t1_);
  EXPECT_EQ(Walk("host/nope").status().code(), Code::kNotFound);
  EXPECT_EQ(Walk("vm").status().code(), Code::kNotFound);
}

TEST_F(SnapshotFsTest, AttributesAreTheStoredOnes) {
  Backup(1 * kSecond);
  StartFs();
  struct stat src;
  ASSERT_EQ(lstat((source_ + "/big.bin").c_str(), &src), 0);
  auto attr = Walk(InSnapshot(t1_, "big.bin"));
  ASSERT_TRUE(attr.ok()) << attr.status().ToString();
  EXPECT_EQ(attr->st.st_mode, src.st_mode);
  EXPECT_EQ(attr->st.st_size, src.st_size);
  EXPECT_EQ(attr->st.st_uid, src.st_uid);
  EXPECT_EQ(attr->st.st_mtim.tv_sec, src.st_mtim.tv_sec);
  EXPECT_EQ(attr->st.st_mtim.tv_nsec, src.st_mtim.tv_nsec);
  EXPECT_EQ(attr->st.st_blocks, (src.st_size + 511) / 512);
  EXPECT_EQ(attr->timeout, SnapshotFs::kSnapshotTimeout);

  auto sym = Walk(InSnapshot(t1_, "sym"));
  ASSERT_TRUE(sym.ok());
  EXPECT_TRUE(S_ISLNK(sym->st.st_mode));
  EXPECT_EQ(*fs_->ReadLink(sym->ino), "small.txt");

  auto sparse = Walk(InSnapshot(t1_, "sub/sparse.img"));
  ASSERT_TRUE(sparse.ok());
  EXPECT_EQ(sparse->st.st_size, 8 << 20);
  EXPECT_LT(sparse->st.st_blocks, (1 << 20) / 512) << "holes counted as stored bytes";
  EXPECT_EQ(Walk(InSnapshot(t1_, "sub"))->st.st_mode, S_IFDIR | 0700);
}

TEST_F(SnapshotFsTest, ReadsAtOddOffsetsAcrossChunkBoundaries) {
  Backup(1 * kSecond);
  StartFs();
  auto file = OpenPath(InSnapshot(t1_, "big.bin"));
  ASSERT_NE(file, nullptr);
  ASSERT_GT(file->whole->starts.size(), 3u) << "expected several chunks";
  for (uint64_t boundary : {file->whole->starts[1], file->whole->starts[2]}) {
    EXPECT_EQ(ReadAt(*file, boundary - 7, 131072), big_.substr(boundary - 7, 131072));
  }
  EXPECT_EQ(ReadAt(*file, 1, 3), big_.substr(1, 3));
  EXPECT_EQ(ReadAt(*file, big_.size() - 5, 4096), big_.substr(big_.size() - 5));
  EXPECT_EQ(ReadAt(*file, big_.size(), 4096), "");
  EXPECT_EQ(ReadAt(*file, 0, big_.size() + 100), big_);
  // Sequential 128 KiB reads open each chunk once.
  uint64_t before = fs_->chunk_cache().loads();
  for (uint64_t off = 0; off < big_.size(); off += 131072) ReadAt(*file, off, 131072);
  EXPECT_EQ(fs_->chunk_cache().loads(), before) << "chunks already cached were opened again";
}

TEST_F(SnapshotFsTest, HolesReadAsZerosAndSeekFindsData) {
  Backup(1 * kSecond);
  StartFs();
  std::string expected = testing::ReadFile(source_ + "/sub/sparse.img");
  auto file = OpenPath(InSnapshot(t1_, "sub/sparse.img"));
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(ReadAt(*file, 4090, 20), expected.substr(4090, 20));
  EXPECT_EQ(ReadAt(*file, (3 << 20) - 10, 100), expected.substr((3 << 20) - 10, 100));
  EXPECT_EQ(ReadAt(*file, 5 << 20, 1 << 20), std::string(1 << 20, '\0'));
  EXPECT_EQ(**fs_->Seek(*file, 0, SEEK_DATA), 0u);
  EXPECT_EQ(**fs_->Seek(*file, 0, SEEK_HOLE), 4096u);
  EXPECT_EQ(**fs_->Seek(*file, 5000, SEEK_DATA), uint64_t{3} << 20);
  EXPECT_EQ(**fs_->Seek(*file, (3 << 20) + 4096, SEEK_HOLE), (uint64_t{3} << 20) + 4096);
  EXPECT_FALSE(fs_->Seek(*file, (3 << 20) + 4096, SEEK_DATA)->has_value()) << "only a hole after";
  EXPECT_FALSE(fs_->Seek(*file, 8 << 20, SEEK_HOLE)->has_value()) << "at EOF: ENXIO";
}

TEST_F(SnapshotFsTest, HardlinksShareAnInodeAndXattrsAreThere) {
  Backup(1 * kSecond);
  StartFs();
  auto a = Walk(InSnapshot(t1_, "small.txt"));
  auto b = Walk(InSnapshot(t1_, "link.txt"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ino, b->ino);
  EXPECT_EQ(a->st.st_nlink, 2u);
  EXPECT_NE(Walk(InSnapshot(t1_, "big.bin"))->ino, a->ino);

  auto names = fs_->ListXattr(a->ino);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::string("user.colour\0user.empty\0", 23));
  using Outcome = SnapshotFs::XattrLookup::Outcome;
  auto colour = fs_->GetXattr(a->ino, "user.colour");
  ASSERT_TRUE(colour.ok());
  EXPECT_EQ(colour->outcome, Outcome::kValue);
  EXPECT_EQ(colour->value, "blue");
  EXPECT_EQ(fs_->GetXattr(a->ino, "user.empty")->outcome, Outcome::kValue);
  EXPECT_EQ(fs_->GetXattr(a->ino, "user.empty")->value, "");
  EXPECT_EQ(fs_->GetXattr(a->ino, "user.none")->outcome, Outcome::kAbsent);
}

TEST_F(SnapshotFsTest, ForgottenInodesAreDroppedAndLookedUpAgain) {
  Backup(1 * kSecond);
  StartFs();
  auto big = Walk(InSnapshot(t1_, "big.bin"));
  ASSERT_TRUE(big.ok());
  size_t before = fs_->inode_count();
  fs_->Forget(big->ino, 1);
  EXPECT_EQ(fs_->inode_count(), before - 1);
  EXPECT_EQ(fs_->GetAttr(big->ino).status().code(), Code::kNotFound);
  auto again = Walk(InSnapshot(t1_, "big.bin"));
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->ino, big->ino) << "inode numbers are never reused";
}

TEST_F(SnapshotFsTest, NewSnapshotsAppearAfterTheRefreshInterval) {
  Backup(1 * kSecond);
  StartFs();
  Backup(2 * kSecond);
  const std::string t2 = "1970-01-01T00:00:02Z";
  EXPECT_EQ(Walk("host/test/" + t2).status().code(), Code::kNotFound) << "listing is fresh";
  now_ += 3 * kSecond;
  EXPECT_TRUE(Walk("host/test/" + t2).ok());
  EXPECT_EQ(*fs_->ReadLink(Walk("host/test/latest")->ino), t2);
  EXPECT_EQ(List("host/test"), (std::vector<std::string>{".", "..", t1_, t2, "latest"}));
}

TEST_F(SnapshotFsTest, DamagedChunkFailsOnlyTheFileThatUsesIt) {
  Snapshot snap = Backup(1 * kSecond);
  auto entry = repo_->LookupPath(snap, source_.substr(1) + "/big.bin");
  ASSERT_TRUE(entry.ok());
  auto id = ObjectId::FromBytes(AsBytes(entry->extents(1).chunk_id()));
  ASSERT_TRUE(id.has_value());
  Bytes garbage(1000, 0x5a);
  ASSERT_TRUE(repo_->store().Put(ObjectKind::kChunk, *id, garbage).ok());
  StartFs();

  auto file = OpenPath(InSnapshot(t1_, "big.bin"));
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(ReadAt(*file, 0, 4096), big_.substr(0, 4096)) << "the first chunk is intact";
  auto bad = fs_->Read(*file, file->whole->starts[1], 4096);
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.back().find(id->hex()), std::string::npos) << log_.back();
  EXPECT_NE(log_.back().find("big.bin"), std::string::npos) << log_.back();

  auto small = OpenPath(InSnapshot(t1_, "small.txt"));
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(ReadAt(*small, 0, 100), "hello coffer\n");
}

TEST_F(SnapshotFsTest, AttributeQuestionsAreAnsweredFromTheStoredEntry) {
  Backup(1 * kSecond);
  StartFs();
  using Outcome = SnapshotFs::XattrLookup::Outcome;
  // big.bin has none, but small.txt beside it has some: a name that is not there.
  auto big = Walk(InSnapshot(t1_, "big.bin"));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(fs_->GetXattr(big->ino, "security.selinux")->outcome, Outcome::kAbsent);
  EXPECT_EQ(*fs_->ListXattr(big->ino), "");
  // Nothing in sub/ has any: like a filesystem without attributes.
  auto sparse = Walk(InSnapshot(t1_, "sub/sparse.img"));
  ASSERT_TRUE(sparse.ok());
  EXPECT_EQ(fs_->GetXattr(sparse->ino, "security.selinux")->outcome, Outcome::kNoneHere);
  EXPECT_EQ(fs_->GetXattr(sparse->ino, "system.posix_acl_access")->outcome, Outcome::kNoneHere);
  EXPECT_EQ(*fs_->ListXattr(sparse->ino), "");
  // Synthetic directories have none either.
  EXPECT_EQ(fs_->GetXattr(InodeTable::kRootIno, "user.x")->outcome, Outcome::kNoneHere);
}

TEST_F(SnapshotFsTest, LatestGetsANewInodeWhenANewerSnapshotArrives) {
  Backup(1 * kSecond);
  StartFs();
  auto first = Walk("host/test/latest");
  ASSERT_TRUE(first.ok());
  Backup(2 * kSecond);
  now_ += 3 * kSecond;
  auto second = Walk("host/test/latest");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(first->ino, second->ino) << "the kernel would keep showing the cached old target";
  EXPECT_EQ(*fs_->ReadLink(second->ino), "1970-01-01T00:00:02Z");
  EXPECT_EQ(*fs_->ReadLink(first->ino), t1_) << "an inode's target never changes";
  EXPECT_EQ(Walk("host/test/latest")->ino, second->ino) << "the same target, the same inode";
}

TEST_F(SnapshotFsTest, SequentialReaderHasTheNextChunksOpenedAhead) {
  Backup(1 * kSecond);
  options_.readahead_bytes = 8 << 20;  // the whole file
  StartFs();
  auto file = OpenPath(InSnapshot(t1_, "big.bin"));
  ASSERT_NE(file, nullptr);
  ASSERT_GT(file->whole->starts.size(), 3u);
  EXPECT_EQ(ReadAt(*file, 0, 65536), big_.substr(0, 65536));
  fs_->WaitForReadahead();
  uint64_t loaded = fs_->chunk_cache().loads();
  EXPECT_EQ(loaded, file->whole->starts.size() - 1)
      << "every chunk of the file should be open by now";
  // The rest reads back identical, and opens nothing more.
  std::string all;
  for (uint64_t off = 0; off < big_.size(); off += 65536) all += ReadAt(*file, off, 65536);
  EXPECT_EQ(all, big_);
  EXPECT_EQ(fs_->chunk_cache().loads(), loaded);
}

// A disk image's 64 KiB chunks are many per byte: a readahead window longer
// than the chunk cache queues at once is queued in turns, and none of its
// chunks is skipped.
TEST_F(SnapshotFsTest, ReadaheadOverSmallChunksCoversItsWholeWindow) {
  constexpr uint64_t kMiB = 1 << 20, kImageChunk = 64 << 10;
  const std::string path = source_ + "/disk.raw";
  testing::WriteFile(path, testing::RandomBytes(40 * kMiB, 9));
  BackupImages({path}, 1 * kSecond);
  options_.cache_bytes = 256 * kMiB;  // 64 MiB of opened chunks: room for the window
  options_.readahead_bytes = ChunkCache::kMaxQueuedAheadBytes + 8 * kMiB;
  StartFs();
  auto file = OpenPath(InSnapshot(t1_, "disk.raw"));
  ASSERT_NE(file, nullptr);
  ASSERT_NE(file->whole, nullptr);
  ASSERT_EQ(file->whole->starts[1], kImageChunk) << "the test needs a file in image chunks";

  (void)ReadAt(*file, 0, kImageChunk);
  fs_->WaitForReadahead();
  (void)ReadAt(*file, kImageChunk, kImageChunk);  // plans again where the full queue stopped it
  fs_->WaitForReadahead();
  const uint64_t window_end = 2 * kImageChunk + options_.readahead_bytes;
  const ExtentRun& run = *file->whole;
  size_t missing = 0;
  for (size_t i = 0; i < run.count() && run.starts[i] < window_end; ++i) {
    auto id = ObjectId::FromBytes(AsBytes((*run.extents)[static_cast<int>(i)].chunk_id()));
    ASSERT_TRUE(id.has_value());
    if (!fs_->chunk_cache().Has(*id)) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "chunks of the readahead window were never queued";
  EXPECT_EQ(fs_->chunk_cache().loads(), window_end / kImageChunk) << "and nothing beyond it";
}

TEST_F(SnapshotFsTest, RandomReaderOffersWholePagesOfItsChunksToTheKernel) {
  Backup(1 * kSecond);
  StartFs();
  RecordingKernel kernel;
  fs_->SetKernelCache(&kernel);
  auto file = OpenPath(InSnapshot(t1_, "big.bin"));
  ASSERT_NE(file, nullptr);
  uint64_t in_second = file->whole->starts[1] + 5000;
  uint64_t in_last = big_.size() - 10;
  EXPECT_EQ(ReadAt(*file, in_second, 4096), big_.substr(in_second, 4096));
  EXPECT_EQ(ReadAt(*file, in_last, 4096), big_.substr(in_last));
  EXPECT_EQ(ReadAt(*file, in_second + 8192, 100), big_.substr(in_second + 8192, 100));
  fs_->SetKernelCache(nullptr);
  ASSERT_EQ(kernel.offers.size(), 2u) << "one offer per chunk, once";
  for (const auto& o : kernel.offers) {
    EXPECT_EQ(o.ino, file->ino);
    EXPECT_EQ(o.offset % 4096, 0u);
    bool at_end = o.offset + o.data.size() == big_.size();
    EXPECT_TRUE(o.data.size() % 4096 == 0 || at_end) << "the kernel keeps whole pages only";
    EXPECT_EQ(o.data, big_.substr(o.offset, o.data.size())) << "offered bytes differ from the file";
  }
  EXPECT_GE(kernel.offers[0].offset, file->whole->starts[1]);
  EXPECT_LE(kernel.offers[0].offset + kernel.offers[0].data.size(), file->whole->starts[2]);
  EXPECT_EQ(kernel.offers[1].offset + kernel.offers[1].data.size(), big_.size());
}

TEST_F(SnapshotFsTest, ConcurrentReadersOfDifferentChunksGetTheirOwnBytes) {
  Backup(1 * kSecond);
  options_.readahead_bytes = 0;
  StartFs();
  auto probe = OpenPath(InSnapshot(t1_, "big.bin"));
  ASSERT_NE(probe, nullptr);
  std::vector<uint64_t> starts = probe->whole->starts;
  std::vector<std::thread> readers;
  std::atomic<int> right{0};
  for (size_t i = 0; i + 1 < starts.size(); ++i) {
    readers.emplace_back([&, i] {
      auto attr = fs_->Lookup(Walk(InSnapshot(t1_, ""))->ino, "big.bin");
      if (!attr.ok()) return;
      auto file = fs_->Open(attr->ino);
      if (!file.ok()) return;
      uint64_t off = starts[i] + 17;
      auto data = fs_->Read(**file, off, 50000);
      if (!data.ok()) return;
      std::string got;
      for (const auto& v : data->iov) got.append(static_cast<const char*>(v.iov_base), v.iov_len);
      if (got == big_.substr(off, 50000)) ++right;
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(right, static_cast<int>(starts.size() - 1));
  EXPECT_EQ(fs_->chunk_cache().loads(), starts.size() - 1) << "each chunk opened once";
}

TEST_F(SnapshotFsTest, InodeTableOverItsShareOffersOldFilesForEviction) {
  for (int i = 0; i < 300; ++i) testing::WriteFile(source_ + "/sub/f" + std::to_string(i), "x");
  Backup(1 * kSecond);
  options_.cache_bytes = 256 << 10;  // a quarter, 64 KiB, for inodes: fewer than 300 of them
  StartFs();
  RecordingKernel kernel;
  fs_->SetKernelCache(&kernel);
  auto sub = Walk(InSnapshot(t1_, "sub"));
  ASSERT_TRUE(sub.ok());
  auto dir = fs_->OpenDir(sub->ino);
  ASSERT_TRUE(dir.ok());
  for (size_t i = 2; i < (*dir)->count(); ++i) ASSERT_TRUE(fs_->LookupItem(**dir, i).ok());
  EXPECT_GT(fs_->inode_bytes(), fs_->inode_budget());
  EXPECT_GT(kernel.trims, 0) << "the kernel was never asked to drop names";
  // What the kernel does with the evictions: it drops the names and forgets the inodes.
  std::vector<Eviction> evictions = fs_->TakeEvictions(1000);
  ASSERT_FALSE(evictions.empty());
  EXPECT_TRUE(fs_->TakeEvictions(1000).empty()) << "each is offered once";
  for (const Eviction& e : evictions) {
    EXPECT_EQ(e.parent, sub->ino);
    EXPECT_EQ(e.name[0], 'f') << "only files are evicted, never directories";
    fs_->Forget(e.ino, 1);
  }
  EXPECT_LE(fs_->inode_bytes(), fs_->inode_budget());
  fs_->SetKernelCache(nullptr);
  // An evicted name is simply looked up again.
  auto again = fs_->Lookup(sub->ino, evictions.front().name);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->ino, evictions.front().ino);
}

TEST_F(SnapshotFsTest, DirectoryListingsStayWithinTheirShare) {
  for (int d = 0; d < 40; ++d) {
    std::string dir = source_ + "/sub/d" + std::to_string(d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < 20; ++f)
      testing::WriteFile(dir + "/file-with-a-longish-name-" + std::to_string(f), "y");
  }
  Backup(1 * kSecond);
  options_.cache_bytes = 256 << 10;  // 64 KiB for listings: far fewer than 40 of them
  StartFs();
  for (int d = 0; d < 40; ++d) {
    auto dir = Walk(InSnapshot(t1_, "sub/d" + std::to_string(d)));
    ASSERT_TRUE(dir.ok());
    auto listing = fs_->OpenDir(dir->ino);
    ASSERT_TRUE(listing.ok());
    EXPECT_EQ((*listing)->count(), 22u);
  }
  EXPECT_LE(fs_->tree_cache_bytes(), (256u << 10) / 4);
  EXPECT_GT(fs_->tree_cache_bytes(), 0u);
}

// sub/d0..d9, each with inner/ holding one file: twenty trees below sub.
void MakeNestedDirectories(const std::string& source) {
  for (int d = 0; d < 10; ++d) {
    const std::string dir = source + "/sub/d" + std::to_string(d);
    EXPECT_EQ(mkdir(dir.c_str(), 0755), 0);
    EXPECT_EQ(mkdir((dir + "/inner").c_str(), 0755), 0);
    testing::WriteFile(dir + "/inner/file", "in " + std::to_string(d));
  }
}

TEST_F(SnapshotFsTest, OpeningADirectoryReadsTheTreesBelowItAhead) {
  MakeNestedDirectories(source_);
  Snapshot snap = Backup(1 * kSecond);
  std::vector<ObjectId> below;
  for (int d = 0; d < 10; ++d) {
    for (const std::string& rel :
         {"/sub/d" + std::to_string(d), "/sub/d" + std::to_string(d) + "/inner"}) {
      auto entry = repo_->LookupPath(snap, source_.substr(1) + rel);
      ASSERT_TRUE(entry.ok()) << rel;
      below.push_back(*ObjectId::FromBytes(AsBytes(entry->subtree_id())));
    }
  }
  StartFs();
  auto sub = Walk(InSnapshot(t1_, "sub"));
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(fs_->OpenDir(sub->ino).ok());
  // From now on the store could not give those trees: the walk below sub
  // must find them read already.
  for (const ObjectId& id : below)
    ASSERT_TRUE(repo_->store().Put(ObjectKind::kTree, id, Bytes(100, 0x5a)).ok());
  for (int d = 0; d < 10; ++d) {
    EXPECT_EQ(List(InSnapshot(t1_, "sub/d" + std::to_string(d) + "/inner")),
              (std::vector<std::string>{".", "..", "file"}));
  }
}

// The mount does not hold the repository: a snapshot can be forgotten and
// its chunks collected under a file held open in it. The file is still
// there, its data is not: EIO (kIoError), not ENOENT, and a line logged.
TEST_F(SnapshotFsTest, AChunkCollectedUnderAnOpenFileIsAnIoErrorNotAMissingFile) {
  Snapshot snap = Backup(1 * kSecond);
  StartFs();
  auto file = OpenPath(InSnapshot(t1_, "big.bin"));
  ASSERT_NE(file, nullptr);  // opened, nothing read or cached yet
  ASSERT_TRUE(repo_->Forget(snap).ok());
  auto collected = gc::CollectGarbage(*repo_);
  ASSERT_TRUE(collected.ok()) << collected.status().ToString();
  auto gone = fs_->Read(*file, file->whole->starts[1], 4096);
  ASSERT_FALSE(gone.ok()) << "a collected chunk was read";
  EXPECT_EQ(gone.status().code(), Code::kIoError) << gone.status().ToString();
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.back().find("big.bin"), std::string::npos) << log_.back();
}

TEST_F(SnapshotFsTest, ADamagedTreeReadAheadFailsOnlyWhenTheWalkReachesIt) {
  MakeNestedDirectories(source_);
  Snapshot snap = Backup(1 * kSecond);
  auto d3 = repo_->LookupPath(snap, source_.substr(1) + "/sub/d3");
  ASSERT_TRUE(d3.ok());
  ASSERT_TRUE(
      repo_->store()
          .Put(ObjectKind::kTree, *ObjectId::FromBytes(AsBytes(d3->subtree_id())), Bytes(100, 0x5a))
          .ok());
  StartFs();
  auto sub = Walk(InSnapshot(t1_, "sub"));
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(fs_->OpenDir(sub->ino).ok())
      << "the read-ahead does not fail the directory being opened";
  auto d3_attr = Walk(InSnapshot(t1_, "sub/d3"));
  ASSERT_TRUE(d3_attr.ok()) << "its entry in sub is intact";
  EXPECT_EQ(fs_->OpenDir(d3_attr->ino).status().code(), Code::kCorruption);
  EXPECT_EQ(List(InSnapshot(t1_, "sub/d4/inner")), (std::vector<std::string>{".", "..", "file"}));
}

// Reading ahead more trees than the cache holds would evict the first ones
// before the walk reaches them, and only raise the mount's peak memory.
TEST_F(SnapshotFsTest, TreesReadAheadStayWithinHalfTheirShareAndAreKept) {
  for (int d = 0; d < 40; ++d) {
    std::string dir = source_ + "/sub/d" + std::to_string(d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < 20; ++f)
      testing::WriteFile(dir + "/file-with-a-longish-name-" + std::to_string(f), "y");
  }
  Snapshot snap = Backup(1 * kSecond);
  std::vector<ObjectId> below;
  for (int d = 0; d < 40; ++d) {
    auto entry = repo_->LookupPath(snap, source_.substr(1) + "/sub/d" + std::to_string(d));
    ASSERT_TRUE(entry.ok());
    below.push_back(*ObjectId::FromBytes(AsBytes(entry->subtree_id())));
  }
  options_.cache_bytes = 1 << 20;  // 128 KiB for listings (about 9 KiB each): a dozen of the 40
  StartFs();
  auto sub = Walk(InSnapshot(t1_, "sub"));
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(fs_->OpenDir(sub->ino).ok());
  EXPECT_LE(fs_->tree_cache_bytes(), (1u << 20) / 8);
  for (const ObjectId& id : below)
    ASSERT_TRUE(repo_->store().Put(ObjectKind::kTree, id, Bytes(100, 0x5a)).ok());
  // The first directory read ahead is still there for the walk.
  auto d0 = Walk(InSnapshot(t1_, "sub/d0"));
  ASSERT_TRUE(d0.ok());
  auto listing = fs_->OpenDir(d0->ino);
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ((*listing)->count(), 22u);
  // The last was never read: the store's damaged copy is what the walk meets.
  auto d9 = Walk(InSnapshot(t1_, "sub/d9"));  // last by name
  ASSERT_TRUE(d9.ok());
  EXPECT_EQ(fs_->OpenDir(d9->ino).status().code(), Code::kCorruption);
}

// A directory too large for one tree object is stored in parts; the mount
// reads the part a name or a listing position needs, so browsing it keeps
// the tree cache near its share instead of holding the whole directory.
TEST_F(SnapshotFsTest, AHugeDirectoryIsReadOnePartAtATime) {
  const std::string huge = source_ + "/huge";
  ASSERT_EQ(mkdir(huge.c_str(), 0755), 0);
  constexpr int kFiles = 40000;  // with 180-byte names: ~9 MB of tree, several parts
  auto name_of = [](int i) {
    char head[16];
    std::snprintf(head, sizeof head, "%06d-", i);
    return std::string(head) + std::string(173, 'n');
  };
  for (int i = 0; i < kFiles; ++i) {
    int fd = ::open((huge + "/" + name_of(i)).c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    if (i % 5000 == 0) {
      ASSERT_EQ(::write(fd, "data", 4), 4);
    }
    ::close(fd);
  }
  Snapshot snap = Backup(1 * kSecond);
  // The directory really is split, and what the whole of it would occupy.
  auto root = repo_->ReadTree(*ObjectId::FromBytes(AsBytes(snap.record.root_tree_id())));
  ASSERT_TRUE(root.ok());
  std::optional<ObjectId> huge_id;
  std::vector<std::string> components = model::SplitPath(huge);
  pb::Tree at = *root;
  for (const std::string& c : components) {
    const pb::Entry* e = model::FindEntry(at, c);
    ASSERT_NE(e, nullptr) << c;
    huge_id = ObjectId::FromBytes(AsBytes(e->subtree_id()));
    auto next = repo_->ReadTree(*huge_id);
    ASSERT_TRUE(next.ok());
    at = std::move(next).value();
  }
  auto stored = repo_->ReadTreeObject(*huge_id);
  ASSERT_TRUE(stored.ok());
  ASSERT_GT(stored->parts_size(), 2) << "the test needs a directory stored in parts";
  const uint64_t whole_bytes = at.SpaceUsedLong();

  options_.cache_bytes = 16 << 20;  // 2 MiB for trees, far less than the directory
  StartFs();
  auto dir_attr = Walk(InSnapshot(t1_, "huge"));
  ASSERT_TRUE(dir_attr.ok()) << dir_attr.status().ToString();

  // Lookups land in the right part, first, middle and last names included.
  for (int i : {0, 1, kFiles / 2, kFiles - 2, kFiles - 1, 15000}) {
    auto a = fs_->Lookup(dir_attr->ino, name_of(i));
    ASSERT_TRUE(a.ok()) << i << ": " << a.status().ToString();
    EXPECT_EQ(a->st.st_size, i % 5000 == 0 ? 4 : 0) << i;
  }
  EXPECT_EQ(fs_->Lookup(dir_attr->ino, "000000").status().code(), Code::kNotFound);
  EXPECT_EQ(fs_->Lookup(dir_attr->ino, "a-name-after-all-of-them").status().code(),
            Code::kNotFound);

  // A listing with readdirplus: every name in order, and the cache stays far
  // below the whole directory however far the listing has gone.
  auto dir = fs_->OpenDir(dir_attr->ino);
  ASSERT_TRUE(dir.ok());
  ASSERT_EQ((*dir)->count(), static_cast<size_t>(kFiles) + 2);
  uint64_t peak = 0;
  std::vector<uint64_t> some_inodes;
  for (size_t i = 2; i < (*dir)->count(); ++i) {
    auto item = fs_->ItemAt(**dir, i);
    ASSERT_TRUE(item.ok()) << item.status().ToString();
    ASSERT_EQ(item->name, name_of(static_cast<int>(i - 2)));
    if (i % 4999 == 0) {
      auto a = fs_->LookupItem(**dir, i);
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      some_inodes.push_back(a->ino);
    }
    peak = std::max(peak, fs_->tree_cache_bytes());
  }
  EXPECT_LT(peak, whole_bytes / 2) << "the whole directory occupies " << whole_bytes;
  // Entries whose part has left the cache are found again by their part.
  for (uint64_t ino : some_inodes) {
    auto a = fs_->GetAttr(ino);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
  }
  auto file = OpenPath(InSnapshot(t1_, "huge/" + name_of(10000)));
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(ReadAt(*file, 0, 100), "data");
}

// A file of more than 8192 chunks keeps its extents in parts; an open handle
// reads the part a read or a seek needs and keeps only the last few, so a
// multi-terabyte image does not put all its extents in memory.
TEST_F(SnapshotFsTest, AFileInExtentPartsIsReadOnePartAtATime) {
  InitOptions init = testing::CheapInitOptions();
  init.chunker.min_size = 256;  // ~512-byte chunks: thousands of extents in a few MiB
  init.chunker.avg_size = 512;
  init.chunker.max_size = 1024;
  const std::string dir = tmp_ / "tiny-chunks";
  ASSERT_TRUE(InitLocalRepository(dir, init, "correct horse").ok());
  auto opened = OpenLocalRepository(dir, {}, testing::Passphrase("correct horse"));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  repo_ = std::move(opened).value();

  // 6 MiB of data, a 4 MiB hole, 2 MiB of data: ~16k chunks.
  constexpr uint64_t kMiB = 1 << 20;
  const std::string image = source_ + "/image.raw";
  const std::string head = testing::RandomBytes(6 * kMiB, 5),
                    tail = testing::RandomBytes(2 * kMiB, 6);
  {
    int fd = ::open(image.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), 10 * kMiB), static_cast<ssize_t>(tail.size()));
    ::close(fd);
  }
  const std::string expected = head + std::string(4 * kMiB, '\0') + tail;
  Backup(1 * kSecond);
  StartFs();

  auto file = OpenPath(InSnapshot(t1_, "image.raw"));
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(file->whole, nullptr) << "the test needs a file stored in extent parts";
  ASSERT_GE(file->part_starts.size(), 4u);
  EXPECT_EQ(file->part_starts.back(), expected.size());

  // Reads across every part boundary, then the whole file in order.
  for (size_t k = 1; k + 1 < file->part_starts.size(); ++k) {
    uint64_t at = file->part_starts[k] - 300;
    EXPECT_EQ(ReadAt(*file, at, 700), expected.substr(at, 700)) << "part boundary " << k;
  }
  std::string whole;
  for (uint64_t at = 0; at < expected.size(); at += 128 << 10)
    whole += ReadAt(*file, at, 128 << 10);
  EXPECT_TRUE(whole == expected) << "sequential read differs";
  EXPECT_LE(file->recent_parts.size(), 3u);

  // Holes are found across parts.
  EXPECT_EQ(fs_->Seek(*file, 0, SEEK_HOLE).value(), std::optional<uint64_t>(6 * kMiB));
  EXPECT_EQ(fs_->Seek(*file, 6 * kMiB, SEEK_DATA).value(), std::optional<uint64_t>(10 * kMiB));
  EXPECT_EQ(fs_->Seek(*file, 10 * kMiB, SEEK_HOLE).value(), std::optional<uint64_t>(12 * kMiB));
  EXPECT_EQ(fs_->Seek(*file, 11 * kMiB, SEEK_DATA).value(), std::optional<uint64_t>(11 * kMiB));

  // A second handle reads the same bytes at random offsets.
  auto again = OpenPath(InSnapshot(t1_, "image.raw"));
  ASSERT_NE(again, nullptr);
  for (uint64_t at : {11 * kMiB + 7, 5 * kMiB - 1, kMiB / 8, 7 * kMiB, 3 * kMiB + 4097}) {
    EXPECT_EQ(ReadAt(*again, at, 5000), expected.substr(at, 5000)) << at;
  }
}

// Disk images show their partitions as files in NAME.partitions; the
// images are partitioned by sfdisk and sgdisk (packages fdisk, gdisk).
class PartitionsTest : public SnapshotFsTest {
 protected:
  static constexpr uint64_t kMiB = 1 << 20;
  // Partition 1 of MakeMbrImage starts at sector 63, not on a page.
  static constexpr uint64_t kFirstAt = 63 * 512, kFirstSize = (8192 - 63) * 512;
  static constexpr uint64_t kLogicalAt = 10240 * 512, kLogicalSize = 6144 * 512;

  void RunTool(const std::vector<std::string>& argv, const std::string& input = {}) {
    std::string out;
    ASSERT_EQ(testing::RunCommand(argv, &out, {}, input), 0) << argv[0] << ": " << out;
  }

  void PutAt(const std::string& path, uint64_t offset, const std::string& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }

  // A 12 MiB MBR disk: partition 1 from sector 63 with data, a hole, data;
  // an extended partition 2 holding logical partition 5, all data. Returns
  // the image's bytes.
  std::string MakeMbrImage(const std::string& path) {
    testing::WriteFile(path, "");
    EXPECT_EQ(::truncate(path.c_str(), 12 * kMiB), 0);
    RunTool({"sfdisk", "--quiet", path},
            "label: dos\nstart=63, size=8129, type=83\nstart=8192, size=12288, type=5\n"
            "start=10240, size=6144, type=83\n");
    PutAt(path, kFirstAt, testing::RandomBytes(kMiB, 1));
    PutAt(path, kFirstAt + 2 * kMiB, testing::RandomBytes(kFirstSize - 2 * kMiB, 2));
    PutAt(path, kLogicalAt, testing::RandomBytes(kLogicalSize, 3));
    return testing::ReadFile(path);
  }

  // A 16 MiB GPT disk made by sgdisk: partitions 1 (4 MiB, its middle a
  // hole) and 2 (8 MiB). Returns the image's bytes.
  std::string MakeGptImage(const std::string& path) {
    testing::WriteFile(path, "");
    EXPECT_EQ(::truncate(path.c_str(), 16 * kMiB), 0);
    RunTool({"sgdisk", "-n", "1:2048:+4M", "-c", "1:boot", "-n", "2:0:+8M", "-c", "2:data", path});
    PutAt(path, 1 * kMiB, testing::RandomBytes(kMiB, 4));
    PutAt(path, 4 * kMiB, testing::RandomBytes(kMiB, 5));
    PutAt(path, 5 * kMiB, testing::RandomBytes(8 * kMiB, 6));
    return testing::ReadFile(path);
  }

  // A directory's names as readdir shows them, partitions directories included.
  std::vector<std::string> ListAll(const std::string& path) {
    auto attr = Walk(path);
    EXPECT_TRUE(attr.ok()) << path << ": " << attr.status().ToString();
    auto dir = fs_->OpenDir(attr->ino);
    EXPECT_TRUE(dir.ok()) << dir.status().ToString();
    std::vector<std::string> names;
    for (size_t i = 0; i < (*dir)->count(); ++i) {
      auto item = fs_->ItemAt(**dir, i);
      EXPECT_TRUE(item.ok()) << item.status().ToString();
      names.emplace_back(item->name);
      auto after = fs_->PartitionsDirAfter(**dir, i);
      EXPECT_TRUE(after.ok()) << after.status().ToString();
      if (after.ok() && after->has_value()) names.push_back(**after);
    }
    return names;
  }

  bool Has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  }

  size_t LogLinesWith(const std::string& needle) {
    return static_cast<size_t>(std::count_if(
        log_.begin(), log_.end(),
        [&](const std::string& line) { return line.find(needle) != std::string::npos; }));
  }
};

TEST_F(PartitionsTest, PartitionsOfADiskImageAreFilesBesideIt) {
  const std::string image = MakeMbrImage(source_ + "/disk.img");
  testing::WriteFile(source_ + "/notes.img", std::string(4096, 'n'));  // named so, but no table
  testing::WriteFile(source_ + "/copy.bin",
                     image);  // a table, but neither named nor stored as an image
  Backup(1 * kSecond);
  StartFs();

  std::vector<std::string> names = ListAll(InSnapshot(t1_, ""));
  EXPECT_TRUE(Has(names, "disk.img.partitions"));
  EXPECT_FALSE(Has(names, "notes.img.partitions"));
  EXPECT_FALSE(Has(names, "copy.bin.partitions"));
  EXPECT_EQ(Walk(InSnapshot(t1_, "copy.bin.partitions")).status().code(), Code::kNotFound);
  EXPECT_EQ(List(InSnapshot(t1_, "disk.img.partitions")),
            (std::vector<std::string>{".", "..", "1", "5"}))
      << "the extended partition 2 holds no filesystem and is not shown";

  struct stat src;
  ASSERT_EQ(lstat((source_ + "/disk.img").c_str(), &src), 0);
  auto dir = Walk(InSnapshot(t1_, "disk.img.partitions"));
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(dir->st.st_mode, S_IFDIR | 0555u) << "readable and searchable, never writable";
  EXPECT_EQ(dir->st.st_uid, src.st_uid);
  EXPECT_EQ(dir->st.st_mtim.tv_nsec, src.st_mtim.tv_nsec);
  auto first = Walk(InSnapshot(t1_, "disk.img.partitions/1"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->st.st_mode, S_IFREG | 0444u);
  EXPECT_EQ(static_cast<uint64_t>(first->st.st_size), kFirstSize);
  EXPECT_EQ(static_cast<uint64_t>(Walk(InSnapshot(t1_, "disk.img.partitions/5"))->st.st_size),
            kLogicalSize);
  EXPECT_EQ(fs_->GetAttr(first->ino)->st.st_size, first->st.st_size);
  EXPECT_EQ(Walk(InSnapshot(t1_, "disk.img.partitions/2")).status().code(), Code::kNotFound);

  auto one = OpenPath(InSnapshot(t1_, "disk.img.partitions/1"));
  ASSERT_NE(one, nullptr);
  const std::string expected = image.substr(kFirstAt, kFirstSize);
  for (uint64_t at : {uint64_t{0}, kMiB - 7, 2 * kMiB - 5, kFirstSize - 100}) {
    EXPECT_EQ(ReadAt(*one, at, 70000), expected.substr(at, 70000)) << "at " << at;
  }
  EXPECT_EQ(ReadAt(*one, kFirstSize, 4096), "") << "past the partition's end";
  std::string all;
  for (uint64_t at = 0; at < kFirstSize; at += 128 << 10) all += ReadAt(*one, at, 128 << 10);
  EXPECT_TRUE(all == expected) << "partition 1 read in order differs from the image's bytes";
  // The hole inside it, in the partition's offsets; the data after it runs
  // on into the image, so the partition's end is the next hole.
  const uint64_t hole = (kFirstAt + kMiB + 4095) / 4096 * 4096 - kFirstAt;
  EXPECT_EQ(**fs_->Seek(*one, 0, SEEK_HOLE), hole);
  EXPECT_EQ(**fs_->Seek(*one, hole, SEEK_DATA), (kFirstAt + 2 * kMiB) / 4096 * 4096 - kFirstAt);
  EXPECT_EQ(**fs_->Seek(*one, 3 * kMiB, SEEK_HOLE), kFirstSize);
  EXPECT_FALSE(fs_->Seek(*one, kFirstSize, SEEK_DATA)->has_value());

  auto five = OpenPath(InSnapshot(t1_, "disk.img.partitions/5"));
  ASSERT_NE(five, nullptr);
  EXPECT_EQ(ReadAt(*five, 0, kLogicalSize + 10), image.substr(kLogicalAt, kLogicalSize));
}

TEST_F(PartitionsTest, AnImageStoredInImageChunksNeedsNoName) {
  const std::string path = tmp_ / "vm-100-disk-0";
  const std::string image = MakeGptImage(path);
  BackupImages({path}, 1 * kSecond);
  StartFs();
  const std::string parent = "host/test/" + t1_ + tmp_.path();
  EXPECT_TRUE(Has(ListAll(parent), "vm-100-disk-0.partitions"));
  EXPECT_EQ(List(parent + "/vm-100-disk-0.partitions"),
            (std::vector<std::string>{".", "..", "1", "2"}));
  auto boot = Walk(parent + "/vm-100-disk-0.partitions/1");
  ASSERT_TRUE(boot.ok()) << boot.status().ToString();
  EXPECT_EQ(static_cast<uint64_t>(boot->st.st_size), 4 * kMiB);
  EXPECT_LT(static_cast<uint64_t>(boot->st.st_blocks) * 512, 4 * kMiB)
      << "its hole counted as data";
  auto file = OpenPath(parent + "/vm-100-disk-0.partitions/2");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(ReadAt(*file, 0, 8 * kMiB), image.substr(5 * kMiB, 8 * kMiB));
  EXPECT_EQ(ReadAt(*file, 65536 - 3, 10), image.substr(5 * kMiB + 65536 - 3, 10))
      << "across image chunks";
}

TEST_F(PartitionsTest, RandomReadsOfAPartitionOfferWholePagesOfThePartition) {
  const std::string image = MakeMbrImage(source_ + "/disk.img");
  Backup(1 * kSecond);
  StartFs();
  RecordingKernel kernel;
  fs_->SetKernelCache(&kernel);
  auto file = OpenPath(InSnapshot(t1_, "disk.img.partitions/1"));
  ASSERT_NE(file, nullptr);
  const std::string expected = image.substr(kFirstAt, kFirstSize);
  for (uint64_t at : {uint64_t{3} * kMiB + 5, uint64_t{500000}, kFirstSize - 10}) {
    EXPECT_EQ(ReadAt(*file, at, 4096), expected.substr(at, 4096));
  }
  fs_->SetKernelCache(nullptr);
  ASSERT_FALSE(kernel.offers.empty());
  for (const auto& o : kernel.offers) {
    EXPECT_EQ(o.ino, file->ino);
    EXPECT_EQ(o.offset % 4096, 0u) << "pages of the partition file, not of the image";
    EXPECT_LE(o.offset + o.data.size(), kFirstSize);
    bool at_end = o.offset + o.data.size() == kFirstSize;
    EXPECT_TRUE(o.data.size() % 4096 == 0 || at_end);
    EXPECT_EQ(o.data, expected.substr(o.offset, o.data.size()))
        << "offered bytes differ at " << o.offset;
  }
}

TEST_F(PartitionsTest, ARefusedTableShowsNothingAndIsReadOnce) {
  MakeMbrImage(source_ + "/disk.img");
  PutAt(source_ + "/disk.img", 446 + 16 + 8,
        std::string("\x40\x00\x00\x00", 4));  // 2 now overlaps 1
  Backup(1 * kSecond);
  StartFs();
  EXPECT_FALSE(Has(ListAll(InSnapshot(t1_, "")), "disk.img.partitions"));
  EXPECT_FALSE(Has(ListAll(InSnapshot(t1_, "")), "disk.img.partitions"));
  EXPECT_EQ(Walk(InSnapshot(t1_, "disk.img.partitions")).status().code(), Code::kNotFound);
  EXPECT_EQ(LogLinesWith("disk.img: its partition table is refused"), 1u) << "read and logged once";
  EXPECT_EQ(LogLinesWith("overlap"), 1u);
}

TEST_F(PartitionsTest, ADamagedPrimaryGptIsReplacedByItsBackupAndLogged) {
  const std::string image = MakeGptImage(source_ + "/disk.raw");
  std::string guid_byte = image.substr(512 + 56, 1);  // the disk GUID, under the header's CRC
  guid_byte[0] = static_cast<char>(guid_byte[0] ^ 0x40);
  PutAt(source_ + "/disk.raw", 512 + 56, guid_byte);
  Backup(1 * kSecond);
  StartFs();
  EXPECT_EQ(List(InSnapshot(t1_, "disk.raw.partitions")),
            (std::vector<std::string>{".", "..", "1", "2"}));
  EXPECT_EQ(LogLinesWith("backup GPT"), 1u);
  auto file = OpenPath(InSnapshot(t1_, "disk.raw.partitions/2"));
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(ReadAt(*file, 4 * kMiB, 4096), image.substr(9 * kMiB, 4096));
}

TEST_F(PartitionsTest, AStoredEntryOfThatNameIsShownInstead) {
  MakeMbrImage(source_ + "/disk.img");
  testing::WriteFile(source_ + "/disk.img.partitions", "mine");
  Backup(1 * kSecond);
  StartFs();
  std::vector<std::string> names = ListAll(InSnapshot(t1_, ""));
  EXPECT_EQ(std::count(names.begin(), names.end(), "disk.img.partitions"), 1);
  auto stored = Walk(InSnapshot(t1_, "disk.img.partitions"));
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(S_ISREG(stored->st.st_mode));
  EXPECT_EQ(stored->st.st_size, 4);
}

}  // namespace
}  // namespace coffer::fs
