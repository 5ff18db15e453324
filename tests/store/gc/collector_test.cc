#include "store/gc/collector.h"

#include <gtest/gtest.h>

#include "store/model/tree.h"
#include "store/repo/write_session.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::gc {
namespace {

using coffer::testing::InitAndOpen;
using coffer::testing::TempDir;

pb::Snapshot Record(int64_t seconds, const ObjectId& root) {
  pb::Snapshot r;
  r.set_version(1);
  r.set_group("host/a");
  r.set_time_ns(seconds * 1'000'000'000);
  r.set_root_tree_id(root.bytes.data(), root.bytes.size());
  return r;
}

// A snapshot of one directory "dir" holding one file made of `chunks`.
Snapshot Commit(Repository& repo, int64_t seconds, const std::vector<std::string>& chunks) {
  WriteSession session(repo, 1);
  pb::Tree dir;
  pb::Entry* file = dir.add_entries();
  file->set_name("file");
  for (const std::string& chunk : chunks) {
    ObjectId id = *session.AddChunk(AsBytes(chunk));
    pb::Extent* extent = file->add_extents();
    extent->set_chunk_id(id.bytes.data(), id.bytes.size());
    extent->set_size(chunk.size());
  }
  ObjectId dir_id = *session.AddTree(dir);
  pb::Tree root;
  pb::Entry* entry = root.add_entries();
  entry->set_name("dir");
  entry->set_type(pb::Entry::DIRECTORY);
  entry->set_subtree_id(dir_id.bytes.data(), dir_id.bytes.size());
  auto committed = session.Commit(Record(seconds, *session.AddTree(root)));
  EXPECT_TRUE(committed.ok()) << committed.status().ToString();
  return *committed;
}

bool Stored(Repository& repo, std::string_view chunk) {
  return repo.ReadObject(ObjectKind::kChunk, repo.sealer().IdOf(AsBytes(chunk))).ok();
}

TEST(CollectorTest, KeepsWhatSnapshotsShareAndDeletesWhatOnlyForgottenOnesUsed) {
  TempDir tmp;
  auto repo = InitAndOpen(tmp / "repo");
  Snapshot old_one = Commit(*repo, 100, {"shared", "only in the old one"});
  Commit(*repo, 200, {"shared", "only in the new one"});
  ASSERT_TRUE(repo->Forget(old_one).ok());

  auto report = CollectGarbage(*repo);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->roots, 1u);
  EXPECT_EQ(report->trees_walked, 2u);
  // The old snapshot's root and "dir" trees and its own chunk.
  EXPECT_EQ(report->sweep.objects_deleted, 3u);
  EXPECT_TRUE(Stored(*repo, "shared"));
  EXPECT_TRUE(Stored(*repo, "only in the new one"));
  EXPECT_FALSE(Stored(*repo, "only in the old one"));
}

TEST(CollectorTest, ADamagedTreeStopsTheCollectionBeforeAnythingIsDeleted) {
  TempDir tmp;
  auto repo = InitAndOpen(tmp / "repo");
  Snapshot forgotten = Commit(*repo, 100, {"garbage"});
  Snapshot kept = Commit(*repo, 200, {"data"});
  ASSERT_TRUE(repo->Forget(forgotten).ok());
  // Damage the kept snapshot's root tree.
  ObjectId root = *ObjectId::FromBytes(AsBytes(kept.record.root_tree_id()));
  Bytes sealed = *repo->store().Get(ObjectKind::kTree, root);
  sealed[sealed.size() / 2] ^= 0x01;
  ASSERT_TRUE(repo->store().Put(ObjectKind::kTree, root, sealed).ok());

  auto report = CollectGarbage(*repo);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kCorruption);
  EXPECT_NE(report.status().message().find("before deleting anything"), std::string::npos)
      << report.status().message();
  EXPECT_TRUE(Stored(*repo, "garbage"));
  // The collection was abandoned, so the next one may start.
  ASSERT_TRUE(repo->store().Put(ObjectKind::kTree, root, *repo->store().Get(ObjectKind::kTree, root)).ok());
  EXPECT_EQ(CollectGarbage(*repo).status().code(), Code::kCorruption);
}

TEST(CollectorTest, ADamagedSnapshotRecordStopsTheCollectionUntilItIsForgotten) {
  TempDir tmp;
  auto repo = InitAndOpen(tmp / "repo");
  Snapshot forgotten = Commit(*repo, 100, {"garbage"});
  Snapshot damaged = Commit(*repo, 200, {"data of the damaged one"});
  Commit(*repo, 300, {"data"});
  ASSERT_TRUE(repo->Forget(forgotten).ok());
  // The damaged record's bytes flipped in place: it no longer says what it references.
  Bytes sealed;
  auto stored = repo->store().ListSnapshots("host/a");
  ASSERT_TRUE(stored.ok());
  for (const StoredSnapshot& s : *stored) {
    if (s.ref == damaged.ref) sealed = s.sealed;
  }
  ASSERT_FALSE(sealed.empty());
  sealed[sealed.size() / 2] ^= 0x01;
  ASSERT_TRUE(repo->Forget(damaged).ok());
  ASSERT_TRUE(repo->store().CommitSnapshot(damaged.ref, sealed, kNoWriter).ok());

  auto report = CollectGarbage(*repo);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kCorruption);
  const std::string message = report.status().message();
  EXPECT_NE(message.find("before deleting anything"), std::string::npos) << message;
  EXPECT_NE(message.find("host/a/1970-01-01T00:03:20Z is damaged"), std::string::npos) << message;
  EXPECT_NE(message.find("coffer forget host/a/1970-01-01T00:03:20Z"), std::string::npos) << message;
  EXPECT_TRUE(Stored(*repo, "garbage"));
  EXPECT_TRUE(Stored(*repo, "data of the damaged one"));

  // Forgotten, its data is garbage like any other.
  auto listed = repo->ListSnapshots();
  ASSERT_TRUE(listed.ok());
  ASSERT_TRUE((*listed)[0].damaged());
  ASSERT_TRUE(repo->Forget((*listed)[0]).ok());
  report = CollectGarbage(*repo);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(Stored(*repo, "garbage"));
  EXPECT_FALSE(Stored(*repo, "data of the damaged one"));
  EXPECT_TRUE(Stored(*repo, "data"));
}

}  // namespace
}  // namespace coffer::gc
