#include "store/ingest/parent_trees.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/model/tree.h"
#include "store/model/tree_split.h"
#include "store/repo/write_session.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::ingest {
namespace {

using testing::TempDir;

pb::Entry FileEntry(const std::string& name) {
  pb::Entry e;
  e.set_name(name);
  e.set_type(pb::Entry::FILE);
  e.set_size(name.size());
  return e;
}

pb::Entry DirEntry(const std::string& name, const ObjectId& subtree) {
  pb::Entry e;
  e.set_name(name);
  e.set_type(pb::Entry::DIRECTORY);
  e.set_subtree_id(subtree.bytes.data(), subtree.bytes.size());
  return e;
}

// d00 ... d19: names that sort as the numbers do.
std::string DirName(int d) {
  return (d < 10 ? "d0" : "d") + std::to_string(d);
}

// Trees stored as a backup stores them: root -> d00..d19 -> inner -> leaf,
// and d07 also holds "big", a directory large enough to be split in parts.
class ParentTreesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
    WriteSession session(*repo_, 2);
    auto add = [&](const pb::Tree& tree) {
      auto id = session.AddTree(tree);
      EXPECT_TRUE(id.ok()) << id.status().ToString();
      trees_.push_back(*id);
      return *id;
    };
    pb::Tree big;
    for (int i = 0; i < 70000; ++i) {
      *big.add_entries() = FileEntry("a-file-whose-long-name-makes-the-directory-too-large-" +
                                     std::to_string(100000 + i));
    }
    ASSERT_FALSE(model::FitsInOneObject(big));
    pb::Tree root;
    for (int d = 0; d < 20; ++d) {
      pb::Tree leaf;
      *leaf.add_entries() = FileEntry("file" + std::to_string(d));
      pb::Tree inner;
      *inner.add_entries() = DirEntry("leaf", add(leaf));
      pb::Tree dir;
      if (d == 7) {
        big_ = add(big);
        *dir.add_entries() = DirEntry("big", big_);
      }
      *dir.add_entries() = DirEntry("inner", add(inner));
      *root.add_entries() = DirEntry(DirName(d), add(dir));
    }
    root_ = add(root);
    ASSERT_TRUE(session.Flush().ok());
    // What each tree reads as, before any test damages the store.
    for (const ObjectId& id : trees_) {
      auto tree = repo_->ReadTree(id);
      ASSERT_TRUE(tree.ok()) << tree.status().ToString();
      original_.emplace(id, std::move(tree).value());
    }
  }

  // The id of the subdirectory `name` in `tree`.
  static ObjectId Sub(const pb::Tree& tree, const std::string& name) {
    const pb::Entry* e = model::FindEntry(tree, name);
    EXPECT_NE(e, nullptr) << name;
    return *ObjectId::FromBytes(AsBytes(e->subtree_id()));
  }

  // Overwrites a stored tree so that reading it from the store fails.
  void Damage(const ObjectId& id) {
    ASSERT_TRUE(repo_->store().Put(ObjectKind::kTree, id, Bytes(100, 0x5a)).ok());
  }

  static std::string Encoded(const pb::Tree& tree) { return tree.SerializeAsString(); }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  std::vector<ObjectId> trees_;
  std::unordered_map<ObjectId, pb::Tree, ObjectIdHash> original_;
  ObjectId root_, big_;
};

TEST_F(ParentTreesTest, TakingATreeReadsTheTreesBelowItAhead) {
  ParentTrees parents(*repo_);
  auto root = parents.Take(root_);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(Encoded(*root), Encoded(original_.at(root_)));
  EXPECT_GT(parents.held(), 0u);
  // From now on the store could not give any tree below the root: the walk
  // must find every one read already, a split one's index too.
  for (const ObjectId& id : trees_) {
    if (id != root_) Damage(id);
  }
  for (int d = 0; d < 20; ++d) {
    const std::string name = DirName(d);
    auto dir = parents.Take(Sub(*root, name));
    ASSERT_TRUE(dir.ok()) << name << ": " << dir.status().ToString();
    auto inner = parents.Take(Sub(*dir, "inner"));
    ASSERT_TRUE(inner.ok()) << name << ": " << inner.status().ToString();
    auto leaf = parents.Take(Sub(*inner, "leaf"));
    ASSERT_TRUE(leaf.ok()) << name << ": " << leaf.status().ToString();
    EXPECT_EQ(Encoded(*leaf), Encoded(original_.at(Sub(*inner, "leaf"))));
  }
  EXPECT_EQ(parents.held(), 1u) << "only the split directory's index, never taken, is left";
}

TEST_F(ParentTreesTest, ASplitTreeIsHandedOutWhole) {
  ParentTrees parents(*repo_);
  auto root = parents.Take(root_);
  ASSERT_TRUE(root.ok());
  auto d07 = parents.Take(Sub(*root, "d07"));
  ASSERT_TRUE(d07.ok());
  auto big = parents.Take(Sub(*d07, "big"));
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->entries_size(), 70000);
  EXPECT_EQ(Encoded(*big), Encoded(original_.at(big_)));
}

TEST_F(ParentTreesTest, ADamagedTreeReadAheadFailsOnlyWhenTaken) {
  const pb::Tree& original_root = original_.at(root_);
  const ObjectId d03 = Sub(original_root, "d03");
  Damage(d03);
  ParentTrees parents(*repo_);
  auto root = parents.Take(root_);
  ASSERT_TRUE(root.ok()) << "a damaged tree below does not fail the one taken";
  EXPECT_EQ(parents.Take(d03).status().code(), Code::kCorruption);
  auto d04 = parents.Take(Sub(original_root, "d04"));
  ASSERT_TRUE(d04.ok()) << d04.status().ToString();
  EXPECT_EQ(Encoded(*d04), Encoded(original_.at(Sub(original_root, "d04"))));
}

TEST_F(ParentTreesTest, ATreeTakenTwiceIsReadAgain) {
  ParentTrees parents(*repo_);
  auto root = parents.Take(root_);
  ASSERT_TRUE(root.ok());
  const ObjectId d05 = Sub(*root, "d05");
  ASSERT_TRUE(parents.Take(d05).ok());
  auto again = parents.Take(d05);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Encoded(*again), Encoded(original_.at(d05)));
}

}  // namespace
}  // namespace coffer::ingest
