// Helpers for end-to-end tests: run the built `coffer` binary as a separate
// process against a real repository in a temporary folder.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/kv/database.h"
#include "tests/testing/fs_fixtures.h"
#include "tests/testing/wait_until.h"

namespace coffer::e2e {

// The result of one process run: exit code (128+N when killed by signal N),
// standard output and standard error kept apart.
struct Output {
  int code = -1;
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

// Runs `argv` (searched in PATH) with the test's environment minus every
// COFFER_* variable, plus `env` ("NAME=value" entries, each replacing a
// variable of that name), feeding `stdin_data`.
Output RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                  const std::string& stdin_data = {});

// A process running in the background whose standard input is a pipe kept
// open until CloseStdin(); output is collected by Wait().
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  void WriteStdin(const std::string& data);
  void CloseStdin();
  Output Wait();

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1, stdout_fd_ = -1, stderr_fd_ = -1;
};

// A process stopped at a PausePoint: Env() for the process to hold,
// WaitReached() until it is there, Release() to let it go on.
class Pause {
 public:
  Pause(const std::string& dir, const std::string& name) : dir_(dir), name_(name) {
    mkdir(dir.c_str(), 0700);
    EXPECT_EQ(mkfifo((dir + "/" + name + ".release").c_str(), 0600), 0);
  }
  std::string Env() const { return "COFFER_PAUSE_AT=" + name_ + ":" + dir_; }
  bool WaitReached() {
    const std::string reached = dir_ + "/" + name_ + ".reached";
    return testing::WaitUntil([&] { return access(reached.c_str(), F_OK) == 0; },
                              std::chrono::seconds(60));
  }
  // Opening the FIFO for writing completes the paused process's open for reading.
  void Release() {
    int fd = open((dir_ + "/" + name_ + ".release").c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    close(fd);
  }

 private:
  std::string dir_, name_;
};

// A port nobody listens on now, on 127.0.0.1 (the kernel picks it).
int FreeLoopbackPort();
// Whether something accepts connections on 127.0.0.1:`port`.
bool Listening(int port);
// A self-signed certificate for localhost and 127.0.0.1, DIR/NAME.crt and
// DIR/NAME.key, made with openssl; false if that failed.
bool MakeCert(const std::string& dir, const std::string& name);
// `coffer serve -r REPO --foreground` listening on a free loopback port over
// TLS with CERT_DIR/server.crt and .key and `options` (its token options),
// started and waited for until it listens; its address in *address. Null if
// it did not listen.
std::unique_ptr<Child> StartTlsServer(const std::string& repo, const std::string& cert_dir,
                                      const std::vector<std::string>& options,
                                      std::string* address);

// Whether the content of `path` contains `needle` (false if it cannot be
// read): a condition for testing::WaitUntil on another process's log.
bool FileContains(const std::string& path, const std::string& needle);

// Every regular file below `root`, recursively (paths).
std::vector<std::string> FilesBelow(const std::string& root);

std::string Hex(const std::string& bytes);

// The help text of `coffer COMMAND... --help` (failing the test unless it exits 0).
std::string Help(const std::vector<std::string>& command);
// The lines of a --help text's section (`title` is e.g. "Options:").
std::vector<std::string> Section(const std::string& help, const std::string& title);

// A fixture with a fresh temporary folder and an encrypted repository in it,
// made with cheap key derivation.
class CofferTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Runs `coffer -r REPO ARGS...` with COFFER_PASSPHRASE set and `env` added.
  Output Coffer(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                const std::string& stdin_data = {});
  // The same, with no -r and no passphrase added.
  Output CofferRaw(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                   const std::string& stdin_data = {});
  std::vector<std::string> PassEnv() const { return {"COFFER_PASSPHRASE=" + passphrase_}; }

  // `snapshots --json`, parsed; fails the test on error.
  nlohmann::json Snapshots();
  // `backup --json --group GROUP [extra] PATHS`, expecting exit 0; the parsed summary.
  nlohmann::json Backup(const std::vector<std::string>& paths,
                        const std::vector<std::string>& extra = {});
  // Restores SNAPSHOT into a fresh folder under the temp dir and returns it.
  std::string RestoreAll(const std::string& snapshot);
  // Differences between `source` and its restored copy below `target`.
  std::vector<std::string> Compare(const std::string& source, const std::string& target);

  testing::TempDir tmp_;
  std::string repo_;
  std::string passphrase_ = "e2e passphrase";
  std::string group_ = "host/e2e";
  int restores_ = 0;
};

// A snapshot path (no leading slash) for an absolute source path.
inline std::string InSnapshot(const std::string& abs) {
  return abs.substr(1);
}

// The arguments of process `pid` (empty if it is gone).
std::vector<std::string> CommandLine(pid_t pid);
// True while `pid` exists and is not a zombie.
bool Alive(pid_t pid);
// Every live `coffer serve` process whose command line names `repo`.
std::vector<pid_t> ServersOf(const std::string& repo);
// SIGKILLs the servers of `repo` (started on demand, they would outlive a
// test by 30 s) and waits (bounded) until they are gone; false if they stay.
bool KillServersOf(const std::string& repo);

// Runs `change` on the database of the repository `repo` as whoever holds
// the repository can: its servers stopped, under its lock, waiting
// (bounded) while a killed server, gone from /proc, still holds the files.
void ChangeStoppedDatabase(const std::string& repo,
                           const std::function<void(kv::Database&)>& change);

// Flips the byte in the middle of every blob file (chunk data) under `db`;
// returns how many files it changed.
int FlipMiddleOfBlobFiles(const std::string& db);

}  // namespace coffer::e2e
