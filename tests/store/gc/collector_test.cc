#include "store/gc/collector.h"

#include <gtest/gtest.h>

#include "store/model/tree.h"
#include "store/repo/snapshot_needs.h"
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

// A snapshot of one directory "dir" holding one file made of `chunks`, its
// needs written as a difference from `parent`'s if given.
Snapshot Commit(Repository& repo, int64_t seconds, const std::vector<std::string>& chunks,
                const std::optional<Snapshot>& parent = std::nullopt) {
  WriteSession session(repo, 1);
  if (parent) {
    EXPECT_TRUE(session.Begin(parent->ref).ok());
  }
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

bool NeedsListStored(Repository& repo, const ObjectId& id) {
  auto found = repo.store().Contains(ObjectKind::kNeeds, std::vector<ObjectId>{id});
  return found.ok() && (*found)[0];
}

TEST(CollectorTest, KeepsEveryNeedsListOfAKeptSnapshotsChainAndNoOther) {
  TempDir tmp;
  auto repo = InitAndOpen(tmp / "repo");
  Snapshot first = Commit(*repo, 100, {"a", "b"});
  Snapshot second = Commit(*repo, 200, {"a", "c"}, first);
  Snapshot other = Commit(*repo, 300, {"x"});
  ASSERT_TRUE(first.needs && second.needs && other.needs);
  // The second's chain is the first's list and its own difference.
  ASSERT_NE(first.needs, second.needs);
  ASSERT_TRUE(repo->Forget(first).ok());
  ASSERT_TRUE(repo->Forget(other).ok());

  ASSERT_TRUE(CollectGarbage(*repo).ok());
  EXPECT_TRUE(NeedsListStored(*repo, *first.needs));  // the base of the second's
  EXPECT_TRUE(NeedsListStored(*repo, *second.needs));
  EXPECT_FALSE(NeedsListStored(*repo, *other.needs));
  auto chain = ReadNeedsChain(repo->store(), *second.needs);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->lists, 2u);

  ASSERT_TRUE(repo->Forget(second).ok());
  ASSERT_TRUE(CollectGarbage(*repo).ok());
  EXPECT_FALSE(NeedsListStored(*repo, *first.needs));
  EXPECT_FALSE(NeedsListStored(*repo, *second.needs));
}

// As a snapshot made before needs lists: the same record, committed without.
Snapshot WithoutNeeds(Repository& repo, const Snapshot& s) {
  auto stored = repo.store().ListSnapshots(s.ref.group);
  Bytes sealed;
  for (const StoredSnapshot& st : *stored) {
    if (st.ref == s.ref) sealed = st.sealed;
  }
  EXPECT_TRUE(repo.store().DeleteSnapshot(s.ref).ok());
  EXPECT_TRUE(repo.store().CommitSnapshot(s.ref, sealed, kNoWriter, std::nullopt).ok());
  Snapshot out = s;
  out.needs.reset();
  return out;
}

TEST(CollectorTest, GivesSnapshotsMadeBeforeNeedsListsTheirsAsDifferences) {
  TempDir tmp;
  auto repo = InitAndOpen(tmp / "repo");
  Snapshot first = WithoutNeeds(*repo, Commit(*repo, 100, {"a", "b"}));
  Snapshot second = WithoutNeeds(*repo, Commit(*repo, 200, {"a", "c"}));
  Snapshot third = Commit(*repo, 300, {"x"});  // has its own already

  auto report = CollectGarbage(*repo);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->needs_written, 2u);
  auto listed = *repo->ListSnapshots("host/a");
  ASSERT_EQ(listed.size(), 3u);
  for (const Snapshot& s : listed) {
    ASSERT_TRUE(s.needs.has_value()) << s.name();
    auto chain = ReadNeedsChain(repo->store(), *s.needs);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    auto root = ObjectId::FromBytes(AsBytes(s.record.root_tree_id()));
    EXPECT_EQ(chain->set, *CollectNeeds(*repo, *root, {})) << s.name();
  }
  EXPECT_EQ(listed[2].needs, third.needs);
  // The second's set is a difference from the first's.
  EXPECT_EQ(ReadNeedsChain(repo->store(), *listed[1].needs)->lists, 2u);
  // Nothing left to give: a second collection writes none, and keeps them.
  report = CollectGarbage(*repo);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->needs_written, 0u);
  EXPECT_TRUE(ReadNeedsChain(repo->store(), *listed[1].needs).ok());
  // A snapshot's needs, once named, do not change.
  EXPECT_EQ(repo->store().SetSnapshotNeeds(listed[1].ref, *listed[0].needs).code(),
            Code::kAlreadyExists);
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
  ASSERT_TRUE(
      repo->store().Put(ObjectKind::kTree, root, *repo->store().Get(ObjectKind::kTree, root)).ok());
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
  ASSERT_TRUE(repo->store().CommitSnapshot(damaged.ref, sealed, kNoWriter, std::nullopt).ok());

  auto report = CollectGarbage(*repo);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kCorruption);
  const std::string message = report.status().message();
  EXPECT_NE(message.find("before deleting anything"), std::string::npos) << message;
  EXPECT_NE(message.find("host/a/1970-01-01T00:03:20Z is damaged"), std::string::npos) << message;
  EXPECT_NE(message.find("coffer forget host/a/1970-01-01T00:03:20Z"), std::string::npos)
      << message;
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
