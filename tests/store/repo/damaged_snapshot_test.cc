// Damaged snapshot records and notes: listed as damage in their place, never
// hiding the other snapshots, and still named, forgotten and protected.
#include <gtest/gtest.h>

#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "store/repo/repository.h"
#include "store/repo/write_session.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer {
namespace {

using testing::InitAndOpen;
using testing::TempDir;

constexpr int64_t kSecond = 1'000'000'000;

class DamagedSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
    WriteSession session(*repo_, 1);
    pb::Tree root;
    pb::Entry* file = root.add_entries();
    file->set_name("file");
    root_ = *session.AddTree(root);
    ASSERT_TRUE(session.Flush().ok());
  }

  pb::Snapshot Record(const std::string& group, int64_t seconds) {
    pb::Snapshot r;
    r.set_version(1);
    r.set_group(group);
    r.set_time_ns(seconds * kSecond);
    r.set_root_tree_id(root_.bytes.data(), root_.bytes.size());
    return r;
  }

  Snapshot Commit(const std::string& group, int64_t seconds) {
    WriteSession session(*repo_, 1);
    auto committed = session.Commit(Record(group, seconds));
    EXPECT_TRUE(committed.ok()) << committed.status().ToString();
    return committed.ok() ? *committed : Snapshot{};
  }

  // The sealed record as stored under `ref`.
  Bytes StoredRecord(const SnapshotRef& ref) {
    auto stored = repo_->store().ListSnapshots(ref.group);
    EXPECT_TRUE(stored.ok());
    for (const StoredSnapshot& s : *stored) {
      if (s.ref == ref) return s.sealed;
    }
    ADD_FAILURE() << "no record at " << ref.group;
    return {};
  }

  // Stores `sealed` as the record at `ref`, as damage on disk would leave it.
  void ReplaceRecord(const SnapshotRef& ref, ByteView sealed) {
    (void)repo_->store().DeleteSnapshot(ref);
    Status s = repo_->store().CommitSnapshot(ref, sealed, kNoWriter, std::nullopt);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void FlipRecord(const SnapshotRef& ref) {
    Bytes sealed = StoredRecord(ref);
    ASSERT_FALSE(sealed.empty());
    sealed[sealed.size() / 2] ^= 0x01;
    ReplaceRecord(ref, sealed);
  }

  std::vector<Snapshot> List(std::string_view group = {}) {
    auto listed = repo_->ListSnapshots(group);
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    return listed.ok() ? *listed : std::vector<Snapshot>{};
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  ObjectId root_;
};

TEST_F(DamagedSnapshotTest, ADamagedRecordIsListedInItsPlaceAndEveryOtherOpens) {
  Commit("host/a", 100);
  Snapshot middle = Commit("host/a", 200);
  Commit("host/a", 300);
  Commit("host/b", 100);
  FlipRecord(middle.ref);

  std::vector<Snapshot> all = List();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_FALSE(all[0].damaged());
  ASSERT_TRUE(all[1].damaged());
  EXPECT_FALSE(all[2].damaged());
  EXPECT_FALSE(all[3].damaged());
  // What the index knows, and nothing from the record.
  EXPECT_EQ(all[1].ref, middle.ref);
  EXPECT_EQ(all[1].name(), "host/a/1970-01-01T00:03:20Z");
  EXPECT_EQ(all[1].damage.code(), Code::kCorruption);
  EXPECT_NE(all[1].damage.message().find("authentication failed"), std::string::npos)
      << all[1].damage.message();
  EXPECT_TRUE(all[1].record.root_tree_id().empty());
  EXPECT_EQ(all[2].record.time_ns(), 300 * kSecond);
  EXPECT_EQ(all[3].record.group(), "host/b");

  ASSERT_EQ(List("host/b").size(), 1u);
  EXPECT_FALSE(List("host/b")[0].damaged());
}

TEST_F(DamagedSnapshotTest, EachWayARecordFailsToOpenIsDamage) {
  Snapshot flipped = Commit("host/a", 100);
  FlipRecord(flipped.ref);

  // Sealed properly, but not a snapshot record.
  const std::string junk = "\xff\xff\xff\xff not a protobuf";
  ObjectId junk_id = repo_->sealer().IdOf(AsBytes(junk));
  Bytes sealed_junk = *repo_->sealer().Seal(ObjectKind::kSnapshot, junk_id, AsBytes(junk));
  SnapshotRef undecodable{"host/a", 200 * kSecond, junk_id};
  ReplaceRecord(undecodable, sealed_junk);

  // An intact record moved to another time of its group.
  Snapshot moved = Commit("host/a", 300);
  SnapshotRef elsewhere{"host/a", 400 * kSecond, moved.ref.id};
  ReplaceRecord(elsewhere, StoredRecord(moved.ref));
  ASSERT_TRUE(repo_->Forget(moved).ok());

  // Nothing after the id.
  SnapshotRef truncated{"host/a", 500 * kSecond, flipped.ref.id};
  ReplaceRecord(truncated, {});

  std::vector<Snapshot> all = List("host/a");
  ASSERT_EQ(all.size(), 4u);
  for (const Snapshot& s : all) {
    EXPECT_TRUE(s.damaged()) << s.name();
    EXPECT_EQ(s.damage.code(), Code::kCorruption) << s.name();
  }
  EXPECT_NE(all[1].damage.message().find("cannot decode"), std::string::npos)
      << all[1].damage.message();
  EXPECT_NE(all[2].damage.message().find("wrong name"), std::string::npos)
      << all[2].damage.message();
  EXPECT_NE(all[2].damage.message().find("1970-01-01T00:05:00Z"), std::string::npos)
      << "names where the record says it belongs: " << all[2].damage.message();
  EXPECT_NE(all[3].damage.message().find("truncated"), std::string::npos)
      << all[3].damage.message();
}

TEST_F(DamagedSnapshotTest, ADamagedRecordIsFoundByNameLatestAndIndexIdButNotRead) {
  Snapshot older = Commit("host/a", 100);
  Snapshot newest = Commit("host/a", 200);
  FlipRecord(newest.ref);

  for (const std::string& name : {std::string("host/a/1970-01-01T00:03:20Z"),
                                  std::string("host/a/latest"), newest.ref.id.hex().substr(0, 8)}) {
    auto found = repo_->FindSnapshot(name);
    ASSERT_TRUE(found.ok()) << name << ": " << found.status().ToString();
    EXPECT_EQ(found->ref, newest.ref) << name;
    EXPECT_TRUE(found->damaged()) << name;
    Status readable = found->CheckReadable();
    EXPECT_EQ(readable.code(), Code::kCorruption);
    EXPECT_TRUE(readable.message().starts_with("host/a/1970-01-01T00:03:20Z: "))
        << readable.message();
    EXPECT_EQ(repo_->LookupPath(*found, "file").status().code(), Code::kCorruption);
  }
  // A backup builds on the newest snapshot it can read.
  auto latest = repo_->LatestSnapshot("host/a");
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->ref, older.ref);
  EXPECT_TRUE(repo_->LookupPath(**latest, "file").ok());
  EXPECT_TRUE(repo_->FindSnapshot("host/a/1970-01-01T00:01:40Z")->CheckReadable().ok());
}

TEST_F(DamagedSnapshotTest, LatestOfAGroupOfDamagedRecordsIsNone) {
  Snapshot only = Commit("host/a", 100);
  FlipRecord(only.ref);
  auto latest = repo_->LatestSnapshot("host/a");
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_FALSE(latest->has_value());
}

TEST_F(DamagedSnapshotTest, ADamagedRecordIsForgottenByItsName) {
  Commit("host/a", 100);
  Snapshot damaged = Commit("host/a", 200);
  FlipRecord(damaged.ref);
  auto found = repo_->FindSnapshot("host/a/1970-01-01T00:03:20Z");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(repo_->SetProtected(*found, true).ok());
  EXPECT_EQ(repo_->Forget(*repo_->FindSnapshot("host/a/latest")).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(repo_->SetProtected(*found, false).ok());
  Status forgotten = repo_->Forget(*repo_->FindSnapshot("host/a/latest"));
  ASSERT_TRUE(forgotten.ok()) << forgotten.ToString();
  std::vector<Snapshot> left = List();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_FALSE(left[0].damaged());
}

TEST_F(DamagedSnapshotTest, ADamagedNoteLeavesTheSnapshotUsable) {
  Snapshot snap = Commit("host/a", 100);
  pb::VerifyRecord verified;
  verified.set_time_ns(7);
  verified.set_ok(true);
  ASSERT_TRUE(repo_->RecordVerification(snap, verified).ok());
  Bytes note = repo_->store().ListSnapshots("host/a")->at(0).sealed_note;
  ASSERT_FALSE(note.empty());
  note[note.size() / 2] ^= 0x04;
  ASSERT_TRUE(repo_->store().SetSnapshotNote(snap.ref, note).ok());

  std::vector<Snapshot> listed = List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_FALSE(listed[0].damaged());
  EXPECT_TRUE(listed[0].CheckReadable().ok());
  EXPECT_EQ(listed[0].note_damage.code(), Code::kCorruption);
  EXPECT_NE(listed[0].note_damage.message().find("snapshot note"), std::string::npos)
      << listed[0].note_damage.message();
  EXPECT_FALSE(listed[0].note.has_last_verify());
  EXPECT_TRUE(repo_->LookupPath(listed[0], "file").ok());

  // The next verification writes a new note.
  verified.set_time_ns(8);
  ASSERT_TRUE(repo_->RecordVerification(listed[0], verified).ok());
  listed = List();
  EXPECT_TRUE(listed[0].note_damage.ok()) << listed[0].note_damage.ToString();
  EXPECT_EQ(listed[0].note.last_verify().time_ns(), 8);
}

TEST_F(DamagedSnapshotTest, AVerificationIsNotRecordedForADamagedRecord) {
  Snapshot snap = Commit("host/a", 100);
  FlipRecord(snap.ref);
  Snapshot damaged = List()[0];
  EXPECT_EQ(repo_->RecordVerification(damaged, pb::VerifyRecord()).code(), Code::kCorruption);
}

}  // namespace
}  // namespace coffer
