// coffer verify against real repositories with real damage: objects deleted,
// altered, swapped and rotted in the database files. Verify must name exactly
// the files that can no longer be restored, and every other file must still
// restore.
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/kv/database.h"
#include "store/repo/layout.h"
#include "store/repo/local.h"
#include "store/repo/repo_lock.h"
#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;

std::string Key(const ObjectId& id) {
  return std::string(AsChars(id.view()));
}

// "damaged chunk ID: SNAPSHOT:/PATH" lines as {"damaged chunk SNAPSHOT:/PATH", ...}
// (ids are checked apart), and whether every line had that form.
std::multiset<std::string> Reported(const std::string& out,
                                    std::map<std::string, std::string>* ids = nullptr) {
  std::multiset<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    size_t colon = line.find(": ");
    std::istringstream head(line.substr(0, colon));
    std::string state, kind, id;
    head >> state >> kind >> id;
    EXPECT_TRUE(colon != std::string::npos && id.size() == 64) << "unexpected line: " << line;
    if (colon == std::string::npos) continue;
    std::string use = line.substr(colon + 2);
    lines.insert(state + " " + kind + " " + use);
    if (ids) (*ids)[use] = id;
  }
  return lines;
}

class VerifyTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    for (const char* dir : {"", "/docs", "/hidden"}) mkdir((source_ + dir).c_str(), 0755);
    WriteFile(source_ + "/shared.txt", "the same words in two places\n");
    WriteFile(source_ + "/docs/shared-copy.txt", "the same words in two places\n");
    WriteFile(source_ + "/flip.bin", RandomBytes(20000, 1));
    WriteFile(source_ + "/swap-a.txt", "first of a pair\n");
    WriteFile(source_ + "/swap-b.txt", "second of a pair\n");
    WriteFile(source_ + "/hidden/below1.txt", "below a damaged tree\n");
    WriteFile(source_ + "/hidden/below2.bin", RandomBytes(9000, 2));
    WriteFile(source_ + "/big.bin", RandomBytes(3 << 20, 3));  // several chunks
    WriteFile(source_ + "/docs/readme.txt", "read me\n");
    for (int i = 0; i < 5; ++i) {
      WriteFile(source_ + "/keep" + std::to_string(i) + ".txt",
                "kept intact " + std::to_string(i) + "\n");
    }
  }

  // Servers started on demand would outlive the test by their idle time.
  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  // The snapshot path of a source file, as verify prints it.
  std::string At(const std::string& snapshot, const std::string& rel) const {
    return snapshot + ":" + source_ + "/" + rel;
  }

  // Stops the repository's server (it owns the database). A killed process
  // leaves /proc a moment before it has closed its files, so the locks are
  // waited for (bounded) rather than assumed free.
  void StopServers() { ASSERT_TRUE(KillServersOf(repo_)); }
  static constexpr std::chrono::milliseconds kLockWait{10000};

  // Runs `fn` on the repository opened in this process, then closes it.
  void WithRepository(const std::function<void(Repository&)>& fn) {
    StopServers();
    LocalOpenOptions options{kLockWait, "verify test"};
    auto repo =
        OpenLocalRepository(repo_, options, [this] { return Result<std::string>(passphrase_); });
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    fn(**repo);
  }
  // Writes damage straight into the database, under the repository's lock.
  void Damage(const std::function<void(kv::Database&)>& fn) { ChangeStoppedDatabase(repo_, fn); }

  static ObjectId FirstChunk(Repository& repo, const Snapshot& snap, const std::string& path) {
    auto entry = repo.LookupPath(snap, path);
    EXPECT_TRUE(entry.ok() && entry->extents_size() > 0) << path;
    return *ObjectId::FromBytes(AsBytes(entry->extents(0).chunk_id()));
  }

  // Restores each source file on its own: files in `affected` (relative
  // paths) must fail (exit 4 when damaged, 1 when missing), every other one
  // must come back intact.
  void ExpectRestores(const std::string& snapshot, const std::set<std::string>& affected) {
    int restored = 0;
    for (const std::string& path : FilesBelow(source_)) {
      std::string rel = path.substr(source_.size() + 1);
      std::string target = tmp_ / ("one" + std::to_string(restores_++));
      Output o = Coffer({"restore", snapshot, InSnapshot(path), "--target", target});
      if (affected.count(rel)) {
        EXPECT_EQ(o.code, 4)
            << rel << " restored although verify named it (missing or damaged data is exit 4): "
            << o.all();
        EXPECT_FALSE(ReadFile(target + path) == ReadFile(path)) << rel << " restored whole";
      } else {
        EXPECT_EQ(o.code, 0) << rel << ": " << o.all();
        EXPECT_TRUE(ReadFile(target + path) == ReadFile(path)) << rel << " differs";
        ++restored;
      }
    }
    EXPECT_EQ(restored + affected.size(), FilesBelow(source_).size());
  }

  std::string source_;
};

TEST_F(VerifyTest, IntactRepositoryVerifiesCleanly) {
  Backup({source_});
  Output o = Coffer({"verify"});
  EXPECT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find("no damage found"), std::string::npos) << o.err;

  Output j = Coffer({"verify", "--json"});
  ASSERT_EQ(j.code, 0) << j.all();
  auto result = nlohmann::json::parse(j.out);
  EXPECT_TRUE(result["ok"].get<bool>());
  EXPECT_TRUE(result["damaged"].empty());
  EXPECT_FALSE(result["sampled"].get<bool>());
  EXPECT_GE(result["bytes_checked"].get<uint64_t>(), uint64_t{3 << 20});
  EXPECT_GE(result["chunks_checked"].get<uint64_t>(), 14u);
  ASSERT_EQ(result["snapshots"].size(), 1u);
  EXPECT_TRUE(result["snapshots"][0]["ok"].get<bool>());
}

TEST_F(VerifyTest, NamesExactlyTheDamagedFilesAndEveryOtherFileRestores) {
  std::string first = Backup({source_})["snapshot"];
  WriteFile(source_ + "/keep0.txt", "changed before the second snapshot\n");
  std::string second = Backup({source_})["snapshot"];

  ObjectId shared, flip, swap_a, swap_b, hidden;
  WithRepository([&](Repository& repo) {
    auto snap = repo.FindSnapshot(first);
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    shared = FirstChunk(repo, *snap, source_ + "/shared.txt");
    flip = FirstChunk(repo, *snap, source_ + "/flip.bin");
    swap_a = FirstChunk(repo, *snap, source_ + "/swap-a.txt");
    swap_b = FirstChunk(repo, *snap, source_ + "/swap-b.txt");
    hidden =
        *ObjectId::FromBytes(AsBytes(repo.LookupPath(*snap, source_ + "/hidden")->subtree_id()));
  });
  Damage([&](kv::Database& db) {
    using kv::Column;
    ASSERT_TRUE(db.Delete(Column::kChunks, Key(shared), kv::Durability::kSynced).ok());
    Bytes value = *db.Get(Column::kChunks, Key(flip));
    value[value.size() / 2] ^= 0x10;
    ASSERT_TRUE(db.Put(Column::kChunks, Key(flip), value, kv::Durability::kSynced).ok());
    Bytes a = *db.Get(Column::kChunks, Key(swap_a)), b = *db.Get(Column::kChunks, Key(swap_b));
    ASSERT_TRUE(db.Put(Column::kChunks, Key(swap_a), b, kv::Durability::kSynced).ok());
    ASSERT_TRUE(db.Put(Column::kChunks, Key(swap_b), a, kv::Durability::kSynced).ok());
    Bytes tree = *db.Get(Column::kTrees, Key(hidden));
    tree[tree.size() / 2] ^= 0x01;
    ASSERT_TRUE(db.Put(Column::kTrees, Key(hidden), tree, kv::Durability::kSynced).ok());
  });

  Output o = Coffer({"verify"});
  EXPECT_EQ(o.code, 4) << o.all();
  std::map<std::string, std::string> ids;
  std::multiset<std::string> expected;
  for (const std::string& snap : {first, second}) {
    expected.insert("missing chunk " + At(snap, "shared.txt"));
    expected.insert("missing chunk " + At(snap, "docs/shared-copy.txt"));
    expected.insert("damaged chunk " + At(snap, "flip.bin"));
    expected.insert("damaged chunk " + At(snap, "swap-a.txt"));
    expected.insert("damaged chunk " + At(snap, "swap-b.txt"));
    expected.insert("damaged tree " + At(snap, "hidden"));
  }
  EXPECT_EQ(Reported(o.out, &ids), expected) << o.out;
  EXPECT_EQ(ids[At(first, "shared.txt")], shared.hex());
  EXPECT_EQ(ids[At(second, "flip.bin")], flip.hex());
  EXPECT_EQ(ids[At(first, "hidden")], hidden.hex());
  EXPECT_NE(o.err.find("5 objects damaged or missing, used by 2 of 2 snapshots"), std::string::npos)
      << o.err;

  // Only the snapshot asked for is verified and named.
  Output only = Coffer({"verify", "--snapshot", first});
  EXPECT_EQ(only.code, 4) << only.all();
  EXPECT_EQ(only.out.find(second), std::string::npos) << only.out;
  EXPECT_EQ(Reported(only.out).size(), 6u) << only.out;

  Output j = Coffer({"verify", "--json"});
  EXPECT_EQ(j.code, 4) << j.all();
  auto result = nlohmann::json::parse(j.out);
  EXPECT_FALSE(result["ok"].get<bool>());
  ASSERT_EQ(result["damaged"].size(), 5u) << j.out;
  std::set<std::string> states;
  for (const auto& d : result["damaged"]) {
    states.insert(d["state"].get<std::string>() + " " + d["kind"].get<std::string>());
    EXPECT_FALSE(d["uses"].empty()) << d.dump();
    EXPECT_FALSE(d["error"].get<std::string>().empty());
    if (d["id"] == shared.hex()) {
      std::set<std::string> paths;
      for (const auto& u : d["uses"])
        paths.insert(u["snapshot"].get<std::string>() + ":" + u["path"].get<std::string>());
      EXPECT_EQ(paths, (std::set<std::string>{
                           At(first, "shared.txt"), At(first, "docs/shared-copy.txt"),
                           At(second, "shared.txt"), At(second, "docs/shared-copy.txt")}));
    }
  }
  EXPECT_EQ(states, (std::set<std::string>{"missing chunk", "damaged chunk", "damaged tree"}));
  for (const auto& s : result["snapshots"]) EXPECT_EQ(s["damaged_objects"], 5) << s.dump();

  ExpectRestores(second, {"shared.txt", "docs/shared-copy.txt", "flip.bin", "swap-a.txt",
                          "swap-b.txt", "hidden/below1.txt", "hidden/below2.bin"});
}

TEST_F(VerifyTest, BitRotInBlobFilesIsNamedAndEverythingElseRestores) {
  for (int i = 0; i < 12; ++i) {
    WriteFile(source_ + "/docs/blob" + std::to_string(i) + ".bin",
              RandomBytes(40000 + 7000 * i, 100 + i));
  }
  std::string snap = Backup({source_})["snapshot"];
  StopServers();
  {
    auto lock = RepoLock::Acquire(RepoLayout(repo_).lock(), kLockWait, "verify test");
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    ASSERT_GT(FlipMiddleOfBlobFiles(repo_ + "/db"), 0) << "no blob files: chunk data is elsewhere";
  }

  Output o = Coffer({"verify"});
  EXPECT_EQ(o.code, 4) << o.all();
  std::set<std::string> affected;
  std::string prefix = "damaged chunk " + snap + ":" + source_ + "/";
  for (const std::string& line : Reported(o.out)) {
    ASSERT_TRUE(line.starts_with(prefix)) << line;
    affected.insert(line.substr(prefix.size()));
  }
  ASSERT_FALSE(affected.empty()) << o.all();
  ExpectRestores(snap, affected);
}

TEST_F(VerifyTest, SampleOfZeroReadsTreesOnly) {
  std::string snap = Backup({source_})["snapshot"];
  ObjectId flip;
  WithRepository([&](Repository& repo) {
    flip = FirstChunk(repo, *repo.FindSnapshot(snap), source_ + "/flip.bin");
  });
  Damage([&](kv::Database& db) {
    ASSERT_TRUE(db.Delete(kv::Column::kChunks, Key(flip), kv::Durability::kSynced).ok());
  });

  Output trees_only = Coffer({"verify", "--sample", "0", "--json"});
  EXPECT_EQ(trees_only.code, 0) << trees_only.all();
  auto result = nlohmann::json::parse(trees_only.out);
  EXPECT_TRUE(result["sampled"].get<bool>());
  EXPECT_EQ(result["chunks_checked"], 0);
  EXPECT_GT(result["trees_checked"].get<int>(), 3);

  Output all = Coffer({"verify", "--sample", "100%"});
  EXPECT_EQ(all.code, 4) << all.all();
  EXPECT_EQ(Reported(all.out),
            (std::multiset<std::string>{"missing chunk " + At(snap, "flip.bin")}));
}

nlohmann::json LastVerifyOf(const nlohmann::json& snapshots, const std::string& name) {
  for (const auto& s : snapshots) {
    if (s["name"] == name) return s["last_verify"];
  }
  ADD_FAILURE() << name << " is not listed";
  return nullptr;
}

// The names of the snapshots a `verify --json` run verified.
std::set<std::string> VerifiedIn(const Output& o) {
  std::set<std::string> names;
  auto result = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(result.is_object()) << o.all();
  if (!result.is_object()) return names;
  for (const auto& s : result["snapshots"]) names.insert(s["name"].get<std::string>());
  return names;
}

TEST_F(VerifyTest, OutcomeIsRecordedAndShownBySnapshots) {
  std::string snap = Backup({source_})["snapshot"];
  EXPECT_TRUE(LastVerifyOf(Snapshots(), snap).is_null());
  Output never = Coffer({"snapshots"});
  ASSERT_EQ(never.code, 0) << never.all();
  EXPECT_NE(never.out.find("Verified"), std::string::npos) << never.out;

  Output verify = Coffer({"verify", "--json"});
  ASSERT_EQ(verify.code, 0) << verify.all();
  auto result = nlohmann::json::parse(verify.out);
  nlohmann::json record = LastVerifyOf(Snapshots(), snap);
  ASSERT_TRUE(record.is_object()) << record.dump();
  EXPECT_TRUE(record["ok"].get<bool>());
  EXPECT_FALSE(record["sampled"].get<bool>());
  EXPECT_EQ(record["damaged_objects"], 0);
  EXPECT_EQ(record["objects_checked"], result["snapshots"][0]["objects_checked"]);
  EXPECT_EQ(record["bytes_checked"], result["snapshots"][0]["bytes_checked"]);
  std::string day = record["time"].get<std::string>().substr(0, 10);
  Output listed = Coffer({"snapshots"});
  EXPECT_NE(listed.out.find(day + " ok"), std::string::npos) << listed.out;

  ObjectId flip;
  WithRepository([&](Repository& repo) {
    flip = FirstChunk(repo, *repo.FindSnapshot(snap), source_ + "/flip.bin");
  });
  Damage([&](kv::Database& db) {
    ASSERT_TRUE(db.Delete(kv::Column::kChunks, Key(flip), kv::Durability::kSynced).ok());
  });
  EXPECT_EQ(Coffer({"verify", "--sample", "100"}).code, 4);
  record = LastVerifyOf(Snapshots(), snap);
  EXPECT_FALSE(record["ok"].get<bool>());
  EXPECT_EQ(record["damaged_objects"], 1);
  EXPECT_NE(Coffer({"snapshots"}).out.find(day + " DAMAGED"), std::string::npos);

  EXPECT_EQ(Coffer({"verify", "--sample", "0"}).code, 0);
  record = LastVerifyOf(Snapshots(), snap);
  EXPECT_TRUE(record["sampled"].get<bool>());
  EXPECT_NE(Coffer({"snapshots"}).out.find(day + " sample ok"), std::string::npos);
}

TEST_F(VerifyTest, OlderThanSkipsRecentlyVerifiedSnapshots) {
  std::string first = Backup({source_})["snapshot"];
  ASSERT_EQ(Coffer({"verify", "-q"}).code, 0);
  int64_t first_verified = LastVerifyOf(Snapshots(), first)["time_ns"];
  WriteFile(source_ + "/keep1.txt", "changed\n");
  std::string second = Backup({source_})["snapshot"];

  // Only the never verified snapshot is due within a day.
  Output due = Coffer({"verify", "--older-than", "1d", "--json"});
  EXPECT_EQ(due.code, 0) << due.all();
  EXPECT_EQ(VerifiedIn(due), std::set<std::string>{second});
  EXPECT_EQ(LastVerifyOf(Snapshots(), first)["time_ns"], first_verified) << "verified again";
  EXPECT_TRUE(LastVerifyOf(Snapshots(), second).is_object());

  Output none = Coffer({"verify", "--older-than", "1d"});
  EXPECT_EQ(none.code, 0) << none.all();
  EXPECT_NE(none.err.find("all 2 snapshots were verified within 1d"), std::string::npos)
      << none.err;

  // Every verification so far is older than no time at all.
  Output old = Coffer({"verify", "--older-than", "0s", "--json"});
  EXPECT_EQ(old.code, 0) << old.all();
  EXPECT_EQ(VerifiedIn(old), (std::set<std::string>{first, second}));
  EXPECT_GT(LastVerifyOf(Snapshots(), first)["time_ns"].get<int64_t>(), first_verified);

  // With --snapshot, only the snapshots named are considered.
  Output named = Coffer({"verify", "--older-than", "0s", "--snapshot", first, "--json"});
  EXPECT_EQ(VerifiedIn(named), std::set<std::string>{first});
}

TEST_F(VerifyTest, BadArgumentsExitWithUsageError) {
  Backup({source_});
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"verify", "--sample", "abc"},
        {"verify", "--sample", "150"},
        {"verify", "--sample", "-1"},
        {"verify", "--snapshot", "no-such-group"},
        {"verify", "--older-than", "soon"},
        {"verify", "--older-than", ""}}) {
    Output o = Coffer(args);
    EXPECT_EQ(o.code, 2) << args.back() << ": " << o.all();
    EXPECT_NE(o.err.find("coffer: "), std::string::npos) << o.err;
  }
  Output missing = Coffer({"verify", "--snapshot", group_ + "/2001-01-01T00:00:00Z"});
  EXPECT_EQ(missing.code, 1) << missing.all();
}

}  // namespace
}  // namespace coffer::e2e
