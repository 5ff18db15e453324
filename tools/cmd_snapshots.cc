// coffer snapshots: list snapshots.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/model/snapshot_name.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"

namespace coffer::tools {
namespace {

struct SnapshotsArgs {
  std::string group;
  bool json = false;
};

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(sep)) + item;
  return out;
}

int RunSnapshots(const GlobalOptions& global, const SnapshotsArgs& args) {
  if (!args.group.empty()) {
    if (Status s = model::ValidateGroup(args.group); !s.ok()) return Fail(s);
  }
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  auto snapshots = opened.repo->ListSnapshots(args.group);
  if (!snapshots.ok()) return Fail(snapshots.status());

  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const Snapshot& s : *snapshots) {
      const pb::Snapshot& r = s.record;
      list.push_back({{"id", s.ref.id.hex()},
                      {"name", s.name()},
                      {"group", r.group()},
                      {"time", model::FormatTime(r.time_ns())},
                      {"paths", std::vector<std::string>(r.paths().begin(), r.paths().end())},
                      {"tags", std::vector<std::string>(r.tags().begin(), r.tags().end())},
                      {"hostname", r.hostname()},
                      {"files", r.stats().files_total()},
                      {"bytes", r.stats().bytes_total()},
                      {"incomplete", r.incomplete()},
                      {"protected", s.is_protected}});
    }
    fmt::print("{}\n", list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return kExitOk;
  }
  if (snapshots->empty()) {
    if (!global.quiet) fmt::print(stderr, "no snapshots\n");
    return kExitOk;
  }
  fmt::print("{:<12}  {:<20}  {:<20}  {:>8}  {:>10}  {}\n", "ID", "Time", "Group", "Files", "Size",
             "Tags / Paths");
  for (const Snapshot& s : *snapshots) {
    const pb::Snapshot& r = s.record;
    std::string tags = r.tags().empty() ? "" : "[" + Join(r.tags(), ",") + "] ";
    fmt::print("{:<12}  {:<20}  {:<20}  {:>8}  {:>10}  {}{}{}{}\n", s.ref.id.short_hex(),
               model::FormatTime(r.time_ns()), r.group(), r.stats().files_total(),
               HumanBytes(r.stats().bytes_total()), tags, EscapeName(Join(r.paths(), " ")),
               r.incomplete() ? " (incomplete)" : "", s.is_protected ? " (protected)" : "");
  }
  return kExitOk;
}

}  // namespace

void RegisterSnapshots(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<SnapshotsArgs>();
  CLI::App* cmd = app.add_subcommand("snapshots", "List snapshots");
  cmd->add_option("--group", args->group, "Only snapshots of this group");
  cmd->add_flag("--json", args->json, "Print a JSON array");
  cmd->callback([&global, args, exit_code] { *exit_code = RunSnapshots(global, *args); });
}

}  // namespace coffer::tools
