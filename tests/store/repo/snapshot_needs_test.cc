// A snapshot's needs set as a backup writes it (store/repo/snapshot_needs.h,
// WriteSession::Commit): exactly what its trees reach, as a difference from
// its parent's, and whole again when the parent's chain is damaged.
#include "store/repo/snapshot_needs.h"

#include <gtest/gtest.h>

#include "store/kv/database.h"
#include "store/model/tree.h"
#include "store/repo/layout.h"
#include "store/repo/write_session.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer {
namespace {

using testing::InitAndOpen;
using testing::TempDir;

class SnapshotNeedsTest : public ::testing::Test {
 protected:
  void SetUp() override { repo_ = InitAndOpen(tmp_ / "repo"); }

  // A snapshot of directories "d0".."d{dirs-1}", each with one file of
  // `chunks_per_file` chunks; `salt` changes the chunks of directory 0 only.
  Snapshot Commit(int64_t seconds, int dirs, int chunks_per_file, int salt,
                  const std::optional<Snapshot>& parent) {
    WriteSession session(*repo_, 1);
    if (parent) {
      EXPECT_TRUE(session.Begin(parent->ref).ok());
    }
    pb::Tree root;
    for (int d = 0; d < dirs; ++d) {
      pb::Tree dir;
      pb::Entry* file = dir.add_entries();
      file->set_name("file");
      for (int c = 0; c < chunks_per_file; ++c) {
        const std::string data = "chunk " + std::to_string(d) + "." + std::to_string(c) +
                                 (d == 0 ? " salt " + std::to_string(salt) : "");
        ObjectId id = *session.AddChunk(AsBytes(data));
        pb::Extent* extent = file->add_extents();
        extent->set_chunk_id(id.bytes.data(), id.bytes.size());
        extent->set_size(data.size());
      }
      ObjectId dir_id = *session.AddTree(dir);
      pb::Entry* entry = root.add_entries();
      entry->set_name("d" + std::to_string(d));
      entry->set_type(pb::Entry::DIRECTORY);
      entry->set_subtree_id(dir_id.bytes.data(), dir_id.bytes.size());
    }
    model::SortEntries(&root);
    return Commit(session, seconds, *session.AddTree(root));
  }

  Snapshot Commit(WriteSession& session, int64_t seconds, const ObjectId& root) {
    pb::Snapshot record;
    record.set_version(1);
    record.set_group("host/a");
    record.set_time_ns(seconds * 1'000'000'000);
    record.set_root_tree_id(root.bytes.data(), root.bytes.size());
    auto committed = session.Commit(record);
    EXPECT_TRUE(committed.ok()) << committed.status().ToString();
    return *committed;
  }

  // What the snapshot reaches, found by reading every one of its trees.
  NeedsSet Walked(const Snapshot& s) {
    auto root = ObjectId::FromBytes(AsBytes(s.record.root_tree_id()));
    auto set = CollectNeeds(*repo_, *root, {});
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    return *set;
  }

  Result<NeedsChain> Chain(const Snapshot& s) {
    EXPECT_TRUE(s.needs.has_value());
    return ReadNeedsChain(repo_->store(), *s.needs);
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(SnapshotNeedsTest, ABackupNamesExactlyWhatItsTreesReach) {
  Snapshot first = Commit(100, 5, 3, 0, std::nullopt);
  auto chain = Chain(first);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  // 5 directories, their 15 chunks, and the root.
  EXPECT_EQ(chain->set.size(), 21u);
  EXPECT_EQ(chain->set, Walked(first));
  EXPECT_EQ(chain->lists, 1u);
  // The record names the same list, and the listing carries it.
  EXPECT_EQ(first.record.needs_id(), std::string(AsChars(first.needs->view())));
  auto listed = repo_->ListSnapshots("host/a");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ((*listed)[0].needs, first.needs);
}

TEST_F(SnapshotNeedsTest, AChildStoresItsDifferenceAndAnUnchangedOneNothing) {
  Snapshot first = Commit(100, 50, 4, 0, std::nullopt);
  Snapshot second = Commit(200, 50, 4, 1, first);
  auto chain = Chain(second);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->set, Walked(second));
  EXPECT_EQ(chain->lists, 2u);
  auto delta = DecodeNeedsList(*repo_->store().Get(ObjectKind::kNeeds, *second.needs));
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->base, first.needs);
  // Directory 0's four chunks and tree, and the root: out and in.
  EXPECT_EQ(delta->added.size(), 6u);
  EXPECT_EQ(delta->removed.size(), 6u);

  Snapshot third = Commit(300, 50, 4, 1, second);
  EXPECT_EQ(third.needs, second.needs);
  EXPECT_EQ(Chain(third)->set, Walked(third));
}

TEST_F(SnapshotNeedsTest, TreesReusedWithoutBeingWrittenAreRead) {
  // A file's extent part written by the first backup only: the second names
  // it by id, as an unchanged huge file's entry keeps its parts.
  ObjectId part_id;
  Snapshot first = [&] {
    WriteSession session(*repo_, 1);
    pb::Tree part;
    pb::Entry* piece = part.add_entries();
    for (int c = 0; c < 3; ++c) {
      ObjectId id = *session.AddChunk(AsBytes("part chunk " + std::to_string(c)));
      pb::Extent* extent = piece->add_extents();
      extent->set_chunk_id(id.bytes.data(), id.bytes.size());
      extent->set_size(12);
    }
    part_id = *session.AddTree(part);
    pb::Tree root;
    pb::Entry* file = root.add_entries();
    file->set_name("huge");
    file->add_extent_parts()->set_tree_id(part_id.bytes.data(), part_id.bytes.size());
    return Commit(session, 100, *session.AddTree(root));
  }();
  WriteSession session(*repo_, 1);
  ASSERT_TRUE(session.Begin(first.ref).ok());
  pb::Tree root;
  pb::Entry* file = root.add_entries();
  file->set_name("huge");
  file->add_extent_parts()->set_tree_id(part_id.bytes.data(), part_id.bytes.size());
  pb::Entry* other = root.add_entries();
  other->set_name("new");
  Snapshot second = Commit(session, 200, *session.AddTree(root));
  auto chain = Chain(second);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  // The root, the part and its three chunks.
  EXPECT_EQ(chain->set.size(), 5u);
  EXPECT_EQ(chain->set, Walked(second));
}

TEST_F(SnapshotNeedsTest, ADamagedParentChainIsReportedAndTheChildWritesItsSetWhole) {
  Snapshot first = Commit(100, 5, 2, 0, std::nullopt);
  // Damage the parent's list as bit rot would, through a second handle on
  // the database while the repository is closed.
  repo_.reset();
  {
    auto db = kv::Database::Open(RepoLayout(tmp_ / "repo").db());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    const std::string key(AsChars(first.needs->view()));
    Bytes value = *(*db)->Get(kv::Column::kNeeds, key);
    value[value.size() / 2] ^= 0x40;
    ASSERT_TRUE((*db)->Put(kv::Column::kNeeds, key, value, kv::Durability::kSynced).ok());
  }
  auto reopened = OpenLocalRepository(tmp_ / "repo", {}, testing::Passphrase("correct horse"));
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  repo_ = std::move(reopened).value();

  auto read = ReadNeedsChain(repo_->store(), *first.needs);
  EXPECT_EQ(read.status().code(), Code::kCorruption);
  EXPECT_NE(read.status().message().find("does not match its id"), std::string::npos)
      << read.status().message();

  Snapshot second = Commit(200, 5, 2, 1, first);
  auto chain = Chain(second);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->lists, 1u);
  EXPECT_EQ(chain->set, Walked(second));
}

}  // namespace
}  // namespace coffer
