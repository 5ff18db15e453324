#include "store/verify/verifier.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "store/ingest/archiver.h"
#include "store/kv/database.h"
#include "store/model/tree.h"
#include "store/repo/layout.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::verify {
namespace {

using testing::RandomBytes;
using testing::WriteFile;

// Every object a snapshot reaches, found without the verifier.
void CollectIds(Repository& repo, const ObjectId& tree_id, std::set<ObjectId>& trees,
                std::set<ObjectId>& chunks) {
  if (!trees.insert(tree_id).second) return;
  auto tree = repo.ReadTree(tree_id);
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  for (const pb::Entry& e : tree->entries()) {
    if (e.type() == pb::Entry::DIRECTORY) {
      CollectIds(repo, *ObjectId::FromBytes(AsBytes(e.subtree_id())), trees, chunks);
    }
    for (const pb::Extent& x : e.extents()) {
      if (!x.chunk_id().empty()) chunks.insert(*ObjectId::FromBytes(AsBytes(x.chunk_id())));
    }
  }
}

// References as a restore reads them: every tree and extent, shared or not.
uint64_t CountReferences(Repository& repo, const ObjectId& tree_id) {
  auto tree = repo.ReadTree(tree_id);
  EXPECT_TRUE(tree.ok()) << tree.status().ToString();
  if (!tree.ok()) return 0;
  uint64_t count = 1;
  for (const pb::Entry& e : tree->entries()) {
    if (e.type() == pb::Entry::DIRECTORY) {
      count += CountReferences(repo, *ObjectId::FromBytes(AsBytes(e.subtree_id())));
    }
    for (const pb::Extent& x : e.extents()) count += x.chunk_id().empty() ? 0 : 1;
  }
  return count;
}

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(dir());
    ASSERT_NE(repo_, nullptr);
    source_ = tmp_ / "src";
    mkdir(source_.c_str(), 0755);
    mkdir((source_ + "/sub").c_str(), 0755);
    WriteFile(source_ + "/a.txt", "the same words in two files\n");
    WriteFile(source_ + "/b.txt", "the same words in two files\n");
    WriteFile(source_ + "/c.txt", "words of its own\n");
    WriteFile(source_ + "/big.bin", RandomBytes(3 << 20, 7));  // several chunks
    WriteFile(source_ + "/sub/d.txt", "inside the subdirectory\n");
    WriteFile(source_ + "/sub/e.bin", RandomBytes(4000, 9));
  }

  std::string dir() const { return tmp_ / "repo"; }

  Snapshot Backup(int64_t seconds) {
    ingest::BackupOptions options;
    options.group = "host/test";
    options.time_ns = seconds * 1'000'000'000;
    ingest::Archiver archiver(*repo_, options, nullptr);
    auto result = archiver.BackupPaths({source_});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result->snapshot;
  }

  VerifyResult Verify(const std::vector<Snapshot>& snapshots, VerifyOptions options = {}) {
    Verifier verifier(*repo_, options);
    auto result = verifier.Verify(snapshots);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? std::move(result).value() : VerifyResult{};
  }

  // "/tmp/.../src/a.txt": where a source file lives in the snapshot.
  std::string SnapPath(const std::string& rel) const { return source_ + "/" + rel; }

  pb::Entry Lookup(const Snapshot& snap, const std::string& rel) {
    auto entry = repo_->LookupPath(snap, SnapPath(rel));
    EXPECT_TRUE(entry.ok()) << entry.status().ToString();
    return entry.ok() ? *entry : pb::Entry();
  }
  ObjectId FirstChunkOf(const Snapshot& snap, const std::string& rel) {
    pb::Entry e = Lookup(snap, rel);
    EXPECT_GT(e.extents_size(), 0) << rel;
    return *ObjectId::FromBytes(AsBytes(e.extents(0).chunk_id()));
  }
  ObjectId TreeOf(const Snapshot& snap, const std::string& rel) {
    return *ObjectId::FromBytes(AsBytes(Lookup(snap, rel).subtree_id()));
  }

  // Damage written through a second handle on the database, as bit rot or a
  // careless hand would: the repository is closed meanwhile.
  void Damage(const std::function<void(kv::Database&)>& damage) {
    repo_.reset();
    {
      auto db = kv::Database::Open(RepoLayout(dir()).db());
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      damage(**db);
    }
    auto repo = OpenLocalRepository(dir(), {}, testing::Passphrase("correct horse"));
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(repo).value();
  }
  static std::string Key(const ObjectId& id) { return std::string(AsChars(id.view())); }
  static Bytes Value(kv::Database& db, kv::Column column, const ObjectId& id) {
    auto value = db.Get(column, Key(id));
    EXPECT_TRUE(value.ok()) << value.status().ToString();
    return value.ok() ? *value : Bytes();
  }
  static void Put(kv::Database& db, kv::Column column, const ObjectId& id, const Bytes& value) {
    Status s = db.Put(column, Key(id), value, kv::Durability::kSynced);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  static void FlipMiddleByte(kv::Database& db, kv::Column column, const ObjectId& id) {
    Bytes value = Value(db, column, id);
    ASSERT_FALSE(value.empty());
    value[value.size() / 2] ^= 0x01;
    Put(db, column, id, value);
  }

  // The uses of the one damaged object of `kind`, as "snapshot:path".
  static std::set<std::string> UsesOf(const DamagedObject& object) {
    std::set<std::string> out;
    for (const ObjectUse& use : object.uses) out.insert(use.ToString());
    return out;
  }

  testing::TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  std::string source_;
};

TEST_F(VerifierTest, IntactRepositoryHasNoDamageAndEveryObjectIsChecked) {
  testing::MakeKitchenSinkTree(source_ + "/kitchen");
  Snapshot snap = Backup(1);
  std::set<ObjectId> trees, chunks;
  CollectIds(*repo_, *ObjectId::FromBytes(AsBytes(snap.record.root_tree_id())), trees, chunks);

  VerifyResult result = Verify({snap});
  EXPECT_TRUE(result.ok());
  EXPECT_TRUE(result.damaged.empty());
  EXPECT_FALSE(result.sampled);
  EXPECT_EQ(result.trees_checked, trees.size());
  EXPECT_EQ(result.chunks_checked, chunks.size());
  EXPECT_GE(result.bytes_checked, uint64_t{3 << 20});
  ASSERT_EQ(result.snapshots.size(), 1u);
  EXPECT_TRUE(result.snapshots[0].ok());
  // a.txt and b.txt share a chunk: the snapshot counts both references.
  uint64_t references =
      CountReferences(*repo_, *ObjectId::FromBytes(AsBytes(snap.record.root_tree_id())));
  EXPECT_GT(references, result.objects_checked());
  EXPECT_EQ(result.snapshots[0].objects_checked, references);
}

TEST_F(VerifierTest, SharedObjectsAreCheckedOnce) {
  Snapshot first = Backup(1);
  Snapshot second = Backup(2);
  VerifyResult one = Verify({first});
  VerifyResult both = Verify({first, second, first});
  EXPECT_TRUE(both.ok());
  EXPECT_EQ(both.chunks_checked, one.chunks_checked);
  // The source's own trees are shared; only its ancestors (whose listing
  // holds the source folder's times) may differ between the two backups.
  size_t ancestors = std::count(source_.begin(), source_.end(), '/');
  EXPECT_LE(both.trees_checked, one.trees_checked + ancestors);
  ASSERT_EQ(both.snapshots.size(), 2u);
  EXPECT_EQ(both.snapshots[1].objects_checked, both.snapshots[0].objects_checked);
  EXPECT_EQ(both.snapshots[1].bytes_checked, both.snapshots[0].bytes_checked);
}

TEST_F(VerifierTest, MissingChunkNamesExactlyTheFilesUsingIt) {
  Snapshot snap = Backup(1);
  ObjectId shared = FirstChunkOf(snap, "a.txt");
  ASSERT_EQ(shared, FirstChunkOf(snap, "b.txt"));
  Damage([&](kv::Database& db) {
    ASSERT_TRUE(db.Delete(kv::Column::kChunks, Key(shared), kv::Durability::kSynced).ok());
  });

  VerifyResult result = Verify({snap});
  EXPECT_FALSE(result.ok());
  ASSERT_EQ(result.damaged.size(), 1u);
  const DamagedObject& missing = result.damaged[0];
  EXPECT_EQ(missing.kind, ObjectKind::kChunk);
  EXPECT_EQ(missing.id, shared);
  EXPECT_TRUE(missing.missing());
  EXPECT_EQ(UsesOf(missing), (std::set<std::string>{snap.name() + ":" + SnapPath("a.txt"),
                                                    snap.name() + ":" + SnapPath("b.txt")}));
  ASSERT_EQ(result.snapshots.size(), 1u);
  EXPECT_EQ(result.snapshots[0].damaged_objects, 1u);
  EXPECT_FALSE(result.snapshots[0].ok());
}

TEST_F(VerifierTest, SwappedChunkValuesAreBothDamaged) {
  Snapshot snap = Backup(1);
  ObjectId c = FirstChunkOf(snap, "c.txt");
  ObjectId d = FirstChunkOf(snap, "sub/d.txt");
  Damage([&](kv::Database& db) {
    Bytes cv = Value(db, kv::Column::kChunks, c);
    Bytes dv = Value(db, kv::Column::kChunks, d);
    Put(db, kv::Column::kChunks, c, dv);
    Put(db, kv::Column::kChunks, d, cv);
  });

  VerifyResult result = Verify({snap});
  ASSERT_EQ(result.damaged.size(), 2u);
  std::set<std::string> uses;
  for (const DamagedObject& object : result.damaged) {
    EXPECT_EQ(object.kind, ObjectKind::kChunk);
    EXPECT_EQ(object.status.code(), Code::kCorruption) << object.status.ToString();
    EXPECT_FALSE(object.missing());
    ASSERT_EQ(object.uses.size(), 1u);
    uses.insert(object.uses[0].path);
  }
  EXPECT_EQ(uses, (std::set<std::string>{SnapPath("c.txt"), SnapPath("sub/d.txt")}));
  EXPECT_EQ(result.snapshots[0].damaged_objects, 2u);
}

TEST_F(VerifierTest, FlippedByteInAChunkIsDamaged) {
  Snapshot snap = Backup(1);
  pb::Entry big = Lookup(snap, "big.bin");
  ASSERT_GE(big.extents_size(), 2);
  ObjectId second_chunk = *ObjectId::FromBytes(AsBytes(big.extents(1).chunk_id()));
  Damage([&](kv::Database& db) { FlipMiddleByte(db, kv::Column::kChunks, second_chunk); });

  VerifyResult result = Verify({snap});
  ASSERT_EQ(result.damaged.size(), 1u);
  EXPECT_EQ(result.damaged[0].id, second_chunk);
  EXPECT_EQ(result.damaged[0].status.code(), Code::kCorruption);
  EXPECT_EQ(UsesOf(result.damaged[0]),
            (std::set<std::string>{snap.name() + ":" + SnapPath("big.bin")}));
}

TEST_F(VerifierTest, DamagedTreeNamesItsDirectoryAndHidesWhatIsBelow) {
  Snapshot snap = Backup(1);
  ObjectId sub = TreeOf(snap, "sub");
  ObjectId below = FirstChunkOf(snap, "sub/d.txt");
  VerifyResult intact = Verify({snap});
  Damage([&](kv::Database& db) {
    FlipMiddleByte(db, kv::Column::kTrees, sub);
    // Below a damaged tree nothing can be reached, so this goes unnoticed.
    ASSERT_TRUE(db.Delete(kv::Column::kChunks, Key(below), kv::Durability::kSynced).ok());
  });

  VerifyResult result = Verify({snap});
  ASSERT_EQ(result.damaged.size(), 1u);
  const DamagedObject& tree = result.damaged[0];
  EXPECT_EQ(tree.kind, ObjectKind::kTree);
  EXPECT_EQ(tree.id, sub);
  EXPECT_EQ(tree.status.code(), Code::kCorruption);
  EXPECT_EQ(UsesOf(tree), (std::set<std::string>{snap.name() + ":" + SnapPath("sub")}));
  EXPECT_EQ(result.trees_checked, intact.trees_checked);
  EXPECT_EQ(result.chunks_checked, intact.chunks_checked - 2);  // d.txt and e.bin
}

TEST_F(VerifierTest, DamagedPartOfASplitDirectoryNamesTheDirectory) {
  // Enough files with long names that the directory's tree is split.
  mkdir((source_ + "/many").c_str(), 0755);
  for (int i = 0; i < 30'000; ++i) {
    WriteFile(source_ + "/many/" + ToHex(AsBytes(RandomBytes(70, i + 1))), "x");
  }
  Snapshot snap = Backup(1);
  auto index = repo_->ReadTreeObject(TreeOf(snap, "many"));
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_GE(index->parts_size(), 2);
  ObjectId part = *ObjectId::FromBytes(AsBytes(index->parts(1).tree_id()));
  VerifyResult intact = Verify({snap});
  EXPECT_TRUE(intact.damaged.empty());
  EXPECT_GE(intact.trees_checked, 1u + index->parts_size());  // the parts are checked, too

  Damage([&](kv::Database& db) { FlipMiddleByte(db, kv::Column::kTrees, part); });
  VerifyResult result = Verify({snap});
  ASSERT_EQ(result.damaged.size(), 1u);
  EXPECT_EQ(result.damaged[0].kind, ObjectKind::kTree);
  EXPECT_EQ(result.damaged[0].id, part);
  EXPECT_EQ(UsesOf(result.damaged[0]),
            (std::set<std::string>{snap.name() + ":" + SnapPath("many")}));
}

TEST_F(VerifierTest, DamagedRootTreeNamesTheWholeSnapshot) {
  Snapshot snap = Backup(1);
  ObjectId root = *ObjectId::FromBytes(AsBytes(snap.record.root_tree_id()));
  Damage([&](kv::Database& db) {
    ASSERT_TRUE(db.Delete(kv::Column::kTrees, Key(root), kv::Durability::kSynced).ok());
  });
  VerifyResult result = Verify({snap});
  ASSERT_EQ(result.damaged.size(), 1u);
  EXPECT_TRUE(result.damaged[0].missing());
  EXPECT_EQ(UsesOf(result.damaged[0]), (std::set<std::string>{snap.name() + ":/"}));
}

TEST_F(VerifierTest, DamagedChunkSharedByTwoSnapshotsNamesBoth) {
  Snapshot first = Backup(1);
  WriteFile(source_ + "/c.txt", "changed before the second backup\n");
  Snapshot second = Backup(2);
  Snapshot third_group;
  {
    ingest::BackupOptions options;
    options.group = "host/other";
    options.time_ns = 3'000'000'000;
    ingest::Archiver archiver(*repo_, options, nullptr);
    auto result = archiver.BackupPaths({source_ + "/sub"});
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    third_group = result->snapshot;
  }
  ObjectId d = FirstChunkOf(first, "sub/d.txt");
  Damage([&](kv::Database& db) { FlipMiddleByte(db, kv::Column::kChunks, d); });

  VerifyResult result = Verify({first, second, third_group});
  ASSERT_EQ(result.damaged.size(), 1u);
  EXPECT_EQ(UsesOf(result.damaged[0]),
            (std::set<std::string>{first.name() + ":" + SnapPath("sub/d.txt"),
                                   second.name() + ":" + SnapPath("sub/d.txt"),
                                   third_group.name() + ":" + SnapPath("sub/d.txt")}));
  for (const SnapshotVerdict& verdict : result.snapshots) {
    EXPECT_EQ(verdict.damaged_objects, 1u) << verdict.snapshot.name();
  }
}

TEST_F(VerifierTest, OnlyTheSnapshotsUsingDamageAreDamaged) {
  Snapshot first = Backup(1);
  WriteFile(source_ + "/new.txt", "only in the second snapshot\n");
  Snapshot second = Backup(2);
  ObjectId only_second = FirstChunkOf(second, "new.txt");
  Damage([&](kv::Database& db) {
    ASSERT_TRUE(db.Delete(kv::Column::kChunks, Key(only_second), kv::Durability::kSynced).ok());
  });
  VerifyResult result = Verify({first, second});
  ASSERT_EQ(result.snapshots.size(), 2u);
  EXPECT_TRUE(result.snapshots[0].ok());
  EXPECT_FALSE(result.snapshots[1].ok());
  EXPECT_TRUE(Verify({first}).ok()) << "the first snapshot alone does not use the missing chunk";
}

TEST_F(VerifierTest, SampleOfZeroChecksTreesOnlyAndOfHundredChecksAll) {
  Snapshot snap = Backup(1);
  VerifyResult full = Verify({snap});

  VerifyOptions none;
  none.sample_percent = 0;
  VerifyResult trees_only = Verify({snap}, none);
  EXPECT_TRUE(trees_only.sampled);
  EXPECT_EQ(trees_only.chunks_checked, 0u);
  EXPECT_EQ(trees_only.trees_checked, full.trees_checked);
  EXPECT_EQ(trees_only.snapshots[0].objects_checked, full.trees_checked);

  VerifyOptions all;
  all.sample_percent = 100;
  VerifyResult everything = Verify({snap}, all);
  EXPECT_FALSE(everything.sampled);
  EXPECT_EQ(everything.chunks_checked, full.chunks_checked);

  // A missing chunk is out of reach of a sample that takes no chunks.
  ObjectId c = FirstChunkOf(snap, "c.txt");
  Damage([&](kv::Database& db) {
    ASSERT_TRUE(db.Delete(kv::Column::kChunks, Key(c), kv::Durability::kSynced).ok());
  });
  EXPECT_TRUE(Verify({snap}, none).ok());
  EXPECT_FALSE(Verify({snap}, all).ok());
}

TEST_F(VerifierTest, SampleWithAFixedSeedChecksTheChunksItTakes) {
  Snapshot snap = Backup(1);
  std::set<ObjectId> trees, chunks;
  CollectIds(*repo_, *ObjectId::FromBytes(AsBytes(snap.record.root_tree_id())), trees, chunks);
  VerifyOptions half;
  half.sample_percent = 50;
  half.seed = 12345;
  size_t taken = 0;
  for (const ObjectId& id : chunks) taken += SampleTakes(id, 50, 12345) ? 1 : 0;
  VerifyResult result = Verify({snap}, half);
  EXPECT_EQ(result.seed, 12345u);
  EXPECT_EQ(result.chunks_checked, taken);
  EXPECT_EQ(Verify({snap}, half).chunks_checked, taken) << "the same seed takes the same chunks";
}

TEST_F(VerifierTest, RecordsTheOutcomeInEachSnapshotsNote) {
  Snapshot first = Backup(1);
  WriteFile(source_ + "/new.txt", "only in the second snapshot\n");
  Snapshot second = Backup(2);
  ObjectId only_second = FirstChunkOf(second, "new.txt");
  Damage([&](kv::Database& db) {
    ASSERT_TRUE(db.Delete(kv::Column::kChunks, Key(only_second), kv::Durability::kSynced).ok());
  });
  VerifyResult result = Verify({first, second});
  constexpr int64_t kNow = 1'800'000'000'000'000'000;
  Status s = RecordVerifications(*repo_, result, kNow);
  ASSERT_TRUE(s.ok()) << s.ToString();

  auto listed = repo_->ListSnapshots();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Snapshot& snap = (*listed)[i];
    ASSERT_TRUE(snap.note.has_last_verify()) << snap.name();
    const pb::VerifyRecord& record = snap.note.last_verify();
    EXPECT_EQ(record.time_ns(), kNow);
    EXPECT_EQ(record.ok(), i == 0);
    EXPECT_EQ(record.damaged_objects(), i == 0 ? 0u : 1u);
    EXPECT_EQ(record.objects_checked(), result.snapshots[i].objects_checked);
    EXPECT_EQ(record.bytes_checked(), result.snapshots[i].bytes_checked);
    EXPECT_FALSE(record.sampled());
  }
}

TEST_F(VerifierTest, ADamagedRecordIsSetAsideAndTheOthersAreVerified) {
  Snapshot first = Backup(1);
  Snapshot second = Backup(2);
  Snapshot damaged = second;
  damaged.record.Clear();
  damaged.damage =
      Status::Corruption("snapshot " + second.ref.id.short_hex() + ": authentication failed");
  VerifyResult result = Verify({first, damaged, damaged});
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.damaged.empty());
  ASSERT_EQ(result.damaged_records.size(), 1u);
  EXPECT_EQ(result.damaged_records[0].ref, second.ref);
  ASSERT_EQ(result.snapshots.size(), 1u);
  EXPECT_EQ(result.snapshots[0].snapshot.ref, first.ref);
  EXPECT_TRUE(result.snapshots[0].ok());
  EXPECT_GT(result.chunks_checked, 0u);
  // Only the verified snapshot gets a record of it.
  ASSERT_TRUE(RecordVerifications(*repo_, result, 5).ok());
  EXPECT_TRUE(repo_->FindSnapshot(first.name())->note.has_last_verify());
  EXPECT_FALSE(repo_->FindSnapshot(second.name())->note.has_last_verify());
}

TEST_F(VerifierTest, SampledVerificationIsRecordedAsSampled) {
  Snapshot snap = Backup(1);
  VerifyOptions options;
  options.sample_percent = 10;
  ASSERT_TRUE(RecordVerifications(*repo_, Verify({snap}, options), 5).ok());
  auto found = repo_->FindSnapshot(snap.name());
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->note.last_verify().sampled());
  EXPECT_TRUE(found->note.last_verify().ok());
}

TEST(DueForVerificationTest, NeverOrLongAgoVerifiedSnapshotsAreDue) {
  constexpr int64_t kDay = 86400LL * 1'000'000'000;
  constexpr int64_t kNow = 20000 * kDay;
  Snapshot never;
  EXPECT_TRUE(DueForVerification(never, kNow, 30 * kDay));
  Snapshot recent;
  recent.note.mutable_last_verify()->set_time_ns(kNow - 29 * kDay);
  EXPECT_FALSE(DueForVerification(recent, kNow, 30 * kDay));
  EXPECT_TRUE(DueForVerification(recent, kNow, 28 * kDay));
  Snapshot failed_recently = recent;
  failed_recently.note.mutable_last_verify()->set_ok(false);
  EXPECT_FALSE(DueForVerification(failed_recently, kNow, 30 * kDay)) << "a failed one waits too";
  Snapshot old;
  old.note.mutable_last_verify()->set_time_ns(kNow - 31 * kDay);
  old.note.mutable_last_verify()->set_ok(true);
  EXPECT_TRUE(DueForVerification(old, kNow, 30 * kDay));
  Snapshot just_now;
  just_now.note.mutable_last_verify()->set_time_ns(kNow - 1);
  EXPECT_TRUE(DueForVerification(just_now, kNow, 0));
}

TEST(SampleTakesTest, TakesAUniformShareAndDependsOnTheSeed) {
  constexpr int kIds = 20000;
  int taken = 0, same_in_other_seed = 0;
  for (int i = 0; i < kIds; ++i) {
    ObjectId id;
    std::string bytes = RandomBytes(ObjectId::kSize, 1000 + i);
    std::memcpy(id.bytes.data(), bytes.data(), ObjectId::kSize);
    bool a = SampleTakes(id, 30, 1);
    taken += a;
    same_in_other_seed += a && SampleTakes(id, 30, 2);
    EXPECT_TRUE(SampleTakes(id, 100, 1));
    EXPECT_FALSE(SampleTakes(id, 0, 1));
  }
  EXPECT_NEAR(taken, kIds * 0.30, kIds * 0.02);
  // Independent choices overlap in 30% of 30%.
  EXPECT_NEAR(same_in_other_seed, kIds * 0.09, kIds * 0.02);
}

TEST_F(VerifierTest, SampleOutsideZeroToHundredIsRefused) {
  Snapshot snap = Backup(1);
  VerifyOptions options;
  options.sample_percent = 101;
  Verifier verifier(*repo_, options);
  EXPECT_EQ(verifier.Verify({snap}).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::verify
