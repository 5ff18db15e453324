// The fixture of the job commands' end-to-end tests (coffer run, coffer jobs,
// coffer scheduler, coffer status): a repository, a data folder holding one
// file, a jobs file and a state folder (both created by the test as needed),
// and `coffer --jobs FILE --state-dir DIR ...` with the passphrase given.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {

class JobsFixture : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    data_ = tmp_ / "data";
    ASSERT_EQ(mkdir(data_.c_str(), 0755), 0);
    testing::WriteFile(data_ + "/a.txt", "alpha\n");
    jobs_ = tmp_ / "jobs.toml";
    state_ = tmp_ / "state";
  }
  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  // A jobs file with the repository in [defaults] and `body` after it.
  void WriteJobs(const std::string& body) {
    testing::WriteFile(jobs_, "[defaults]\nrepository = \"" + repo_ + "\"\n\n" + body);
  }
  // The global options that name the jobs file and the state folder, then `args`.
  std::vector<std::string> Argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"--jobs", jobs_, "--state-dir", state_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  // Runs coffer with Argv(args), the passphrase and `env` in its environment.
  Output Jobs(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> full_env = PassEnv();
    full_env.insert(full_env.end(), env.begin(), env.end());
    return CofferRaw(Argv(args), full_env);
  }

  std::string data_, jobs_, state_;
};

}  // namespace coffer::e2e
