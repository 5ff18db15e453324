// The retention commands: coffer prune (a keep policy per group, planned by
// store/retention), coffer forget (named snapshots), coffer protect and
// coffer unprotect. They delete snapshot records only; coffer gc frees the
// space of the data no snapshot references any more.
#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/model/snapshot_name.h"
#include "store/retention/prune_planner.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/prune_plan.h"

namespace coffer::tools {
namespace {

// A keep count as typed, and the option it came from (for the message).
struct KeepOption {
  const char* name;
  std::string text;
  uint64_t* count;
  CLI::Option* cli = nullptr;  // says whether it was given at all
};

struct PruneArgs {
  std::vector<std::string> groups;
  retention::KeepPolicy policy;
  std::vector<KeepOption> keep;  // parsed into `policy` before anything else
  bool dry_run = false;
  bool json = false;
};

Status ParseKeepCount(const KeepOption& option) {
  const std::string& text = option.text;
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(fmt::format("invalid {} '{}': give a whole number, 0 or more",
                                               option.name, text));
  }
  *option.count = value;
  return Status::Ok();
}

// The first failure decides the exit code; every one is reported as it
// happens.
struct FirstFailure {
  int exit_code = kExitOk;
  void Report(const Status& status) {
    int code = Fail(status);
    if (exit_code == kExitOk) exit_code = code;
  }
};

// A failure that every later removal (or change) would meet alike: a server that refuses
// a call for lack of rights (an append-only token), a full or failing disk.
bool StopsEveryRemoval(const Status& status) {
  return status.code() == Code::kPermissionDenied || status.code() == Code::kNoSpace ||
         status.code() == Code::kIoError;
}

int RunPrune(const GlobalOptions& global, PruneArgs& args) {
  for (const KeepOption& option : args.keep) {
    if (option.cli->count() == 0) continue;
    if (Status s = ParseKeepCount(option); !s.ok()) return Fail(s);
  }
  for (const std::string& group : args.groups) {
    if (Status s = model::ValidateGroup(group); !s.ok()) return Fail(s);
  }
  if (!args.policy.KeepsSomething()) {
    fmt::print(stderr, "coffer: no --keep-* option above 0 given: keeping every snapshot\n");
  }
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;

  // A group named twice is listed once: the planner must see each snapshot once.
  std::set<std::string> groups(args.groups.begin(), args.groups.end());
  if (groups.empty()) groups.insert("");  // every group
  auto planned = PlanPruneOfGroups(repo, groups, args.policy);
  if (!planned.ok()) return Fail(planned.status());
  const std::vector<Snapshot>& snapshots = planned->snapshots;
  const std::vector<retention::PruneDecision>& plan = planned->decisions;

  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : plan) {
      const Snapshot& s = snapshots[d.id];
      list.push_back({{"snapshot", s.name()},
                      {"id", s.ref.id.hex()},
                      {"group", s.ref.group},
                      {"time", model::FormatTime(s.ref.time_ns)},
                      {"keep", d.keep},
                      {"reason", std::string(retention::ReasonName(d.reason))}});
    }
    fmt::print("{}\n", list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (!plan.empty()) {
    size_t width = 8;
    for (const auto& d : plan) width = std::max(width, snapshots[d.id].name().size());
    fmt::print("{:<{}}  {:<6}  {}\n", "Snapshot", width, "Action", "Reason");
    for (const auto& d : plan) {
      if (d.keep) {
        fmt::print("{:<{}}  keep    {}\n", snapshots[d.id].name(), width, retention::ReasonName(d.reason));
      } else {
        fmt::print("{:<{}}  remove\n", snapshots[d.id].name(), width);
      }
    }
  }
  std::fflush(stdout);

  size_t to_remove = 0;
  for (const auto& d : plan) to_remove += d.keep ? 0 : 1;
  // Damaged records are reported (and make the exit code 4) after the work
  // on everything else, which goes on as usual.
  FirstFailure failure;
  for (const Snapshot& s : snapshots) {
    if (!s.damaged()) continue;
    failure.Report(Status::Corruption(s.name() + ": the snapshot record is damaged (" +
                                      s.damage.message() + "); kept: coffer forget " + s.name() +
                                      " removes it"));
  }
  if (args.dry_run) {
    if (!global.quiet) {
      fmt::print(stderr, "dry run: would remove {} of {} snapshots\n", to_remove, plan.size());
    }
    return failure.exit_code;
  }
  size_t removed = 0;
  Status stopped;
  for (const auto& d : plan) {
    if (d.keep) continue;
    Status s = repo.Forget(snapshots[d.id]);
    if (s.ok()) {
      ++removed;
    } else if (StopsEveryRemoval(s)) {
      stopped = std::move(s);
      break;
    } else {
      failure.Report(s);
    }
  }
  if (!global.quiet) {
    fmt::print(stderr, "removed {} of {} snapshots{}\n", removed, plan.size(),
               removed ? "; coffer gc frees the space of their data" : "");
  }
  // Last, so that the reason the removals stopped is what a script sees.
  if (!stopped.ok()) failure.Report(stopped);
  return failure.exit_code;
}

// Resolves every name before anything changes, so that GROUP/latest means the
// same snapshot whatever else the command line names; a name given twice, or
// two names of one snapshot, count once.
struct Resolved {
  std::unique_ptr<Repository> repo;
  std::vector<Snapshot> snapshots;
  FirstFailure failure;  // names that matched no snapshot
  int exit_code = 0;     // non-zero when repo is null
};

Resolved ResolveSnapshots(const GlobalOptions& global, const std::vector<std::string>& names) {
  Resolved out;
  for (const std::string& name : names) {
    if (auto sel = model::ParseSnapshotName(name); !sel.ok()) {
      out.exit_code = Fail(sel.status());
      return out;
    }
  }
  Opened opened = OpenRepository(global);
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

int RunForget(const GlobalOptions& global, const std::vector<std::string>& names) {
  Resolved resolved = ResolveSnapshots(global, names);
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

int RunSetProtected(const GlobalOptions& global, const std::vector<std::string>& names, bool is_protected) {
  Resolved resolved = ResolveSnapshots(global, names);
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

void AddSnapshotNames(CLI::App* cmd, std::vector<std::string>& names) {
  cmd->add_option("SNAPSHOT", names, "GROUP/TIME, GROUP/latest or an id prefix (one or more)")
      ->required();
}

}  // namespace

void RegisterPrune(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<PruneArgs>();
  CLI::App* cmd = app.add_subcommand("prune", "Remove the snapshots a keep policy does not keep");
  AddRepeatableOption(cmd, "--group", "GROUP", args->groups, "Prune only GROUP, not every group");
  retention::KeepPolicy& p = args->policy;
  args->keep = {{"--keep-last", {}, &p.keep_last},       {"--keep-hourly", {}, &p.keep_hourly},
                {"--keep-daily", {}, &p.keep_daily},     {"--keep-weekly", {}, &p.keep_weekly},
                {"--keep-monthly", {}, &p.keep_monthly}, {"--keep-yearly", {}, &p.keep_yearly}};
  const char* help[] = {"Keep the N newest snapshots",
                        "Keep the newest snapshot of each of the last N hours that have one",
                        "Keep the newest snapshot of each of the last N days that have one",
                        "Keep the newest snapshot of each of the last N weeks that have one",
                        "Keep the newest snapshot of each of the last N months that have one",
                        "Keep the newest snapshot of each of the last N years that have one"};
  for (size_t i = 0; i < args->keep.size(); ++i) {
    args->keep[i].cli = cmd->add_option(args->keep[i].name, args->keep[i].text, help[i])->type_name("N");
  }
  cmd->add_flag("--dry-run", args->dry_run, "Only show what would be kept and removed");
  cmd->add_flag("--json", args->json, "Print the plan as a JSON array");
  cmd->callback([&global, args, exit_code] { *exit_code = RunPrune(global, *args); });
}

void RegisterForget(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("forget", "Remove the named snapshots");
  AddSnapshotNames(cmd, *names);
  cmd->callback([&global, names, exit_code] { *exit_code = RunForget(global, *names); });
}

void RegisterProtect(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("protect", "Keep snapshots from prune and forget");
  AddSnapshotNames(cmd, *names);
  cmd->callback([&global, names, exit_code] { *exit_code = RunSetProtected(global, *names, true); });
}

void RegisterUnprotect(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("unprotect", "Let prune and forget remove snapshots again");
  AddSnapshotNames(cmd, *names);
  cmd->callback([&global, names, exit_code] { *exit_code = RunSetProtected(global, *names, false); });
}

}  // namespace coffer::tools
