// coffer unprotect: let coffer prune and coffer forget remove the named snapshots
// again.
#include "tools/cli.h"
#include "tools/snapshot_selection.h"

namespace coffer::tools {

void RegisterUnprotect(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("unprotect", "Let prune and forget remove snapshots again");
  AddSnapshotNames(cmd, *names);
  cmd->callback([&global, names, exit_code] {
    *exit_code = RunSetProtected(global, *names, /*is_protected=*/false);
  });
}

}  // namespace coffer::tools
