// A repository whose database files are damaged (its MANIFEST cut short or
// altered, CURRENT or OPTIONS damaged): every command refuses it with exit
// 4 and the way out, no file of the repository is removed, and
// `coffer repair` brings every snapshot back, restoring exactly.
#include <sys/stat.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

namespace fs = std::filesystem;
using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;

// Name -> size of every file under the repository's db/, LOG files aside.
std::map<std::string, uintmax_t> DbFiles(const std::string& repo) {
  std::map<std::string, uintmax_t> files;
  for (const auto& e : fs::directory_iterator(repo + "/db")) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() && !name.starts_with("LOG")) files[name] = e.file_size();
  }
  return files;
}

std::string FileStartingWith(const std::string& dir, const std::string& prefix) {
  std::string found;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.starts_with(prefix) && name > found) found = name;
  }
  return found;
}

class DamagedDbTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    mkdir(source_.c_str(), 0755);
    mkdir((source_ + "/etc").c_str(), 0755);
    WriteFile(source_ + "/etc/small.conf", "setting = 1\n");
    WriteFile(source_ + "/big.bin", RandomBytes(3 << 20, 7));  // chunks in blob files
    // Two groups, two snapshots; --no-server, so the database is closed
    // cleanly after each (as a server that stops after being idle does).
    for (const char* group : {"host/a", "host/b"}) {
      Output backup = Coffer({"backup", "--no-server", "--group", group, source_});
      ASSERT_EQ(backup.code, 0) << backup.all();
    }
    pristine_ = tmp_ / "pristine";
    fs::copy(repo_, pristine_, fs::copy_options::recursive);
  }

  Output In(const std::string& repo, std::vector<std::string> args) {
    args.insert(args.begin(), {"-r", repo});
    return CofferRaw(args, PassEnv());
  }

  // Every snapshot restores exactly and verify is clean.
  void ExpectIntact(const std::string& repo) {
    Output listing = In(repo, {"snapshots", "--json"});
    ASSERT_EQ(listing.code, 0) << listing.all();
    ASSERT_EQ(nlohmann::json::parse(listing.out).size(), 2u) << listing.out;
    for (const char* group : {"host/a", "host/b"}) {
      const std::string target = tmp_ / ("restored-" + std::to_string(copies_) + group[5]);
      Output restore = In(repo, {"restore", std::string(group) + "/latest", "--target", target});
      ASSERT_EQ(restore.code, 0) << restore.all();
      EXPECT_TRUE(Compare(source_, target).empty());
    }
    Output verify = In(repo, {"verify"});
    EXPECT_EQ(verify.code, 0) << verify.all();
    EXPECT_TRUE(KillServersOf(repo));
  }

  // Damages a fresh copy of the repository with `damage`. Either the damage
  // is harmless (the end of the MANIFEST held no files) and everything is
  // intact, or every command refuses the repository clearly and removes
  // nothing, and repair brings it all back. Returns whether it was refused.
  bool RefusedThenRepaired(const std::function<void(const std::string& db)>& damage) {
    const std::string repo = tmp_ / ("work-" + std::to_string(++copies_));
    fs::copy(pristine_, repo, fs::copy_options::recursive);
    damage(repo + "/db");
    const auto before = DbFiles(repo);

    Output local = In(repo, {"snapshots", "--no-server"});
    if (local.code == 0) {
      ExpectIntact(repo);
      return false;
    }
    EXPECT_EQ(local.code, 4) << local.all();
    EXPECT_NE(local.err.find("is damaged"), std::string::npos) << local.err;
    EXPECT_NE(local.err.find("coffer repair"), std::string::npos) << local.err;
    // Through a server started on demand: its failure reaches the client.
    Output served = In(repo, {"verify"});
    EXPECT_EQ(served.code, 4) << served.all();
    EXPECT_NE(served.err.find("coffer repair"), std::string::npos) << served.err;
    EXPECT_EQ(In(repo, {"backup", "--group", "host/a", source_}).code, 4);
    // A server started by hand in the background says so too, not "serving".
    Output serve = In(repo, {"serve"});
    EXPECT_EQ(serve.code, 4) << serve.all();
    EXPECT_NE(serve.err.find("is damaged"), std::string::npos) << serve.err;
    EXPECT_EQ(DbFiles(repo), before) << "a refused open changed or removed files";

    Output repair = In(repo, {"repair"});
    EXPECT_EQ(repair.code, 0) << repair.all();
    EXPECT_NE(repair.out.find("db.damaged-"), std::string::npos) << repair.out;
    ExpectIntact(repo);
    return true;
  }
  void ExpectRefusedThenRepaired(const std::function<void(const std::string& db)>& damage) {
    EXPECT_TRUE(RefusedThenRepaired(damage));
  }

  std::string source_, pristine_;
  int copies_ = 0;
};

TEST_F(DamagedDbTest, ManifestCutShortIsRefusedThenRepaired) {
  const std::string manifest = FileStartingWith(pristine_ + "/db", "MANIFEST-");
  const uintmax_t size = fs::file_size(pristine_ + "/db/" + manifest);
  int refused = 0;
  for (uintmax_t cut : {uintmax_t{1}, uintmax_t{17}, uintmax_t{33}, uintmax_t{48}, uintmax_t{64},
                        uintmax_t{80}, size / 2}) {
    SCOPED_TRACE("MANIFEST cut by " + std::to_string(cut) + " of " + std::to_string(size));
    refused += RefusedThenRepaired(
        [&](const std::string& db) { fs::resize_file(db + "/" + manifest, size - cut); });
  }
  EXPECT_GE(refused, 5);
}

TEST_F(DamagedDbTest, ManifestWithAlteredBytesIsRefusedThenRepaired) {
  const std::string manifest = FileStartingWith(pristine_ + "/db", "MANIFEST-");
  const uintmax_t size = fs::file_size(pristine_ + "/db/" + manifest);
  for (uintmax_t at : {uintmax_t{10}, size / 3, size - 5}) {
    SCOPED_TRACE("MANIFEST byte " + std::to_string(at) + " altered");
    ExpectRefusedThenRepaired([&](const std::string& db) {
      std::string content = ReadFile(db + "/" + manifest);
      content[at] = static_cast<char>(content[at] ^ 0x21);
      WriteFile(db + "/" + manifest, content);
    });
  }
}

TEST_F(DamagedDbTest, DamagedCurrentIsRefusedThenRepaired) {
  for (const std::string content : {"", "MANIFEST-0000", "MANIFEST-424242\n"}) {
    SCOPED_TRACE("CURRENT = '" + content + "'");
    ExpectRefusedThenRepaired([&](const std::string& db) { WriteFile(db + "/CURRENT", content); });
  }
  SCOPED_TRACE("CURRENT removed");
  ExpectRefusedThenRepaired([](const std::string& db) { fs::remove(db + "/CURRENT"); });
}

TEST_F(DamagedDbTest, DamagedOptionsIsRefusedThenRepaired) {
  const std::string options = FileStartingWith(pristine_ + "/db", "OPTIONS-");
  ASSERT_FALSE(options.empty());
  ExpectRefusedThenRepaired([&](const std::string& db) { fs::resize_file(db + "/" + options, 0); });
  ExpectRefusedThenRepaired([&](const std::string& db) {
    fs::resize_file(db + "/" + options, fs::file_size(db + "/" + options) / 2);
  });
}

TEST_F(DamagedDbTest, RepairRefusesWhileTheRepositoryIsInUse) {
  Output listing = Coffer({"snapshots"});  // starts a server that holds the lock
  ASSERT_EQ(listing.code, 0) << listing.all();
  Output repair = Coffer({"repair"});
  EXPECT_EQ(repair.code, 11) << repair.all();
  EXPECT_NE(repair.err.find("in use"), std::string::npos) << repair.err;
  EXPECT_TRUE(KillServersOf(repo_));
}

}  // namespace
}  // namespace coffer::e2e
