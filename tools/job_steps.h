// What the job commands (`coffer run`, `coffer jobs`) share: reading the
// jobs file with the real schedule and duration parsers, and the repository
// side of a run (jobs/runner.h's RepositorySteps) done with the library code
// the commands call: ingest's Archiver as `coffer backup`, import's
// ImportArchive as `coffer import`, PlanPruneOfGroups as `coffer prune`,
// gc's CollectGarbage as `coffer gc`, the Verifier as `coffer verify`,
// RunRestoreTest as `coffer restore-test`.
#pragma once

#include <memory>
#include <string>

#include "jobs/job_file.h"
#include "jobs/runner.h"
#include "store/repo/repository.h"
#include "tools/cli.h"

namespace coffer::tools {

// ParseSchedule and ParseDuration, as the jobs file reader wants them.
jobs::JobFileValidators RealJobFileValidators();

// The jobs file of --jobs / COFFER_JOBS (default /etc/coffer/jobs.toml).
// Every problem is in the status's message, one line each.
Result<jobs::JobFile> ReadJobsFile(const GlobalOptions& global);

// STATE_DIR: --state-dir / COFFER_STATE_DIR, default /var/lib/coffer.
std::string StateDir(const GlobalOptions& global);

// The steps of one run. The repository is opened by the backup (with the
// job's repository, server and credentials over the global options) and
// kept for retention and gc.
class ToolRepositorySteps final : public jobs::RepositorySteps {
 public:
  explicit ToolRepositorySteps(const GlobalOptions& global) : global_(global) {}
  ~ToolRepositorySteps() override;

  Result<jobs::BackupDone> Backup(const jobs::Job& job, const std::string& group,
                                  jobs::RunLog& log) override;
  Result<jobs::RetentionDone> Prune(const jobs::Job& job, const std::vector<std::string>& groups,
                                    jobs::RunLog& log) override;
  Status CollectGarbage(const jobs::Job& job, jobs::RunLog& log) override;
  // As `coffer verify --snapshot S...` of every snapshot of the group.
  Result<jobs::CheckDone> Verify(const jobs::Job& job, const std::string& group,
                                 jobs::RunLog& log) override;
  // As `coffer restore-test GROUP`, with its default sample (50 files).
  Result<jobs::CheckDone> RestoreTest(const jobs::Job& job, const std::string& group,
                                      jobs::RunLog& log) override;

 private:
  Result<Repository*> Open(const jobs::Job& job);

  const GlobalOptions& global_;
  std::unique_ptr<Repository> repo_;
};

}  // namespace coffer::tools
