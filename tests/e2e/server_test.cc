// coffer serve with real processes: concurrent clients of one repository,
// clients and servers killed mid-backup, idle exit, the socket's mode and
// --no-server. The protocol and its limits are covered by tests/store/service.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;

constexpr int kSigkillStatus = 128 + 9;
constexpr size_t kMiB = 1024 * 1024;

using Clock = std::chrono::steady_clock;

// The pid in REPO/lock ("pid N (coffer serve)"), or -1.
pid_t LockHolder(const std::string& repo) {
  std::string lock = ReadFile(repo + "/lock");
  if (!lock.starts_with("pid ")) return -1;
  return static_cast<pid_t>(std::atoi(lock.c_str() + 4));
}

// True once child `pid` has exited (it is left to be reaped by Child::Wait).
bool Exited(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
  return info.si_pid == pid;
}

// Total size of the regular files below `dir`.
uint64_t SizeBelow(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& path : FilesBelow(dir)) {
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

// A tree of `big` random files of `size` bytes each and a few small files.
void MakeTree(const std::string& root, uint64_t seed, int big, size_t size) {
  mkdir(root.c_str(), 0755);
  for (int i = 0; i < big; ++i) {
    WriteFile(root + "/big" + std::to_string(i) + ".bin",
              RandomBytes(size + 17 * i, seed * 100 + i));
  }
  mkdir((root + "/small").c_str(), 0755);
  for (int f = 0; f < 10; ++f) {
    WriteFile(root + "/small/f" + std::to_string(f),
              "small " + std::to_string(f) + "\n" + RandomBytes(50 + 31 * f, seed * 1000 + f));
  }
}

class ServerTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    if (HasFatalFailure()) return;
    socket_ = repo_ + "/serve.sock";
  }
  void TearDown() override {
    EXPECT_TRUE(KillServersOf(repo_))
        << "coffer serve processes of " << repo_ << " survived SIGKILL";
  }

  std::vector<std::string> CofferArgv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {COFFER_BINARY, "-r", repo_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  std::unique_ptr<Child> Start(const std::vector<std::string>& args,
                               const std::vector<std::string>& env = {}) {
    std::vector<std::string> full_env = PassEnv();
    full_env.insert(full_env.end(), env.begin(), env.end());
    return std::make_unique<Child>(CofferArgv(args), full_env);
  }
  // Waits for `child` (draining its output) at most `timeout`; past that it
  // fails the test and kills the child, so a hang cannot stall the suite.
  Output WaitBounded(Child& child, std::chrono::milliseconds timeout, const std::string& what) {
    pid_t pid = child.pid();
    std::mutex mu;
    std::condition_variable cv;
    bool done = false, killed = false;
    std::thread watchdog([&] {
      std::unique_lock lock(mu);
      if (!cv.wait_until(lock, Clock::now() + timeout, [&] { return done; })) {
        killed = true;
        kill(pid, SIGKILL);
      }
    });
    Output out = child.Wait();
    {
      std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_all();
    watchdog.join();
    if (killed) ADD_FAILURE() << what << " still running after " << timeout.count() << " ms";
    return out;
  }
  // Starts `coffer serve --foreground` with `extra` options and waits until it
  // holds the lock and listens.
  std::unique_ptr<Child> StartForegroundServer(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"serve", "--foreground"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<Child>(CofferArgv(args), std::vector<std::string>{});
    pid_t pid = server->pid();
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          struct stat st;
          return LockHolder(repo_) == pid && lstat(socket_.c_str(), &st) == 0 &&
                 S_ISSOCK(st.st_mode);
        },
        std::chrono::seconds(10)))
        << "lock: " << ReadFile(repo_ + "/lock");
    return server;
  }
  nlohmann::json ParseObject(const Output& o) {
    auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << o.all();
    return j.is_object() ? j : nlohmann::json::object();
  }
  std::vector<std::string> Names(const nlohmann::json& list) {
    std::vector<std::string> names;
    for (const auto& s : list) names.push_back(s.value("name", ""));
    std::sort(names.begin(), names.end());
    return names;
  }
  void ExpectRestoresExactly(const std::string& snapshot, const std::string& source) {
    std::string target = RestoreAll(snapshot);
    for (const auto& d : Compare(source, target)) ADD_FAILURE() << snapshot << ": " << d;
  }

  std::string socket_;
};

// gRPC's client reads "unix:PATH" as a URI: a comma split the path into
// two addresses, so every command after the first failed as if the lock
// were held by the server it had started itself.
TEST_F(ServerTest, ARepositoryWhosePathHoldsACommaOrPercentIsServedLikeAnyOther) {
  const std::string repo = tmp_ / "odd,repo%41";
  const std::string source = tmp_ / "odd-source";
  MakeTree(source, 7, 1, 100 * 1024);
  auto coffer = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"-r", repo});
    return CofferRaw(args, PassEnv());
  };
  Output init = coffer({"init", "--kdf-ops", "1", "--kdf-memory", "8K"});
  ASSERT_EQ(init.code, 0) << init.all();
  Output backup = coffer({"backup", "--group", "host/odd", source});
  ASSERT_EQ(backup.code, 0) << backup.all();
  // The listing starts a server and must reach it; the next one finds it.
  for (int round = 0; round < 2; ++round) {
    Output listed = coffer({"--lock-wait", "0", "snapshots", "--json"});
    ASSERT_EQ(listed.code, 0) << "round " << round << ": " << listed.all();
    EXPECT_EQ(nlohmann::json::parse(listed.out).size(), 1u) << listed.out;
  }
  Output again = coffer({"--lock-wait", "0", "backup", "--group", "host/odd", source});
  EXPECT_EQ(again.code, 0) << again.all();
  EXPECT_TRUE(KillServersOf(repo)) << "coffer serve of " << repo << " survived SIGKILL";
}

TEST_F(ServerTest, TwoBackupsOfDifferentGroupsStartedTogetherBothCommit) {
  std::string a = tmp_ / "a", b = tmp_ / "b";
  testing::MakeKitchenSinkTree(a);
  MakeTree(b, 2, 3, 2 * kMiB);
  ASSERT_TRUE(ServersOf(repo_).empty()) << "a server runs before the race";

  auto first = Start({"backup", "--json", "--group", "host/a", a});
  auto second = Start({"backup", "--json", "--group", "host/b", b});
  Output one = WaitBounded(*first, std::chrono::seconds(30), "backup of host/a");
  Output two = WaitBounded(*second, std::chrono::seconds(30), "backup of host/b");
  ASSERT_EQ(one.code, 0) << one.all();
  ASSERT_EQ(two.code, 0) << two.all();
  std::string name_a = ParseObject(one).value("snapshot", "?");
  std::string name_b = ParseObject(two).value("snapshot", "?");

  EXPECT_EQ(Names(Snapshots()), (std::vector<std::string>{name_a, name_b}));
  ExpectRestoresExactly(name_a, a);
  ExpectRestoresExactly(name_b, b);
  // The server that lost the race exited: one server remains.
  EXPECT_TRUE(
      testing::WaitUntil([&] { return ServersOf(repo_).size() == 1; }, std::chrono::seconds(5)))
      << ServersOf(repo_).size() << " servers";
}

TEST_F(ServerTest, BackupAndRestoreOfAnEarlierSnapshotAtOnceBothSucceed) {
  std::string old_src = tmp_ / "old", new_src = tmp_ / "new";
  MakeTree(old_src, 3, 2, 3 * kMiB);
  std::string earlier = Backup({old_src}).value("snapshot", "?");
  MakeTree(new_src, 4, 4, 8 * kMiB);  // 32 MiB

  std::string target = tmp_ / "restore-old";
  auto backup = Start({"backup", "--json", "--group", "host/new", new_src});
  auto restore = Start({"restore", "--target", target, earlier});
  Output r = WaitBounded(*restore, std::chrono::seconds(30), "restore");
  Output b = WaitBounded(*backup, std::chrono::seconds(30), "backup");
  ASSERT_EQ(r.code, 0) << r.all();
  ASSERT_EQ(b.code, 0) << b.all();
  for (const auto& d : Compare(old_src, target)) ADD_FAILURE() << d;
  EXPECT_EQ(Snapshots().size(), 2u);
  ExpectRestoresExactly(ParseObject(b).value("snapshot", "?"), new_src);
}

TEST_F(ServerTest, EightParallelReadersGetIdenticalOutput) {
  std::string src = tmp_ / "src";
  MakeTree(src, 5, 1, 6 * kMiB);
  Backup({src});
  std::string snapshot = group_ + "/latest";
  std::string big = InSnapshot(src) + "/big0.bin";
  std::string expected = ReadFile(src + "/big0.bin");

  std::vector<std::unique_ptr<Child>> cats, lists;
  for (int i = 0; i < 8; ++i) {
    cats.push_back(Start({"cat", snapshot, big}));
    lists.push_back(Start({"ls", "-R", snapshot}));
  }
  std::vector<Output> listed;
  for (int i = 0; i < 8; ++i) {
    Output c = WaitBounded(*cats[i], std::chrono::seconds(30), "cat " + std::to_string(i));
    EXPECT_EQ(c.code, 0) << c.err;
    EXPECT_TRUE(c.out == expected)
        << "cat " << i << " gave " << c.out.size() << " bytes, not the file's " << expected.size();
    listed.push_back(WaitBounded(*lists[i], std::chrono::seconds(30), "ls " + std::to_string(i)));
    EXPECT_EQ(listed.back().code, 0) << listed.back().err;
  }
  EXPECT_NE(listed[0].out.find("big0.bin"), std::string::npos) << listed[0].out;
  EXPECT_NE(listed[0].out.find("f9"), std::string::npos) << listed[0].out;
  for (int i = 1; i < 8; ++i) EXPECT_EQ(listed[i].out, listed[0].out) << "ls " << i;
}

TEST_F(ServerTest, ClientKilledMidBackupLeavesNoSnapshotAndTheServerServesOn) {
  auto server_process = StartForegroundServer();
  ASSERT_FALSE(HasFailure());
  std::string src = tmp_ / "src";
  MakeTree(src, 6, 1, 1 * kMiB);
  std::string first = Backup({src}).value("snapshot", "?");
  pid_t server = LockHolder(repo_);
  ASSERT_EQ(server, server_process->pid()) << ReadFile(repo_ + "/lock");
  EXPECT_NE(ReadFile(repo_ + "/lock").find("(coffer serve)"), std::string::npos);

  std::string changed = tmp_ / "changed";
  MakeTree(changed, 7, 3, 2 * kMiB);
  Output crashed = Coffer({"backup", "--group", group_, changed}, {"COFFER_CRASH_AT=file-chunk:3"});
  EXPECT_EQ(crashed.code, kSigkillStatus) << crashed.all();

  EXPECT_EQ(Names(Snapshots()), std::vector<std::string>{first});
  EXPECT_EQ(LockHolder(repo_), server) << "another process took over the repository";
  EXPECT_TRUE(Alive(server));
  std::string next = Backup({changed}, {"--time", "2030-01-01T00:00:00Z"}).value("snapshot", "?");
  EXPECT_EQ(LockHolder(repo_), server);
  EXPECT_EQ(Names(Snapshots()), (std::vector<std::string>{first, next}));
  ExpectRestoresExactly(next, changed);
  ExpectRestoresExactly(first, src);
}

TEST_F(ServerTest, ServerKilledMidBackupFailsTheClientAndTheNextCommandStartsANewServer) {
  auto server = StartForegroundServer();
  ASSERT_FALSE(HasFailure());
  std::string old_src = tmp_ / "old";
  MakeTree(old_src, 8, 1, 1 * kMiB);
  std::string earlier = Backup({old_src}).value("snapshot", "?");
  EXPECT_EQ(LockHolder(repo_), server->pid()) << "the backup did not use the running server";

  std::string big = tmp_ / "big";
  MakeTree(big, 9, 6, 10 * kMiB);  // 60 MiB
  uint64_t before = SizeBelow(repo_ + "/db");
  auto backup = Start({"backup", "--group", group_, big});
  bool grew = testing::WaitUntil([&] { return SizeBelow(repo_ + "/db") >= before + 4 * kMiB; },
                                 std::chrono::seconds(20));
  EXPECT_TRUE(grew) << "the server never received data";
  EXPECT_FALSE(Exited(backup->pid())) << "the backup finished before the server could be killed";
  kill(server->pid(), SIGKILL);
  EXPECT_EQ(server->Wait().code, kSigkillStatus);

  Output failed = WaitBounded(*backup, std::chrono::seconds(20), "the backup whose server died");
  EXPECT_NE(failed.code, 0) << failed.all();
  EXPECT_NE(failed.code, kSigkillStatus) << failed.all();
  EXPECT_FALSE(failed.err.empty()) << "no message";

  struct stat st;
  EXPECT_EQ(lstat(socket_.c_str(), &st), 0) << "a SIGKILLed server left no socket: test is moot";
  // The stale socket is replaced by a server started on demand.
  EXPECT_EQ(Names(Snapshots()), std::vector<std::string>{earlier});
  pid_t second = LockHolder(repo_);
  EXPECT_NE(second, server->pid());
  EXPECT_EQ(ServersOf(repo_), std::vector<pid_t>{second});
  ExpectRestoresExactly(earlier, old_src);

  std::string small = tmp_ / "small";
  MakeTree(small, 10, 1, 1 * kMiB);
  std::string next = Backup({small}, {"--time", "2030-01-01T00:00:00Z"}).value("snapshot", "?");
  EXPECT_EQ(Names(Snapshots()), (std::vector<std::string>{earlier, next}));
  ExpectRestoresExactly(next, small);
}

TEST_F(ServerTest, ABackupThatFindsNoServerHoldsTheDatabaseAndServesOtherCommands) {
  std::string src = tmp_ / "src";
  MakeTree(src, 11, 2, 1 * kMiB);
  ASSERT_TRUE(ServersOf(repo_).empty());
  Pause registered(tmp_ / "pause", "backup-registered");
  auto backup = Start({"backup", "--json", "--group", group_, src}, {registered.Env()});
  ASSERT_TRUE(registered.WaitReached());

  // The backup holds the lock and answers on the socket; no server was started.
  EXPECT_EQ(LockHolder(repo_), backup->pid()) << ReadFile(repo_ + "/lock");
  Output listed = Coffer({"snapshots", "--json"});
  EXPECT_EQ(listed.code, 0) << listed.all();
  EXPECT_TRUE(ServersOf(repo_).empty()) << "a command started a server beside the backup";

  registered.Release();
  Output done = WaitBounded(*backup, std::chrono::seconds(30), "the backup");
  ASSERT_EQ(done.code, 0) << done.all();
  struct stat st;
  EXPECT_NE(lstat(socket_.c_str(), &st), 0) << "the socket outlived the backup that served it";
  // The database was closed and the lock given up: this opens it in-process.
  Output after = Coffer({"--no-server", "--lock-wait", "0", "snapshots", "--json"});
  EXPECT_EQ(after.code, 0) << after.all();
  ExpectRestoresExactly(ParseObject(done).value("snapshot", "?"), src);
}

TEST_F(ServerTest, ABackupThatServesAnotherWaitsForItsCommitBeforeItCloses) {
  std::string a = tmp_ / "a", b = tmp_ / "b";
  MakeTree(a, 12, 2, 1 * kMiB);
  MakeTree(b, 13, 2, 1 * kMiB);
  Pause host_registered(tmp_ / "pause-a", "backup-registered");
  Pause guest_registered(tmp_ / "pause-b", "backup-registered");
  std::string host_err = tmp_ / "host.err";
  // The host's error output goes to a file, to see it wait while it runs.
  std::vector<std::string> env = PassEnv();
  env.push_back(host_registered.Env());
  std::vector<std::string> host_argv = {"sh", "-c", "exec \"$0\" \"$@\" 2>" + host_err,
                                        COFFER_BINARY};
  for (const std::string& arg : CofferArgv({"backup", "--json", "--group", "host/a", a})) {
    if (arg != COFFER_BINARY) host_argv.push_back(arg);
  }
  auto host = std::make_unique<Child>(host_argv, env);
  ASSERT_TRUE(host_registered.WaitReached());
  auto guest = Start({"backup", "--json", "--group", "host/b", b}, {guest_registered.Env()});
  ASSERT_TRUE(guest_registered.WaitReached());
  EXPECT_EQ(LockHolder(repo_), host->pid()) << ReadFile(repo_ + "/lock");

  // The host finishes its own backup, then waits: closing now would cost the
  // guest its registration, and its commit would be refused.
  host_registered.Release();
  EXPECT_TRUE(
      testing::WaitUntil([&] { return FileContains(host_err, "waiting for the commands writing"); },
                         std::chrono::seconds(30)))
      << ReadFile(host_err);
  EXPECT_FALSE(Exited(host->pid()));
  guest_registered.Release();
  Output guest_done = WaitBounded(*guest, std::chrono::seconds(30), "the served backup");
  Output host_done = WaitBounded(*host, std::chrono::seconds(30), "the hosting backup");
  ASSERT_EQ(guest_done.code, 0) << guest_done.all();
  ASSERT_EQ(host_done.code, 0) << host_done.all() << ReadFile(host_err);
  std::string name_a = ParseObject(host_done).value("snapshot", "?");
  std::string name_b = ParseObject(guest_done).value("snapshot", "?");
  EXPECT_EQ(Names(Snapshots()), (std::vector<std::string>{name_a, name_b}));
  ExpectRestoresExactly(name_a, a);
  ExpectRestoresExactly(name_b, b);
}

TEST_F(ServerTest, AReaderOfAHostingBackupGoesOnWithAServerOfItsOwnWhenTheBackupEnds) {
  std::string src = tmp_ / "src";
  MakeTree(src, 14, 1, 1 * kMiB);
  std::string earlier = Backup({src}).value("snapshot", "?");
  ASSERT_TRUE(KillServersOf(repo_));
  std::string more = tmp_ / "more";
  MakeTree(more, 15, 1, 1 * kMiB);
  Pause registered(tmp_ / "pause", "backup-registered");
  auto backup = Start({"backup", "--json", "--group", "host/more", more}, {registered.Env()});
  ASSERT_TRUE(registered.WaitReached());
  // A restore connects to the backup's socket and is held before it reads.
  Pause opened(tmp_ / "pause-restore", "restore-opened");
  std::string target = tmp_ / "restored";
  auto restore = Start({"restore", "--target", target, earlier}, {opened.Env()});
  ASSERT_TRUE(opened.WaitReached());
  registered.Release();
  Output b = WaitBounded(*backup, std::chrono::seconds(30), "the hosting backup");
  ASSERT_EQ(b.code, 0) << b.all();
  // Its server is gone with it; the restore's next call starts one.
  opened.Release();
  Output r = WaitBounded(*restore, std::chrono::seconds(30), "the restore");
  ASSERT_EQ(r.code, 0) << r.all();
  for (const auto& d : Compare(src, target)) ADD_FAILURE() << d;
  EXPECT_EQ(ServersOf(repo_).size(), 1u);
}

TEST_F(ServerTest, IdleServerExitsByItselfAfterItsLastClient) {
  // Long enough for the client below to reach this server before it idles
  // out (a sanitizer build starts the client in seconds); otherwise the
  // client starts a server of its own and the test checks nothing.
  auto server = StartForegroundServer({"--idle-exit", "6s"});
  ASSERT_FALSE(HasFailure());
  Output list = Coffer({"snapshots", "--json"});
  EXPECT_EQ(list.code, 0) << list.all();
  EXPECT_EQ(LockHolder(repo_), server->pid());
  Output exited = WaitBounded(*server, std::chrono::seconds(20), "the idle server");
  EXPECT_EQ(exited.code, 0) << exited.all();
  struct stat st;
  EXPECT_NE(lstat(socket_.c_str(), &st), 0) << "the socket outlived its server";
  // The next command is served again.
  EXPECT_EQ(Coffer({"snapshots"}).code, 0);
}

TEST_F(ServerTest, AServerWhoseRepositoryIsReplacedStopsWithoutTouchingTheNewOne) {
  auto server = StartForegroundServer();  // no idle exit: only the replacement may end it
  ASSERT_FALSE(HasFailure());
  std::string src = tmp_ / "src";
  MakeTree(src, 5, 2, 2 * kMiB);
  Backup({src});
  // `rm -rf REPO && coffer init REPO` while the server idles. Closing its
  // database now would flush into the new folder and delete the new
  // database's files as obsolete.
  std::filesystem::remove_all(repo_);
  Output init = Coffer({"init", "--kdf-ops", "1", "--kdf-memory", "8K"});
  ASSERT_EQ(init.code, 0) << init.all();
  Output old =
      WaitBounded(*server, std::chrono::seconds(20), "the server of the removed repository");
  EXPECT_EQ(old.code, 1) << old.all();
  EXPECT_NE(old.err.find("was removed or replaced"), std::string::npos) << old.all();

  std::string next = Backup({src}).value("snapshot", "?");
  EXPECT_EQ(Names(Snapshots()), std::vector<std::string>{next});
  Output verify = Coffer({"verify"});
  EXPECT_EQ(verify.code, 0) << verify.all();
  ExpectRestoresExactly(next, src);
}

TEST_F(ServerTest, SocketIsOnlyForItsOwnerEvenUnderUmask0) {
  Output o = RunProcess(
      {"sh", "-c", "umask 000; exec \"$0\" \"$@\"", COFFER_BINARY, "-r", repo_, "snapshots"},
      PassEnv());
  ASSERT_EQ(o.code, 0) << o.all();
  struct stat st;
  ASSERT_EQ(lstat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
  EXPECT_EQ(st.st_uid, geteuid());
}

TEST_F(ServerTest, NoServerWhileAServerRunsFailsWith11NamingIt) {
  ASSERT_EQ(Coffer({"snapshots"}).code, 0);
  ASSERT_EQ(ServersOf(repo_).size(), 1u);
  Output o = Coffer({"--no-server", "--lock-wait", "0", "snapshots"});
  EXPECT_EQ(o.code, 11) << o.all();
  EXPECT_NE(o.err.find("coffer serve"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("pid " + std::to_string(ServersOf(repo_)[0])), std::string::npos) << o.err;
}

// The environment of process `pid`, one "NAME=value" per entry.
std::vector<std::string> EnvironmentOf(pid_t pid) {
  std::string raw = ReadFile("/proc/" + std::to_string(pid) + "/environ");
  std::vector<std::string> entries;
  size_t start = 0;
  for (size_t end; (end = raw.find('\0', start)) != std::string::npos; start = end + 1) {
    entries.push_back(raw.substr(start, end - start));
  }
  return entries;
}

TEST_F(ServerTest, AServerStartedOnDemandHoldsNoneOfTheClientsSecrets) {
  WriteFile(tmp_ / "passphrase", passphrase_ + "\n");
  WriteFile(tmp_ / "token", "a-token-for-another-server\n");
  // Every secret a client may hold in its environment (the token variables
  // are unused without --server, but a client may well have them set).
  const std::vector<std::string> secrets = {"COFFER_PASSPHRASE", "COFFER_PASSPHRASE_FILE",
                                            "COFFER_TOKEN", "COFFER_TOKEN_FILE"};
  // The passphrase itself, then a file naming it.
  for (const std::string& passphrase :
       {"COFFER_PASSPHRASE=" + passphrase_, "COFFER_PASSPHRASE_FILE=" + (tmp_ / "passphrase")}) {
    std::vector<std::string> env = {passphrase, "COFFER_TOKEN=a-token-for-another-server",
                                    "COFFER_TOKEN_FILE=" + (tmp_ / "token")};
    Output o = CofferRaw({"-r", repo_, "snapshots"}, env);
    ASSERT_EQ(o.code, 0) << o.all();
    pid_t server = LockHolder(repo_);
    ASSERT_GT(server, 0) << ReadFile(repo_ + "/lock");
    ASSERT_EQ(ServersOf(repo_), std::vector<pid_t>{server});
    std::vector<std::string> server_env = EnvironmentOf(server);
    ASSERT_FALSE(server_env.empty()) << "cannot read /proc/" << server << "/environ";
    for (const std::string& entry : server_env) {
      for (const std::string& secret : secrets) {
        EXPECT_FALSE(entry.starts_with(secret + "=")) << "the server holds " << entry;
      }
    }
    ASSERT_TRUE(KillServersOf(repo_));
  }
}

}  // namespace
}  // namespace coffer::e2e
