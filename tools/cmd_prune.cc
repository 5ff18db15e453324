// coffer prune: remove the snapshots a keep policy per group (planned by
// store/retention) does not keep. It deletes snapshot records only; coffer gc
// frees the space of the data no snapshot references any more.
#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/model/snapshot_name.h"
#include "store/retention/prune_planner.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/prune_plan.h"
#include "tools/snapshot_selection.h"

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
    return Status::InvalidArgument(
        fmt::format("invalid {} '{}': give a whole number, 0 or more", option.name, text));
  }
  *option.count = value;
  return Status::Ok();
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
        fmt::print("{:<{}}  keep    {}\n", snapshots[d.id].name(), width,
                   retention::ReasonName(d.reason));
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
    args->keep[i].cli =
        cmd->add_option(args->keep[i].name, args->keep[i].text, help[i])->type_name("N");
  }
  cmd->add_flag("--dry-run", args->dry_run, "Only show what would be kept and removed");
  cmd->add_flag("--json", args->json, "Print the plan as a JSON array");
  cmd->callback([&global, args, exit_code] { *exit_code = RunPrune(global, *args); });
}

}  // namespace coffer::tools
