#include "store/diff/tree_diff.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "store/ingest/archiver.h"
#include "store/model/tree.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::diff {
namespace {

using testing::TempDir;
using testing::WriteFile;

// What one change says, in a form tests compare whole.
struct Seen {
  Change::Kind kind;
  uint32_t differences;
  bool operator==(const Seen&) const = default;
};

void PrintTo(const Seen& seen, std::ostream* out) {
  static const char* kKinds[] = {"added", "removed", "changed"};
  *out << kKinds[seen.kind];
  for (std::string_view name : DifferenceNames(seen.differences)) *out << " " << name;
}

class TreeDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
    source_ = tmp_ / "src";
    std::filesystem::create_directories(source_);
  }

  ObjectId Backup() {
    Snapshot snapshot = BackupSnapshot();
    return ObjectId::FromBytes(AsBytes(snapshot.record.root_tree_id())).value_or(ObjectId{});
  }

  Snapshot BackupSnapshot() {
    ingest::BackupOptions options;
    options.group = "host/test";
    options.time_ns = ++backups_ * 1'000'000'000LL;
    ingest::Archiver archiver(*repo_, options, nullptr);
    auto result = archiver.BackupPaths({source_});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return Snapshot{};
    for (const auto& e : result->errors) ADD_FAILURE() << e.path << ": " << e.status.ToString();
    return result->snapshot;
  }

  // Every change from `before` to `after` (root trees), by path below the
  // source folder, in the order reported; counts the trees read in `stats_`.
  std::vector<std::pair<std::string, Seen>> Diff(const ObjectId& before, const ObjectId& after) {
    return DiffUnder(before, after, source_.substr(1) + "/");
  }

  // The same for any two trees: every change whose path starts with `under`.
  std::vector<std::pair<std::string, Seen>> DiffUnder(const ObjectId& before, const ObjectId& after,
                                                      const std::string& under) {
    stats_ = {};
    std::vector<std::pair<std::string, Seen>> changes;
    auto read = [this](const ObjectId& id) { return repo_->ReadTreeObject(id); };
    Status s = DiffTrees(
        before, after, read,
        [&](const Change& change) {
          EXPECT_EQ(change.before == nullptr, change.kind == Change::kAdded) << change.path;
          EXPECT_EQ(change.after == nullptr, change.kind == Change::kRemoved) << change.path;
          // The folders above the source are not the test's: others' temporary
          // folders come and go in them.
          if (change.path.starts_with(under)) {
            changes.emplace_back(change.path.substr(under.size()),
                                 Seen{change.kind, change.differences});
          }
          return Status::Ok();
        },
        &stats_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return changes;
  }

  std::map<std::string, Seen> DiffByPath(const ObjectId& before, const ObjectId& after) {
    std::map<std::string, Seen> out;
    for (auto& [path, seen] : Diff(before, after)) {
      EXPECT_TRUE(out.emplace(path, seen).second) << "reported twice: " << path;
    }
    return out;
  }

  // The id of the source folder's own tree in `snapshot`.
  ObjectId SourceTree(const Snapshot& snapshot) {
    auto entry = repo_->LookupPath(snapshot, source_);
    EXPECT_TRUE(entry.ok()) << entry.status().ToString();
    if (!entry.ok()) return ObjectId{};
    return ObjectId::FromBytes(AsBytes(entry->subtree_id())).value_or(ObjectId{});
  }

  std::string In(std::string_view name) const { return source_ + "/" + std::string(name); }

  // Gives `path` (not following a symlink) the modification time `seconds`.
  void SetMtime(const std::string& path, time_t seconds) {
    struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  std::string source_;
  int backups_ = 0;
  DiffStats stats_;
};

constexpr Change::Kind kAdded = Change::kAdded;
constexpr Change::Kind kRemoved = Change::kRemoved;
constexpr Change::Kind kChanged = Change::kChanged;

TEST_F(TreeDiffTest, TheSameTreeHasNoChangesAndIsNotRead) {
  WriteFile(In("a"), "alpha");
  // The source folder's own trees: the root's differ whenever another test
  // changes the shared temporary folder above it between the two backups.
  ObjectId first = SourceTree(BackupSnapshot());
  ObjectId second = SourceTree(BackupSnapshot());
  ASSERT_EQ(first, second);
  EXPECT_TRUE(DiffUnder(first, second, "").empty());  // every change counts
  EXPECT_EQ(stats_.trees_read, 0u);
  EXPECT_EQ(stats_.subtrees_skipped, 1u);
}

TEST_F(TreeDiffTest, EachKindOfChangeIsNamed) {
  const time_t kThen = 1'700'000'000;
  std::filesystem::create_directories(In("dir/gone/deeper"));
  std::filesystem::create_directories(In("dir/kept"));
  WriteFile(In("dir/gone/deeper/f"), "going");
  WriteFile(In("dir/gone/g"), "going too");
  WriteFile(In("content"), "old bytes");
  WriteFile(In("mode"), "m");
  WriteFile(In("times"), "t");
  WriteFile(In("xattr"), "x");
  WriteFile(In("removed"), "r");
  WriteFile(In("becomes dir"), "f");
  WriteFile(In("same"), "s");
  WriteFile(In("odd\nname\x01"), "odd");
  ASSERT_EQ(symlink("target-one", In("link").c_str()), 0);
  ASSERT_EQ(chmod(In("mode").c_str(), 0644), 0);
  SetMtime(In("link"), kThen);
  for (const char* name : {"content", "mode", "times", "xattr", "removed", "becomes dir", "same",
                           "odd\nname\x01", "dir/gone/deeper/f", "dir/gone/g", "dir", "dir/kept"}) {
    SetMtime(In(name), kThen);
  }
  ObjectId before = Backup();

  WriteFile(In("content"), "new bytes, longer");
  SetMtime(In("content"), kThen);  // only the bytes differ
  ASSERT_EQ(chmod(In("mode").c_str(), 0600), 0);
  SetMtime(In("times"), kThen + 60);
  testing::SetXattr(In("xattr"), "user.colour", "blue");
  std::filesystem::remove(In("removed"));
  std::filesystem::remove_all(In("dir/gone"));
  std::filesystem::create_directories(In("new dir/inner"));
  WriteFile(In("new dir/inner/file"), "new");
  std::filesystem::remove(In("becomes dir"));
  std::filesystem::create_directories(In("becomes dir"));
  WriteFile(In("becomes dir/child"), "c");
  std::filesystem::remove(In("link"));
  ASSERT_EQ(symlink("target-two", In("link").c_str()), 0);
  SetMtime(In("link"), kThen);
  WriteFile(In("odd\nname\x01"), "odder");
  // Directories whose entries changed have new times: pin them, so that only
  // what the test changed on purpose is reported.
  for (const char* dir : {"", "dir", "dir/kept", "becomes dir"}) SetMtime(In(dir), kThen);
  ASSERT_EQ(chmod(In("becomes dir").c_str(), 0644), 0);  // as the file was
  ObjectId after = Backup();

  std::map<std::string, Seen> expected = {
      {"becomes dir", {kChanged, kType}},
      {"becomes dir/child", {kAdded, 0}},
      {"content", {kChanged, kContent}},
      {"dir/gone", {kRemoved, 0}},
      {"dir/gone/deeper", {kRemoved, 0}},
      {"dir/gone/deeper/f", {kRemoved, 0}},
      {"dir/gone/g", {kRemoved, 0}},
      {"link", {kChanged, kContent}},
      {"mode", {kChanged, kMode}},
      {"new dir", {kAdded, 0}},
      {"new dir/inner", {kAdded, 0}},
      {"new dir/inner/file", {kAdded, 0}},
      {"odd\nname\x01", {kChanged, kContent | kTimes}},
      {"removed", {kRemoved, 0}},
      {"times", {kChanged, kTimes}},
      {"xattr", {kChanged, kXattrs}},
  };
  std::map<std::string, Seen> seen = DiffByPath(before, after);
  EXPECT_EQ(seen, expected);

  // Backwards, every addition is a removal and the other way round.
  for (auto& [path, change] : expected) {
    if (change.kind != kChanged) change.kind = change.kind == kAdded ? kRemoved : kAdded;
  }
  EXPECT_EQ(DiffByPath(after, before), expected);
}

TEST_F(TreeDiffTest, ChangesComeInPathOrderWithADirectoryBeforeItsContents) {
  std::filesystem::create_directories(In("b"));
  WriteFile(In("c"), "c");
  ObjectId before = Backup();
  std::filesystem::create_directories(In("a/x"));
  WriteFile(In("a/x/1"), "1");
  WriteFile(In("a/y"), "y");
  WriteFile(In("b/z"), "z");
  std::filesystem::remove(In("c"));
  for (const char* dir : {"", "b"}) SetMtime(In(dir), 1'700'000'000);
  ObjectId pinned = Backup();
  std::vector<std::string> order;
  for (const auto& [path, seen] : Diff(before, pinned)) {
    if (seen.kind != kChanged) order.push_back(path);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"a", "a/x", "a/x/1", "a/y", "b/z", "c"}));
}

// Issue 19's figure: one changed file in a tree of 60,000 entries is found by
// reading the trees on its path only, because every other directory keeps
// its tree id.
TEST_F(TreeDiffTest, OneChangedFileAmongSixtyThousandReadsOnlyTheTreesOnItsPath) {
  constexpr int kDirs = 300, kFilesPerDir = 200;
  for (int d = 0; d < kDirs; ++d) {
    std::string dir = In("d" + std::to_string(d));
    ASSERT_TRUE(std::filesystem::create_directory(dir));
    for (int f = 0; f < kFilesPerDir; ++f) WriteFile(dir + "/f" + std::to_string(f), "");
  }
  ObjectId before = Backup();
  WriteFile(In("d123/f45"), "changed");
  ObjectId after = Backup();

  auto changes = Diff(before, after);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].first, "d123/f45");
  EXPECT_EQ(changes[0].second.kind, kChanged);
  EXPECT_TRUE(changes[0].second.differences & kContent);
  // Each side: the root's tree, one per folder down to src (its own
  // included), and d123's.
  const uint64_t depth = std::count(source_.begin(), source_.end(), '/');
  EXPECT_EQ(stats_.trees_read, 2 * (depth + 2));
  EXPECT_EQ(stats_.subtrees_skipped, static_cast<uint64_t>(kDirs - 1));
}

// A directory too large for one tree object is compared part by part: the
// parts both sides name are not read.
TEST_F(TreeDiffTest, ASplitDirectoryReadsOnlyThePartsThatDiffer) {
  constexpr int kFiles = 24'000;
  std::string big = In("big");
  ASSERT_TRUE(std::filesystem::create_directory(big));
  for (int i = 0; i < kFiles; ++i) {
    // Long names make the directory's tree several megabytes.
    char name[256];
    snprintf(name, sizeof name, "%06d-%0200d", i, i);
    WriteFile(big + "/" + name, "");
  }
  ObjectId before = Backup();
  auto index = [&](const ObjectId& root) {
    auto read_child = [&](const ObjectId& id, std::string_view name) {
      auto tree = repo_->ReadTree(id);
      EXPECT_TRUE(tree.ok());
      return *ObjectId::FromBytes(AsBytes(model::FindEntry(*tree, name)->subtree_id()));
    };
    ObjectId id = root;
    for (const std::string& part : model::SplitPath(source_)) id = read_child(id, part);
    id = read_child(id, "big");
    return *repo_->ReadTreeObject(id);
  };
  const int parts = index(before).parts_size();
  ASSERT_GE(parts, 4) << "the directory is not split: the test would prove nothing";

  WriteFile(big + "/012345-added", "new");
  SetMtime(big, 1'700'000'000);
  ObjectId after = Backup();

  auto changes = Diff(before, after);
  ASSERT_GE(changes.size(), 1u);
  std::vector<std::string> added;
  for (const auto& [path, seen] : changes) {
    if (seen.kind == kAdded) added.push_back(path);
  }
  EXPECT_EQ(added, std::vector<std::string>{"big/012345-added"});
  // Each side: the root's tree and one per folder down to src, big's index,
  // and the one or two parts around the new name.
  const uint64_t depth = std::count(source_.begin(), source_.end(), '/');
  EXPECT_LE(stats_.trees_read, 2 * (depth + 1 + 1 + 2));
  EXPECT_GE(stats_.subtrees_skipped, static_cast<uint64_t>(parts - 2));
}

TEST_F(TreeDiffTest, CompareEntriesLooksAtEachAspect) {
  pb::Entry file;
  file.set_name("f");
  file.set_type(pb::Entry::FILE);
  file.set_mode(0644);
  file.set_size(10);
  file.add_extents()->set_size(10);  // a hole
  EXPECT_EQ(CompareEntries(file, file), 0u);

  pb::Entry other = file;
  other.set_inode(99);
  other.set_nlink(3);
  other.set_ctime_ns(5);
  other.set_device(7);
  EXPECT_EQ(CompareEntries(file, other), 0u) << "inode, links, ctime and device are not compared";

  other = file;
  other.mutable_extents(0)->set_chunk_id(std::string(32, 'x'));
  EXPECT_EQ(CompareEntries(file, other), kContent);
  other = file;
  other.add_extent_parts()->set_size(10);
  EXPECT_EQ(CompareEntries(file, other), kContent);
  other = file;
  other.set_uid(1);
  EXPECT_EQ(CompareEntries(file, other), kOwner);
  other = file;
  other.set_group("staff");
  EXPECT_EQ(CompareEntries(file, other), kOwner);
  other = file;
  auto* xattr = other.add_xattrs();
  xattr->set_name("user.a");
  EXPECT_EQ(CompareEntries(file, other), kXattrs);
  other = file;
  other.set_type(pb::Entry::FIFO);
  other.set_mode(0600);
  EXPECT_EQ(CompareEntries(file, other), kType | kMode);

  pb::Entry device;
  device.set_type(pb::Entry::CHAR_DEVICE);
  device.set_rdev(1);
  pb::Entry renumbered = device;
  renumbered.set_rdev(2);
  EXPECT_EQ(CompareEntries(device, renumbered), kContent);

  EXPECT_EQ(DifferenceNames(kType | kContent | kMode | kOwner | kTimes | kXattrs),
            (std::vector<std::string_view>{"type", "content", "mode", "owner", "times", "xattrs"}));
}

TEST_F(TreeDiffTest, DiffEntriesReportsTheEntryItselfThenBelowIt) {
  std::filesystem::create_directories(In("d"));
  WriteFile(In("d/f"), "f");
  ObjectId root = Backup();
  auto entry = repo_->LookupPath(repo_->ListSnapshots()->back(), source_ + "/d");
  ASSERT_TRUE(entry.ok());
  std::vector<std::string> paths;
  auto read = [this](const ObjectId& id) { return repo_->ReadTreeObject(id); };
  auto collect = [&](const Change& change) {
    paths.push_back(std::string(change.kind == kAdded ? "+" : "-") + change.path);
    return Status::Ok();
  };
  ASSERT_TRUE(DiffEntries(nullptr, &*entry, "d", read, collect).ok());
  ASSERT_TRUE(DiffEntries(&*entry, nullptr, "d", read, collect).ok());
  EXPECT_EQ(paths, (std::vector<std::string>{"+d", "+d/f", "-d", "-d/f"}));
  paths.clear();
  ASSERT_TRUE(DiffEntries(&*entry, &*entry, "d", read, collect).ok());
  EXPECT_TRUE(paths.empty());
  (void)root;
}

TEST_F(TreeDiffTest, AMissingTreeEndsTheWalkWithItsError) {
  std::filesystem::create_directories(In("d"));
  WriteFile(In("d/f"), "f");
  ObjectId before = Backup();
  WriteFile(In("d/g"), "g");
  ObjectId after = Backup();
  int reads = 0;
  auto failing = [&](const ObjectId& id) -> Result<pb::Tree> {
    if (++reads > 3) return Status::NotFound("tree " + id.short_hex() + " is missing");
    return repo_->ReadTreeObject(id);
  };
  Status s = DiffTrees(before, after, failing, [](const Change&) { return Status::Ok(); });
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  Status stopped = DiffTrees(
      before, after, [this](const ObjectId& id) { return repo_->ReadTreeObject(id); },
      [](const Change&) { return Status::IoError("stop"); });
  EXPECT_EQ(stopped.message(), "stop");
}

}  // namespace
}  // namespace coffer::diff
