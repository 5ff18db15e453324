#include "store/ingest/tar_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "store/base/timespec.h"
#include "store/restore/restorer.h"
#include "tests/store/repo/repo_test_util.h"
#include "tests/testing/archive_fixtures.h"

namespace coffer::ingest {
namespace {

using testing::TempDir;

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

int64_t MtimeNs(const struct stat& st) {
  return ToNanos(st.st_mtim);
}

std::map<std::string, std::string> SourceXattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  char names[65536];
  ssize_t n = llistxattr(path.c_str(), names, sizeof names);
  for (ssize_t i = 0; i < n;) {
    std::string name(names + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    std::string value(65536, '\0');
    ssize_t v = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (v >= 0) out[name] = value.substr(0, static_cast<size_t>(v));
  }
  return out;
}

// The offset of the ustar header of `member` in an uncompressed tar (the
// header after its pax extended header, which names it differently).
size_t HeaderOffset(const std::string& tar, const std::string& member) {
  const std::string name = member + '\0';
  for (size_t at = 0; at + 512 <= tar.size(); at += 512) {
    if (tar.compare(at, name.size(), name) == 0 && tar[at + 156] != 'x') return at;
  }
  ADD_FAILURE() << "no header for " << member;
  return 0;
}

class TarImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: devices, foreign owners, file capabilities";
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
  }

  std::string root() const { return tmp_ / "rootfs"; }
  std::string config() const { return tmp_ / "vzdump-tmp"; }
  std::string tar() const { return tmp_ / "vzdump-lxc-100-2026_11_30-02_00_00.tar"; }

  // The container, vzdump's config files and the uncompressed archive.
  void MakeContainer() {
    testing::MakeContainerRoot(root());
    testing::MakeVzdumpConfig(config());
    testing::MakeVzdumpTar(config(), root(), tar());
  }

  Result<BackupResult> Import(const std::string& path, int64_t seconds = 1000,
                              BackupOptions options = {}) {
    COFFER_ASSIGN_OR_RETURN(auto source, ArchiveSource::Open(path));
    options.group = "ct/100";
    options.time_ns = seconds * 1'000'000'000;
    TarImporter importer(*repo_, options, nullptr);
    return importer.Import(*source);
  }

  void Restore(const Snapshot& snapshot, const std::string& target) {
    restore::RestoreOptions options;
    options.target = target;
    options.restore_owners = true;
    restore::Restorer restorer(*repo_, options);
    auto result = restorer.Restore(snapshot, "");
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    for (const auto& e : result->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
  }

  // Imports `archive` expecting damage: the message names the file and a
  // position, and nothing is committed.
  void ExpectDamage(const std::string& archive, const std::string& expected_text = "byte") {
    auto result = Import(archive);
    ASSERT_FALSE(result.ok()) << archive << " was imported";
    EXPECT_EQ(result.status().code(), Code::kCorruption) << result.status().ToString();
    EXPECT_NE(result.status().message().find(archive), std::string::npos)
        << result.status().message();
    EXPECT_NE(result.status().message().find(expected_text), std::string::npos)
        << result.status().message();
    auto listed = repo_->ListSnapshots();
    ASSERT_TRUE(listed.ok());
    EXPECT_TRUE(listed->empty()) << "a damaged archive committed a snapshot";
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
};

class TarImportCompressionTest : public TarImportTest,
                                 public ::testing::WithParamInterface<const char*> {};

TEST_P(TarImportCompressionTest, TheRestoredContainerIsTheArchivedOne) {
  MakeContainer();
  const std::string archive = testing::Compress(tar(), GetParam());
  auto imported = Import(archive);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  for (const auto& e : imported->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
  EXPECT_FALSE(imported->snapshot.record.incomplete());
  EXPECT_EQ(imported->snapshot.record.paths(0), archive);
  const std::string target = tmp_ / "restored";
  Restore(imported->snapshot, target);

  // Everything of the root, field by field: types, modes, owners, sizes,
  // contents, symlink targets, xattrs (the ACLs and the capability among
  // them), nanosecond mtimes, char device numbers, holes, hard links.
  // Beyond it, what vzdump adds: its config files, in a directory the
  // archive implies without listing it.
  std::vector<std::string> diffs = testing::CompareTrees(root(), target, /*compare_owners=*/true);
  EXPECT_EQ(diffs,
            (std::vector<std::string>{"unexpected: etc/vzdump", "unexpected: etc/vzdump/pct.conf",
                                      "unexpected: etc/vzdump/pct.fw"}));
  for (const char* file : {"etc/vzdump/pct.conf", "etc/vzdump/pct.fw"}) {
    SCOPED_TRACE(file);
    struct stat want = Lstat(config() + "/" + file), got = Lstat(target + "/" + file);
    EXPECT_EQ(testing::ReadFile(target + "/" + file), testing::ReadFile(config() + "/" + file));
    EXPECT_EQ(got.st_mode, want.st_mode);
    EXPECT_EQ(MtimeNs(got), MtimeNs(want));
  }
  struct stat implied = Lstat(target + "/etc/vzdump");
  EXPECT_EQ(implied.st_mode, S_IFDIR | 0755u);
  EXPECT_EQ(implied.st_uid, 0u);
  EXPECT_EQ(implied.st_gid, 0u);
  EXPECT_EQ(MtimeNs(implied), MtimeNs(Lstat(config() + "/etc/vzdump/pct.conf")));

  // ACLs as getfacl lists them, the implied directory aside.
  std::vector<std::string> acls = testing::AclListing(target), want = testing::AclListing(root());
  std::erase_if(acls, [](const std::string& l) { return l.starts_with("# file: etc/vzdump"); });
  std::sort(acls.begin(), acls.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(acls.size(), want.size());
  for (size_t i = 0; i < std::min(acls.size(), want.size()); ++i) {
    if (acls[i] != want[i]) {
      ADD_FAILURE() << "getfacl differs:\n" << want[i] << "\nrestored:\n" << acls[i];
      break;
    }
  }

  // What CompareTrees does not look at: block devices, the exact holes,
  // the link count of a hard link group across directories.
  EXPECT_EQ(Lstat(target + "/dev/loop0").st_rdev, makedev(7, 0));
  EXPECT_TRUE(S_ISBLK(Lstat(target + "/dev/loop0").st_mode));
  EXPECT_EQ(Lstat(target + "/dev/odd").st_rdev, makedev(300, 70000));
  int fd = open((target + "/var/lib/disk.img").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), 65536);
  EXPECT_EQ(lseek(fd, 65536, SEEK_DATA), 40 << 20);
  EXPECT_EQ(lseek(fd, (40 << 20) + 65536, SEEK_DATA), -1) << "the trailing hole was written";
  close(fd);
  EXPECT_EQ(Lstat(target + "/var/lib/all-hole").st_blocks, 0);
  struct stat tool = Lstat(target + "/usr/bin/tool");
  EXPECT_EQ(tool.st_nlink, 3u);
  EXPECT_EQ(Lstat(target + "/usr/sbin/tool").st_ino, tool.st_ino);
  EXPECT_EQ(Lstat(target + "/usr/bin/tool-alias").st_ino, tool.st_ino);

  // GNU tar itself finds nothing different (it compares modes, owners,
  // mtimes, sizes, contents, link targets, hard links and devices).
  std::string out;
  int rc = testing::RunCommand(
      {"tar", "--compare", "--file=" + tar(), "--directory=" + target, "--numeric-owner", "--acls",
       "--xattrs", "--xattrs-include=user.*", "--xattrs-include=security.capability"},
      &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "");
}

INSTANTIATE_TEST_SUITE_P(Compressions, TarImportCompressionTest,
                         ::testing::Values("none", "zstd", "gzip", "lzop"));

TEST_F(TarImportTest, EntriesAreStoredAsTheArchiveHoldsThem) {
  MakeContainer();
  auto imported = Import(tar());
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  const Snapshot& snapshot = imported->snapshot;

  auto conf = repo_->LookupPath(snapshot, "etc/vzdump/pct.conf");
  ASSERT_TRUE(conf.ok()) << conf.status().ToString();
  EXPECT_EQ(conf->mtime_ns(), 1'750'000'000'111'111'111);
  EXPECT_EQ(conf->user(), "") << "vzdump's --numeric-owner archives no names";

  // A hard link group: one synthetic inode, as many links as names.
  auto a = repo_->LookupPath(snapshot, "usr/bin/tool");
  auto b = repo_->LookupPath(snapshot, "usr/sbin/tool");
  auto pair = repo_->LookupPath(snapshot, "etc/pair-a");
  ASSERT_TRUE(a.ok() && b.ok() && pair.ok());
  EXPECT_NE(a->inode(), 0u);
  EXPECT_EQ(a->inode(), b->inode());
  EXPECT_EQ(a->nlink(), 3u);
  EXPECT_EQ(a->extents_size(), b->extents_size());
  EXPECT_NE(pair->inode(), a->inode());
  EXPECT_EQ(pair->nlink(), 2u);
  EXPECT_EQ(repo_->LookupPath(snapshot, "etc/hostname")->nlink(), 1u);

  // ctime from the pax header, not the mtime.
  struct stat hostname = Lstat(root() + "/etc/hostname");
  EXPECT_EQ(repo_->LookupPath(snapshot, "etc/hostname")->ctime_ns(), ToNanos(hostname.st_ctim));

  // Holes are extents without an id; the data between them was read once.
  auto disk = repo_->LookupPath(snapshot, "var/lib/disk.img");
  ASSERT_TRUE(disk.ok());
  EXPECT_EQ(disk->size(), (64u << 20) + 123);
  ASSERT_EQ(disk->extents_size(), 4);
  EXPECT_EQ(disk->extents(1).chunk_id(), "");
  EXPECT_EQ(disk->extents(1).size(), (40u << 20) - 65536);
  EXPECT_EQ(disk->extents(3).chunk_id(), "");
  const auto& stats = snapshot.record.stats();
  EXPECT_LT(stats.bytes_read(), 8u << 20) << "holes were read as data";

  // An access ACL of only user::, group:: and other:: is the mode.
  auto only_default = repo_->LookupPath(snapshot, "srv/only-default");
  ASSERT_TRUE(only_default.ok());
  ASSERT_EQ(only_default->xattrs_size(), 1);
  EXPECT_EQ(only_default->xattrs(0).name(), "system.posix_acl_default");
  EXPECT_EQ(only_default->nlink(), 2u);
  EXPECT_EQ(repo_->LookupPath(snapshot, "srv")->nlink(), 2u + 4u);

  // xattrs byte for byte as getxattr gives them, the ACLs' kernel form and
  // the capability among them.
  for (const char* path : {"srv/acl-file", "srv/shared", "srv/shared/inherited", "srv/only-default",
                           "home/owned", "home/user", "usr/bin/ping"}) {
    SCOPED_TRACE(path);
    auto entry = repo_->LookupPath(snapshot, path);
    ASSERT_TRUE(entry.ok());
    std::map<std::string, std::string> stored;
    for (const auto& x : entry->xattrs()) stored[x.name()] = x.value();
    EXPECT_EQ(stored, SourceXattrs(root() + "/" + path));
    EXPECT_FALSE(stored.empty());
  }
}

TEST_F(TarImportTest, ATarImportAndADirectoryBackupShareEveryChunk) {
  MakeContainer();
  const std::string archive = testing::Compress(tar(), "zstd");
  BackupOptions options;
  options.group = "host/pve";
  options.time_ns = 500'000'000'000;
  auto walked = Archiver(*repo_, options, nullptr).BackupPaths({root(), config()});
  ASSERT_TRUE(walked.ok()) << walked.status().ToString();
  EXPECT_GT(walked->snapshot.record.stats().chunks_added(), 5u);

  auto imported = Import(archive);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  const auto& stats = imported->snapshot.record.stats();
  EXPECT_EQ(stats.chunks_added(), 0u) << "the import chunked some file otherwise";
  EXPECT_GT(stats.bytes_added(), 0u);  // the trees, which hold other inodes
  EXPECT_EQ(stats.bytes_read(), walked->snapshot.record.stats().bytes_read());

  // The other way round, in a repository of its own.
  repo_ = testing::InitAndOpen(tmp_ / "repo2");
  ASSERT_NE(repo_, nullptr);
  ASSERT_TRUE(Import(archive).ok());
  options.time_ns = 2000'000'000'000;
  auto walked_after = Archiver(*repo_, options, nullptr).BackupPaths({root(), config()});
  ASSERT_TRUE(walked_after.ok());
  EXPECT_EQ(walked_after->snapshot.record.stats().chunks_added(), 0u);
}

TEST_F(TarImportTest, ALaterMemberOfTheSameNameWins) {
  const std::string one = tmp_ / "one", two = tmp_ / "two";
  mkdir(one.c_str(), 0755);
  mkdir(two.c_str(), 0755);
  mkdir((one + "/dir").c_str(), 0700);
  mkdir((two + "/dir").c_str(), 0750);
  testing::WriteFile(one + "/dir/inside", "kept: a directory over a directory keeps its content");
  testing::WriteFile(one + "/a", "first a");
  ASSERT_EQ(link((one + "/a").c_str(), (one + "/b").c_str()), 0);
  testing::WriteFile(two + "/a", "second a, longer");
  mkdir((two + "/c").c_str(), 0755);
  testing::WriteFile(one + "/c", "a file that a directory replaces");
  testing::MustRun({"tar", "cf", tmp_ / "dup.tar", "--format=posix", "--directory=" + one, "./dir",
                    "./a", "./b", "./c", "--directory=" + two, "--no-recursion", "./dir", "./a",
                    "./c"});
  auto imported = Import(tmp_ / "dup.tar");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  const Snapshot& s = imported->snapshot;
  EXPECT_EQ(repo_->LookupPath(s, "a")->size(), 16u);
  EXPECT_EQ(repo_->LookupPath(s, "a")->nlink(), 1u);
  // b was linked to the first a, as tar extraction links it: it keeps that.
  EXPECT_EQ(repo_->LookupPath(s, "b")->size(), 7u);
  EXPECT_EQ(repo_->LookupPath(s, "b")->nlink(), 1u);
  EXPECT_EQ(repo_->LookupPath(s, "dir")->mode(), 0750u);
  EXPECT_TRUE(repo_->LookupPath(s, "dir/inside").ok());
  EXPECT_EQ(repo_->LookupPath(s, "c")->type(), pb::Entry::DIRECTORY);
}

TEST_F(TarImportTest, ImpliedDirectoriesAreMadeAndLaterListingsReplaceThem) {
  const std::string src = tmp_ / "src";
  mkdir(src.c_str(), 0755);
  mkdir((src + "/a").c_str(), 0700);
  mkdir((src + "/a/b").c_str(), 0711);
  testing::WriteFile(src + "/a/b/c", "deep");
  struct timespec times[2] = {{1'234'567'890, 5}, {1'234'567'890, 5}};
  ASSERT_EQ(utimensat(AT_FDCWD, (src + "/a/b/c").c_str(), times, 0), 0);
  ASSERT_EQ(lchown((src + "/a").c_str(), 12345, 23456), 0);
  testing::MustRun({"tar", "cf", tmp_ / "implied.tar", "--format=posix", "--directory=" + src,
                    "./a/b/c", "--no-recursion", "./a"});
  auto imported = Import(tmp_ / "implied.tar");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  auto b = repo_->LookupPath(imported->snapshot, "a/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->type(), pb::Entry::DIRECTORY);
  EXPECT_EQ(b->mode(), 0755u);
  EXPECT_EQ(b->uid(), 0u);
  EXPECT_EQ(b->mtime_ns(), 1'234'567'890'000'000'005);
  auto a = repo_->LookupPath(imported->snapshot, "a");
  EXPECT_EQ(a->mode(), 0700u);
  EXPECT_EQ(a->uid(), 12345u);
}

TEST_F(TarImportTest, MembersTarWouldRefuseAreReportedAndLeftOut) {
  const std::string src = tmp_ / "src";
  mkdir(src.c_str(), 0755);
  testing::WriteFile(src + "/good", "good");
  testing::WriteFile(src + "/evil", "escapes");
  // GNU tar stores "../evil" as given with --absolute-names.
  testing::MustRun({"tar", "cf", tmp_ / "evil.tar", "--absolute-names", "--directory=" + src,
                    "./good", "--transform=s,^./evil,../evil,", "./evil"});
  auto imported = Import(tmp_ / "evil.tar");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  ASSERT_EQ(imported->errors.size(), 1u);
  EXPECT_EQ(imported->errors[0].path, "../evil");
  EXPECT_TRUE(imported->snapshot.record.incomplete());
  EXPECT_TRUE(repo_->LookupPath(imported->snapshot, "good").ok());
  EXPECT_FALSE(repo_->LookupPath(imported->snapshot, "evil").ok());
}

TEST_F(TarImportTest, AnAclNamingAUserThisHostLacksIsReportedAndLeftOut) {
  const std::string src = tmp_ / "src";
  mkdir(src.c_str(), 0755);
  testing::WriteFile(src + "/f", "acl");
  testing::MustRun({"setfacl", "-m", "u:daemon:r", src + "/f"});
  testing::MustRun(
      {"tar", "cf", tmp_ / "acl.tar", "--format=posix", "--acls", "--directory=" + src, "./f"});
  // GNU tar writes the name; one of the same length that no host has. The
  // pax records carry no checksum.
  std::string archive = testing::ReadFile(tmp_ / "acl.tar");
  size_t at = archive.find("user:daemon:r--");
  ASSERT_NE(at, std::string::npos);
  archive.replace(at, 15, "user:zq9x7w:r--");
  testing::WriteFile(tmp_ / "acl.tar", archive);
  auto imported = Import(tmp_ / "acl.tar");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  ASSERT_EQ(imported->errors.size(), 1u);
  EXPECT_EQ(imported->errors[0].path, "./f");
  EXPECT_NE(imported->errors[0].status.message().find("zq9x7w"), std::string::npos);
  EXPECT_TRUE(imported->snapshot.record.incomplete());
  auto f = repo_->LookupPath(imported->snapshot, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->xattrs_size(), 0);
}

TEST_F(TarImportTest, WithoutPaxTimesTheCtimeIsTheMtime) {
  const std::string src = tmp_ / "src";
  mkdir(src.c_str(), 0755);
  testing::WriteFile(src + "/f", "old format");
  testing::MustRun(
      {"tar", "cf", tmp_ / "ustar.tar", "--format=ustar", "--directory=" + src, "./f"});
  auto imported = Import(tmp_ / "ustar.tar");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  auto f = repo_->LookupPath(imported->snapshot, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->mtime_ns(), Lstat(src + "/f").st_mtime * 1'000'000'000);
  EXPECT_EQ(f->ctime_ns(), f->mtime_ns());
}

TEST_F(TarImportTest, AnArchiveWithoutMembersIsAnEmptySnapshot) {
  testing::MustRun({"tar", "cf", tmp_ / "empty.tar", "--files-from=/dev/null"});
  auto imported = Import(tmp_ / "empty.tar");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  auto root =
      repo_->ReadTree(*ObjectId::FromBytes(AsBytes(imported->snapshot.record.root_tree_id())));
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->entries_size(), 0);
}

TEST_F(TarImportTest, ExcludedPathsAreLeftOut) {
  MakeContainer();
  BackupOptions options;
  options.excludes = {"/var/lib", "*.fw"};
  auto imported = Import(tar(), 1000, options);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_FALSE(repo_->LookupPath(imported->snapshot, "var/lib").ok());
  EXPECT_FALSE(repo_->LookupPath(imported->snapshot, "var/lib/big.bin").ok());
  EXPECT_FALSE(repo_->LookupPath(imported->snapshot, "etc/vzdump/pct.fw").ok());
  EXPECT_TRUE(repo_->LookupPath(imported->snapshot, "var/mail").ok());
}

TEST_F(TarImportTest, ARawStreamIsNotATar) {
  testing::WriteFile(tmp_ / "disk.vma", std::string("VMA\0", 4) + testing::RandomBytes(5000, 3));
  auto imported = Import(testing::Compress(tmp_ / "disk.vma", "zstd"));
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), Code::kInvalidArgument);
  EXPECT_NE(imported.status().message().find("not a tar archive"), std::string::npos);
}

TEST_F(TarImportTest, ATruncatedArchiveFailsAndCommitsNothing) {
  MakeContainer();
  const std::string whole = testing::ReadFile(tar());
  const size_t big = HeaderOffset(whole, "./var/lib/big.bin");
  const size_t big_end = big + 512 + (((5u << 20) + 17 + 511) / 512) * 512;
  struct Cut {
    const char* what;
    size_t at;
    const char* says;
  };
  for (const Cut& cut : {Cut{"in a header", big + 100, "bad header"},
                         Cut{"in a member's data", big + 512 + (1 << 20), "big.bin"},
                         Cut{"between its extended header and its header", big, "byte"},
                         Cut{"between two members", big_end, "end-of-archive marker"}}) {
    SCOPED_TRACE(cut.what);
    const std::string path = tmp_ / "cut.tar";
    testing::WriteFile(path, whole.substr(0, cut.at));
    ExpectDamage(path, cut.says);
  }
  // Inside the compressed frame, for each compressor.
  for (const char* tool : {"zstd", "gzip", "lzop"}) {
    SCOPED_TRACE(tool);
    const std::string compressed = testing::ReadFile(testing::Compress(tar(), tool));
    const std::string path = tmp_ / ("cut." + std::string(tool));
    testing::WriteFile(path, compressed.substr(0, compressed.size() / 2));
    ExpectDamage(path, "");
  }
}

TEST_F(TarImportTest, AFlippedByteInTheCompressedStreamFailsAndCommitsNothing) {
  MakeContainer();
  // Padded as GNU tar pads to its record size, here a large one
  // (--blocking-factor): the compressor's checksum comes megabytes after the
  // end-of-archive marker, where no tar reader looks.
  const std::string padded = tmp_ / "padded.tar";
  testing::WriteFile(padded, testing::ReadFile(tar()) + std::string(4 << 20, '\0'));
  for (const char* tool : {"zstd", "gzip", "lzop"}) {
    const std::string compressed = testing::ReadFile(testing::Compress(padded, tool));
    // In the middle, and at the end (checksums, CRC, length).
    for (size_t at : {compressed.size() / 2, compressed.size() - 3}) {
      SCOPED_TRACE(std::string(tool) + " byte " + std::to_string(at));
      std::string damaged = compressed;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
      const std::string path = tmp_ / ("flipped." + std::string(tool));
      testing::WriteFile(path, damaged);
      ExpectDamage(path, "");
    }
  }
  // Intact, the padding is no damage.
  auto imported = Import(testing::Compress(padded, "zstd"));
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
}

TEST_F(TarImportTest, ADamagedHeaderFailsNamingThePosition) {
  MakeContainer();
  std::string whole = testing::ReadFile(tar());
  const size_t at = HeaderOffset(whole, "./etc/hostname");
  whole[at + 130] ^= 0x01;  // in the mtime field: the header checksum fails
  testing::WriteFile(tmp_ / "bad.tar", whole);
  // The member's headers start with its pax extended header, one block of
  // header and one of records before.
  ASSERT_EQ(whole[at - 1024 + 156], 'x');
  ExpectDamage(tmp_ / "bad.tar", "bad header at byte " + std::to_string(at - 1024));
}

// Hard link groups are numbered by a walk of the tree by name, not in the
// archive's order: one tree archived in two orders is one root tree.
TEST_F(TarImportTest, OneTreeArchivedInTwoOrdersIsOneRootTree) {
  const std::string src = tmp_ / "src";
  for (const char* dir : {"", "/a", "/b", "/b/c"}) ASSERT_EQ(mkdir((src + dir).c_str(), 0755), 0);
  testing::WriteFile(src + "/a/single", "one name");
  testing::WriteFile(src + "/a/x", "group of a/x and b/y");
  ASSERT_EQ(link((src + "/a/x").c_str(), (src + "/b/y").c_str()), 0);
  testing::WriteFile(src + "/b/c/z", "group of b/c/z and a/w");
  ASSERT_EQ(link((src + "/b/c/z").c_str(), (src + "/a/w").c_str()), 0);
  testing::WriteFile(src + "/b/t", "group of three names");
  ASSERT_EQ(link((src + "/b/t").c_str(), (src + "/a/t").c_str()), 0);
  ASSERT_EQ(link((src + "/b/t").c_str(), (src + "/b/c/t").c_str()), 0);

  // By name, and the other way round: each group's first name, the member
  // holding its content, is another one.
  const std::vector<std::string> by_name = {"./a/",    "./a/single", "./a/t",  "./a/w",
                                            "./a/x",   "./b/",       "./b/c/", "./b/c/t",
                                            "./b/c/z", "./b/t",      "./b/y"};
  const std::vector<std::string> reversed(by_name.rbegin(), by_name.rend());
  std::vector<ObjectId> roots;
  int64_t seconds = 1000;
  for (const std::vector<std::string>* order : {&by_name, &reversed}) {
    std::string list;
    for (const std::string& member : *order) list += member + "\n";
    const std::string list_file = tmp_ / "members";
    const std::string archive = tmp_ / ("order-" + std::to_string(seconds) + ".tar");
    testing::WriteFile(list_file, list);
    testing::MustRun({"tar", "cf", archive, "--format=posix", "--numeric-owner",
                      "--directory=" + src, "--no-recursion", "-T", list_file});
    const std::string listing = testing::MustRun({"tar", "tf", archive});
    ASSERT_EQ(listing, list) << "tar did not keep the order";
    const std::string verbose = testing::MustRun({"tar", "tvf", archive});
    EXPECT_NE(verbose.find(order == &by_name ? "./b/t link to ./a/t" : "./a/t link to ./b/t"),
              std::string::npos)
        << verbose;
    auto imported = Import(archive, seconds += 1000);
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    for (const auto& e : imported->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
    roots.push_back(*ObjectId::FromBytes(AsBytes(imported->snapshot.record.root_tree_id())));

    // Numbered as the walk by name meets them: a/t, a/w, a/x.
    const Snapshot& s = imported->snapshot;
    struct Name {
      const char* path;
      uint64_t inode;
      uint32_t nlink;
    };
    for (const auto& [path, inode, nlink] :
         {Name{"a/single", 0, 1}, Name{"a/t", 1, 3}, Name{"b/t", 1, 3}, Name{"b/c/t", 1, 3},
          Name{"a/w", 2, 2}, Name{"b/c/z", 2, 2}, Name{"a/x", 3, 2}, Name{"b/y", 3, 2}}) {
      SCOPED_TRACE(path);
      auto entry = repo_->LookupPath(s, path);
      ASSERT_TRUE(entry.ok()) << entry.status().ToString();
      EXPECT_EQ(entry->inode(), inode);
      EXPECT_EQ(entry->nlink(), nlink);
    }
  }
  EXPECT_EQ(roots[0], roots[1]);
}

// DISABLED: a pax time before 1970 with a fraction is imported wrong.
// GNU tar writes a file's mtime of -1.75 s (tv_sec -2, tv_nsec 250000000)
// as "mtime=-1.75" and extracts it as such; libarchive 3.6 reads it as
// -1 s plus 0.75 s (archive_read_support_format_tar.c, pax_time applies the
// sign to the whole seconds only), so the snapshot holds -0.25 s. `coffer
// export` writes the right text, so a snapshot exported and imported again
// moves by up to 2 s each time.
TEST_F(TarImportTest, DISABLED_ATimeBefore1970WithAFractionIsTheOneGnuTarExtracts) {
  const std::string src = tmp_ / "src";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  testing::WriteFile(src + "/old", "before 1970");
  const struct timespec times[2] = {{-2, 250'000'000}, {-2, 250'000'000}};
  ASSERT_EQ(utimensat(AT_FDCWD, (src + "/old").c_str(), times, 0), 0);
  const std::string archive = tmp_ / "old.tar";
  testing::MustRun({"tar", "cf", archive, "--format=posix", "--directory=" + src, "./old"});
  ASSERT_NE(testing::ReadFile(archive).find(" mtime=-1.75\n"), std::string::npos);

  // GNU tar's own extraction gives the time back.
  const std::string extracted = tmp_ / "extracted";
  ASSERT_EQ(mkdir(extracted.c_str(), 0755), 0);
  testing::MustRun({"tar", "xf", archive, "--directory=" + extracted});
  EXPECT_EQ(MtimeNs(Lstat(extracted + "/old")), -1'750'000'000);

  auto imported = Import(archive);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  auto old = repo_->LookupPath(imported->snapshot, "old");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->mtime_ns(), -1'750'000'000);
}

}  // namespace
}  // namespace coffer::ingest
