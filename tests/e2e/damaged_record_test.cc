// One damaged snapshot record (or note) in a repository of two groups, the
// damage written straight into the database: every command goes on with the
// other snapshots, names the damaged one, and exits 4 where it touches it.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/kv/database.h"
#include "store/model/snapshot_name.h"
#include "store/objects/snapshot_key.h"
#include "store/repo/layout.h"
#include "tests/e2e/e2e_util.h"
#include "tests/testing/fuse.h"

namespace coffer::e2e {
namespace {

using testing::Mounted;
using testing::ReadFile;
using testing::WriteFile;

const std::string kFirst = "2026-01-01T00:00:00Z";
const std::string kSecond = "2026-01-02T00:00:00Z";
const std::string kThird = "2026-01-03T00:00:00Z";

class DamagedRecordTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    mkdir(source_.c_str(), 0755);
    group_ = "host/a";
    for (const std::string& time : {kFirst, kSecond, kThird}) {
      WriteFile(source_ + "/file.txt", "backed up at " + time + "\n");
      WriteFile(source_ + "/only-" + time, "this snapshot's own data " + time);
      Backup({source_}, {"--time", time});
    }
    group_ = "host/b";
    WriteFile(source_ + "/file.txt", "the other group\n");
    Backup({source_}, {"--time", kSecond});
    group_ = "host/a";
  }

  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  static std::string Name(const std::string& group, const std::string& time) {
    return group + "/" + time;
  }
  // `snapshots` and `ls`/`cat` paths of the test's file.
  std::string File() const { return InSnapshot(source_) + "/file.txt"; }

  // Writes into the database with no server running, under the repository's lock.
  void Damage(const std::function<void(kv::Database&)>& fn) { ChangeStoppedDatabase(repo_, fn); }

  static std::string Key(const std::string& group, const std::string& time) {
    return SnapshotKey(group, *model::ParseTime(time));
  }

  // Flips a byte of the sealed record (after the 32-byte id) in place.
  void FlipRecord(const std::string& group, const std::string& time) {
    Damage([&](kv::Database& db) {
      Bytes value = *db.Get(kv::Column::kSnapshots, Key(group, time));
      ASSERT_GT(value.size(), 64u);
      value[32 + (value.size() - 32) / 2] ^= 0x20;
      ASSERT_TRUE(
          db.Put(kv::Column::kSnapshots, Key(group, time), value, kv::Durability::kSynced).ok());
    });
  }

  // Flips a byte of the snapshot's sealed note (meta/snapshot-note/KEY, store/FORMAT.md).
  void FlipNote(const std::string& group, const std::string& time) {
    Damage([&](kv::Database& db) {
      const std::string key = "snapshot-note/" + Key(group, time);
      Bytes value = *db.Get(kv::Column::kMeta, key);
      ASSERT_GT(value.size(), 16u);
      value[value.size() / 2] ^= 0x20;
      ASSERT_TRUE(db.Put(kv::Column::kMeta, key, value, kv::Durability::kSynced).ok());
    });
  }

  // Chunks and trees stored, counted in the database.
  uint64_t ObjectCount() {
    uint64_t count = 0;
    Damage([&](kv::Database& db) {
      for (kv::Column column : {kv::Column::kChunks, kv::Column::kTrees}) {
        ASSERT_TRUE(db.ScanKeys(column, [&](std::string_view) { return ++count > 0; }).ok());
      }
    });
    return count;
  }

  nlohmann::json SnapshotsJson(int expected_code) {
    Output o = Coffer({"snapshots", "--json"});
    EXPECT_EQ(o.code, expected_code) << o.all();
    auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_array()) << o.out;
    return j.is_array() ? j : nlohmann::json::array();
  }

  std::string source_;
};

TEST_F(DamagedRecordTest, SnapshotsListsItInItsPlaceAndExits4) {
  FlipRecord("host/a", kSecond);
  Output o = Coffer({"snapshots"});
  EXPECT_EQ(o.code, 4) << o.all();
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = o.out.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(o.out.substr(at, nl - at));
  }
  ASSERT_EQ(lines.size(), 5u) << o.out;  // the header and four snapshots, in order
  EXPECT_NE(lines[1].find(kFirst), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find(kSecond), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("host/a"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("DAMAGED: "), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("authentication failed"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find(kThird), std::string::npos) << lines[3];
  EXPECT_NE(lines[4].find("host/b"), std::string::npos) << lines[4];
  for (size_t i : {1, 3, 4}) {
    EXPECT_EQ(lines[i].find("DAMAGED"), std::string::npos) << lines[i];
    EXPECT_NE(lines[i].find(source_), std::string::npos) << lines[i];
  }
  EXPECT_NE(o.err.find(Name("host/a", kSecond)), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("coffer forget"), std::string::npos) << o.err;

  nlohmann::json list = SnapshotsJson(4);
  ASSERT_EQ(list.size(), 4u);
  EXPECT_TRUE(list[1]["damaged"].get<bool>());
  EXPECT_EQ(list[1]["name"], Name("host/a", kSecond));
  EXPECT_EQ(list[1]["time"], kSecond);
  EXPECT_EQ(list[1]["id"].get<std::string>().size(), 64u);
  EXPECT_NE(list[1]["damage"].get<std::string>().find("authentication failed"), std::string::npos);
  EXPECT_TRUE(list[1]["paths"].is_null());
  for (size_t i : {0, 2, 3}) {
    EXPECT_FALSE(list[i]["damaged"].get<bool>()) << list[i];
    EXPECT_TRUE(list[i]["damage"].is_null()) << list[i];
    EXPECT_EQ(list[i]["paths"][0], source_) << list[i];
  }

  // A group without damage lists cleanly.
  Output b = Coffer({"snapshots", "--group", "host/b"});
  EXPECT_EQ(b.code, 0) << b.all();
}

TEST_F(DamagedRecordTest, VerifyNamesItAndVerifiesEveryOtherSnapshot) {
  FlipRecord("host/a", kSecond);
  Output o = Coffer({"verify"});
  EXPECT_EQ(o.code, 4) << o.all();
  EXPECT_NE(o.out.find("damaged snapshot "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(": " + Name("host/a", kSecond) + " ("), std::string::npos) << o.out;
  EXPECT_NE(o.err.find("of 3 snapshots"), std::string::npos) << o.err;

  // The three intact ones were verified and their notes say so.
  nlohmann::json list = SnapshotsJson(4);
  ASSERT_EQ(list.size(), 4u);
  for (size_t i : {0, 2, 3}) EXPECT_TRUE(list[i]["last_verify"]["ok"].get<bool>()) << list[i];
  EXPECT_TRUE(list[1]["last_verify"].is_null());

  Output j = Coffer(
      {"verify", "--json", "--snapshot", Name("host/a", kSecond), "--snapshot", "host/b/latest"});
  EXPECT_EQ(j.code, 4) << j.all();
  auto result = nlohmann::json::parse(j.out);
  EXPECT_FALSE(result["ok"].get<bool>());
  ASSERT_EQ(result["damaged_snapshots"].size(), 1u);
  EXPECT_EQ(result["damaged_snapshots"][0]["name"], Name("host/a", kSecond));
  ASSERT_EQ(result["snapshots"].size(), 1u);
  EXPECT_EQ(result["snapshots"][0]["name"], Name("host/b", kSecond));
  EXPECT_TRUE(result["snapshots"][0]["ok"].get<bool>());

  // --older-than does not hide it: it has no verification to be recent.
  Output recent = Coffer({"verify", "--older-than", "1d"});
  EXPECT_EQ(recent.code, 4) << recent.all();
  EXPECT_NE(recent.out.find(Name("host/a", kSecond)), std::string::npos) << recent.all();
}

TEST_F(DamagedRecordTest, PruneKeepsItSaysSoAndPrunesTheRest) {
  FlipRecord("host/a", kSecond);
  Output dry = Coffer({"prune", "--keep-last", "1", "--dry-run"});
  EXPECT_EQ(dry.code, 4) << dry.all();
  bool listed = false;
  for (size_t at = 0, nl; (nl = dry.out.find('\n', at)) != std::string::npos; at = nl + 1) {
    std::string line = dry.out.substr(at, nl - at);
    if (line.starts_with(Name("host/a", kSecond))) {
      listed = true;
      EXPECT_NE(line.find("keep"), std::string::npos) << line;
      EXPECT_NE(line.find("damaged"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(listed) << dry.out;
  EXPECT_NE(dry.err.find("coffer forget " + Name("host/a", kSecond)), std::string::npos) << dry.err;

  Output json = Coffer({"prune", "--keep-last", "1", "--dry-run", "--json"});
  EXPECT_EQ(json.code, 4) << json.all();
  bool reason_damaged = false;
  for (const auto& d : nlohmann::json::parse(json.out)) {
    if (d["snapshot"] == Name("host/a", kSecond)) {
      reason_damaged = d["keep"].get<bool>() && d["reason"] == "damaged";
    }
  }
  EXPECT_TRUE(reason_damaged) << json.out;

  Output prune = Coffer({"prune", "--keep-last", "1"});
  EXPECT_EQ(prune.code, 4) << prune.all();
  nlohmann::json list = SnapshotsJson(4);
  ASSERT_EQ(list.size(), 3u) << list;
  EXPECT_EQ(list[0]["name"], Name("host/a", kSecond));
  EXPECT_TRUE(list[0]["damaged"].get<bool>());
  EXPECT_EQ(list[1]["name"], Name("host/a", kThird));
  EXPECT_EQ(list[2]["name"], Name("host/b", kSecond));
}

TEST_F(DamagedRecordTest, LsCatAndRestoreOfItFailWith4AndOfOthersWork) {
  FlipRecord("host/a", kSecond);
  const std::string damaged = Name("host/a", kSecond);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"ls", damaged},
        {"cat", damaged, File()},
        {"restore", damaged, "--target", tmp_ / "damaged-restore"}}) {
    Output o = Coffer(args);
    EXPECT_EQ(o.code, 4) << args[0] << ": " << o.all();
    EXPECT_NE(o.err.find(damaged + ": the snapshot record is damaged"), std::string::npos)
        << args[0] << ": " << o.err;
  }
  struct stat st;
  EXPECT_NE(stat((tmp_ / "damaged-restore" + source_).c_str(), &st), 0);

  Output cat = Coffer({"cat", Name("host/a", kFirst), File()});
  EXPECT_EQ(cat.code, 0) << cat.all();
  EXPECT_EQ(cat.out, "backed up at " + kFirst + "\n");
  Output latest = Coffer({"cat", "host/a/latest", File()});
  EXPECT_EQ(latest.code, 0) << latest.all();
  EXPECT_EQ(latest.out, "backed up at " + kThird + "\n");
  Output ls = Coffer({"ls", "host/b/latest", InSnapshot(source_)});
  EXPECT_EQ(ls.code, 0) << ls.all();
  std::string target = RestoreAll(Name("host/a", kThird));
  EXPECT_EQ(ReadFile(target + source_ + "/file.txt"), "backed up at " + kThird + "\n");
}

TEST_F(DamagedRecordTest, ForgetRemovesItByNameAndLatestNamesItWhenNewest) {
  FlipRecord("host/a", kThird);
  // GROUP/latest is the newest record, damaged or not: ls says so rather
  // than showing an older snapshot under that name.
  Output ls = Coffer({"ls", "host/a/latest"});
  EXPECT_EQ(ls.code, 4) << ls.all();
  EXPECT_NE(ls.err.find(Name("host/a", kThird)), std::string::npos) << ls.err;

  // A backup still works: it builds on the newest snapshot it can read.
  WriteFile(source_ + "/file.txt", "after the damage\n");
  Backup({source_}, {"--time", "2026-01-04T00:00:00Z"});
  Output cat = Coffer({"cat", "host/a/latest", File()});
  EXPECT_EQ(cat.code, 0) << cat.all();
  EXPECT_EQ(cat.out, "after the damage\n");

  Output forget = Coffer({"forget", Name("host/a", kThird)});
  EXPECT_EQ(forget.code, 0) << forget.all();
  EXPECT_NE(forget.out.find("removed " + Name("host/a", kThird)), std::string::npos) << forget.out;
  nlohmann::json list = SnapshotsJson(0);
  ASSERT_EQ(list.size(), 4u);
  for (const auto& s : list) EXPECT_FALSE(s["damaged"].get<bool>()) << s;
}

TEST_F(DamagedRecordTest, GcRefusesUntilItIsForgotten) {
  // Garbage to collect: the oldest snapshot's own data.
  ASSERT_EQ(Coffer({"forget", Name("host/a", kFirst)}).code, 0);
  FlipRecord("host/a", kSecond);
  uint64_t before = ObjectCount();
  Output gc = Coffer({"gc"});
  EXPECT_EQ(gc.code, 4) << gc.all();
  EXPECT_NE(gc.err.find("the snapshot record " + Name("host/a", kSecond) + " is damaged"),
            std::string::npos)
      << gc.err;
  EXPECT_NE(gc.err.find("coffer forget " + Name("host/a", kSecond)), std::string::npos) << gc.err;
  EXPECT_NE(gc.err.find("before deleting anything"), std::string::npos) << gc.err;
  EXPECT_EQ(ObjectCount(), before) << "gc deleted objects with a damaged record in the repository";

  ASSERT_EQ(Coffer({"forget", Name("host/a", kSecond)}).code, 0);
  Output again = Coffer({"gc"});
  EXPECT_EQ(again.code, 0) << again.all();
  EXPECT_LT(ObjectCount(), before);
  Output verify = Coffer({"verify"});
  EXPECT_EQ(verify.code, 0) << verify.all();
}

TEST_F(DamagedRecordTest, ARecordShorterThanAnIdIsListedAndForgotten) {
  Damage([&](kv::Database& db) {
    ASSERT_TRUE(db.Put(kv::Column::kSnapshots, Key("host/a", kSecond), Bytes(10, 0x5a),
                       kv::Durability::kSynced)
                    .ok());
  });
  nlohmann::json list = SnapshotsJson(4);
  ASSERT_EQ(list.size(), 4u);
  EXPECT_TRUE(list[1]["damaged"].get<bool>());
  EXPECT_EQ(list[1]["name"], Name("host/a", kSecond));
  EXPECT_EQ(Coffer({"cat", Name("host/a", kFirst), File()}).code, 0);
  Output forget = Coffer({"forget", Name("host/a", kSecond)});
  EXPECT_EQ(forget.code, 0) << forget.all();
  EXPECT_EQ(SnapshotsJson(0).size(), 3u);
}

TEST_F(DamagedRecordTest, ADamagedNoteIsMarkedAndTheSnapshotStaysUsable) {
  ASSERT_EQ(Coffer({"verify"}).code, 0);
  FlipNote("host/a", kSecond);
  Output o = Coffer({"snapshots"});
  EXPECT_EQ(o.code, 4) << o.all();
  size_t line = o.out.find(kSecond + "  host/a");
  ASSERT_NE(line, std::string::npos) << o.out;
  std::string row = o.out.substr(line, o.out.find('\n', line) - line);
  EXPECT_NE(row.find("note DAMAGED"), std::string::npos) << row;
  EXPECT_NE(row.find(source_), std::string::npos) << row;
  EXPECT_NE(o.err.find("coffer verify --snapshot " + Name("host/a", kSecond)), std::string::npos)
      << o.err;

  nlohmann::json list = SnapshotsJson(4);
  EXPECT_FALSE(list[1]["damaged"].get<bool>());
  EXPECT_TRUE(list[1]["note_damage"].is_string()) << list[1];
  EXPECT_TRUE(list[1]["last_verify"].is_null());

  Output cat = Coffer({"cat", Name("host/a", kSecond), File()});
  EXPECT_EQ(cat.code, 0) << cat.all();
  EXPECT_EQ(cat.out, "backed up at " + kSecond + "\n");
  RestoreAll(Name("host/a", kSecond));
  EXPECT_EQ(Coffer({"gc"}).code, 0);

  // Verifying it writes a new note.
  Output verify = Coffer({"verify", "--snapshot", Name("host/a", kSecond)});
  EXPECT_EQ(verify.code, 0) << verify.all();
  list = SnapshotsJson(0);
  EXPECT_TRUE(list[1]["note_damage"].is_null());
  EXPECT_TRUE(list[1]["last_verify"]["ok"].get<bool>());
}

TEST_F(DamagedRecordTest, MountShowsEveryIntactSnapshot) {
  COFFER_REQUIRE_FUSE();
  FlipRecord("host/a", kSecond);
  const std::string mnt = tmp_ / "mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  Output mount = Coffer({"mount", mnt});
  ASSERT_EQ(mount.code, 0) << mount.all();
  ASSERT_TRUE(Mounted(mnt));
  struct stat st;
  EXPECT_NE(stat((mnt + "/host/a/" + kSecond).c_str(), &st), 0) << "the damaged record is shown";
  EXPECT_EQ(ReadFile(mnt + "/host/a/" + kFirst + source_ + "/file.txt"),
            "backed up at " + kFirst + "\n");
  EXPECT_EQ(ReadFile(mnt + "/host/a/latest" + source_ + "/file.txt"),
            "backed up at " + kThird + "\n");
  EXPECT_EQ(ReadFile(mnt + "/host/b/latest" + source_ + "/file.txt"), "the other group\n");
  Output umount = CofferRaw({"umount", mnt});
  EXPECT_EQ(umount.code, 0) << umount.all();
  if (Mounted(mnt)) RunProcess({"fusermount3", "-u", mnt});
}

}  // namespace
}  // namespace coffer::e2e
