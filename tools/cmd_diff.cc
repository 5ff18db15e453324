// coffer diff: what changed between two snapshots (store/diff/tree_diff.h).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/diff/tree_diff.h"
#include "store/model/tree.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct DiffArgs {
  std::string before;
  std::string after;
  std::string path;
  bool json = false;
};

struct Totals {
  uint64_t added = 0, removed = 0, changed = 0;
  uint64_t added_bytes = 0, removed_bytes = 0;  // sizes of files added and removed
};

const char* KindName(diff::Change::Kind kind) {
  switch (kind) {
    case diff::Change::kAdded: return "added";
    case diff::Change::kRemoved: return "removed";
    case diff::Change::kChanged: return "changed";
  }
  return "?";
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PrintChange(const diff::Change& change, bool json) {
  const pb::Entry& entry = change.after != nullptr ? *change.after : *change.before;
  if (json) {
    nlohmann::json j = {{"message_type", "change"},
                        {"change", KindName(change.kind)},
                        {"path", change.path},
                        {"type", pb::Entry::Type_Name(entry.type())}};
    if (change.before != nullptr) j["size_before"] = change.before->size();
    if (change.after != nullptr) j["size_after"] = change.after->size();
    if (change.kind == diff::Change::kChanged) {
      j["type_before"] = pb::Entry::Type_Name(change.before->type());
      nlohmann::json what = nlohmann::json::array();
      for (std::string_view name : diff::DifferenceNames(change.differences)) what.push_back(name);
      j["what"] = std::move(what);
    }
    fmt::print("{}\n", Dump(j));
    return;
  }
  // The marks of restic's and borg's diff: + added, - removed, M changed.
  const char mark = change.kind == diff::Change::kAdded     ? '+'
                    : change.kind == diff::Change::kRemoved ? '-'
                                                            : 'M';
  std::string shown = EscapeName(change.path);
  if (entry.type() == pb::Entry::DIRECTORY) shown += '/';
  if (change.kind != diff::Change::kChanged) {
    fmt::print("{} {}\n", mark, shown);
    return;
  }
  fmt::print("{} {}  ({})\n", mark, shown,
             fmt::join(diff::DifferenceNames(change.differences), ", "));
}

void Count(const diff::Change& change, Totals& totals) {
  auto file_size = [](const pb::Entry* e) -> uint64_t {
    return e != nullptr && e->type() == pb::Entry::FILE ? e->size() : 0;
  };
  switch (change.kind) {
    case diff::Change::kAdded:
      ++totals.added;
      totals.added_bytes += file_size(change.after);
      break;
    case diff::Change::kRemoved:
      ++totals.removed;
      totals.removed_bytes += file_size(change.before);
      break;
    case diff::Change::kChanged: ++totals.changed; break;
  }
}

// The entry at `path` of `snapshot`, or null when the snapshot has none.
Result<std::optional<pb::Entry>> FindEntry(Repository& repo, const Snapshot& snapshot,
                                           const std::string& path) {
  Result<pb::Entry> entry = repo.LookupPath(snapshot, path);
  if (entry.ok()) return std::optional<pb::Entry>(std::move(entry).value());
  if (entry.status().code() == Code::kNotFound) return std::optional<pb::Entry>();
  return entry.status();
}

int RunDiff(const GlobalOptions& global, const DiffArgs& args) {
  OpenedSnapshots opened = OpenSnapshots(global, {args.before, args.after});
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;
  const std::vector<Snapshot>& snapshots = opened.snapshots;

  Totals totals;
  auto report = [&](const diff::Change& change) {
    Count(change, totals);
    PrintChange(change, args.json);
    return Status::Ok();
  };
  auto read = [&repo](const ObjectId& id) { return repo.ReadTreeObject(id); };
  diff::DiffStats stats;
  Status walked;
  const std::string path = model::CleanPath(args.path);
  if (path.empty()) {
    auto old_root = ObjectId::FromBytes(AsBytes(snapshots[0].record.root_tree_id()));
    auto new_root = ObjectId::FromBytes(AsBytes(snapshots[1].record.root_tree_id()));
    if (!old_root || !new_root)
      return Fail(Status::Corruption("snapshot with a malformed root tree id"));
    walked = diff::DiffTrees(*old_root, *new_root, read, report, &stats);
  } else {
    auto old_entry = FindEntry(repo, snapshots[0], path);
    if (!old_entry.ok()) return Fail(old_entry.status());
    auto new_entry = FindEntry(repo, snapshots[1], path);
    if (!new_entry.ok()) return Fail(new_entry.status());
    if (!old_entry->has_value() && !new_entry->has_value()) {
      return Fail(Status::NotFound("'" + args.path + "' is in neither " + snapshots[0].name() +
                                   " nor " + snapshots[1].name()));
    }
    walked = diff::DiffEntries(old_entry->has_value() ? &**old_entry : nullptr,
                               new_entry->has_value() ? &**new_entry : nullptr, path, read, report,
                               &stats);
  }
  std::fflush(stdout);
  if (!walked.ok()) return Fail(walked);

  if (args.json) {
    fmt::print("{}\n", Dump({{"message_type", "statistics"},
                             {"before", snapshots[0].name()},
                             {"after", snapshots[1].name()},
                             {"added", totals.added},
                             {"removed", totals.removed},
                             {"changed", totals.changed},
                             {"added_bytes", totals.added_bytes},
                             {"removed_bytes", totals.removed_bytes},
                             {"trees_read", stats.trees_read},
                             {"subtrees_skipped", stats.subtrees_skipped}}));
  } else if (!global.quiet) {
    fmt::print("{} added ({}), {} removed ({}), {} changed\n", totals.added,
               HumanBytes(totals.added_bytes), totals.removed, HumanBytes(totals.removed_bytes),
               totals.changed);
  }
  return kExitOk;
}

}  // namespace

void RegisterDiff(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* cmd =
      app.add_subcommand("diff", "Show what was added, removed and changed between two snapshots");
  cmd->add_option("SNAPSHOT1", args->before,
                  "The older snapshot: GROUP/TIME, GROUP/latest or an id prefix")
      ->required();
  cmd->add_option("SNAPSHOT2", args->after, "The newer snapshot")->required();
  cmd->add_option("PATH", args->path, "Compare only this directory or file (default: everything)");
  cmd->add_flag("--json", args->json, "One JSON object per line: each change, then the statistics");
  cmd->callback([&global, args, exit_code] { *exit_code = RunDiff(global, *args); });
}

}  // namespace coffer::tools
