#include "store/model/tree_split.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "store/model/tree.h"

namespace coffer::model {
namespace {

// Tree objects by id, as a store would keep them. Ids are a content hash
// (FNV-1a with four seeds), so equal trees share one, as in a repository.
class TreeObjects {
 public:
  StoreTreeFn Store() {
    return [this](const pb::Tree& tree) -> Result<ObjectId> {
      Bytes encoded = Encode(tree);
      ObjectId id;
      for (size_t word = 0; word < 4; ++word) {
        uint64_t h = 14695981039346656037ull + word;
        for (uint8_t b : encoded) h = (h ^ b) * 1099511628211ull;
        std::memcpy(id.bytes.data() + 8 * word, &h, 8);
      }
      objects_[id] = std::move(encoded);
      return id;
    };
  }
  ReadTreeFn Read() {
    return [this](const ObjectId& id) -> Result<pb::Tree> {
      auto it = objects_.find(id);
      if (it == objects_.end()) return Status::NotFound("tree " + id.short_hex());
      pb::Tree tree;
      COFFER_RETURN_IF_ERROR(Decode(it->second, &tree, "tree"));
      return tree;
    };
  }
  std::set<ObjectId> Ids() const {
    std::set<ObjectId> ids;
    for (const auto& [id, bytes] : objects_) ids.insert(id);
    return ids;
  }
  size_t LargestObject() const {
    size_t largest = 0;
    for (const auto& [id, bytes] : objects_) largest = std::max(largest, bytes.size());
    return largest;
  }
  void Replace(const ObjectId& id, const pb::Tree& tree) { objects_[id] = Encode(tree); }

 private:
  std::map<ObjectId, Bytes> objects_;
};

std::string ChunkIdFor(uint64_t n) {
  std::string id(32, '\0');
  uint64_t h = n * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < 32; i += 8) {
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    std::memcpy(id.data() + i, &h, 8);
  }
  return id;
}

pb::Entry FileEntry(std::string name, uint64_t first_chunk, int extents) {
  pb::Entry entry;
  entry.set_name(std::move(name));
  entry.set_type(pb::Entry::FILE);
  entry.set_mode(0644);
  entry.set_uid(1000);
  entry.set_user("someone");
  entry.set_mtime_ns(1'700'000'000'000'000'000 + static_cast<int64_t>(first_chunk));
  for (int i = 0; i < extents; ++i) {
    pb::Extent* extent = entry.add_extents();
    if (i % 97 == 5) {
      extent->set_size(1 << 20);  // a hole
    } else {
      extent->set_chunk_id(ChunkIdFor(first_chunk + i));
      extent->set_size(65536 + i % 4096);
    }
    entry.set_size(entry.size() + extent->size());
  }
  return entry;
}

// A directory of `count` files, each with one extent and a 100-byte name.
pb::Tree BigDirectory(int count, int skip = -1) {
  pb::Tree tree;
  for (int i = 0; i < count; ++i) {
    if (i == skip) continue;
    char name[128];
    std::snprintf(name, sizeof name, "%08d-%s", i, std::string(91, 'n').c_str());
    *tree.add_entries() = FileEntry(name, i, 1);
  }
  return tree;
}

std::vector<std::string> PartIds(const pb::Tree& index) {
  std::vector<std::string> ids;
  for (const pb::TreePart& part : index.parts()) ids.push_back(part.tree_id());
  return ids;
}

TEST(TreeSplitTest, ASmallTreeIsStoredAsItIs) {
  TreeObjects objects;
  pb::Tree tree = BigDirectory(100);
  auto stored = SplitTree(tree, objects.Store());
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_EQ(Encode(*stored), Encode(tree));
  EXPECT_TRUE(objects.Ids().empty());
}

TEST(TreeSplitTest, ALargeDirectoryIsSplitIntoPartsAndAssemblesExactly) {
  TreeObjects objects;
  pb::Tree tree = BigDirectory(120'000);  // about 20 MB encoded: more than one object may hold
  ASSERT_GT(tree.ByteSizeLong(), 16u << 20);
  auto index = SplitTree(tree, objects.Store());
  ASSERT_TRUE(index.ok()) << index.status().message();
  EXPECT_EQ(index->entries_size(), 0);
  EXPECT_GT(index->parts_size(), 8);
  EXPECT_LE(objects.LargestObject(), kMaxPartBytes + (64u << 10));
  EXPECT_LT(index->ByteSizeLong(), 64u << 10);
  uint64_t counted = 0;
  for (const pb::TreePart& part : index->parts()) counted += part.entries();
  EXPECT_EQ(counted, 120'000u);

  auto whole = AssembleTree(ObjectId{}, *index, objects.Read());
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_EQ(Encode(*whole), Encode(tree));
  EXPECT_NE(FindEntry(*whole, tree.entries(77'777).name()), nullptr);
}

TEST(TreeSplitTest, OneFileMoreInAHugeDirectoryChangesAtMostTwoParts) {
  TreeObjects objects;
  auto before = SplitTree(BigDirectory(120'000, /*skip=*/60'000), objects.Store());
  auto after = SplitTree(BigDirectory(120'000), objects.Store());
  ASSERT_TRUE(before.ok() && after.ok());
  std::vector<std::string> old_ids = PartIds(*before), new_ids = PartIds(*after);
  std::set<std::string> old_set(old_ids.begin(), old_ids.end());
  int changed = 0;
  for (const std::string& id : new_ids) changed += old_set.count(id) ? 0 : 1;
  EXPECT_GE(changed, 1);
  EXPECT_LE(changed, 2);
}

TEST(TreeSplitTest, AFileWithVeryManyExtentsKeepsThemInPartsAndAssemblesExactly) {
  TreeObjects objects;
  pb::Tree tree;
  *tree.add_entries() = FileEntry("disk.img", 0, 60'000);
  *tree.add_entries() = FileEntry("small", 1'000'000, 3);
  auto stored = SplitTree(tree, objects.Store());
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  ASSERT_EQ(stored->entries_size(), 2);
  const pb::Entry& image = stored->entries(0);
  EXPECT_EQ(image.extents_size(), 0);
  EXPECT_GE(image.extent_parts_size(), 60'000 / static_cast<int>(kMaxInlineExtents));
  uint64_t covered = 0;
  for (const pb::ExtentPart& part : image.extent_parts()) covered += part.size();
  EXPECT_EQ(covered, image.size());
  EXPECT_EQ(stored->entries(1).extent_parts_size(), 0);
  EXPECT_EQ(stored->entries(1).extents_size(), 3);

  auto whole = AssembleTree(ObjectId{}, *stored, objects.Read());
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_EQ(Encode(*whole), Encode(tree));
}

TEST(TreeSplitTest, ChangedExtentsInTheMiddleOfAHugeFileChangeAtMostTwoParts) {
  TreeObjects objects;
  pb::Tree tree;
  *tree.add_entries() = FileEntry("disk.img", 0, 60'000);
  auto before = SplitTree(tree, objects.Store());
  // An insertion: bytes inserted into one chunk make two new chunks of it.
  const pb::Entry original = tree.entries(0);
  pb::Entry* image = tree.mutable_entries(0);
  image->clear_extents();
  for (int i = 0; i < original.extents_size(); ++i) {
    if (i == 30'000) {
      for (uint64_t n : {9'999'998u, 9'999'999u}) {
        pb::Extent* inserted = image->add_extents();
        inserted->set_chunk_id(ChunkIdFor(n));
        inserted->set_size(40'000);
      }
      continue;
    }
    *image->add_extents() = original.extents(i);
  }
  auto after = SplitTree(tree, objects.Store());
  ASSERT_TRUE(before.ok() && after.ok());
  std::set<std::string> old_ids;
  for (const pb::ExtentPart& part : before->entries(0).extent_parts())
    old_ids.insert(part.tree_id());
  int changed = 0;
  for (const pb::ExtentPart& part : after->entries(0).extent_parts()) {
    changed += old_ids.count(part.tree_id()) ? 0 : 1;
  }
  EXPECT_GE(changed, 1);
  EXPECT_LE(changed, 2);
}

class DamagedSplitTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto split = SplitTree(BigDirectory(60'000), objects_.Store());
    ASSERT_TRUE(split.ok());
    index_ = *split;
    ASSERT_GE(index_.parts_size(), 3);
  }
  Status Assemble() { return AssembleTree(ObjectId{}, index_, objects_.Read()).status(); }
  ObjectId PartId(int i) { return *ObjectId::FromBytes(AsBytes(index_.parts(i).tree_id())); }

  TreeObjects objects_;
  pb::Tree index_;
};

TEST_F(DamagedSplitTreeTest, PartsInTheWrongOrderAreCorruption) {
  index_.mutable_parts()->SwapElements(0, 1);
  EXPECT_EQ(Assemble().code(), Code::kCorruption);
}

TEST_F(DamagedSplitTreeTest, APartWithOtherEntriesThanItsIndexSaysIsCorruption) {
  auto part = objects_.Read()(PartId(1));
  ASSERT_TRUE(part.ok());
  part->mutable_entries()->RemoveLast();
  objects_.Replace(PartId(1), *part);
  EXPECT_EQ(Assemble().code(), Code::kCorruption);
}

TEST_F(DamagedSplitTreeTest, EntriesBesidePartsAreCorruption) {
  *index_.add_entries() = FileEntry("stray", 1, 1);
  EXPECT_EQ(Assemble().code(), Code::kCorruption);
}

TEST_F(DamagedSplitTreeTest, AMissingPartIsReportedAsMissing) {
  index_.mutable_parts(2)->set_tree_id(std::string(32, 'x'));
  Status status = Assemble();
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_NE(status.message().find("part of tree"), std::string::npos) << status.message();
}

TEST(TreeSplitTest, AnExtentPartOfTheWrongSizeIsCorruption) {
  TreeObjects objects;
  pb::Tree tree;
  *tree.add_entries() = FileEntry("disk.img", 0, 20'000);
  auto stored = SplitTree(tree, objects.Store());
  ASSERT_TRUE(stored.ok());
  stored->mutable_entries(0)->mutable_extent_parts(0)->set_size(1);
  EXPECT_EQ(AssembleTree(ObjectId{}, *stored, objects.Read()).status().code(), Code::kCorruption);
}

// ExtentWriter must make exactly the parts SplitTree makes, on both sides of
// the inline limit, so images imported in a stream dedupe with split files.
TEST(ExtentWriterTest, StreamedExtentsGiveTheSameEntryAsSplitTree) {
  for (int count : {0, 1, 1000, static_cast<int>(kMaxInlineExtents),
                    static_cast<int>(kMaxInlineExtents) + 1, 30'000}) {
    SCOPED_TRACE(count);
    TreeObjects split_objects, streamed_objects;
    pb::Tree tree;
    *tree.add_entries() = FileEntry("disk.img", 7, count);
    auto split = SplitTree(tree, split_objects.Store());
    ASSERT_TRUE(split.ok());

    ExtentWriter writer(streamed_objects.Store());
    for (const pb::Extent& extent : tree.entries(0).extents()) ASSERT_TRUE(writer.Add(extent).ok());
    pb::Entry streamed = tree.entries(0);
    ASSERT_TRUE(writer.Finish(&streamed).ok());
    EXPECT_EQ(streamed.SerializeAsString(), split->entries(0).SerializeAsString());
    EXPECT_EQ(streamed_objects.Ids(), split_objects.Ids());
  }
}

TEST(ExtentWriterTest, AdjacentHolesAreMergedIntoOne) {
  TreeObjects objects;
  ExtentWriter writer(objects.Store());
  pb::Extent hole;
  hole.set_size(65536);
  pb::Extent data;
  data.set_chunk_id(ChunkIdFor(1));
  data.set_size(1000);
  for (const pb::Extent* e : {&hole, &hole, &hole, &data, &hole, &hole}) {
    ASSERT_TRUE(writer.Add(*e).ok());
  }
  pb::Entry entry;
  ASSERT_TRUE(writer.Finish(&entry).ok());
  ASSERT_EQ(entry.extents_size(), 3);
  EXPECT_EQ(entry.extents(0).size(), 3 * 65536u);
  EXPECT_TRUE(entry.extents(0).chunk_id().empty());
  EXPECT_EQ(entry.extents(1).chunk_id(), ChunkIdFor(1));
  EXPECT_EQ(entry.extents(2).size(), 2 * 65536u);
  EXPECT_EQ(entry.size(), 5 * 65536u + 1000);
}

}  // namespace
}  // namespace coffer::model
