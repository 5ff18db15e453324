// Crash safety: a child process writes and kills itself with SIGKILL at a
// precise point; the parent reopens the store and checks what survived.
//
// The child is this test binary itself, started with fork() and exec(): a
// plain fork() of a process that has already used RocksDB would inherit
// RocksDB's thread pools without their threads, and its flushes would hang.
// The exec'd child runs only LocalObjectStoreCrashChild, which does the work
// when it finds kChildDirEnv in its environment.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "store/objects/local_object_store.h"
#include "tests/store/objects/test_objects.h"
#include "tests/testing/fs_fixtures.h"

extern char** environ;

namespace coffer {
namespace {

using testing::TestId;
using testing::TestValue;

constexpr char kChildDirEnv[] = "COFFER_CRASH_CHILD_DB";
constexpr uint32_t kFirstObjects = 60;   // ~40 MiB: more than one memtable
constexpr uint32_t kSecondObjects = 40;  // ids kFirstObjects.. for snapshot two
const SnapshotRef kFirst = {"host/web1", 1'000, TestId(100'001)};
const SnapshotRef kSecond = {"host/web1", 2'000, TestId(100'002)};

// Sizes mix 2 MiB blobs with small inline values.
size_t ChunkSize(uint32_t n) {
  return n % 3 == 0 ? 10 : (n % 3 == 1 ? 2 << 20 : 5000);
}

// Never returns: exits with a distinct code on any failure, or dies by SIGKILL.
[[noreturn]] void RunChild(const std::string& dir) {
  auto opened = LocalObjectStore::Open(dir);
  if (!opened.ok()) _exit(10);
  LocalObjectStore& store = **opened;
  for (uint32_t n = 0; n < kFirstObjects; ++n) {
    if (!store.Put(ObjectKind::kChunk, TestId(n), TestValue(n, ChunkSize(n))).ok()) _exit(11);
  }
  if (!store.Put(ObjectKind::kTree, TestId(1'000), TestValue(1'000, 700)).ok()) _exit(12);
  if (!store.CommitSnapshot(kFirst, TestValue(1, 64), kNoWriter, std::nullopt).ok()) _exit(13);
  for (uint32_t n = kFirstObjects; n < kFirstObjects + kSecondObjects; ++n) {
    if (!store.Put(ObjectKind::kChunk, TestId(n), TestValue(n, ChunkSize(n))).ok()) _exit(14);
  }
  if (!store.Put(ObjectKind::kTree, TestId(1'001), TestValue(1'001, 700)).ok()) _exit(15);
  // The moment before CommitSnapshot(kSecond, kNoWriter): everything since the first
  // commit is buffered in memory only.
  raise(SIGKILL);
  _exit(16);
}

// Not a test of its own: skipped (not passed) unless the crash test below
// started this binary as its child.
TEST(LocalObjectStoreCrashChild, RunsOnlyWhenSpawnedByTheCrashTest) {
  const char* dir = std::getenv(kChildDirEnv);
  if (dir == nullptr) {
    GTEST_SKIP() << "the child of LocalObjectStoreCrashTest."
                    "SigkillBeforeCommitKeepsEarlierSnapshotAndItsObjects, which starts it with "
                 << kChildDirEnv << " set; on its own it has nothing to do";
  }
  RunChild(dir);
}

// Runs the child on `dir` and returns its wait status.
int SpawnChild(const std::string& dir) {
  // Everything the child needs is prepared before fork(): between fork() and
  // exec() only async-signal-safe calls are allowed.
  std::string filter = "--gtest_filter=LocalObjectStoreCrashChild.*";
  std::string program = "/proc/self/exe";
  std::vector<char*> argv = {program.data(), filter.data(), nullptr};
  std::string dir_var = std::string(kChildDirEnv) + "=" + dir;
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(dir_var.data());
  envp.push_back(nullptr);
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);

  pid_t pid = ::fork();
  if (pid == 0) {
    if (devnull >= 0) ::dup2(devnull, STDOUT_FILENO);  // keep gtest's chatter out
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  if (devnull >= 0) ::close(devnull);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

TEST(LocalObjectStoreCrashTest, SigkillBeforeCommitKeepsEarlierSnapshotAndItsObjects) {
  testing::TempDir tmp;
  const std::string dir = tmp / "db";
  ASSERT_TRUE(LocalObjectStore::Create(dir).ok());  // closed again at once

  int status = SpawnChild(dir);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child did not die by SIGKILL; exit code "
      << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);

  auto opened = LocalObjectStore::Open(dir);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  LocalObjectStore& store = **opened;

  // The first snapshot is visible, the second is not.
  auto list = store.ListSnapshots("");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ref, kFirst);
  EXPECT_EQ((*list)[0].sealed, TestValue(1, 64));

  // Everything the first snapshot references is there, intact.
  for (uint32_t n = 0; n < kFirstObjects; ++n) {
    auto got = store.Get(ObjectKind::kChunk, TestId(n));
    ASSERT_TRUE(got.ok()) << "chunk " << n << ": " << got.status().ToString();
    ASSERT_EQ(*got, TestValue(n, ChunkSize(n))) << "chunk " << n;
  }
  auto tree = store.Get(ObjectKind::kTree, TestId(1'000));
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  EXPECT_EQ(*tree, TestValue(1'000, 700));

  // The kill really came while writes were buffered: snapshot two's tree,
  // put after the last commit and never flushed, did not survive.
  EXPECT_EQ(store.Get(ObjectKind::kTree, TestId(1'001)).status().code(), Code::kNotFound);

  // The store takes the next backup: re-put what was lost, commit, reopen.
  for (uint32_t n = kFirstObjects; n < kFirstObjects + kSecondObjects; ++n) {
    ASSERT_TRUE(store.Put(ObjectKind::kChunk, TestId(n), TestValue(n, ChunkSize(n))).ok());
  }
  ASSERT_TRUE(store.Put(ObjectKind::kTree, TestId(1'001), TestValue(1'001, 700)).ok());
  ASSERT_TRUE(store.CommitSnapshot(kSecond, TestValue(2, 64), kNoWriter, std::nullopt).ok());
  opened->reset();
  auto reopened = LocalObjectStore::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto after = (*reopened)->ListSnapshots("host/web1");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[1].ref, kSecond);
  auto last = (*reopened)->Get(ObjectKind::kChunk, TestId(kFirstObjects + kSecondObjects - 1));
  EXPECT_TRUE(last.ok());
}

}  // namespace
}  // namespace coffer
