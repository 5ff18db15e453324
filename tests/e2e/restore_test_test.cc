// coffer restore-test against real repositories: a tree with every kind of
// entry (odd names, holes, hard links, xattrs, a path longer than PATH_MAX,
// a read-only directory), a disk image, stored data damaged in the
// database, and the note the outcome is recorded in damaged too.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/kv/database.h"
#include "store/model/snapshot_name.h"
#include "store/objects/snapshot_key.h"
#include "store/repo/local.h"
#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::RandomBytes;
using testing::WriteFile;

const std::string kTime = "2026-12-06T02:00:00Z";

// The names in folder `path` (none if it is gone).
std::set<std::string> Listing(const std::string& path) {
  std::set<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return names;
  while (dirent* d = readdir(dir)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  closedir(dir);
  return names;
}

class RestoreTestTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    testing::MakeKitchenSinkTree(source_);
    WriteFile(source_ + "/victim.bin", RandomBytes(300 << 10, 7));
    scratch_ = tmp_ / "scratch";
    ASSERT_EQ(mkdir(scratch_.c_str(), 0700), 0);
  }

  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  std::string SnapshotName() const { return group_ + "/" + kTime; }

  // `restore-test ... --json` into the test's scratch parent, expecting
  // `code`; the parsed result.
  nlohmann::json RestoreTestJson(std::vector<std::string> args, int code) {
    args.insert(args.begin(), "restore-test");
    for (const char* extra : {"--json", "--scratch"}) args.push_back(extra);
    args.push_back(scratch_);
    Output o = Coffer(args);
    EXPECT_EQ(o.code, code) << o.all();
    auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << o.all();
    EXPECT_TRUE(Listing(scratch_).empty()) << "the scratch folder is left behind";
    return j.is_object() ? j : nlohmann::json::object();
  }

  nlohmann::json LastRestoreTest() {
    nlohmann::json list = Snapshots();
    EXPECT_EQ(list.size(), 1u);
    return list.empty() ? nlohmann::json() : list[0]["last_restore_test"];
  }

  std::string source_;
  std::string scratch_;
};

TEST_F(RestoreTestTest, ACleanSnapshotMatchesEveryFileAndTheOutcomeIsRecordedAndShown) {
  Backup({source_}, {"--time", kTime});
  EXPECT_TRUE(LastRestoreTest().is_null());

  // Every file: the sample is capped at what the snapshot has.
  nlohmann::json all = RestoreTestJson({SnapshotName(), "--files", "100000"}, 0);
  EXPECT_TRUE(all["ok"].get<bool>()) << all.dump(2);
  EXPECT_TRUE(all["mismatches"].empty()) << all.dump(2);
  const uint64_t population = all["files_in_snapshot"];
  EXPECT_GE(population, 15u);
  EXPECT_EQ(all["files_checked"], population);
  EXPECT_EQ(all["files"].size(), population);
  EXPECT_EQ(all["images_checked"], 0);
  // big.bin, victim.bin and the sparse file's 64 MiB, holes read as zeros.
  EXPECT_GE(all["bytes_checked"].get<uint64_t>(), uint64_t{67} << 20);
  std::set<std::string> files(all["files"].begin(), all["files"].end());
  EXPECT_TRUE(files.count("/" + InSnapshot(source_) + "/line\nbreak")) << all["files"].dump();
  EXPECT_TRUE(files.count("/" + InSnapshot(source_) + "/dangling")) << "symlinks are sampled";
  EXPECT_FALSE(files.count("/" + InSnapshot(source_) + "/fifo")) << "fifos are not";
  EXPECT_TRUE(files.count("/" + InSnapshot(source_) + "/readonly-dir/inside"));

  // A group names its latest snapshot; the summary is one line.
  Output text = Coffer({"restore-test", group_, "--files", "5", "--scratch", scratch_});
  EXPECT_EQ(text.code, 0) << text.all();
  EXPECT_EQ(text.out.substr(0, text.out.find(',')),
            "restore test of " + SnapshotName() + ": 5 files")
      << text.out;
  EXPECT_TRUE(text.out.ends_with(", all match\n")) << text.out;
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 1) << text.out;
  EXPECT_TRUE(Listing(scratch_).empty());

  nlohmann::json last = LastRestoreTest();
  ASSERT_TRUE(last.is_object()) << last;
  EXPECT_TRUE(last["ok"].get<bool>());
  EXPECT_EQ(last["files_checked"], 5);
  EXPECT_EQ(last["mismatches"], 0);
  EXPECT_NE(last["seed"], 0);
  EXPECT_EQ(last["time"].get<std::string>().size(), kTime.size());

  Output info = Coffer({"info", group_ + "/latest"});
  EXPECT_EQ(info.code, 0) << info.all();
  EXPECT_NE(
      info.out.find("\ntested     " + last["time"].get<std::string>() + " ok: 5 files restored"),
      std::string::npos)
      << info.out;
  Output list = Coffer({"snapshots"});
  EXPECT_EQ(list.code, 0) << list.all();
  EXPECT_NE(list.out.find("Restore-tested"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(last["time"].get<std::string>().substr(0, 10) + " ok"), std::string::npos)
      << list.out;
}

TEST_F(RestoreTestTest, TheSampleSizeHonoursFilesAndPercent) {
  Backup({source_}, {"--time", kTime});
  nlohmann::json three = RestoreTestJson({group_, "--files", "3"}, 0);
  EXPECT_EQ(three["files_checked"], 3);
  EXPECT_EQ(std::set<std::string>(three["files"].begin(), three["files"].end()).size(), 3u);

  const uint64_t population = three["files_in_snapshot"];
  for (double percent : {50.0, 10.0, 100.0}) {
    nlohmann::json share = RestoreTestJson({group_, "--percent", std::to_string(percent)}, 0);
    EXPECT_EQ(share["files_checked"],
              static_cast<uint64_t>(std::ceil(percent / 100 * static_cast<double>(population))))
        << percent << "% of " << population;
  }
  // Only one of them, and sensible values.
  EXPECT_EQ(Coffer({"restore-test", group_, "--files", "3", "--percent", "5"}).code, 2);
  EXPECT_EQ(Coffer({"restore-test", group_, "--percent", "0"}).code, 2);
  EXPECT_EQ(Coffer({"restore-test", group_, "--percent", "101"}).code, 2);
  Output none = Coffer({"restore-test", group_, "--files", "0"});
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(
      none.err,
      "coffer: --files: Value 0 not in range 1 to 18446744073709551615 (see coffer --help)\n");
}

TEST_F(RestoreTestTest, TheSameSeedPicksTheSameFiles) {
  Backup({source_}, {"--time", kTime});
  nlohmann::json first = RestoreTestJson({group_, "--files", "5", "--seed", "42"}, 0);
  nlohmann::json again = RestoreTestJson({group_, "--files", "5", "--seed", "42"}, 0);
  nlohmann::json other = RestoreTestJson({group_, "--files", "5", "--seed", "43"}, 0);
  EXPECT_EQ(first["seed"], 42);
  EXPECT_EQ(first["files"], again["files"]);
  EXPECT_NE(first["files"], other["files"]);
  nlohmann::json random1 = RestoreTestJson({group_, "--files", "5"}, 0);
  nlohmann::json random2 = RestoreTestJson({group_, "--files", "5"}, 0);
  EXPECT_NE(random1["seed"], random2["seed"]);
}

TEST_F(RestoreTestTest, DamagedDataIsAMismatchWithItsPathExit4AndRecordedAsFailed) {
  Backup({source_}, {"--time", kTime});
  const std::string victim = "/" + InSnapshot(source_) + "/victim.bin";
  // Its first chunk, found with the key, damaged in the database.
  ASSERT_TRUE(KillServersOf(repo_));
  std::string chunk_key;
  {
    LocalOpenOptions options{std::chrono::milliseconds(10000), "restore-test test"};
    auto repo =
        OpenLocalRepository(repo_, options, [this] { return Result<std::string>(passphrase_); });
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    auto snap = (*repo)->FindSnapshot(SnapshotName());
    ASSERT_TRUE(snap.ok());
    auto entry = (*repo)->LookupPath(*snap, victim);
    ASSERT_TRUE(entry.ok() && entry->extents_size() > 0);
    chunk_key = entry->extents(0).chunk_id();
  }
  ChangeStoppedDatabase(repo_, [&](kv::Database& db) {
    Bytes value = *db.Get(kv::Column::kChunks, chunk_key);
    value[value.size() / 2] ^= 0x10;
    ASSERT_TRUE(db.Put(kv::Column::kChunks, chunk_key, value, kv::Durability::kSynced).ok());
  });

  nlohmann::json result = RestoreTestJson({group_, "--percent", "100"}, 4);
  EXPECT_FALSE(result["ok"].get<bool>());
  ASSERT_EQ(result["mismatches"].size(), 1u) << result.dump(2);
  EXPECT_EQ(result["mismatches"][0]["path"], victim);
  EXPECT_TRUE(result["mismatches"][0]["damaged"].get<bool>());
  EXPECT_NE(result["mismatches"][0]["what"].get<std::string>().find("not restored"),
            std::string::npos);
  EXPECT_EQ(result["files_checked"], result["files_in_snapshot"]) << "the others were checked too";

  Output text = Coffer({"restore-test", group_, "--percent", "100", "--scratch", scratch_});
  EXPECT_EQ(text.code, 4) << text.all();
  EXPECT_TRUE(text.out.starts_with("mismatch " + victim + ": not restored")) << text.out;
  EXPECT_NE(text.out.find(", 1 MISMATCH (--seed "), std::string::npos) << text.out;
  EXPECT_TRUE(Listing(scratch_).empty());

  nlohmann::json last = LastRestoreTest();
  ASSERT_TRUE(last.is_object());
  EXPECT_FALSE(last["ok"].get<bool>());
  EXPECT_EQ(last["mismatches"], 1);
  Output info = Coffer({"info", SnapshotName()});
  EXPECT_NE(info.out.find("FAILED, 1 mismatched"), std::string::npos) << info.out;
  Output list = Coffer({"snapshots"});
  EXPECT_NE(list.out.find(" FAILED"), std::string::npos) << list.out;
}

TEST_F(RestoreTestTest, TheDefaultScratchFolderIsInTmpdirAndRemoved) {
  Backup({source_}, {"--time", kTime});
  const std::string tmpdir = tmp_ / "tmpdir";
  ASSERT_EQ(mkdir(tmpdir.c_str(), 0700), 0);
  Output o = Coffer({"restore-test", group_, "--json"}, {"TMPDIR=" + tmpdir});
  EXPECT_EQ(o.code, 0) << o.all();
  auto j = nlohmann::json::parse(o.out);
  EXPECT_TRUE(j["scratch"].get<std::string>().starts_with(tmpdir + "/coffer-restore-test."))
      << j["scratch"];
  EXPECT_TRUE(j["scratch_left"].is_null());
  EXPECT_TRUE(Listing(tmpdir).empty());
  // A scratch parent that does not exist: nothing runs, nothing is recorded.
  Output missing = Coffer({"restore-test", group_, "--scratch", tmp_ / "absent"});
  EXPECT_EQ(missing.code, 1) << missing.all();
  EXPECT_NE(missing.err.find("scratch folder"), std::string::npos) << missing.err;
  EXPECT_TRUE(LastRestoreTest()["ok"].get<bool>());
}

TEST_F(RestoreTestTest, ADiskImageIsCheckedByRanges) {
  const std::string disk = tmp_ / "disk.raw";
  WriteFile(disk, RandomBytes(8 << 20, 11));
  group_ = "vm/100";
  Backup({disk}, {"--time", kTime, "--image"});
  nlohmann::json result = RestoreTestJson({group_, "--seed", "7"}, 0);
  EXPECT_TRUE(result["ok"].get<bool>()) << result.dump(2);
  EXPECT_EQ(result["files_checked"], 1);
  EXPECT_EQ(result["images_checked"], 1);
  EXPECT_EQ(result["ranges_checked"], 4);
  // Four ranges of at least 1 MiB, not the whole 8 MiB.
  EXPECT_GE(result["bytes_checked"].get<uint64_t>(), uint64_t{1} << 20);
  EXPECT_LE(result["bytes_checked"].get<uint64_t>(), uint64_t{6} << 20);
  Output text = Coffer({"restore-test", group_, "--scratch", scratch_});
  EXPECT_NE(text.out.find("1 file (1 disk image by 4 ranges)"), std::string::npos) << text.out;
}

// The record the outcome lives in (the snapshot's note, field 4) damaged:
// listed as damaged, the snapshot intact, the next restore test writes a
// new note.
TEST_F(RestoreTestTest, ADamagedNoteHoldingTheOutcomeIsReportedAndReplaced) {
  Backup({source_}, {"--time", kTime});
  RestoreTestJson({group_, "--files", "2"}, 0);
  ChangeStoppedDatabase(repo_, [&](kv::Database& db) {
    const std::string key = "snapshot-note/" + SnapshotKey(group_, *model::ParseTime(kTime));
    Bytes value = *db.Get(kv::Column::kMeta, key);
    ASSERT_GT(value.size(), 16u);
    value[value.size() / 2] ^= 0x20;
    ASSERT_TRUE(db.Put(kv::Column::kMeta, key, value, kv::Durability::kSynced).ok());
  });
  Output list = Coffer({"snapshots", "--json"});
  EXPECT_EQ(list.code, 4) << list.all();
  auto j = nlohmann::json::parse(list.out);
  EXPECT_TRUE(j[0]["note_damage"].is_string()) << j.dump(2);
  EXPECT_TRUE(j[0]["last_restore_test"].is_null());
  Output info = Coffer({"info", SnapshotName()});
  EXPECT_EQ(info.code, 4) << info.all();
  EXPECT_NE(info.out.find("tested     unknown: the note is damaged"), std::string::npos)
      << info.out;

  nlohmann::json again = RestoreTestJson({group_, "--files", "2"}, 0);
  EXPECT_TRUE(again["ok"].get<bool>());
  nlohmann::json last = LastRestoreTest();
  ASSERT_TRUE(last.is_object());
  EXPECT_TRUE(last["ok"].get<bool>());
  EXPECT_EQ(Coffer({"snapshots"}).code, 0);
}

}  // namespace
}  // namespace coffer::e2e
