// coffer protect: keep the named snapshots from coffer prune and coffer forget.
#include "tools/cli.h"
#include "tools/snapshot_selection.h"

namespace coffer::tools {

void RegisterProtect(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("protect", "Keep snapshots from prune and forget");
  AddSnapshotNames(cmd, *names);
  cmd->callback([&global, names, exit_code] {
    *exit_code = RunSetProtected(global, *names, /*is_protected=*/true);
  });
}

}  // namespace coffer::tools
