// coffer ls: list a directory of a snapshot.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct LsArgs {
  std::string snapshot;
  std::string path;
  bool long_format = false;
  bool recursive = false;
  bool json = false;
};

void PrintEntry(const pb::Entry& e, const std::string& path, const LsArgs& args) {
  if (args.json) {
    nlohmann::json j = {{"path", path},
                        {"name", e.name()},
                        {"type", pb::Entry::Type_Name(e.type())},
                        {"mode", e.mode()},
                        {"uid", e.uid()},
                        {"gid", e.gid()},
                        {"user", e.user()},
                        {"group", e.group()},
                        {"size", e.size()},
                        {"mtime", model::FormatTime(e.mtime_ns())},
                        {"mtime_ns", e.mtime_ns()}};
    if (e.type() == pb::Entry::SYMLINK) j["target"] = e.symlink_target();
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string shown = EscapeName(args.recursive ? path : e.name());
  if (!args.long_format) {
    fmt::print("{}\n", shown);
    return;
  }
  std::string owner = e.user().empty() ? std::to_string(e.uid()) : e.user();
  std::string group = e.group().empty() ? std::to_string(e.gid()) : e.group();
  std::string target =
      e.type() == pb::Entry::SYMLINK ? " -> " + EscapeName(e.symlink_target()) : "";
  fmt::print("{} {:<8} {:<8} {:>12} {} {}{}\n", ModeString(e), owner, group, e.size(),
             model::FormatTime(e.mtime_ns()), shown, target);
}

Status ListTree(Repository& repo, const pb::Entry& dir, const std::string& prefix,
                const LsArgs& args) {
  auto id = ObjectId::FromBytes(AsBytes(dir.subtree_id()));
  if (!id) return Status::Corruption("directory with a malformed tree id");
  COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo.ReadTree(*id));
  for (const pb::Entry& e : tree.entries()) {
    std::string path = prefix.empty() ? e.name() : prefix + "/" + e.name();
    PrintEntry(e, path, args);
    if (args.recursive && e.type() == pb::Entry::DIRECTORY) {
      COFFER_RETURN_IF_ERROR(ListTree(repo, e, path, args));
    }
  }
  return Status::Ok();
}

int RunLs(const GlobalOptions& global, const LsArgs& args) {
  OpenedSnapshot opened = OpenSnapshot(global, args.snapshot);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;
  auto entry = repo.LookupPath(opened.snapshot, args.path);
  if (!entry.ok()) return Fail(entry.status());
  const std::string prefix = model::CleanPath(args.path);
  if (entry->type() != pb::Entry::DIRECTORY) {
    PrintEntry(*entry, prefix, args);
    return kExitOk;
  }
  Status s = ListTree(repo, *entry, prefix, args);
  return s.ok() ? kExitOk : Fail(s);
}

}  // namespace

void RegisterLs(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<LsArgs>();
  CLI::App* cmd = app.add_subcommand("ls", "List a directory of a snapshot");
  cmd->add_option("SNAPSHOT", args->snapshot, "GROUP/TIME, GROUP/latest or an id prefix")
      ->required();
  cmd->add_option("PATH", args->path, "Directory or file in the snapshot (default: its root)");
  cmd->add_flag("-l,--long", args->long_format, "Show mode, owner, size and time");
  cmd->add_flag("-R,--recursive", args->recursive, "List everything below PATH");
  cmd->add_flag("--json", args->json, "One JSON object per line");
  cmd->callback([&global, args, exit_code] { *exit_code = RunLs(global, *args); });
}

}  // namespace coffer::tools
