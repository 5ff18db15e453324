// coffer forget: remove the named snapshots' records. coffer gc frees the
// space of the data no snapshot references any more.
#include <fmt/format.h>

#include "tools/cli.h"
#include "tools/snapshot_selection.h"

namespace coffer::tools {
namespace {

int RunForget(const GlobalOptions& global, const std::vector<std::string>& names) {
  ResolvedSnapshots resolved = ResolveSnapshots(global, names);
  if (!resolved.repo) return resolved.exit_code;
  for (const Snapshot& s : resolved.snapshots) {
    if (s.is_protected) {  // the store refuses too; this says it in the user's words
      resolved.failure.Report(
          Status::FailedPrecondition(s.name() + " is protected: run coffer unprotect first"));
      continue;
    }
    if (Status status = resolved.repo->Forget(s); !status.ok()) {
      resolved.failure.Report(status);
      if (StopsEveryRemoval(status)) break;
    } else if (!global.quiet) {
      fmt::print("removed {}\n", s.name());
    }
  }
  return resolved.failure.exit_code;
}

}  // namespace

void RegisterForget(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("forget", "Remove the named snapshots");
  AddSnapshotNames(cmd, *names);
  cmd->callback([&global, names, exit_code] { *exit_code = RunForget(global, *names); });
}

}  // namespace coffer::tools
