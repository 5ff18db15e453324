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

// Named apart from protobuf's own Join, which argument-dependent lookup would prefer.
std::string JoinWith(const google::protobuf::RepeatedPtrField<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(sep)) + item;
  return out;
}

// The last `coffer verify` of a snapshot: "2026-11-30 ok", "2026-11-30 DAMAGED" or "-".
std::string LastVerify(const Snapshot& s) {
  if (!s.note.has_last_verify()) return "-";
  const pb::VerifyRecord& v = s.note.last_verify();
  return model::FormatTime(v.time_ns()).substr(0, 10) +
         (!v.ok() ? " DAMAGED" : v.sampled() ? " sample ok" : " ok");
}

nlohmann::json LastVerifyJson(const Snapshot& s) {
  if (!s.note.has_last_verify()) return nullptr;
  const pb::VerifyRecord& v = s.note.last_verify();
  return {{"time", model::FormatTime(v.time_ns())}, {"time_ns", v.time_ns()},
          {"ok", v.ok()}, {"sampled", v.sampled()}, {"objects_checked", v.objects_checked()},
          {"bytes_checked", v.bytes_checked()}, {"damaged_objects", v.damaged_objects()}};
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
                      {"last_verify", LastVerifyJson(s)},
                      {"protected", s.is_protected}});
    }
    fmt::print("{}\n", list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return kExitOk;
  }
  if (snapshots->empty()) {
    if (!global.quiet) fmt::print(stderr, "no snapshots\n");
    return kExitOk;
  }
  fmt::print("{:<12}  {:<20}  {:<20}  {:>8}  {:>10}  {:<20}  {}\n", "ID", "Time", "Group", "Files",
             "Size", "Verified", "Tags / Paths");
  for (const Snapshot& s : *snapshots) {
    const pb::Snapshot& r = s.record;
    std::string tags = r.tags().empty() ? "" : "[" + JoinWith(r.tags(), ",") + "] ";
    fmt::print("{:<12}  {:<20}  {:<20}  {:>8}  {:>10}  {:<20}  {}{}{}{}\n", s.ref.id.short_hex(),
               model::FormatTime(r.time_ns()), r.group(), r.stats().files_total(),
               HumanBytes(r.stats().bytes_total()), LastVerify(s), tags,
               EscapeName(JoinWith(r.paths(), " ")),
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
