// Offsite copies (store/sync/sync.h) between real repositories: a source
// with backups of a real tree, and a replica made without the key, opened
// afterwards with the passphrase and read back.
#include "store/sync/sync.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <iterator>

#include <gtest/gtest.h>

#include "store/ingest/archiver.h"
#include "store/kv/database.h"
#include "store/objects/local_object_store.h"
#include "store/repo/layout.h"
#include "store/repo/snapshot_needs.h"
#include "store/restore/restorer.h"
#include "store/sync/keyless_check.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::sync {
namespace {

using testing::TempDir;

// A destination that fails every Put after the first `allowed`, as a
// connection lost half-way would: the seam to stop a sync mid-copy.
class FailingAfter final : public ObjectStore {
 public:
  FailingAfter(ObjectStore& store, size_t allowed) : store_(store), allowed_(allowed) {}
  size_t puts() const { return puts_; }

  Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) override {
    if (puts_ >= allowed_) return Status::IoError("connection lost");
    ++puts_;
    return store_.Put(kind, id, sealed);
  }
  Result<std::optional<Bytes>> GetMeta(std::string_view key) override {
    return store_.GetMeta(key);
  }
  Status PutMeta(std::string_view key, ByteView value) override {
    return store_.PutMeta(key, value);
  }
  Result<std::vector<MetaRecord>> ListMeta(std::string_view prefix) override {
    return store_.ListMeta(prefix);
  }
  Status RemoveKeySlot(std::string_view name) override { return store_.RemoveKeySlot(name); }
  Result<std::vector<bool>> Contains(ObjectKind kind, std::span<const ObjectId> ids) override {
    return store_.Contains(kind, ids);
  }
  Result<Bytes> Get(ObjectKind kind, const ObjectId& id) override { return store_.Get(kind, id); }
  Result<WriteId> BeginWrite(const std::optional<SnapshotRef>& parent) override {
    return store_.BeginWrite(parent);
  }
  Status EndWrite(WriteId writer) override { return store_.EndWrite(writer); }
  Status RefreshWriters(std::span<const WriteId> writers) override {
    return store_.RefreshWriters(writers);
  }
  Status CommitSnapshot(const SnapshotRef& ref, ByteView sealed, WriteId writer,
                        const std::optional<ObjectId>& needs) override {
    return store_.CommitSnapshot(ref, sealed, writer, needs);
  }
  Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) override {
    return store_.ListSnapshots(group);
  }
  Status DeleteSnapshot(const SnapshotRef& ref) override { return store_.DeleteSnapshot(ref); }
  Status SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) override {
    return store_.SetSnapshotProtected(ref, is_protected);
  }
  Status SetSnapshotNote(const SnapshotRef& ref, ByteView note) override {
    return store_.SetSnapshotNote(ref, note);
  }
  Status SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) override {
    return store_.SetSnapshotNeeds(ref, needs);
  }
  Result<GcStart> BeginGc() override { return store_.BeginGc(); }
  Status AddGcMarks(uint64_t gc_id, std::span<const uint64_t> prefixes) override {
    return store_.AddGcMarks(gc_id, prefixes);
  }
  Result<GcResult> FinishGc(uint64_t gc_id) override { return store_.FinishGc(gc_id); }
  Status AbortGc(uint64_t gc_id) override { return store_.AbortGc(gc_id); }

 private:
  ObjectStore& store_;
  const size_t allowed_;
  size_t puts_ = 0;
};

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = testing::InitAndOpen(tmp_ / "source");
    ASSERT_NE(source_, nullptr);
    tree_ = tmp_ / "tree";
    mkdir(tree_.c_str(), 0755);
    testing::MakeKitchenSinkTree(tree_ + "/sink");
    testing::WriteFile(tree_ + "/big", testing::RandomBytes(2 << 20, 1));
  }

  Snapshot Backup(int64_t seconds, const std::string& group = "host/web") {
    ingest::BackupOptions options;
    options.group = group;
    options.time_ns = seconds * 1'000'000'000;
    ingest::Archiver archiver(*source_, options, nullptr);
    auto result = archiver.BackupPaths({tree_});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result->snapshot;
  }

  // A replica at tmp/copy, made without the key, and its store open here.
  void MakeReplica() {
    Status made = InitLocalStore(tmp_ / "copy", [&](ObjectStore& destination) {
      return InitReplica(source_->store(), destination);
    });
    ASSERT_TRUE(made.ok()) << made.ToString();
    OpenReplicaStore();
  }
  void OpenReplicaStore() {
    auto store = LocalObjectStore::Open(RepoLayout(tmp_ / "copy").db());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    copy_ = std::move(store).value();
  }

  SyncReport SyncNow(const SyncOptions& options = {}) {
    auto report = Sync(source_->store(), *copy_, options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : SyncReport{};
  }

  // The replica opened with the passphrase, as a user on the offsite host.
  std::unique_ptr<Repository> OpenReplica() {
    copy_.reset();
    auto repo = OpenLocalRepository(tmp_ / "copy", {}, testing::Passphrase("correct horse"));
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    return repo.ok() ? std::move(repo).value() : nullptr;
  }

  std::vector<std::string> Names(Repository& repo) {
    std::vector<std::string> out;
    const std::vector<Snapshot> listed = *repo.ListSnapshots();
    for (const Snapshot& s : listed) out.push_back(s.name());
    return out;
  }

  TempDir tmp_;
  std::unique_ptr<Repository> source_;
  std::unique_ptr<ObjectStore> copy_;
  std::string tree_;
};

TEST_F(SyncTest, AReplicaMadeWithoutTheKeyOpensAndRestoresWithIt) {
  Backup(100);
  testing::WriteFile(tree_ + "/changed", "one");
  Backup(200);
  Backup(300, "host/db");
  MakeReplica();
  SyncReport report = SyncNow();
  EXPECT_EQ(report.snapshots_copied, 3u);
  EXPECT_TRUE(report.skipped.empty());
  EXPECT_GT(report.objects_copied, 20u);
  EXPECT_GT(report.lists_copied, 0u);

  auto replica = OpenReplica();
  ASSERT_NE(replica, nullptr);
  EXPECT_EQ(Names(*replica), Names(*source_));
  const std::vector<Snapshot> copied = *replica->ListSnapshots();
  for (const Snapshot& s : copied) {
    SCOPED_TRACE(s.name());
    ASSERT_FALSE(s.damaged()) << s.damage.ToString();
    const std::string out = tmp_ / ("restored-" + std::to_string(s.ref.time_ns));
    restore::RestoreOptions restore_options;
    restore_options.target = out;
    restore::Restorer restorer(*replica, restore_options);
    auto restored = restorer.Restore(s, "");
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    EXPECT_TRUE(restored->errors.empty());
    EXPECT_EQ(testing::CompareTrees(tree_ + "/sink", out + tree_ + "/sink", false),
              std::vector<std::string>{});
    // Its needs set at the copy is the one its trees reach there.
    auto chain = ReadNeedsChain(replica->store(), *s.needs);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    auto walked =
        CollectNeeds(*replica, *ObjectId::FromBytes(AsBytes(s.record.root_tree_id())), {});
    ASSERT_TRUE(walked.ok()) << walked.status().ToString();
    EXPECT_EQ(chain->set, *walked);
  }
}

TEST_F(SyncTest, ASecondSyncCopiesNothingAndANewBackupOnlyWhatItAdded) {
  Backup(100);
  MakeReplica();
  const SyncReport first = SyncNow();
  ASSERT_EQ(first.snapshots_copied, 1u);

  SyncReport again = SyncNow();
  EXPECT_EQ(again.snapshots_copied, 0u);
  EXPECT_EQ(again.snapshots_present, 1u);
  EXPECT_EQ(again.objects_copied, 0u);
  EXPECT_EQ(again.bytes_copied, 0u);

  testing::WriteFile(tree_ + "/new", "a new file");
  Snapshot second = Backup(200);
  SyncReport next = SyncNow();
  EXPECT_EQ(next.snapshots_copied, 1u);
  // The new file's chunk and the trees on its path: far fewer than the first.
  EXPECT_GE(next.objects_copied, 2u);
  EXPECT_LT(next.objects_copied, first.objects_copied / 4);
  EXPECT_EQ(next.lists_copied, 1u);
}

TEST_F(SyncTest, ASyncCutOffHalfWayShowsNothingAndTheNextSendsOnlyTheRest) {
  Backup(100);
  MakeReplica();
  {
    FailingAfter cut(*copy_, 10);
    auto report = Sync(source_->store(), cut, {});
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(cut.puts(), 10u);
  }
  EXPECT_TRUE(copy_->ListSnapshots("")->empty());
  SyncReport rest = SyncNow();
  EXPECT_EQ(rest.snapshots_copied, 1u);
  EXPECT_EQ(rest.objects_present, 10u);

  // The same over a fresh copy: all of them.
  copy_.reset();
  std::filesystem::remove_all(tmp_ / "copy");
  MakeReplica();
  SyncReport whole = SyncNow();
  EXPECT_EQ(whole.objects_copied, rest.objects_copied + 10);
  EXPECT_EQ(whole.objects_present, 0u);
}

TEST_F(SyncTest, GroupsLatestAndDeleteChooseWhatIsCopiedAndMirrored) {
  Backup(100);
  Backup(200);
  Backup(300);
  Backup(400, "host/db");
  MakeReplica();
  SyncOptions latest;
  latest.latest = 2;
  latest.groups = {"host/web"};
  EXPECT_EQ(SyncNow(latest).snapshots_copied, 2u);
  EXPECT_EQ(copy_->ListSnapshots("")->size(), 2u);
  EXPECT_EQ((*copy_->ListSnapshots(""))[0].ref.time_ns, 200'000'000'000);

  // Forgotten at the source: kept at the copy without --delete (the newest
  // two at the source are now 100 and 200).
  std::vector<Snapshot> at_source = *source_->ListSnapshots("host/web");
  ASSERT_TRUE(source_->Forget(at_source[2]).ok());
  SyncReport kept = SyncNow(latest);
  EXPECT_EQ(kept.snapshots_copied, 1u);
  EXPECT_EQ(kept.snapshots_deleted, 0u);
  EXPECT_EQ(copy_->ListSnapshots("")->size(), 3u);

  SyncOptions mirror;
  mirror.delete_missing = true;
  mirror.dry_run = true;
  SyncReport dry = SyncNow(mirror);
  EXPECT_EQ(dry.snapshots_deleted, 1u);
  EXPECT_EQ(dry.snapshots_copied, 1u);  // 400 of host/db
  EXPECT_EQ(copy_->ListSnapshots("")->size(), 3u);

  mirror.dry_run = false;
  SyncReport mirrored = SyncNow(mirror);
  EXPECT_EQ(mirrored.snapshots_deleted, 1u);
  std::vector<std::pair<std::string, int64_t>> listed;
  const std::vector<StoredSnapshot> at_copy = *copy_->ListSnapshots("");
  for (const auto& s : at_copy) listed.emplace_back(s.ref.group, s.ref.time_ns);
  EXPECT_EQ(listed, (std::vector<std::pair<std::string, int64_t>>{{"host/db", 400'000'000'000},
                                                                  {"host/web", 100'000'000'000},
                                                                  {"host/web", 200'000'000'000}}));

  // A snapshot protected at the copy stays there even so.
  ASSERT_TRUE(source_->Forget(at_source[0]).ok());
  ASSERT_TRUE(copy_->SetSnapshotProtected(at_copy[1].ref, true).ok());
  EXPECT_EQ(SyncNow(mirror).snapshots_deleted, 0u);
  EXPECT_EQ(copy_->ListSnapshots("")->size(), 3u);
}

TEST_F(SyncTest, SnapshotsThatCannotBeCopiedWholeAreSkippedAndSaySo) {
  Snapshot good = Backup(100);
  // A snapshot without needs lists, as one made before them.
  Snapshot older = Backup(50, "host/old");
  {
    auto stored = source_->store().ListSnapshots("host/old");
    ASSERT_TRUE(source_->store().DeleteSnapshot(older.ref).ok());
    ASSERT_TRUE(source_->store()
                    .CommitSnapshot(older.ref, (*stored)[0].sealed, kNoWriter, std::nullopt)
                    .ok());
  }
  MakeReplica();
  SyncReport report = SyncNow();
  EXPECT_EQ(report.snapshots_copied, 1u);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("host/old/"), std::string::npos) << report.skipped[0];
  EXPECT_NE(report.skipped[0].find("made before needs lists"), std::string::npos)
      << report.skipped[0];
}

TEST_F(SyncTest, AnObjectMissingAtTheSourceLeavesItsSnapshotOutAndNothingHalfVisible) {
  Snapshot s = Backup(100);
  // Delete one chunk the snapshot needs through a second handle on the database.
  auto chain = ReadNeedsChain(source_->store(), *s.needs);
  ASSERT_TRUE(chain.ok());
  const NeededObject chunk = chain->set.front();
  ASSERT_EQ(chunk.kind, ObjectKind::kChunk);
  source_.reset();
  {
    auto db = kv::Database::Open(RepoLayout(tmp_ / "source").db());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Delete(kv::Column::kChunks, std::string(AsChars(chunk.id.view())),
                             kv::Durability::kSynced)
                    .ok());
  }
  source_ =
      std::move(OpenLocalRepository(tmp_ / "source", {}, testing::Passphrase("correct horse")))
          .value();
  MakeReplica();
  SyncReport report = SyncNow();
  EXPECT_EQ(report.snapshots_copied, 0u);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("chunk " + chunk.id.short_hex() +
                                   " it needs is missing at the source"),
            std::string::npos)
      << report.skipped[0];
  EXPECT_TRUE(copy_->ListSnapshots("")->empty());
}

TEST_F(SyncTest, TheKeylessCheckFindsWhatACopyLacks) {
  Backup(100);
  testing::WriteFile(tree_ + "/changed", "one");
  Snapshot second = Backup(200);
  MakeReplica();
  SyncNow();
  auto listed = copy_->ListSnapshots("");
  ASSERT_TRUE(listed.ok());
  auto clean = CheckWithoutKey(*copy_, *listed);
  ASSERT_TRUE(clean.ok()) << clean.status().ToString();
  EXPECT_TRUE(clean->ok());
  EXPECT_EQ(clean->snapshots_checked, 2u);
  // The second is checked only for what it adds to the first.
  auto chain = ReadNeedsChain(*copy_, *second.needs);
  EXPECT_LT(clean->objects_checked, 2 * chain->set.size());
  EXPECT_GE(clean->objects_checked, chain->set.size());

  // A chunk only the second needs, lost at the copy.
  auto first_chain = ReadNeedsChain(*copy_, *(*listed)[0].needs);
  NeedsSet only_second;
  std::set_difference(chain->set.begin(), chain->set.end(), first_chain->set.begin(),
                      first_chain->set.end(), std::back_inserter(only_second));
  ASSERT_FALSE(only_second.empty());
  const NeededObject lost = only_second.front();
  copy_.reset();
  {
    auto db = kv::Database::Open(RepoLayout(tmp_ / "copy").db());
    ASSERT_TRUE(db.ok());
    const kv::Column column =
        lost.kind == ObjectKind::kChunk ? kv::Column::kChunks : kv::Column::kTrees;
    ASSERT_TRUE(
        (*db)->Delete(column, std::string(AsChars(lost.id.view())), kv::Durability::kSynced).ok());
  }
  OpenReplicaStore();
  auto found = CheckWithoutKey(*copy_, *listed);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->ok());
  EXPECT_EQ(found->missing_objects, 1u);
  ASSERT_EQ(found->problems.size(), 1u);
  EXPECT_NE(found->problems[0].find(lost.id.short_hex() + " is missing"), std::string::npos)
      << found->problems[0];
  EXPECT_NE(found->problems[0].find("host/web/"), std::string::npos);
}

TEST_F(SyncTest, OnlyAReplicaOfTheSameRepositoryIsSyncedTo) {
  Backup(100);
  Status made = InitLocalStore(tmp_ / "empty", [](ObjectStore&) { return Status::Ok(); });
  ASSERT_TRUE(made.ok());
  auto empty = LocalObjectStore::Open(RepoLayout(tmp_ / "empty").db());
  auto report = Sync(source_->store(), **empty, {});
  EXPECT_EQ(report.status().code(), Code::kNotFound);
  EXPECT_NE(report.status().message().find("--init"), std::string::npos);

  auto other = testing::InitAndOpen(tmp_ / "other");
  report = Sync(source_->store(), other->store(), {});
  EXPECT_EQ(report.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("not a copy of this repository"), std::string::npos);
  EXPECT_TRUE(other->ListSnapshots()->empty());
}

TEST_F(SyncTest, APassphraseAddedAtTheSourceOpensTheCopyAfterTheNextSync) {
  Backup(100);
  MakeReplica();
  SyncNow();
  ASSERT_TRUE(source_->AddKeySlot("second passphrase", crypto::KdfParams::Minimum()).ok());
  SyncNow();
  copy_.reset();
  auto repo = OpenLocalRepository(tmp_ / "copy", {}, testing::Passphrase("second passphrase"));
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  EXPECT_EQ((*repo)->ListSnapshots()->size(), 1u);
}

}  // namespace
}  // namespace coffer::sync
