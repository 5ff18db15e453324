// Every exit code coffer(1) documents that a test can provoke, with the
// message that goes with it.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::ReadFile;
using testing::WriteFile;

class ExitCodesTest : public CofferTest {};

TEST_F(ExitCodesTest, UnknownOptionExitsWith2) {
  Output sub = Coffer({"snapshots", "--no-such-option"});
  EXPECT_EQ(sub.code, 2) << sub.all();
  EXPECT_NE(sub.err.find("--no-such-option"), std::string::npos) << sub.err;
  Output global = Coffer({"--no-such-option", "snapshots"});
  EXPECT_EQ(global.code, 2) << global.all();
}

TEST_F(ExitCodesTest, AnOptionThatTakesOneValueGivenTwiceExitsWith2) {
  Output twice = Coffer({"backup", "--group", group_, "--group", "host/other", tmp_.path()});
  EXPECT_EQ(twice.code, 2) << twice.all();
  EXPECT_EQ(twice.err, "coffer: --group may be given only once (see coffer --help)\n");
}

// mount(8) reads its helper's status: 1 for bad options, 32 for a mount
// that failed.
TEST_F(ExitCodesTest, MountCofferExitsOneForABadOptionValueAnd32ForAFailedMount) {
  const std::string helper = tmp_ / "mount.coffer";
  ASSERT_EQ(symlink(COFFER_BINARY, helper.c_str()), 0);
  const std::string mountpoint = tmp_ / "mountpoint";
  ASSERT_EQ(mkdir(mountpoint.c_str(), 0755), 0);
  Output bad_value = RunProcess({helper, repo_, mountpoint, "-o", "cache-size=12Q"}, PassEnv());
  EXPECT_EQ(bad_value.code, 1) << bad_value.all();
  EXPECT_NE(bad_value.err.find("12Q"), std::string::npos) << bad_value.all();
  testing::WriteFile(mountpoint + "/in-the-way", "x");
  Output failed = RunProcess({helper, repo_, mountpoint}, PassEnv());
  EXPECT_EQ(failed.code, 32) << failed.all();
}

TEST_F(ExitCodesTest, NoCommandOrMissingArgumentExitsWith2) {
  EXPECT_EQ(Coffer({}).code, 2);
  EXPECT_EQ(Coffer({"ls"}).code, 2) << "SNAPSHOT is required";
  EXPECT_EQ(Coffer({"restore", "host/e2e/latest"}).code, 2) << "--target is required";
  EXPECT_EQ(Coffer({"backup", "--group", group_}).code, 2) << "no PATH";
  Output unknown = Coffer({"frobnicate", "now"});
  EXPECT_EQ(unknown.code, 2) << unknown.all();
  EXPECT_EQ(unknown.err, "coffer: unknown command 'frobnicate' (see coffer --help)\n");
}

// What a command prints is its answer: output that cannot be written is a
// failure with one line saying so, never a crash or a success.
TEST_F(ExitCodesTest, StandardOutputThatCannotBeWrittenExitsWith1) {
  std::string src = tmp_ / "src";
  std::filesystem::create_directories(src);
  std::string big(256 * 1024, 'x');  // more than stdio buffers
  WriteFile(src + "/big", big);
  for (int i = 0; i < 200; ++i) WriteFile(src + "/file-" + std::to_string(i), "f");
  Backup({src});
  const std::string snapshot = group_ + "/latest";
  const std::vector<std::vector<std::string>> commands = {
      {"snapshots"},
      {"snapshots", "--json"},
      {"ls", snapshot},
      {"ls", "-R", snapshot},
      {"diff", snapshot, snapshot},
      {"cat", snapshot, src.substr(1) + "/big"}};
  for (const auto& command : commands) {
    std::vector<std::string> argv = {"sh",          "-c", "exec \"$0\" \"$@\" > /dev/full",
                                     COFFER_BINARY, "-r", repo_};
    argv.insert(argv.end(), command.begin(), command.end());
    Output out = RunProcess(argv, PassEnv());
    EXPECT_EQ(out.code, 1) << command[0] << ": " << out.all();
    EXPECT_NE(out.err.find("standard output"), std::string::npos) << command[0] << ": " << out.err;
    EXPECT_EQ(std::count(out.err.begin(), out.err.end(), '\n'), 1) << out.err;
  }
}

TEST_F(ExitCodesTest, BadTimeExitsWith2) {
  WriteFile(tmp_ / "f", "x");
  for (std::string bad : {"yesterday", "2020-13-01T00:00:00Z", "2020-01-02T03:04:05.5Z"}) {
    Output o = Coffer({"backup", "--group", group_, "--time", bad, tmp_ / "f"});
    EXPECT_EQ(o.code, 2) << bad << ": " << o.all();
    EXPECT_FALSE(o.err.empty()) << bad;
  }
  EXPECT_TRUE(Snapshots().empty());
}

// Times the format cannot hold, and days that do not exist: refused, not
// wrapped around (3000 was stored as 1830) or normalized (Feb 31 as Mar 3).
TEST_F(ExitCodesTest, TimeOutsideTheRangeOrOnADayThatDoesNotExistExitsWith2) {
  WriteFile(tmp_ / "f", "x");
  for (std::string bad : {"3000-01-01T00:00:00Z", "2262-04-11T23:47:17Z", "1969-12-31T23:59:59Z",
                          "2026-02-31T00:00:00Z", "2025-02-29T00:00:00Z", "2026-01-01T24:00:00Z",
                          "2026-01-01T12:60:00Z"}) {
    Output o = Coffer({"backup", "--group", group_, "--time", bad, tmp_ / "f"});
    EXPECT_EQ(o.code, 2) << bad << ": " << o.all();
    EXPECT_NE(o.err.find("invalid time '" + bad + "'"), std::string::npos) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  }
  EXPECT_TRUE(Snapshots().empty());
  // The ends of the range are taken.
  Output last = Coffer({"backup", "--group", group_, "--time", "2262-04-11T23:47:16Z", tmp_ / "f"});
  EXPECT_EQ(last.code, 0) << last.all();
  ASSERT_EQ(Snapshots().size(), 1u);
  EXPECT_EQ(Snapshots()[0].value("time", ""), "2262-04-11T23:47:16Z");

  // Snapshot names on the command line go through the same check.
  for (std::string name : {group_ + "/2026-02-31T00:00:00Z", group_ + "/3000-01-01T00:00:00Z"}) {
    for (const std::vector<std::string>& args : {std::vector<std::string>{"ls", name},
                                                 {"forget", name},
                                                 {"protect", name},
                                                 {"restore", name, "--target", tmp_ / "t"},
                                                 {"verify", "--snapshot", name}}) {
      Output o = Coffer(args);
      EXPECT_EQ(o.code, 2) << args[0] << " " << name << ": " << o.all();
      EXPECT_NE(o.err.find("invalid time"), std::string::npos) << o.err;
    }
  }
  EXPECT_EQ(Snapshots().size(), 1u);
}

// Argon2id costs the key could not be wrapped or unwrapped with are refused
// before the folder is touched: none is created, an empty one stays empty.
TEST_F(ExitCodesTest, InitKdfParametersOutOfRangeExitWith2AndLeaveNothing) {
  const std::string existing = tmp_ / "empty";
  ASSERT_EQ(mkdir(existing.c_str(), 0700), 0);
  const std::vector<std::vector<std::string>> bad = {
      {"--kdf-memory", "1K"}, {"--kdf-memory", "8191"}, {"--kdf-memory", "5G"},
      {"--kdf-ops", "0"},     {"--kdf-ops", "65"},      {"--kdf-ops", "1000"},
  };
  for (const auto& option : bad) {
    for (const std::string& dir : {tmp_ / "new", existing}) {
      std::vector<std::string> args = {"-r", dir, "init"};
      args.insert(args.end(), option.begin(), option.end());
      Output o = CofferRaw(args, PassEnv());
      EXPECT_EQ(o.code, 2) << option[0] << " " << option[1] << ": " << o.all();
      EXPECT_NE(o.err.find(option[0]), std::string::npos) << o.err;
      EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    }
    struct stat st;
    EXPECT_NE(stat((tmp_ / "new").c_str(), &st), 0) << option[1] << ": the folder was created";
    EXPECT_TRUE(FilesBelow(existing).empty()) << option[1];
    DIR* d = opendir(existing.c_str());
    ASSERT_NE(d, nullptr);
    int entries = 0;
    while (dirent* e = readdir(d)) entries += e->d_name[0] == '.' ? 0 : 1;
    closedir(d);
    EXPECT_EQ(entries, 0) << option[1] << ": the empty folder was written to";
  }
  // The ends of the ranges are taken.
  Output low =
      CofferRaw({"-r", tmp_ / "low", "init", "--kdf-ops", "1", "--kdf-memory", "8K"}, PassEnv());
  EXPECT_EQ(low.code, 0) << low.all();
}

TEST_F(ExitCodesTest, BadValuesExitWith2) {
  EXPECT_EQ(Coffer({"--lock-wait", "soon", "snapshots"}).code, 2);
  EXPECT_EQ(Coffer({"backup", "--group", "no-slash", tmp_.path()}).code, 2);
  EXPECT_EQ(Coffer({"snapshots", "--group", "no-slash"}).code, 2);
  Output tag = Coffer({"backup", "--group", group_, "--tag", "a,b", tmp_.path()});
  EXPECT_EQ(tag.code, 2) << tag.all();
  EXPECT_NE(tag.err.find("give one --tag for each tag"), std::string::npos) << tag.all();
  Output excluded = Coffer({"backup", "--group", group_, "--exclude", "*", tmp_.path()});
  EXPECT_EQ(excluded.code, 2) << excluded.all();
  EXPECT_NE(excluded.err.find("every PATH given is excluded"), std::string::npos) << excluded.all();
  Output level = CofferRaw({"-r", tmp_ / "other", "init", "--compression-level", "20"}, PassEnv());
  EXPECT_EQ(level.code, 2) << level.all();
  Output mode = CofferRaw({"-r", tmp_ / "other", "init", "--encryption", "rot13"}, PassEnv());
  EXPECT_EQ(mode.code, 2) << mode.all();
}

// Numbers too large for their type are refused, not wrapped around: 2^64 +
// 256 bytes was read as a minimum chunk size of 256, and a lock wait of 10^20
// seconds overflowed into a negative one.
TEST_F(ExitCodesTest, NumbersTooLargeExitWith2) {
  Output chunks = CofferRaw(
      {"-r", tmp_ / "other", "init", "--chunk-size", "18446744073709551872,1M,4M"}, PassEnv());
  EXPECT_EQ(chunks.code, 2) << chunks.all();
  Output wait = Coffer({"--lock-wait", "100000000000000000000", "snapshots"});
  EXPECT_EQ(wait.code, 2) << wait.all();
}

TEST_F(ExitCodesTest, InitChunkSizeOutsideTheRulesExitsWith2) {
  for (std::string bad :
       {"4K,2K,8K", "1K,3K,8K", "1K,4K,16M", "1K,4K", "1K,4K,8K,16K", "1K,x,8K"}) {
    Output o = CofferRaw({"-r", tmp_ / "other", "init", "--chunk-size", bad}, PassEnv());
    EXPECT_EQ(o.code, 2) << bad << ": " << o.all();
    EXPECT_NE(o.err.find("--chunk-size"), std::string::npos) << bad << ": " << o.err;
    struct stat st;
    EXPECT_NE(stat((tmp_ / "other").c_str(), &st), 0) << bad << ": the folder was created";
  }
}

TEST_F(ExitCodesTest, InitChunkSizeSetsTheChunksOfBackups) {
  const std::string small = tmp_ / "small";
  Output init = CofferRaw(
      {"-r", small, "init", "--kdf-ops", "1", "--kdf-memory", "8K", "--chunk-size", "1K,4K,16K"},
      PassEnv());
  ASSERT_EQ(init.code, 0) << init.all();
  WriteFile(tmp_ / "data", testing::RandomBytes(1 << 20, 7));
  Output backup =
      CofferRaw({"-r", small, "backup", "--group", "host/x", "--json", tmp_ / "data"}, PassEnv());
  ASSERT_EQ(backup.code, 0) << backup.all();
  // 1 MiB at a 4 KiB average: about 256 chunks; the default 1 MiB average gives a handful.
  const uint64_t chunks = nlohmann::json::parse(backup.out).value("chunks_added", uint64_t{0});
  EXPECT_GT(chunks, 64u) << backup.out;
  EXPECT_LE(chunks, 1024u) << backup.out;
}

TEST_F(ExitCodesTest, NoRepositoryGivenExitsWith2) {
  Output o = CofferRaw({"snapshots"}, PassEnv());
  EXPECT_EQ(o.code, 2) << o.all();
  EXPECT_NE(o.err.find("no repository"), std::string::npos) << o.err;
}

TEST_F(ExitCodesTest, RepositoryFromEnvironmentIsUsed) {
  std::vector<std::string> env = PassEnv();
  env.push_back("COFFER_REPO=" + repo_);
  Output o = CofferRaw({"snapshots", "--json"}, env);
  EXPECT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(o.out, "[]\n");
}

TEST_F(ExitCodesTest, FolderThatIsNoRepositoryExitsWith10) {
  mkdir((tmp_ / "empty").c_str(), 0755);
  Output empty = CofferRaw({"-r", tmp_ / "empty", "snapshots"}, PassEnv());
  EXPECT_EQ(empty.code, 10) << empty.all();
  EXPECT_NE(empty.err.find("no Coffer repository"), std::string::npos) << empty.err;
  Output missing = CofferRaw({"-r", tmp_ / "missing", "ls", "host/x/latest"}, PassEnv());
  EXPECT_EQ(missing.code, 10) << missing.all();
  struct stat st;
  EXPECT_NE(stat((tmp_ / "missing").c_str(), &st), 0) << "a read command created the folder";
}

TEST_F(ExitCodesTest, InitIntoANonEmptyFolderExitsWith1) {
  mkdir((tmp_ / "full").c_str(), 0755);
  WriteFile(tmp_ / "full/file", "x");
  Output o =
      CofferRaw({"-r", tmp_ / "full", "init", "--kdf-ops", "1", "--kdf-memory", "8K"}, PassEnv());
  EXPECT_EQ(o.code, 1) << o.all();
  EXPECT_EQ(ReadFile(tmp_ / "full/file"), "x");
}

TEST_F(ExitCodesTest, WrongPassphraseExitsWith12) {
  Output o = CofferRaw({"-r", repo_, "snapshots"}, {"COFFER_PASSPHRASE=not the passphrase"});
  EXPECT_EQ(o.code, 12) << o.all();
  EXPECT_NE(o.err.find("wrong passphrase"), std::string::npos) << o.err;
}

TEST_F(ExitCodesTest, PassphraseFromFileAndFdAreAccepted) {
  WriteFile(tmp_ / "pass", passphrase_ + "\n");
  Output file = CofferRaw({"-r", repo_, "--passphrase-file", tmp_ / "pass", "snapshots"});
  EXPECT_EQ(file.code, 0) << file.all();
  Output env_file =
      CofferRaw({"-r", repo_, "snapshots"}, {"COFFER_PASSPHRASE_FILE=" + tmp_ / "pass"});
  EXPECT_EQ(env_file.code, 0) << env_file.all();
  Output fd = CofferRaw({"-r", repo_, "--passphrase-fd", "0", "snapshots"}, {}, passphrase_ + "\n");
  EXPECT_EQ(fd.code, 0) << fd.all();
  Output wrong_fd = CofferRaw({"-r", repo_, "--passphrase-fd", "0", "snapshots"}, {}, "nope\n");
  EXPECT_EQ(wrong_fd.code, 12) << wrong_fd.all();
}

TEST_F(ExitCodesTest, NoPassphraseAndNoTerminalFails) {
  Output o = CofferRaw({"-r", repo_, "snapshots"});
  EXPECT_NE(o.code, 0) << o.all();
  EXPECT_NE(o.err.find("no passphrase"), std::string::npos) << o.err;
}

// True once some fd of `pid` refers to `path`: the process has opened it.
bool HasOpen(pid_t pid, const std::string& path) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = readdir(d)) {
    char target[PATH_MAX];
    ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target);
    if (n > 0 && std::string(target, static_cast<size_t>(n)) == path) found = true;
  }
  closedir(d);
  return found;
}

TEST_F(ExitCodesTest, LockedRepositoryExitsWith11AndLockWaitSucceedsWhenFreed) {
  // With --no-server a command opens the database itself and holds the lock:
  // a backup of stdin holds it while it reads.
  Child holder({COFFER_BINARY, "-r", repo_, "--no-server", "backup", "--stdin", "--stdin-name",
                "held", "--group", group_},
               PassEnv());
  std::string pid = std::to_string(holder.pid());
  ASSERT_TRUE(testing::WaitUntil([&] { return FileContains(repo_ + "/lock", "pid " + pid + " "); },
                                 std::chrono::seconds(10)))
      << "lock file: " << ReadFile(repo_ + "/lock");
  holder.WriteStdin("written while locked\n");

  Output locked = Coffer({"--no-server", "snapshots"});
  EXPECT_EQ(locked.code, 11) << locked.all();
  EXPECT_NE(locked.err.find("pid " + pid), std::string::npos) << locked.err;
  EXPECT_NE(locked.err.find("backup"), std::string::npos) << locked.err;

  Child waiter(
      {COFFER_BINARY, "-r", repo_, "--no-server", "--lock-wait", "30s", "snapshots", "--json"},
      PassEnv());
  // The waiter has reached the lock once it holds the lock file open.
  char real[PATH_MAX];
  ASSERT_NE(realpath((repo_ + "/lock").c_str(), real), nullptr);
  EXPECT_TRUE(
      testing::WaitUntil([&] { return HasOpen(waiter.pid(), real); }, std::chrono::seconds(10)))
      << "the waiter never opened the lock file";

  holder.CloseStdin();
  Output held = holder.Wait();
  EXPECT_EQ(held.code, 0) << held.all();
  Output waited = waiter.Wait();
  EXPECT_EQ(waited.code, 0) << waited.all();
  auto list = nlohmann::json::parse(waited.out, nullptr, false);
  ASSERT_TRUE(list.is_array()) << waited.out;
  ASSERT_EQ(list.size(), 1u) << "the waiter ran after the holder committed";
  Output cat = Coffer({"cat", group_ + "/latest", "held"});
  EXPECT_EQ(cat.out, "written while locked\n");
}

// A file written to between the walk's stat and the end of its read: stored
// as read, like tar and borg do, but named, and the snapshot incomplete.
TEST_F(ExitCodesTest, AFileThatChangesWhileItIsReadIsNamedAndTheBackupExitsWith3) {
  std::string src = tmp_ / "src";
  std::filesystem::create_directories(src);
  WriteFile(src + "/growing", std::string(1 << 20, 'a'));
  Pause reading(tmp_ / "pause", "backup-file-read");
  std::vector<std::string> env = PassEnv();
  env.push_back(reading.Env());
  Child backup(
      {COFFER_BINARY, "-r", repo_, "--no-server", "backup", "--json", "--group", group_, src}, env);
  ASSERT_TRUE(reading.WaitReached()) << "the backup never read the file";
  {
    std::ofstream more(src + "/growing", std::ios::app);
    more << "written during the backup";
  }
  reading.Release();
  Output done = backup.Wait();
  EXPECT_EQ(done.code, 3) << done.all();
  EXPECT_NE(done.err.find("growing: changed while it was read"), std::string::npos) << done.err;
  auto summary = nlohmann::json::parse(done.out, nullptr, false);
  EXPECT_TRUE(summary.value("incomplete", false)) << done.out;

  // The next backup reads it again, whole.
  nlohmann::json again = Backup({src});
  EXPECT_EQ(again.value("files_changed", 0), 1) << again.dump();
  for (const auto& d : Compare(src, RestoreAll(again.value("snapshot", "?")))) ADD_FAILURE() << d;
}

// Runs coffer as uid/gid 65534 when root (so that a mode-000 file is unreadable).
class UnreadableTest : public CofferTest {
 protected:
  void SetUp() override {
    as_root_ = geteuid() == 0;
    binary_ = COFFER_BINARY;
    base_ = tmp_ / "nobody";
    if (as_root_) {
      // uid 65534 must reach the binary and every folder: the checkout may
      // sit below a private folder (mktemp -d makes 0700 ones), so both go to
      // a fresh world-traversable folder under /tmp.
      outside_.emplace("coffer-nobody", "/tmp");
      ASSERT_EQ(chmod(outside_->path().c_str(), 0755), 0);
      binary_ = *outside_ / "coffer";
      WriteFile(binary_, ReadFile(COFFER_BINARY));
      ASSERT_EQ(chmod(binary_.c_str(), 0755), 0);
      base_ = *outside_ / "nobody";
    }
    mkdir(base_.c_str(), 0755);
    if (as_root_) {
      ASSERT_EQ(chown(base_.c_str(), 65534, 65534), 0);
    }
    repo_ = base_ + "/repo";
    Output init = As({"-r", repo_, "init", "--kdf-ops", "1", "--kdf-memory", "8K"});
    ASSERT_EQ(init.code, 0) << init.all();
  }

  // Runs coffer as uid 65534 when root, in-process (--no-server) so that no
  // server outlives the test.
  Output As(const std::vector<std::string>& args) {
    std::vector<std::string> argv;
    if (as_root_) argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    argv.push_back(binary_);
    argv.push_back("--no-server");
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, PassEnv());
  }

  void Own(const std::string& path) {
    if (as_root_) {
      ASSERT_EQ(lchown(path.c_str(), 65534, 65534), 0) << path;
    }
  }

  bool as_root_ = false;
  std::optional<testing::TempDir> outside_;  // a world-traversable folder, as root
  std::string binary_, base_;
};

TEST_F(UnreadableTest, UnreadableFileExitsWith3AndTheRestIsStored) {
  std::string src = base_ + "/src";
  mkdir(src.c_str(), 0755);
  mkdir((src + "/sub").c_str(), 0755);
  WriteFile(src + "/a.txt", "alpha");
  WriteFile(src + "/sub/b.txt", "beta");
  WriteFile(src + "/secret", "do not read");
  for (const char* p : {"", "/sub", "/a.txt", "/sub/b.txt"}) Own(src + p);
  chmod((src + "/secret").c_str(), 0);  // owned by root when root, by us otherwise

  Output backup = As({"-r", repo_, "backup", "--group", group_, src});
  EXPECT_EQ(backup.code, 3) << backup.all();
  EXPECT_NE(backup.err.find(InSnapshot(src) + "/secret"), std::string::npos) << backup.err;
  EXPECT_NE(backup.err.find("incomplete"), std::string::npos) << backup.err;

  Output list = As({"-r", repo_, "snapshots", "--json"});
  ASSERT_EQ(list.code, 0) << list.all();
  auto snaps = nlohmann::json::parse(list.out, nullptr, false);
  ASSERT_TRUE(snaps.is_array() && snaps.size() == 1) << list.out;
  EXPECT_TRUE(snaps[0].value("incomplete", false)) << list.out;
  // The unreadable file is an error, not one of the files stored.
  EXPECT_EQ(snaps[0].value("files", 0), 2) << list.out;
  EXPECT_EQ(snaps[0].value("bytes", 0), 9) << list.out;

  std::string target = base_ + "/restore";
  mkdir(target.c_str(), 0755);
  Own(target);
  Output restore = As({"-r", repo_, "restore", "--target", target, group_ + "/latest"});
  EXPECT_EQ(restore.code, 0) << restore.all();
  EXPECT_EQ(ReadFile(target + src + "/a.txt"), "alpha");
  EXPECT_EQ(ReadFile(target + src + "/sub/b.txt"), "beta");
  struct stat st;
  EXPECT_NE(lstat((target + src + "/secret").c_str(), &st), 0) << "the unreadable file was stored";
}

TEST(HelpExitTest, HelpOfCofferAndEveryCommandExitsWith0) {
  for (std::string cmd : {"", "init", "backup", "snapshots", "ls", "restore", "cat"}) {
    std::vector<std::string> argv = {COFFER_BINARY};
    if (!cmd.empty()) argv.push_back(cmd);
    argv.push_back("--help");
    Output o = RunProcess(argv);
    EXPECT_EQ(o.code, 0) << cmd << ": " << o.all();
    EXPECT_NE(o.out.find("Usage"), std::string::npos) << cmd << ": " << o.out;
  }
  Output version = RunProcess({COFFER_BINARY, "--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.out.find("coffer"), std::string::npos);
}

}  // namespace
}  // namespace coffer::e2e
