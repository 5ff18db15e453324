// coffer backup: store a new snapshot of files, directories or a stream.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/base/unique_fd.h"
#include "store/ingest/archiver.h"
#include "store/ingest/exclude.h"
#include "store/model/snapshot_name.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/new_snapshot.h"
#include "tools/open_repository.h"
#include "tools/progress.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct BackupArgs {
  std::vector<std::string> paths;
  std::string group;
  std::string time;
  std::vector<std::string> tags;
  std::vector<std::string> excludes;
  std::vector<std::string> exclude_files;
  bool one_file_system = false;
  bool image = false;
  bool force = false;
  bool json = false;
  bool stdin_mode = false;
  std::string stdin_name = "stdin";
  bool stdin_from_command = false;
};

// Runs `argv` with its stdout on a pipe; the read end is returned.
struct Producer {
  pid_t pid = -1;
  UniqueFd output;
  std::string name;
};

Result<Producer> StartProducer(const std::vector<std::string>& argv) {
  int fds[2], exec_fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  Producer p;
  p.output.reset(fds[0]);
  UniqueFd write_end(fds[1]);
  // Closed by a successful exec; carries errno if the exec fails, so that
  // a command that cannot run is one error, told before any backup starts.
  if (pipe2(exec_fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd exec_read(exec_fds[0]), exec_write(exec_fds[1]);
  p.name = argv[0];
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    dup2(write_end.get(), STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    const int err = errno;
    (void)!write(exec_write.get(), &err, sizeof err);
    _exit(127);
  }
  exec_write.reset();
  int exec_errno = 0;
  ssize_t n;
  while ((n = read(exec_read.get(), &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return Status::FromErrno(exec_errno, "cannot run " + argv[0]);
  }
  p.pid = pid;
  return p;
}

Status WaitProducer(Producer& p) {
  p.output.reset();  // a producer still writing gets SIGPIPE instead of blocking
  int status = 0;
  while (waitpid(p.pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "wait for " + p.name);
  }
  p.pid = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  std::string how = WIFEXITED(status) ? fmt::format("exited with status {}", WEXITSTATUS(status))
                                      : fmt::format("was killed by signal {}", WTERMSIG(status));
  return Status::Aborted(fmt::format("{} {}; no snapshot was written", p.name, how));
}

void PrintSummary(const ingest::BackupResult& result, bool json) {
  const pb::Snapshot& r = result.snapshot.record;
  const pb::SnapshotStats& st = r.stats();
  if (json) {
    nlohmann::json j = {
        {"snapshot", result.snapshot.name()},
        {"id", result.snapshot.ref.id.hex()},
        {"group", r.group()},
        {"time", model::FormatTime(r.time_ns())},
        {"files_new", st.files_new()},
        {"files_changed", st.files_changed()},
        {"files_unchanged", st.files_unchanged()},
        {"dirs", st.dirs()},
        {"bytes_read", st.bytes_read()},
        {"bytes_total", st.bytes_total()},
        {"bytes_added", st.bytes_added()},
        {"chunks_added", st.chunks_added()},
        {"duration_seconds", static_cast<double>(st.duration_ns()) / 1e9},
        {"incomplete", r.incomplete()},
    };
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& e : result.errors)
      errors.push_back({{"path", e.path}, {"error", e.status.message()}});
    j["errors"] = errors;
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  fmt::print(stderr, "snapshot {} saved (id {}){}\n", result.snapshot.name(),
             result.snapshot.ref.id.short_hex(), r.incomplete() ? ", INCOMPLETE" : "");
  fmt::print(stderr, "files: {} new, {} changed, {} unchanged; {} directories\n", st.files_new(),
             st.files_changed(), st.files_unchanged(), st.dirs());
  fmt::print(stderr, "read {} of {}, added {} to the repository in {}\n",
             HumanBytes(st.bytes_read()), HumanBytes(st.bytes_total()),
             HumanBytes(st.bytes_added()), HumanDuration(st.duration_ns()));
}

int RunBackup(const GlobalOptions& global, BackupArgs args) {
  bool stream = args.stdin_mode || args.stdin_from_command;
  if (!stream && args.paths.empty()) {
    return Fail(Status::InvalidArgument("nothing to back up: give at least one PATH, or --stdin"));
  }
  if (args.stdin_mode && !args.paths.empty()) {
    return Fail(Status::InvalidArgument("--stdin takes no PATH arguments"));
  }
  if (args.stdin_from_command && args.paths.empty()) {
    return Fail(Status::InvalidArgument(
        "--stdin-from-command needs a command: coffer backup --stdin-from-command -- CMD ARGS..."));
  }
  if (stream && (args.stdin_name.empty() || args.stdin_name.find('/') != std::string::npos ||
                 args.stdin_name == "." || args.stdin_name == "..")) {
    return Fail(Status::InvalidArgument("--stdin-name must be a file name without '/'"));
  }
  if (args.group.empty()) args.group = "host/" + ShortHostname();
  if (Status s = model::ValidateGroup(args.group); !s.ok()) return Fail(s);
  for (const std::string& tag : args.tags) {
    if (Status s = model::ValidateTag(tag); !s.ok()) return Fail(s);
  }
  for (const auto& file : args.exclude_files) {
    auto patterns = ingest::ReadExcludeFile(file);
    if (!patterns.ok()) return Fail(patterns.status());
    args.excludes.insert(args.excludes.end(), patterns->begin(), patterns->end());
  }
  // Validate the time before opening the repository (which may ask for a passphrase).
  if (!args.time.empty()) {
    if (auto t = model::ParseTime(args.time); !t.ok()) return Fail(t.status());
  }

  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;

  auto time = ChooseTime(repo, args.group, args.time);
  if (!time.ok()) return Fail(time.status());

  ingest::BackupOptions options;
  options.group = args.group;
  options.time_ns = *time;
  options.tags = args.tags;
  options.excludes = args.excludes;
  options.one_file_system = args.one_file_system;
  options.image = args.image;
  options.force = args.force;
  options.hostname = ShortHostname();
  options.username = UserName();

  ingest::BackupProgress progress;
  auto started = std::chrono::steady_clock::now();
  ProgressLine line(ProgressWanted(global.quiet), [&] {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    uint64_t bytes = progress.bytes_read;
    return fmt::format("{} files, {} dirs, {} read, {}/s{}  {}", progress.files.load(),
                       progress.dirs.load(), HumanBytes(bytes),
                       HumanBytes(static_cast<uint64_t>(secs > 0 ? bytes / secs : 0)),
                       progress.errors ? fmt::format(", {} errors", progress.errors.load()) : "",
                       EscapeName(progress.current_path()));
  });

  ingest::Archiver archiver(repo, options, &progress);
  Result<ingest::BackupResult> result = Status::Aborted("not run");
  if (args.stdin_from_command) {
    auto producer = StartProducer(args.paths);
    if (!producer.ok()) return Fail(producer.status());
    result = archiver.BackupStream(producer->output.get(), args.stdin_name,
                                   [&] { return WaitProducer(*producer); });
    if (producer->pid > 0) {  // the backup failed before the producer finished
      kill(producer->pid, SIGTERM);
      (void)WaitProducer(*producer);
    }
  } else if (args.stdin_mode) {
    result = archiver.BackupStream(STDIN_FILENO, args.stdin_name, [] { return Status::Ok(); });
  } else {
    result = archiver.BackupPaths(args.paths);
  }
  line.Stop();
  if (!result.ok()) return Fail(result.status());

  for (const auto& e : result->errors) {
    fmt::print(stderr, "coffer: {}: {}\n", EscapeName(e.path), e.status.message());
  }
  if (!global.quiet || args.json) PrintSummary(*result, args.json);
  if (!result->errors.empty()) {
    fmt::print(stderr,
               "coffer: backup incomplete: {} entries could not be read, or changed while read\n",
               result->errors.size());
    return kExitIncomplete;
  }
  return kExitOk;
}

}  // namespace

void RegisterBackup(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* cmd =
      app.add_subcommand("backup", "Store a new snapshot of files, directories or a stream");
  cmd->add_option("PATH", args->paths,
                  "Files and directories to back up (with --stdin-from-command: the command)");
  cmd->add_option("--group", args->group, "Backup group TYPE/NAME (default host/<hostname>)")
      ->type_name("GROUP");
  cmd->add_option("--time", args->time, "Snapshot time, ISO 8601 (default now)")->type_name("TIME");
  AddRepeatableOption(cmd, "--tag", "TAG", args->tags, "Tag the snapshot");
  AddRepeatableOption(cmd, "--exclude", "PATTERN", args->excludes, "Skip paths matching PATTERN");
  AddRepeatableOption(cmd, "--exclude-file", "FILE", args->exclude_files,
                      "Read exclude patterns from FILE, one a line");
  cmd->add_flag("-x,--one-file-system", args->one_file_system,
                "Do not cross filesystem boundaries");
  cmd->add_flag("--image", args->image,
                "Files named as PATH are disk images: fixed 64 KiB chunks, zeros as holes "
                "(block devices named as PATH always are)");
  cmd->add_flag("--force", args->force, "Read every file again, even if unchanged");
  cmd->add_flag("--json", args->json, "Print the summary as JSON on stdout");
  cmd->add_flag("--stdin", args->stdin_mode, "Back up standard input as one file");
  cmd->add_option("--stdin-name", args->stdin_name, "File name for --stdin (default stdin)")
      ->type_name("NAME")
      ->capture_default_str();
  cmd->add_flag("--stdin-from-command", args->stdin_from_command,
                "Run the command given as PATH... and back up its output; fail if it fails");
  cmd->callback([&global, args, exit_code] {
    global.host_when_alone = true;
    *exit_code = RunBackup(global, *args);
  });
}

}  // namespace coffer::tools
