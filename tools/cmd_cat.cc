// coffer cat: write one file of a snapshot to standard output.
#include <unistd.h>

#include "store/restore/restorer.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"

namespace coffer::tools {
namespace {

struct CatArgs {
  std::string snapshot;
  std::string path;
};

int RunCat(const GlobalOptions& global, const CatArgs& args) {
  OpenedSnapshot opened = OpenSnapshot(global, args.snapshot);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;
  auto entry = repo.LookupPath(opened.snapshot, args.path);
  if (!entry.ok()) return Fail(entry.status());
  if (entry->type() != pb::Entry::FILE) {
    return Fail(Status::NotFound("'" + args.path + "' is not a regular file"));
  }
  Status s = restore::WriteFileContent(repo, *entry, STDOUT_FILENO);
  if (s.code() == Code::kNoSpace) {
    // cat writes nothing to the repository: what filled up is the output.
    return Fail(
        Status::IoError("cannot write " + args.path + " to standard output: " + s.message()));
  }
  return s.ok() ? kExitOk : Fail(s.WithContext(args.path));
}

}  // namespace

void RegisterCat(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<CatArgs>();
  CLI::App* cmd = app.add_subcommand("cat", "Write a file of a snapshot to standard output");
  cmd->add_option("SNAPSHOT", args->snapshot, "GROUP/TIME, GROUP/latest or an id prefix")
      ->required();
  cmd->add_option("PATH", args->path, "File in the snapshot")->required();
  cmd->callback([&global, args, exit_code] { *exit_code = RunCat(global, *args); });
}

}  // namespace coffer::tools
