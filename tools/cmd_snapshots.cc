// coffer snapshots: list snapshots.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/model/snapshot_name.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct SnapshotsArgs {
  std::string group;
  bool json = false;
};

// Named apart from protobuf's own Join, which argument-dependent lookup would prefer.
std::string JoinWith(const google::protobuf::RepeatedPtrField<std::string>& items,
                     std::string_view sep) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(sep)) + item;
  return out;
}

// The last `coffer verify` of a snapshot: "2026-11-30 ok", "2026-11-30 DAMAGED",
// "note DAMAGED" (the note itself does not open) or "-".
std::string LastVerify(const Snapshot& s) {
  if (!s.note_damage.ok()) return "note DAMAGED";
  if (!s.note.has_last_verify()) return "-";
  const pb::VerifyRecord& v = s.note.last_verify();
  return model::FormatTime(v.time_ns()).substr(0, 10) + (!v.ok()       ? " DAMAGED"
                                                         : v.sampled() ? " sample ok"
                                                                       : " ok");
}

nlohmann::json LastVerifyJson(const Snapshot& s) {
  if (!s.note.has_last_verify()) return nullptr;
  const pb::VerifyRecord& v = s.note.last_verify();
  return {{"time", model::FormatTime(v.time_ns())},
          {"time_ns", v.time_ns()},
          {"ok", v.ok()},
          {"sampled", v.sampled()},
          {"objects_checked", v.objects_checked()},
          {"bytes_checked", v.bytes_checked()},
          {"damaged_objects", v.damaged_objects()}};
}

// The last `coffer restore-test`: "2026-11-30 ok", "2026-11-30 FAILED" or "-"
// ("note DAMAGED" shows in the verify column).
std::string LastRestoreTest(const Snapshot& s) {
  if (!s.note_damage.ok() || !s.note.has_last_restore_test()) return "-";
  const pb::RestoreTestRecord& t = s.note.last_restore_test();
  return model::FormatTime(t.time_ns()).substr(0, 10) + (t.ok() ? " ok" : " FAILED");
}

nlohmann::json LastRestoreTestJson(const Snapshot& s) {
  if (!s.note.has_last_restore_test()) return nullptr;
  const pb::RestoreTestRecord& t = s.note.last_restore_test();
  return {{"time", model::FormatTime(t.time_ns())},
          {"time_ns", t.time_ns()},
          {"ok", t.ok()},
          {"files_checked", t.files_checked()},
          {"bytes_checked", t.bytes_checked()},
          {"mismatches", t.mismatches()},
          {"seed", t.seed()}};
}

nlohmann::json DamageJson(const Status& damage) {
  return damage.ok() ? nlohmann::json(nullptr) : nlohmann::json(damage.message());
}

// A snapshot as JSON. Group, time and id are the index's; what only the
// record knows is null when the record is damaged.
nlohmann::json SnapshotJson(const Snapshot& s) {
  const pb::Snapshot& r = s.record;
  nlohmann::json j = {{"id", s.ref.id.hex()},
                      {"name", s.name()},
                      {"group", s.ref.group},
                      {"time", model::FormatTime(s.ref.time_ns)},
                      {"paths", nullptr},
                      {"tags", nullptr},
                      {"hostname", nullptr},
                      {"files", nullptr},
                      {"bytes", nullptr},
                      {"incomplete", nullptr},
                      {"last_verify", LastVerifyJson(s)},
                      {"last_restore_test", LastRestoreTestJson(s)},
                      {"protected", s.is_protected},
                      {"damaged", s.damaged()},
                      {"damage", DamageJson(s.damage)},
                      {"note_damage", DamageJson(s.note_damage)}};
  if (s.damaged()) return j;
  j["paths"] = std::vector<std::string>(r.paths().begin(), r.paths().end());
  j["tags"] = std::vector<std::string>(r.tags().begin(), r.tags().end());
  j["hostname"] = r.hostname();
  j["files"] = r.stats().files_total();
  j["bytes"] = r.stats().bytes_total();
  j["incomplete"] = r.incomplete();
  return j;
}

void PrintRow(const Snapshot& s) {
  constexpr std::string_view kRow = "{:<12}  {:<20}  {:<20}  {:>8}  {:>10}  {:<20}  {:<17}  {}\n";
  const std::string protected_mark = s.is_protected ? " (protected)" : "";
  if (s.damaged()) {
    fmt::print(kRow, s.ref.id.short_hex(), model::FormatTime(s.ref.time_ns), s.ref.group, "-", "-",
               "-", "-", "DAMAGED: " + s.damage.message() + protected_mark);
    return;
  }
  const pb::Snapshot& r = s.record;
  // Escaped: snapshots stored before tags were checked may hold any bytes.
  std::string tags = r.tags().empty() ? "" : "[" + EscapeName(JoinWith(r.tags(), ",")) + "] ";
  fmt::print(kRow, s.ref.id.short_hex(), model::FormatTime(s.ref.time_ns), s.ref.group,
             r.stats().files_total(), HumanBytes(r.stats().bytes_total()), LastVerify(s),
             LastRestoreTest(s),
             tags + EscapeName(JoinWith(r.paths(), " ")) + (r.incomplete() ? " (incomplete)" : "") +
                 protected_mark);
}

// Says on stderr what is damaged and what to do; the exit code for the listing.
int ReportDamage(const std::vector<Snapshot>& snapshots) {
  int exit_code = kExitOk;
  for (const Snapshot& s : snapshots) {
    if (s.damaged()) {
      fmt::print(stderr,
                 "coffer: {}: the snapshot record is damaged ({}); it cannot be read: "
                 "coffer forget {} removes it\n",
                 s.name(), s.damage.message(), s.name());
      exit_code = kExitDamaged;
    } else if (!s.note_damage.ok()) {
      fmt::print(stderr,
                 "coffer: {}: its note (last verification) is damaged ({}); the snapshot is "
                 "intact: coffer verify --snapshot {} writes a new note\n",
                 s.name(), s.note_damage.message(), s.name());
      exit_code = kExitDamaged;
    }
  }
  return exit_code;
}

int RunSnapshots(const GlobalOptions& global, const SnapshotsArgs& args) {
  if (!args.group.empty()) {
    if (Status s = model::ValidateGroup(args.group); !s.ok()) return Fail(s);
  }
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  auto snapshots = opened.repo->ListSnapshots(args.group);
  if (!snapshots.ok()) return Fail(snapshots.status());

  // Everything is listed, damaged records in their place; the exit code
  // (4) says that something is damaged.
  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const Snapshot& s : *snapshots) list.push_back(SnapshotJson(s));
    fmt::print("{}\n", list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    std::fflush(stdout);
    return ReportDamage(*snapshots);
  }
  if (snapshots->empty()) {
    if (!global.quiet) fmt::print(stderr, "no snapshots\n");
    return kExitOk;
  }
  fmt::print("{:<12}  {:<20}  {:<20}  {:>8}  {:>10}  {:<20}  {:<17}  {}\n", "ID", "Time", "Group",
             "Files", "Size", "Verified", "Restore-tested", "Tags / Paths");
  for (const Snapshot& s : *snapshots) PrintRow(s);
  std::fflush(stdout);
  return ReportDamage(*snapshots);
}

}  // namespace

void RegisterSnapshots(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<SnapshotsArgs>();
  CLI::App* cmd = app.add_subcommand("snapshots", "List snapshots");
  cmd->add_option("--group", args->group, "Only snapshots of this group")->type_name("GROUP");
  cmd->add_flag("--json", args->json, "Print a JSON array");
  cmd->callback([&global, args, exit_code] { *exit_code = RunSnapshots(global, *args); });
}

}  // namespace coffer::tools
