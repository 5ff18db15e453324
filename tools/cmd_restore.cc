// coffer restore: write a snapshot, or part of it, back to disk.
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "store/base/crash_point.h"
#include "store/restore/restorer.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/progress.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct RestoreArgs {
  std::string snapshot;
  std::string path;
  std::string target;
};

int RunRestore(const GlobalOptions& global, const RestoreArgs& args) {
  OpenedSnapshot opened = OpenSnapshot(global, args.snapshot);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;
  PausePoint("restore-opened");  // a test holds a restore here, between two servers

  restore::RestoreOptions options;
  options.target = args.target;
  options.restore_owners = geteuid() == 0;
  restore::RestoreProgress progress;
  auto started = std::chrono::steady_clock::now();
  ProgressLine line(ProgressWanted(global.quiet), [&] {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    uint64_t bytes = progress.bytes;
    return fmt::format("{} files, {} written, {}/s", progress.files.load(), HumanBytes(bytes),
                       HumanBytes(static_cast<uint64_t>(secs > 0 ? bytes / secs : 0)));
  });
  restore::Restorer restorer(repo, options, &progress);
  auto result = restorer.Restore(opened.snapshot, args.path);
  line.Stop();
  if (!result.ok()) return Fail(result.status());
  for (const auto& e : result->errors) {
    fmt::print(stderr, "coffer: {}: {}\n", EscapeName(e.path), e.status.message());
  }
  if (!global.quiet) {
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
    fmt::print(stderr, "restored {} files and {} directories, {} in {} to {}\n", result->files,
               result->dirs, HumanBytes(result->bytes), HumanDuration(nanos), args.target);
  }
  if (result->errors.empty()) return kExitOk;
  fmt::print(stderr, "coffer: {} entries could not be restored\n", result->errors.size());
  return result->damaged() ? kExitDamaged : kExitError;
}

}  // namespace

void RegisterRestore(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<RestoreArgs>();
  CLI::App* cmd = app.add_subcommand("restore", "Restore a snapshot, or a file or directory of it");
  cmd->add_option("SNAPSHOT", args->snapshot, "GROUP/TIME, GROUP/latest or an id prefix")
      ->required();
  cmd->add_option("PATH", args->path, "File or directory in the snapshot (default: all of it)");
  cmd->add_option("-t,--target", args->target, "Folder to restore into (created if missing)")
      ->type_name("DIR")
      ->required();
  cmd->callback([&global, args, exit_code] {
    global.host_when_alone = true;
    *exit_code = RunRestore(global, *args);
  });
}

}  // namespace coffer::tools
