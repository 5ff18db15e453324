// A damaged MANIFEST, CURRENT or OPTIONS file: Database::Open refuses it
// without removing a file, and RepairDatabase brings back what the files
// hold. Each damage is a sweep over many sizes or offsets, not one case.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "store/kv/blob_file.h"
#include "store/kv/database.h"
#include "store/kv/repair.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::kv {
namespace {

namespace fs = std::filesystem;

Bytes Value(int i, size_t size) {
  std::mt19937 rng(static_cast<uint32_t>(i));
  Bytes out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}
// Chunk keys are 32-byte ids, as in a repository.
std::string ChunkKey(int i) {
  std::string key(32, '\0');
  std::snprintf(key.data(), key.size(), "chunk-%08d", i);
  return key;
}
std::string SnapshotKey(int i) {
  return "host/a\0" + std::to_string(1000 + i);
}

constexpr int kChunks = 24;  // half stored in blob files, half inline
constexpr int kSnapshots = 3;

size_t ChunkSize(int i) {
  return i % 2 == 0 ? 6000 + 10 * i : 100 + i;
}

// What a repository with a few backups holds: chunks in blob files and
// inline, snapshot records, flushed in several steps so that the MANIFEST
// has many edits.
void Populate(const std::string& dir) {
  auto db = Database::Create(dir);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  for (int s = 0; s < kSnapshots; ++s) {
    for (int i = s * kChunks / kSnapshots; i < (s + 1) * kChunks / kSnapshots; ++i) {
      ASSERT_TRUE(
          (*db)
              ->Put(Column::kChunks, ChunkKey(i), Value(i, ChunkSize(i)), Durability::kBuffered)
              .ok());
    }
    ASSERT_TRUE((*db)->Flush({Column::kChunks, Column::kTrees}).ok());
    ASSERT_TRUE(
        (*db)
            ->Put(Column::kSnapshots, SnapshotKey(s), Value(100 + s, 200), Durability::kSynced)
            .ok());
  }
}

// Every value Populate wrote, read back exactly; "" or what differs.
std::string CheckAllData(Database& db) {
  for (int i = 0; i < kChunks; ++i) {
    auto v = db.Get(Column::kChunks, ChunkKey(i));
    if (!v.ok()) return "chunk " + std::to_string(i) + ": " + v.status().ToString();
    if (*v != Value(i, ChunkSize(i))) return "chunk " + std::to_string(i) + " differs";
  }
  for (int s = 0; s < kSnapshots; ++s) {
    auto v = db.Get(Column::kSnapshots, SnapshotKey(s));
    if (!v.ok()) return "snapshot " + std::to_string(s) + ": " + v.status().ToString();
    if (*v != Value(100 + s, 200)) return "snapshot " + std::to_string(s) + " differs";
  }
  return "";
}

// Name -> size of every file RocksDB keeps data or metadata in (not LOG).
std::map<std::string, uintmax_t> DataFiles(const std::string& dir) {
  std::map<std::string, uintmax_t> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() && !name.starts_with("LOG")) files[name] = e.file_size();
  }
  return files;
}

// Which files of `before` are gone or changed in size in `dir`.
std::string Removed(const std::map<std::string, uintmax_t>& before, const std::string& dir) {
  auto after = DataFiles(dir);
  std::string out;
  for (const auto& [name, size] : before) {
    auto it = after.find(name);
    if (it == after.end())
      out += name + " removed; ";
    else if (it->second != size)
      out += name + " changed; ";
  }
  return out;
}

std::string OnlyFile(const std::string& dir, const std::string& prefix) {
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.starts_with(prefix)) return name;
  }
  return "";
}
std::string LatestOptionsFile(const std::string& dir) {
  std::string latest;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.starts_with("OPTIONS-") && name > latest) latest = name;
  }
  return latest;
}

void CopyDir(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class DamagedDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Populate(pristine_);
    manifest_ = OnlyFile(pristine_, "MANIFEST-");
    ASSERT_FALSE(manifest_.empty());
  }

  // Opens a copy of the pristine database damaged by `damage`. Either the
  // open refuses with kCorruption and every file is still there, or it
  // succeeds and every value reads back exactly (the damage was harmless).
  // Returns "refused", "opened", or what went wrong.
  std::string OpenDamaged(const std::function<void(const std::string& dir)>& damage) {
    CopyDir(pristine_, work_);
    damage(work_);
    const auto before = DataFiles(work_);
    auto db = Database::Open(work_);
    if (!db.ok()) {
      if (db.status().code() != Code::kCorruption) return "wrong error: " + db.status().ToString();
      if (db.status().message().find("coffer repair") == std::string::npos) {
        return "no way out in: " + db.status().message();
      }
      std::string removed = Removed(before, work_);
      return removed.empty() ? "refused" : "refused but " + removed;
    }
    std::string bad = CheckAllData(**db);
    return bad.empty() ? "opened" : "opened with loss: " + bad;
  }

  // After a refusal: repair, then every value is back.
  std::string RepairAndCheck() {
    fs::remove_all(kept_);
    auto report = RepairDatabase(work_, kept_);
    if (!report.ok()) return "repair failed: " + report.status().ToString();
    auto db = Database::Open(work_);
    if (!db.ok()) return "open after repair: " + db.status().ToString();
    return CheckAllData(**db);
  }

  testing::TempDir tmp_;
  std::string pristine_ = tmp_ / "pristine";
  std::string work_ = tmp_ / "work";
  std::string kept_ = tmp_ / "kept";
  std::string manifest_;
};

TEST_F(DamagedDatabaseTest, PristineCopyOpensWithAllData) {
  EXPECT_EQ(OpenDamaged([](const std::string&) {}), "opened");
}

TEST_F(DamagedDatabaseTest, CleanCloseLeavesNoFileTheManifestDoesNotList) {
  // Deletions and a forced compaction (what gc does) make obsolete files;
  // a clean close must remove them, or the next open would be refused.
  {
    auto db = Database::Open(pristine_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    for (int i = 0; i < kChunks; i += 3) {
      ASSERT_TRUE((*db)->Delete(Column::kChunks, ChunkKey(i), Durability::kBuffered).ok());
    }
    ASSERT_TRUE((*db)->Flush({Column::kChunks}).ok());
    ASSERT_TRUE((*db)->CompactAll({Column::kChunks, Column::kTrees}).ok());
  }
  auto db = Database::Open(pristine_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
}

TEST_F(DamagedDatabaseTest, TruncatedManifestIsRefusedAtEveryLengthAndRepaired) {
  const uintmax_t size = fs::file_size(pristine_ + "/" + manifest_);
  int refused = 0;
  // Every length over the last edits (where a cut loses files), then a
  // stride over the rest; repair on every fourth refusal (it is slower).
  for (uintmax_t cut = 1; cut < size; cut += (cut < 100 ? 1 : 37)) {
    SCOPED_TRACE("MANIFEST cut by " + std::to_string(cut) + " of " + std::to_string(size));
    std::string outcome = OpenDamaged(
        [&](const std::string& dir) { fs::resize_file(dir + "/" + manifest_, size - cut); });
    ASSERT_TRUE(outcome == "refused" || outcome == "opened") << outcome;
    if (outcome == "refused" && refused++ % 4 == 0) {
      ASSERT_EQ(RepairAndCheck(), "");
    }
  }
  EXPECT_GT(refused, 0);
}

TEST_F(DamagedDatabaseTest, FlippedManifestBytesAreRefusedOrHarmless) {
  const uintmax_t size = fs::file_size(pristine_ + "/" + manifest_);
  int refused = 0;
  for (uintmax_t offset = 0; offset < size; offset += 23) {
    SCOPED_TRACE("MANIFEST byte " + std::to_string(offset) + " flipped");
    std::string outcome = OpenDamaged([&](const std::string& dir) {
      std::string content = ReadFile(dir + "/" + manifest_);
      content[offset] = static_cast<char>(content[offset] ^ 0x5a);
      WriteFile(dir + "/" + manifest_, content);
    });
    ASSERT_TRUE(outcome == "refused" || outcome == "opened") << outcome;
    if (outcome == "refused" && refused++ % 4 == 0) {
      ASSERT_EQ(RepairAndCheck(), "");
    }
  }
  EXPECT_GT(refused, 0);
}

TEST_F(DamagedDatabaseTest, DamagedCurrentIsRefusedAndRepaired) {
  const std::string good = ReadFile(pristine_ + "/CURRENT");
  const std::vector<std::string> damaged = {"",
                                            "\n",
                                            good.substr(0, good.size() - 1),
                                            good.substr(0, 10),
                                            "MANIFEST-999999\n",
                                            "MANIFEST-\n",
                                            "garbage that is not a name\n",
                                            std::string(100, 'M') + "\n",
                                            std::string("MANIFEST-0\0\0\n", 13)};
  for (const std::string& content : damaged) {
    SCOPED_TRACE("CURRENT = '" + content + "'");
    std::string outcome =
        OpenDamaged([&](const std::string& dir) { WriteFile(dir + "/CURRENT", content); });
    ASSERT_EQ(outcome, "refused");
    ASSERT_EQ(RepairAndCheck(), "");
  }
  SCOPED_TRACE("CURRENT removed");
  EXPECT_EQ(OpenDamaged([](const std::string& dir) { fs::remove(dir + "/CURRENT"); }), "refused");
  EXPECT_EQ(RepairAndCheck(), "");
}

TEST_F(DamagedDatabaseTest, DamagedOptionsIsRefusedOrHarmlessAndRepaired) {
  const std::string options = LatestOptionsFile(pristine_);
  ASSERT_FALSE(options.empty());
  const uintmax_t size = fs::file_size(pristine_ + "/" + options);
  int refused = 0;
  for (uintmax_t offset = 0; offset < size; offset += 331) {
    SCOPED_TRACE(options + " byte " + std::to_string(offset) + " changed");
    std::string outcome = OpenDamaged([&](const std::string& dir) {
      std::string content = ReadFile(dir + "/" + options);
      content[offset] = '\x01';
      WriteFile(dir + "/" + options, content);
    });
    ASSERT_TRUE(outcome == "refused" || outcome == "opened") << outcome;
    if (outcome == "refused" && refused++ % 4 == 0) {
      ASSERT_EQ(RepairAndCheck(), "");
    }
  }
  for (uintmax_t keep : {uintmax_t{0}, size / 3, size / 2}) {
    SCOPED_TRACE(options + " cut to " + std::to_string(keep));
    std::string outcome =
        OpenDamaged([&](const std::string& dir) { fs::resize_file(dir + "/" + options, keep); });
    ASSERT_EQ(outcome, "refused");
    ++refused;
    ASSERT_EQ(RepairAndCheck(), "");
  }
  EXPECT_GT(refused, 3);
}

TEST_F(DamagedDatabaseTest, UnlistedFilesAfterACrashAreDebrisAndDeleted) {
  // A flush cut short by a crash leaves a file the MANIFEST does not list;
  // the in-use marker says the last process did not close the database.
  CopyDir(pristine_, work_);
  fs::copy_file(work_ + "/" + OnlyFile(work_, "MANIFEST-"), work_ + "/999990.sst");
  WriteFile(work_ + "/COFFER-IN-USE", "open by pid 1\n");
  {
    auto db = Database::Open(work_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_EQ(CheckAllData(**db), "");
  }
  EXPECT_FALSE(fs::exists(work_ + "/999990.sst"));
  EXPECT_FALSE(fs::exists(work_ + "/COFFER-IN-USE")) << "a clean close removes the marker";
}

TEST_F(DamagedDatabaseTest, UnlistedFileAfterACleanCloseIsRefused) {
  CopyDir(pristine_, work_);
  fs::copy_file(work_ + "/" + OnlyFile(work_, "MANIFEST-"), work_ + "/999990.sst");
  auto db = Database::Open(work_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kCorruption);
  EXPECT_NE(db.status().message().find("999990.sst"), std::string::npos) << db.status().message();
  EXPECT_TRUE(fs::exists(work_ + "/999990.sst"));
}

TEST_F(DamagedDatabaseTest, MissingBlobFileIsRefused) {
  CopyDir(pristine_, work_);
  std::string found;
  for (const auto& e : fs::directory_iterator(work_)) {
    if (e.path().extension() == ".blob") found = e.path().string();
  }
  ASSERT_FALSE(found.empty());
  fs::remove(found);
  auto db = Database::Open(work_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kCorruption) << db.status().ToString();
  EXPECT_NE(db.status().message().find("missing"), std::string::npos) << db.status().message();
}

TEST_F(DamagedDatabaseTest, RepairKeepsTheDamagedDatabaseAndCountsLostChunks) {
  CopyDir(pristine_, work_);
  fs::resize_file(work_ + "/" + manifest_, fs::file_size(work_ + "/" + manifest_) - 20);
  const auto before = DataFiles(work_);
  // One blob file lost as well: its chunks are gone for good.
  std::string lost_blob;
  for (const auto& e : fs::directory_iterator(work_)) {
    if (e.path().extension() == ".blob") lost_blob = e.path().string();
  }
  ASSERT_FALSE(lost_blob.empty());
  fs::remove(lost_blob);
  auto report = RepairDatabase(work_, kept_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->lost_chunks, 0u);
  EXPECT_GT(report->table_files, 0u);
  // Everything that was there is kept, byte for byte.
  for (const auto& [name, size] : before) {
    if (work_ + "/" + name == lost_blob) continue;
    ASSERT_TRUE(fs::exists(kept_ + "/" + name)) << name;
    EXPECT_EQ(fs::file_size(kept_ + "/" + name), size) << name;
  }
  auto db = Database::Open(work_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  int missing = 0;
  for (int i = 0; i < kChunks; ++i) {
    auto v = (*db)->Get(Column::kChunks, ChunkKey(i));
    if (v.ok()) {
      EXPECT_EQ(*v, Value(i, ChunkSize(i))) << i;
    } else {
      EXPECT_EQ(v.status().code(), Code::kNotFound) << v.status().ToString();
      ++missing;
    }
  }
  EXPECT_EQ(static_cast<uint64_t>(missing), report->lost_chunks);
  for (int s = 0; s < kSnapshots; ++s) {
    EXPECT_TRUE((*db)->Get(Column::kSnapshots, SnapshotKey(s)).ok()) << s;
  }
  // A second repair into another folder is allowed; into the same one not.
  EXPECT_EQ(RepairDatabase(work_, kept_).status().code(), Code::kAlreadyExists);
}

// The blob file reader, on files RocksDB wrote.
class BlobFileTest : public DamagedDatabaseTest {
 protected:
  std::string BlobFile() {
    for (const auto& e : fs::directory_iterator(pristine_)) {
      if (e.path().extension() == ".blob") return ReadFile(e.path().string());
    }
    return "";
  }
  Result<BlobFileSummary> Read(const std::string& file, std::vector<std::string>* keys) {
    return ReadBlobFile(AsBytes(file), [&](ByteView key, ByteView value) {
      keys->emplace_back(AsChars(key));
      int i = std::stoi(std::string(AsChars(key)).substr(6));
      EXPECT_EQ(Bytes(value.begin(), value.end()), Value(i, ChunkSize(i)));
    });
  }
};

TEST_F(BlobFileTest, ReadsEveryRecordOfAClosedFile) {
  std::string file = BlobFile();
  ASSERT_FALSE(file.empty());
  std::vector<std::string> keys;
  auto summary = Read(file, &keys);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_TRUE(summary->has_footer);
  EXPECT_EQ(summary->records, summary->footer_count);
  EXPECT_EQ(keys.size(), summary->records);
  EXPECT_GT(keys.size(), 0u);
  EXPECT_EQ(summary->damaged_records, 0u);
  EXPECT_EQ(summary->unreadable_bytes, 0u);
}

TEST_F(BlobFileTest, DamagedValueLosesOnlyItsRecord) {
  std::string file = BlobFile();
  std::vector<std::string> all;
  ASSERT_TRUE(Read(file, &all).ok());
  // The middle of the first record's value (header 30, record header 32, key 32).
  file[30 + 32 + 32 + 100] ^= 1;
  std::vector<std::string> keys;
  auto summary = Read(file, &keys);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->damaged_records, 1u);
  EXPECT_EQ(keys.size(), all.size() - 1);
}

TEST_F(BlobFileTest, CutOffFileGivesTheRecordsBeforeTheCut) {
  std::string file = BlobFile();
  std::vector<std::string> all;
  ASSERT_TRUE(Read(file, &all).ok());
  ASSERT_GE(all.size(), 2u);
  file.resize(file.size() - 32 - 10);  // the footer and the end of the last record
  std::vector<std::string> keys;
  auto summary = Read(file, &keys);
  ASSERT_TRUE(summary.ok());
  EXPECT_FALSE(summary->has_footer);
  EXPECT_EQ(keys.size(), all.size() - 1);
  EXPECT_GT(summary->unreadable_bytes, 0u);
}

TEST_F(BlobFileTest, DamagedRecordHeaderStopsTheReadAndCountsTheRest) {
  std::string file = BlobFile();
  std::vector<std::string> all;
  ASSERT_TRUE(Read(file, &all).ok());
  file[30 + 3] ^= 0x40;  // the first record's key length
  std::vector<std::string> keys;
  auto summary = Read(file, &keys);
  ASSERT_TRUE(summary.ok());
  EXPECT_TRUE(keys.empty());
  EXPECT_EQ(summary->unreadable_bytes, file.size() - 30 - 32);
}

TEST_F(BlobFileTest, NotABlobFileIsCorruption) {
  std::vector<std::string> keys;
  EXPECT_EQ(Read("", &keys).status().code(), Code::kCorruption);
  EXPECT_EQ(Read(std::string(100, 'x'), &keys).status().code(), Code::kCorruption);
  std::string file = BlobFile();
  file[4] = 9;  // version
  EXPECT_EQ(Read(file, &keys).status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace coffer::kv
