#include "tools/job_steps.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "jobs/calendar.h"
#include "jobs/duration.h"
#include "jobs/process.h"
#include "store/base/unique_fd.h"
#include "store/gc/collector.h"
#include "store/ingest/archiver.h"
#include "store/ingest/exclude.h"
#include "store/model/snapshot_name.h"
#include "store/verify/restore_test.h"
#include "store/verify/verifier.h"
#include "tools/cmd_import.h"
#include "tools/new_snapshot.h"
#include "tools/open_repository.h"
#include "tools/prune_plan.h"
#include "tools/server_client.h"
#include "tools/units.h"

namespace coffer::tools {

jobs::JobFileValidators RealJobFileValidators() {
  jobs::JobFileValidators validators;
  validators.schedule = [](std::string_view text) -> Status {
    auto schedule = jobs::ParseSchedule(text);
    return schedule.ok() ? Status::Ok() : schedule.status();
  };
  validators.duration = [](std::string_view text) { return jobs::ParseDuration(text); };
  return validators;
}

Result<jobs::JobFile> ReadJobsFile(const GlobalOptions& global) {
  const std::string path = global.jobs_file.empty() ? "/etc/coffer/jobs.toml" : global.jobs_file;
  auto file = jobs::ReadJobFile(path, RealJobFileValidators());
  if (!file.ok() && file.status().code() == Code::kNotFound) {
    return Status::NotFound("no jobs file " + path + " (give --jobs FILE or set COFFER_JOBS)");
  }
  return file;
}

std::string StateDir(const GlobalOptions& global) {
  return global.state_dir.empty() ? "/var/lib/coffer" : global.state_dir;
}

ToolRepositorySteps::~ToolRepositorySteps() = default;

Result<Repository*> ToolRepositorySteps::Open(const jobs::Job& job) {
  if (repo_) return repo_.get();
  // The job's own settings win over the command line's, as in the jobs file.
  GlobalOptions options = global_;
  options.repo = job.repository;
  options.server = job.server;
  if (!job.server.empty()) options.repo.clear();
  if (!job.tls_ca.empty()) options.tls_ca = job.tls_ca;
  if (!job.token_file.empty()) options.token_file = job.token_file;
  if (!job.passphrase_file.empty()) options.passphrase_file = job.passphrase_file;
  if (!job.key_file.empty()) options.key_file = job.key_file;
  options.allow_unencrypted = options.allow_unencrypted || job.allow_unencrypted;

  OpenOptions open;
  open.allow_unencrypted = options.allow_unencrypted;
  open.allow_unencrypted_hint =
      "set allow-unencrypted = true in the job if it is meant to be unencrypted";
  if (!options.key_file.empty()) {
    COFFER_ASSIGN_OR_RETURN(open.wrapped_key, ReadWrappedKeyFile(options.key_file));
  }
  COFFER_ASSIGN_OR_RETURN(auto wait, ParseDuration(options.lock_wait));
  // A job moves much data, as a backup does: with no server running it holds
  // the database itself and serves the commands that run beside it.
  options.host_when_alone = true;
  auto store = ConnectRepository(options.repo, ServerClientOptionsFor(options, wait));
  if (!store.ok()) return store.status();
  COFFER_ASSIGN_OR_RETURN(
      repo_, Repository::Open(
                 std::move(store).value(), [&] { return ReadPassphrase(options, false); }, open));
  return repo_.get();
}

namespace {

ingest::BackupOptions OptionsFor(const jobs::Job& job, const std::string& group, int64_t time_ns) {
  ingest::BackupOptions options;
  options.group = group;
  options.time_ns = time_ns;
  options.tags = job.tags;
  options.excludes = job.exclude;
  options.one_file_system = job.one_file_system;
  options.image = job.image;
  options.hostname = ShortHostname();
  options.username = UserName();
  return options;
}

// The dump command's standard output is the stream stored; its standard
// error goes to the run's log. It runs in its own process group, so that a
// backup that fails first can stop it with whatever it started.
Result<ingest::BackupResult> BackupCommandOutput(Repository& repo, const jobs::Job& job,
                                                 ingest::BackupOptions options, jobs::RunLog& log) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd output(fds[0]), write_end(fds[1]);
  const auto env = jobs::ChildEnvironment({{"COFFER_JOB", job.name}, {"COFFER_PHASE", "backup"}});
  COFFER_ASSIGN_OR_RETURN(pid_t pid,
                          jobs::StartProcess(job.command, env, -1, write_end.get(), log.fd(),
                                             /*own_process_group=*/true));
  write_end.reset();
  bool waited = false;
  ingest::Archiver archiver(repo, std::move(options), nullptr);
  auto result = archiver.BackupStream(output.get(), job.stdin_name, [&]() -> Status {
    output.reset();  // a command still writing gets SIGPIPE instead of blocking
    waited = true;
    COFFER_ASSIGN_OR_RETURN(std::string failure, jobs::WaitProcess(pid));
    if (failure.empty()) return Status::Ok();
    return Status::Aborted(fmt::format("the command {}; no snapshot was written", failure));
  });
  if (!waited) {  // the backup failed before the command finished
    output.reset();
    kill(-pid, SIGTERM);
    (void)jobs::WaitProcess(pid);
  }
  return result;
}

// The sample a job's restore test takes (restore-test-files/-percent).
verify::RestoreTestOptions RestoreTestOptionsOf(const jobs::Job& job) {
  verify::RestoreTestOptions options;
  if (job.restore_test_files > 0) options.files = job.restore_test_files;
  if (job.restore_test_percent > 0) options.percent = job.restore_test_percent;
  return options;
}

}  // namespace

Result<jobs::BackupDone> ToolRepositorySteps::Backup(const jobs::Job& job, const std::string& group,
                                                     jobs::RunLog& log) {
  if (!group.empty()) COFFER_RETURN_IF_ERROR(model::ValidateGroup(group));
  jobs::Job resolved = job;
  for (const auto& file : job.exclude_file) {
    COFFER_ASSIGN_OR_RETURN(auto patterns, ingest::ReadExcludeFile(file));
    resolved.exclude.insert(resolved.exclude.end(), patterns.begin(), patterns.end());
  }
  COFFER_ASSIGN_OR_RETURN(Repository * repo, Open(job));

  jobs::BackupDone done;
  auto take = [&](const ingest::BackupResult& result) {
    const auto& record = result.snapshot.record;
    done.snapshot = result.snapshot.name();
    if (std::find(done.groups.begin(), done.groups.end(), record.group()) == done.groups.end()) {
      done.groups.push_back(record.group());
    }
    done.bytes_added += record.stats().bytes_added();
    done.unreadable += result.errors.size();
    for (const auto& e : result.errors)
      log.Line(fmt::format("{}: {}", EscapeName(e.path), e.status.message()));
    log.Line(fmt::format("snapshot {}: {} files new, {} changed, {} unchanged; read {}, added {}",
                         result.snapshot.name(), record.stats().files_new(),
                         record.stats().files_changed(), record.stats().files_unchanged(),
                         HumanBytes(record.stats().bytes_read()),
                         HumanBytes(record.stats().bytes_added())));
  };

  if (job.source == jobs::SourceKind::kImport) {
    COFFER_ASSIGN_OR_RETURN(auto archives, VzdumpArchivesIn(job.import));
    if (archives.empty()) log.Line("no vzdump archives in " + job.import);
    // As `coffer import FOLDER`: a damaged archive is named and the others
    // are still imported, so one bad file does not hold back every later
    // backup of every guest. Only when none could be imported is it a failure.
    Status first_failure;
    for (const std::string& path : archives) {
      auto imported = ImportArchive(*repo, path, /*quiet=*/true, group, job.tags);
      if (!imported.ok()) {
        // The message names the archive already.
        log.Line(imported.status().message());
        if (first_failure.ok()) first_failure = imported.status();
        ++done.archives_failed;
        continue;
      }
      if (!imported->result) {
        log.Line(fmt::format("{}: already imported as {}", path, imported->snapshot));
        continue;
      }
      take(*imported->result);
    }
    if (done.archives_failed == archives.size() && !archives.empty()) return first_failure;
    return done;
  }

  COFFER_ASSIGN_OR_RETURN(int64_t time_ns, ChooseTime(*repo, group, ""));
  ingest::BackupOptions options = OptionsFor(resolved, group, time_ns);
  Result<ingest::BackupResult> result = Status::Aborted("not run");
  if (job.source == jobs::SourceKind::kCommand) {
    result = BackupCommandOutput(*repo, job, std::move(options), log);
  } else {
    ingest::Archiver archiver(*repo, std::move(options), nullptr);
    result = archiver.BackupPaths(job.paths);
  }
  if (!result.ok()) return result.status();
  take(*result);
  return done;
}

Result<jobs::RetentionDone> ToolRepositorySteps::Prune(const jobs::Job& job,
                                                       const std::vector<std::string>& groups,
                                                       jobs::RunLog& log) {
  COFFER_ASSIGN_OR_RETURN(Repository * repo, Open(job));
  jobs::RetentionDone done;
  const std::set<std::string> group_set(groups.begin(), groups.end());
  COFFER_ASSIGN_OR_RETURN(PrunePlan plan, PlanPruneOfGroups(*repo, group_set, job.keep));
  Status first_failure;
  for (const auto& decision : plan.decisions) {
    const Snapshot& snapshot = plan.snapshots[decision.id];
    if (decision.keep) {
      ++done.kept;
      log.Line(
          fmt::format("keep {} ({})", snapshot.name(), retention::ReasonName(decision.reason)));
      continue;
    }
    Status forgotten = repo->Forget(snapshot);
    if (forgotten.ok()) {
      ++done.removed;
      log.Line("removed " + snapshot.name());
    } else {
      log.Line(fmt::format("cannot remove {}: {}", snapshot.name(), forgotten.message()));
      if (first_failure.ok()) first_failure = forgotten;
    }
  }
  if (!first_failure.ok()) return first_failure;
  return done;
}

Status ToolRepositorySteps::CollectGarbage(const jobs::Job& job, jobs::RunLog& log) {
  COFFER_ASSIGN_OR_RETURN(Repository * repo, Open(job));
  COFFER_ASSIGN_OR_RETURN(gc::GcReport report, gc::CollectGarbage(*repo));
  const GcResult& sweep = report.sweep;
  const uint64_t freed =
      sweep.bytes_before > sweep.bytes_after ? sweep.bytes_before - sweep.bytes_after : 0;
  log.Line(fmt::format("gc: {} of {} objects deleted, {} freed, repository now {}",
                       sweep.objects_deleted, sweep.objects_examined, HumanBytes(freed),
                       HumanBytes(sweep.bytes_after)));
  return Status::Ok();
}

namespace {

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string InGroup(const std::string& group) {
  return group.empty() ? "the repository" : "group " + group;
}

// "the outcome could not be noted ...", as a check's warning.
std::string NotNoted(const Status& recorded) {
  return "the outcome could not be noted in the snapshots: " + recorded.message();
}

}  // namespace

Result<jobs::CheckDone> ToolRepositorySteps::Verify(const jobs::Job& job, const std::string& group,
                                                    jobs::RunLog& log) {
  if (!group.empty()) COFFER_RETURN_IF_ERROR(model::ValidateGroup(group));
  COFFER_ASSIGN_OR_RETURN(Repository * repo, Open(job));
  COFFER_ASSIGN_OR_RETURN(std::vector<Snapshot> snapshots, repo->ListSnapshots(group));
  if (snapshots.empty())
    return Status::NotFound(fmt::format("{} has no snapshots to verify", InGroup(group)));
  log.Line(fmt::format("verifying {} snapshots of {}", snapshots.size(), InGroup(group)));
  verify::Verifier verifier(*repo, verify::VerifyOptions{});
  COFFER_ASSIGN_OR_RETURN(verify::VerifyResult result, verifier.Verify(snapshots));
  const Status recorded = verify::RecordVerifications(*repo, result, NowNanos());

  jobs::CheckDone done;
  done.snapshots = result.snapshots.size();
  done.bytes_checked = result.bytes_checked;
  log.Line(fmt::format("checked {} objects ({} trees, {} chunks), {}", result.objects_checked(),
                       result.trees_checked, result.chunks_checked,
                       HumanBytes(result.bytes_checked)));
  // Every damaged thing in the log, as `coffer verify` prints it; the first
  // in the reason.
  std::string first;
  for (const Snapshot& s : result.damaged_records) {
    const std::string line =
        fmt::format("damaged snapshot record {} ({})", s.name(), s.damage.message());
    log.Line(line);
    if (first.empty()) first = line;
  }
  for (const verify::DamagedObject& object : result.damaged) {
    const std::string what = fmt::format("{} {} {}", object.missing() ? "missing" : "damaged",
                                         KindName(object.kind), object.id.hex());
    if (object.uses.empty()) log.Line(fmt::format("{}: {}", what, object.status.message()));
    for (const verify::ObjectUse& use : object.uses) {
      log.Line(fmt::format("{}: {}:{}", what, use.snapshot, EscapeName(use.path)));
    }
    if (object.more_uses) log.Line(fmt::format("{}: and {} more paths", what, object.more_uses));
    if (first.empty()) {
      first = object.uses.empty() ? what
                                  : fmt::format("{} used by {}:{}", what, object.uses[0].snapshot,
                                                EscapeName(object.uses[0].path));
    }
  }
  if (!result.ok()) {
    size_t affected = 0;
    for (const auto& v : result.snapshots) affected += v.ok() ? 0 : 1;
    std::string counts;
    if (!result.damaged.empty()) {
      counts = fmt::format("{} object{} damaged or missing, used by {} of {} snapshots",
                           result.damaged.size(), result.damaged.size() == 1 ? "" : "s", affected,
                           result.snapshots.size());
    }
    if (!result.damaged_records.empty()) {
      counts +=
          fmt::format("{}{} snapshot record{} damaged", counts.empty() ? "" : ", ",
                      result.damaged_records.size(), result.damaged_records.size() == 1 ? "" : "s");
    }
    done.damage =
        fmt::format("verify found damage in {}: {} (first: {})", InGroup(group), counts, first);
  }
  if (!recorded.ok()) {
    log.Line("warning: " + NotNoted(recorded));
    done.warning = NotNoted(recorded);
  }
  return done;
}

Result<jobs::CheckDone> ToolRepositorySteps::RestoreTest(const jobs::Job& job,
                                                         const std::string& group,
                                                         jobs::RunLog& log) {
  if (!group.empty()) COFFER_RETURN_IF_ERROR(model::ValidateGroup(group));
  COFFER_ASSIGN_OR_RETURN(Repository * repo, Open(job));
  // The latest intact snapshot of the group, or of each group.
  std::vector<Snapshot> chosen;
  if (!group.empty()) {
    COFFER_ASSIGN_OR_RETURN(std::optional<Snapshot> latest, repo->LatestSnapshot(group));
    if (latest) chosen.push_back(std::move(*latest));
  } else {
    COFFER_ASSIGN_OR_RETURN(std::vector<Snapshot> all, repo->ListSnapshots());
    std::map<std::string, Snapshot> newest;  // ListSnapshots orders by time within a group
    for (Snapshot& s : all) {
      if (!s.damaged()) newest.insert_or_assign(s.ref.group, std::move(s));
    }
    for (auto& [name, s] : newest) chosen.push_back(std::move(s));
  }
  if (chosen.empty())
    return Status::NotFound(fmt::format("{} has no snapshot to test", InGroup(group)));

  jobs::CheckDone done;
  std::vector<std::string> failed;
  for (const Snapshot& snapshot : chosen) {
    COFFER_ASSIGN_OR_RETURN(verify::RestoreTestResult result,
                            verify::RunRestoreTest(*repo, snapshot, RestoreTestOptionsOf(job)));
    const Status recorded = verify::RecordRestoreTest(*repo, snapshot, result, NowNanos());
    ++done.snapshots;
    done.bytes_checked += result.bytes_checked;
    for (const verify::RestoreTestMismatch& m : result.mismatches) {
      log.Line(fmt::format("mismatch {}: {}", EscapeName(m.path), EscapeName(m.what)));
    }
    log.Line(fmt::format("restore test of {}: {} of {} files, {}, {}", snapshot.name(),
                         result.files_checked, result.population, HumanBytes(result.bytes_checked),
                         result.ok() ? "all match"
                                     : fmt::format("{} mismatches (seed {})",
                                                   result.mismatches.size(), result.seed)));
    if (!result.ok()) {
      const verify::RestoreTestMismatch& m = result.mismatches.front();
      failed.push_back(fmt::format(
          "{}: {} mismatch{} (first: {}: {})", snapshot.name(), result.mismatches.size(),
          result.mismatches.size() == 1 ? "" : "es", EscapeName(m.path), EscapeName(m.what)));
    }
    if (!result.scratch_left.empty()) {
      const std::string line = fmt::format("the scratch folder {} could not be removed: {}",
                                           result.scratch, result.scratch_left);
      log.Line("warning: " + line);
      if (done.warning.empty()) done.warning = line;
    }
    if (!recorded.ok()) {
      log.Line("warning: " + NotNoted(recorded));
      if (done.warning.empty()) done.warning = NotNoted(recorded);
    }
  }
  if (!failed.empty()) {
    std::string list;
    for (const auto& f : failed) list += (list.empty() ? "" : "; ") + f;
    done.damage = "restore test failed: " + list;
  }
  return done;
}

}  // namespace coffer::tools
