#include "tools/snapshot_selection.h"

#include <fmt/format.h>

#include "tools/exit_codes.h"
#include "tools/open_repository.h"

namespace coffer::tools {

void AddSnapshotNames(CLI::App* cmd, std::vector<std::string>& names) {
  cmd->add_option("SNAPSHOT", names, "GROUP/TIME, GROUP/latest or an id prefix (one or more)")
      ->required();
}

void FirstFailure::Report(const Status& status) {
  int code = Fail(status);
  if (exit_code == kExitOk) exit_code = code;
}

bool StopsEveryRemoval(const Status& status) {
  return status.code() == Code::kPermissionDenied || status.code() == Code::kNoSpace ||
         status.code() == Code::kIoError;
}

ResolvedSnapshots ResolveSnapshots(const GlobalOptions& global,
                                   const std::vector<std::string>& names) {
  ResolvedSnapshots out;
  Opened opened = OpenRepositoryNaming(global, names);
  if (!opened.repo) {
    out.exit_code = opened.exit_code;
    return out;
  }
  out.repo = std::move(opened.repo);
  for (const std::string& name : names) {
    auto found = out.repo->FindSnapshot(name);
    if (!found.ok()) {
      out.failure.Report(found.status());
      continue;
    }
    bool seen = false;
    for (const Snapshot& s : out.snapshots) {
      seen = seen || (s.ref.group == found->ref.group && s.ref.time_ns == found->ref.time_ns);
    }
    if (!seen) out.snapshots.push_back(std::move(found).value());
  }
  return out;
}

int RunSetProtected(const GlobalOptions& global, const std::vector<std::string>& names,
                    bool is_protected) {
  ResolvedSnapshots resolved = ResolveSnapshots(global, names);
  if (!resolved.repo) return resolved.exit_code;
  for (const Snapshot& s : resolved.snapshots) {
    if (Status status = resolved.repo->SetProtected(s, is_protected); !status.ok()) {
      resolved.failure.Report(status);
      if (StopsEveryRemoval(status)) break;
    } else if (!global.quiet) {
      fmt::print("{} {}\n", is_protected ? "protected" : "unprotected", s.name());
    }
  }
  return resolved.failure.exit_code;
}

}  // namespace coffer::tools
