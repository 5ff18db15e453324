#include "store/repo/repo_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/testing/fs_fixtures.h"

namespace coffer {
namespace {

using namespace std::chrono_literals;

TEST(RepoLockTest, SecondHolderFailsNamingTheFirst) {
  testing::TempDir tmp;
  std::string path = tmp / "lock";
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t child = fork();
  if (child == 0) {
    auto lock = RepoLock::Acquire(path, 0ms, "coffer backup /srv");
    char c = lock.ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(release[0], &c, 1);  // hold until the parent has looked
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto second = RepoLock::Acquire(path, 100ms, "coffer ls");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kBusy);
  EXPECT_NE(second.status().message().find("pid " + std::to_string(child)), std::string::npos);
  EXPECT_NE(second.status().message().find("coffer backup /srv"), std::string::npos);
  (void)!write(release[1], "x", 1);
  int status;
  waitpid(child, &status, 0);
  // The kernel released the lock with the process.
  EXPECT_TRUE(RepoLock::Acquire(path, 0ms, "coffer ls").ok());
}

}  // namespace
}  // namespace coffer
