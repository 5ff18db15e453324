// coffer gc with real processes: prune + gc gives the disk space back, and
// backups that run while a collection marks or sweeps lose nothing. The
// processes are held at named points (COFFER_PAUSE_AT, store/base/crash_point.h)
// so each interleaving happens for certain, without sleeping.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::RandomBytes;
using testing::WriteFile;

constexpr size_t kMiB = 1024 * 1024;

// Bytes the repository takes on disk (du).
uint64_t DiskUsage(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& path : FilesBelow(dir)) {
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

class GcTest : public CofferTest {
 protected:
  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  std::vector<std::string> Argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {COFFER_BINARY, "-r", repo_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  std::unique_ptr<Child> Start(const std::vector<std::string>& args, const std::string& env) {
    std::vector<std::string> full_env = PassEnv();
    full_env.push_back(env);
    auto child = std::make_unique<Child>(Argv(args), full_env);
    child->CloseStdin();
    return child;
  }
  nlohmann::json Gc() {
    Output o = Coffer({"gc", "--json"});
    EXPECT_EQ(o.code, 0) << o.all();
    auto j = nlohmann::json::parse(o.out, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  }
  void Forget(const std::string& snapshot) {
    Output o = Coffer({"forget", snapshot});
    ASSERT_EQ(o.code, 0) << o.all();
  }
  void ExpectRestoresExactly(const std::string& snapshot, const std::string& source) {
    std::string target = RestoreAll(snapshot);
    for (const auto& d : Compare(source, target)) ADD_FAILURE() << snapshot << ": " << d;
  }
  // A source tree: one large random file and a few small ones.
  std::string MakeSource(const std::string& name, uint64_t seed, size_t big_size) {
    std::string root = tmp_ / name;
    mkdir(root.c_str(), 0755);
    WriteFile(root + "/big.bin", RandomBytes(big_size, seed));
    mkdir((root + "/docs").c_str(), 0755);
    for (int i = 0; i < 5; ++i) {
      WriteFile(root + "/docs/note" + std::to_string(i), RandomBytes(3000 + i, seed * 10 + i));
    }
    return root;
  }
};

TEST_F(GcTest, PruneThenGcGivesTheSpaceBackAndKeepsTheRest) {
  std::string src = MakeSource("src", 1, 24 * kMiB);
  std::string old_snapshot = Backup({src}).value("snapshot", "?");
  ASSERT_EQ(unlink((src + "/big.bin").c_str()), 0);
  std::string kept = Backup({src}).value("snapshot", "?");
  Forget(old_snapshot);
  uint64_t before = DiskUsage(repo_);

  nlohmann::json report = Gc();
  EXPECT_GT(report.value("objects_deleted", 0), 10) << report.dump();
  EXPECT_GT(report.value("bytes_freed", 0), 20 * kMiB) << report.dump();
  uint64_t after = DiskUsage(repo_);
  EXPECT_LT(after + 20 * kMiB, before) << "du before " << before << ", after " << after;
  ExpectRestoresExactly(kept, src);

  // Nothing is left to collect.
  EXPECT_EQ(Gc().value("objects_deleted", -1), 0);
}

TEST_F(GcTest, GcDeletesNothingWhileEverySnapshotNeedsIt) {
  std::string src = MakeSource("src", 2, 2 * kMiB);
  std::string first = Backup({src}).value("snapshot", "?");
  WriteFile(src + "/docs/new", "new file\n");
  std::string second = Backup({src}).value("snapshot", "?");
  EXPECT_EQ(Gc().value("objects_deleted", -1), 0);
  ExpectRestoresExactly(second, src);
  Output o = Coffer({"ls", "-R", first});
  EXPECT_EQ(o.code, 0) << o.all();
}

// A backup during the mark dedups against objects nothing references any
// more (their snapshot was forgotten): the sweep must keep them.
TEST_F(GcTest, BackupDuringTheMarkLosesNothing) {
  std::string src = MakeSource("src", 3, 12 * kMiB);
  Forget(Backup({src}).value("snapshot", "?"));
  Pause marking(tmp_ / "pause", "gc-marking");
  auto gc = Start({"gc", "--json"}, marking.Env());
  ASSERT_TRUE(marking.WaitReached()) << "gc never reached its mark";

  nlohmann::json backup = Backup({src});
  EXPECT_EQ(backup.value("chunks_added", -1), 0)
      << "the backup should dedup against the old chunks";
  marking.Release();
  Output done = gc->Wait();
  ASSERT_EQ(done.code, 0) << done.all();
  ExpectRestoresExactly(backup.value("snapshot", "?"), src);
}

// The same while the server sweeps.
TEST_F(GcTest, BackupDuringTheSweepLosesNothing) {
  std::string src = MakeSource("src", 4, 12 * kMiB);
  Forget(Backup({src}).value("snapshot", "?"));
  ASSERT_TRUE(KillServersOf(repo_));
  Pause sweeping(tmp_ / "pause", "gc-sweeping");
  Output serve = RunProcess(Argv({"serve", "--idle-exit", "5m"}), {sweeping.Env()});
  ASSERT_EQ(serve.code, 0) << serve.all();
  auto gc = Start({"gc", "--json"}, "COFFER_UNUSED=1");
  ASSERT_TRUE(sweeping.WaitReached()) << "the server never reached its sweep";

  nlohmann::json backup = Backup({src});
  EXPECT_EQ(backup.value("chunks_added", -1), 0);
  sweeping.Release();
  Output done = gc->Wait();
  ASSERT_EQ(done.code, 0) << done.all();
  auto report = nlohmann::json::parse(done.out, nullptr, false);
  EXPECT_GT(report.value("objects_kept_for_running_backups", 0), 0) << done.out;
  ExpectRestoresExactly(backup.value("snapshot", "?"), src);
}

// A backup reuses unchanged files from its parent without asking the store;
// the parent is forgotten and collected while the backup runs.
TEST_F(GcTest, PrunedParentOfARunningBackupIsKept) {
  std::string src = MakeSource("src", 5, 12 * kMiB);
  std::string parent = Backup({src}).value("snapshot", "?");
  WriteFile(src + "/docs/changed", "a new file, so the backup is not empty\n");
  Pause registered(tmp_ / "pause", "backup-registered");
  auto backup = Start({"backup", "--json", "--group", group_, src}, registered.Env());
  ASSERT_TRUE(registered.WaitReached()) << "the backup never registered";

  Forget(parent);
  nlohmann::json gc = Gc();
  EXPECT_EQ(gc.value("objects_deleted", -1), 0) << gc.dump();
  registered.Release();
  Output done = backup->Wait();
  ASSERT_EQ(done.code, 0) << done.all();
  auto summary = nlohmann::json::parse(done.out, nullptr, false);
  EXPECT_GT(summary.value("files_unchanged", 0), 0) << done.out;
  ExpectRestoresExactly(summary.value("snapshot", "?"), src);
  // Once the backup has committed, the next collection still keeps it all.
  Gc();
  ExpectRestoresExactly(summary.value("snapshot", "?"), src);
}

}  // namespace
}  // namespace coffer::e2e
