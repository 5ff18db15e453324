// coffer verify: read back every object of some snapshots and prove it restores.
#include <chrono>
#include <cstdlib>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/model/snapshot_name.h"
#include "store/sync/keyless_check.h"
#include "store/verify/verifier.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/progress.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct VerifyArgs {
  std::vector<std::string> snapshots;
  std::string sample;
  std::string older_than;
  bool without_key = false;
  bool read_data = false;
  bool json = false;
};

// "10", "2.5" or "10%": a share between 0 and 100.
Result<double> ParsePercent(std::string text) {
  auto bad = [&] {
    return Status::InvalidArgument("invalid --sample '" + text +
                                   "': give a percentage from 0 to 100, e.g. 10");
  };
  if (!text.empty() && text.back() == '%') text.pop_back();
  if (text.empty()) return bad();
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !(value >= 0 && value <= 100)) return bad();
  return value;
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string State(const verify::DamagedObject& object) {
  return object.missing() ? "missing" : "damaged";
}

// All snapshots, or those named (each once, in the order given).
Result<std::vector<Snapshot>> ChooseSnapshots(Repository& repo,
                                              const std::vector<std::string>& names) {
  if (names.empty()) return repo.ListSnapshots();
  std::vector<Snapshot> out;
  std::set<SnapshotRef> seen;
  for (const std::string& name : names) {
    COFFER_ASSIGN_OR_RETURN(Snapshot snapshot, repo.FindSnapshot(name));
    if (seen.insert(snapshot.ref).second) out.push_back(std::move(snapshot));
  }
  return out;
}

void PrintJson(const verify::VerifyResult& result, double sample_percent, int64_t nanos) {
  nlohmann::json snapshots = nlohmann::json::array();
  for (const verify::SnapshotVerdict& v : result.snapshots) {
    snapshots.push_back({{"name", v.snapshot.name()},
                         {"id", v.snapshot.ref.id.hex()},
                         {"ok", v.ok()},
                         {"objects_checked", v.objects_checked},
                         {"bytes_checked", v.bytes_checked},
                         {"damaged_objects", v.damaged_objects}});
  }
  nlohmann::json damaged = nlohmann::json::array();
  for (const verify::DamagedObject& object : result.damaged) {
    nlohmann::json uses = nlohmann::json::array();
    for (const verify::ObjectUse& use : object.uses) {
      uses.push_back({{"snapshot", use.snapshot}, {"path", use.path}});
    }
    damaged.push_back({{"kind", KindName(object.kind)},
                       {"id", object.id.hex()},
                       {"state", State(object)},
                       {"error", object.status.message()},
                       {"uses", uses},
                       {"more_uses", object.more_uses}});
  }
  nlohmann::json damaged_snapshots = nlohmann::json::array();
  for (const Snapshot& s : result.damaged_records) {
    damaged_snapshots.push_back({{"name", s.name()},
                                 {"id", s.ref.id.hex()},
                                 {"group", s.ref.group},
                                 {"time", model::FormatTime(s.ref.time_ns)},
                                 {"error", s.damage.message()}});
  }
  nlohmann::json j = {{"ok", result.ok()},
                      {"snapshots", snapshots},
                      {"damaged_snapshots", damaged_snapshots},
                      {"objects_checked", result.objects_checked()},
                      {"trees_checked", result.trees_checked},
                      {"chunks_checked", result.chunks_checked},
                      {"bytes_checked", result.bytes_checked},
                      {"sampled", result.sampled},
                      {"sample_percent", sample_percent},
                      {"duration_seconds", static_cast<double>(nanos) / 1e9},
                      {"damaged", damaged}};
  fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

void PrintText(const verify::VerifyResult& result, double sample_percent, int64_t nanos,
               bool quiet) {
  for (const Snapshot& s : result.damaged_records) {
    fmt::print("damaged snapshot {}: {} ({})\n", s.ref.id.hex(), s.name(), s.damage.message());
  }
  for (const verify::DamagedObject& object : result.damaged) {
    std::string what =
        fmt::format("{} {} {}", State(object), KindName(object.kind), object.id.hex());
    if (object.uses.empty()) fmt::print("{}: {}\n", what, object.status.message());
    for (const verify::ObjectUse& use : object.uses) {
      fmt::print("{}: {}:{}\n", what, use.snapshot, EscapeName(use.path));
    }
    if (object.more_uses) fmt::print("{}: and {} more paths\n", what, object.more_uses);
  }
  if (quiet) return;
  double secs = static_cast<double>(nanos) / 1e9;
  fmt::print(stderr,
             "checked {} objects ({} trees, {} chunks{}) of {} snapshot{}: {} in {}, {}/s\n",
             result.objects_checked(), result.trees_checked, result.chunks_checked,
             result.sampled ? fmt::format(", a {}% sample", sample_percent) : "",
             result.snapshots.size(), result.snapshots.size() == 1 ? "" : "s",
             HumanBytes(result.bytes_checked), HumanDuration(nanos),
             HumanBytes(static_cast<uint64_t>(secs > 0 ? result.bytes_checked / secs : 0)));
  if (result.ok()) {
    fmt::print(stderr, "no damage found\n");
    return;
  }
  if (!result.damaged_records.empty()) {
    fmt::print(stderr,
               "coffer: {} snapshot record{} damaged and could not be verified: coffer forget "
               "GROUP/TIME removes {}\n",
               result.damaged_records.size(), result.damaged_records.size() == 1 ? " is" : "s are",
               result.damaged_records.size() == 1 ? "it" : "them");
  }
  if (result.damaged.empty()) return;
  size_t affected = 0;
  for (const auto& v : result.snapshots) affected += v.ok() ? 0 : 1;
  fmt::print(stderr, "coffer: {} objects damaged or missing, used by {} of {} snapshots\n",
             result.damaged.size(), affected, result.snapshots.size());
  size_t trees = 0;
  for (const auto& object : result.damaged) trees += object.kind == ObjectKind::kTree ? 1 : 0;
  if (trees) {
    fmt::print(stderr, "coffer: nothing below the {} damaged or missing trees could be checked\n",
               trees);
  }
}

// --without-key: what a copy's holder can check (sync/keyless_check.h).
int RunVerifyWithoutKey(const GlobalOptions& global, const VerifyArgs& args) {
  if (!args.sample.empty() || !args.older_than.empty()) {
    return Fail(Status::InvalidArgument(
        "--without-key checks that objects are there; --sample and --older-than need the key"));
  }
  std::vector<model::SnapshotSelector> selectors;
  for (const std::string& name : args.snapshots) {
    auto sel = model::ParseSnapshotName(name);
    if (!sel.ok()) return Fail(sel.status());
    selectors.push_back(*sel);
  }
  ConnectedStore connected = ConnectStore(global);
  if (!connected.store) return connected.exit_code;
  auto listed = connected.store->ListSnapshots("");
  if (!listed.ok()) return Fail(listed.status());
  std::vector<StoredSnapshot> chosen;
  if (selectors.empty()) {
    chosen = std::move(listed).value();
  } else {
    std::vector<model::IndexedSnapshot> index;
    for (const StoredSnapshot& s : *listed)
      index.push_back({s.ref.group, s.ref.time_ns, s.ref.id.hex()});
    std::set<size_t> picked;
    for (size_t i = 0; i < selectors.size(); ++i) {
      auto at = model::SelectSnapshot(selectors[i], args.snapshots[i], index);
      if (!at.ok()) return Fail(at.status());
      picked.insert(*at);
    }
    for (size_t at : picked) chosen.push_back((*listed)[at]);  // in index order
  }
  const auto start = std::chrono::steady_clock::now();
  auto report = sync::CheckWithoutKey(*connected.store, chosen, {.read_data = args.read_data});
  if (!report.ok()) return Fail(report.status());
  const int64_t elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  for (const std::string& problem : report->problems) fmt::print(stderr, "coffer: {}\n", problem);
  if (args.json) {
    nlohmann::json out = {{"ok", report->ok()},
                          {"without_key", true},
                          {"snapshots_checked", report->snapshots_checked},
                          {"snapshots_without_needs_lists", report->without_needs},
                          {"objects_checked", report->objects_checked},
                          {"missing_objects", report->missing_objects},
                          {"read_data", args.read_data},
                          {"objects_read", report->objects_read},
                          {"bytes_read", report->bytes_read},
                          {"damaged_objects", report->damaged_objects},
                          {"problems", report->problems},
                          {"duration_s", static_cast<double>(elapsed) / 1e9}};
    fmt::print("{}\n", out.dump(2));
  } else if (!global.quiet) {
    fmt::print(
        "checked without the key: {} snapshots, {} objects present{}{} ({})\n",
        report->snapshots_checked, report->objects_checked - report->missing_objects,
        report->missing_objects > 0 ? fmt::format(", {} MISSING", report->missing_objects) : "",
        args.read_data
            ? fmt::format(
                  ", {} read back ({}){}", report->objects_read, HumanBytes(report->bytes_read),
                  report->damaged_objects > 0 ? fmt::format(", {} DAMAGED", report->damaged_objects)
                                              : "")
            : "",
        HumanDuration(elapsed));
    if (!report->without_needs.empty()) {
      fmt::print(
          "{} snapshots made before needs lists were not checked (coffer gc with the key "
          "gives them theirs)\n",
          report->without_needs.size());
    }
    fmt::print("{}\n", report->ok() ? "no problem found" : "PROBLEMS FOUND (listed above)");
  }
  return report->ok() ? kExitOk : kExitDamaged;
}

int RunVerify(const GlobalOptions& global, const VerifyArgs& args) {
  if (args.read_data && !args.without_key) {
    return Fail(Status::InvalidArgument(
        "--read-data goes with --without-key: verify with the key reads every object anyway"));
  }
  if (args.without_key) return RunVerifyWithoutKey(global, args);
  verify::VerifyOptions options;
  if (!args.sample.empty()) {
    auto percent = ParsePercent(args.sample);
    if (!percent.ok()) return Fail(percent.status());
    options.sample_percent = *percent;
  }
  for (const std::string& name : args.snapshots) {
    if (auto sel = model::ParseSnapshotName(name); !sel.ok()) return Fail(sel.status());
  }
  std::optional<std::chrono::milliseconds> max_age;
  if (!args.older_than.empty()) {
    auto age = ParseDuration(args.older_than);
    if (!age.ok()) return Fail(age.status().WithContext("--older-than"));
    max_age = *age;
  }

  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;
  auto snapshots = ChooseSnapshots(repo, args.snapshots);
  if (!snapshots.ok()) return Fail(snapshots.status());
  size_t chosen = snapshots->size();
  if (max_age) {
    int64_t max_age_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*max_age).count();
    int64_t now = NowNanos();
    // A damaged record is always reported: it has no verification to be recent.
    std::erase_if(*snapshots, [&](const Snapshot& s) {
      return !s.damaged() && !verify::DueForVerification(s, now, max_age_ns);
    });
  }
  if (snapshots->empty()) {
    if (!global.quiet && !args.json) {
      if (chosen) {
        fmt::print(stderr, "all {} snapshots were verified within {}\n", chosen, args.older_than);
      } else {
        fmt::print(stderr, "no snapshots to verify\n");
      }
    }
    if (args.json) PrintJson(verify::VerifyResult{}, options.sample_percent, 0);
    return kExitOk;
  }

  verify::VerifyProgress progress;
  auto started = std::chrono::steady_clock::now();
  ProgressLine line(ProgressWanted(global.quiet), [&] {
    if (progress.locating) {
      return fmt::format("finding the paths that use {} damaged objects", progress.damaged.load());
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    uint64_t bytes = progress.bytes;
    uint64_t damaged = progress.damaged;
    return fmt::format("{} objects, {} checked, {}/s{}", progress.objects.load(), HumanBytes(bytes),
                       HumanBytes(static_cast<uint64_t>(secs > 0 ? bytes / secs : 0)),
                       damaged ? fmt::format(", {} DAMAGED", damaged) : "");
  });
  verify::Verifier verifier(repo, options, &progress);
  auto result = verifier.Verify(*snapshots);
  line.Stop();
  if (!result.ok()) return Fail(result.status());
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count();
  Status recorded = verify::RecordVerifications(repo, *result, NowNanos());

  if (args.json) {
    PrintJson(*result, options.sample_percent, nanos);
  } else {
    PrintText(*result, options.sample_percent, nanos, global.quiet);
  }
  // The data was read back either way; the record is bookkeeping, and a
  // full disk (when verifying matters most) must not turn a pass into a
  // failure. A server that refuses this token the record (append-only) will
  // always refuse it, and `verify --older-than` would never see the
  // snapshots verified: that fails (exit 13), unless damage was found.
  const bool refused = recorded.code() == Code::kPermissionDenied;
  if (!recorded.ok()) {
    fmt::print(stderr, "coffer: {}the outcome could not be recorded in the snapshots: {}\n",
               refused ? "" : "warning: ", recorded.message());
  }
  if (!result->ok()) return kExitDamaged;
  return refused ? ExitCodeFor(recorded) : kExitOk;
}

}  // namespace

void RegisterVerify(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Read back every object of the snapshots and check that it restores");
  AddRepeatableOption(cmd, "--snapshot", "SNAPSHOT", args->snapshots,
                      "Verify only SNAPSHOT, not all: GROUP/TIME, GROUP/latest or an id prefix");
  cmd->add_option("--sample", args->sample,
                  "Check every tree but only PERCENT of the data chunks, chosen at random")
      ->type_name("PERCENT");
  cmd->add_option("--older-than", args->older_than,
                  "Only snapshots last verified longer ago than DURATION (e.g. 30d), or never")
      ->type_name("DURATION")
      ->check(CLI::Validator(
          [](std::string& value) {
            return value.empty() ? std::string("a DURATION is needed, e.g. 30d") : std::string();
          },
          ""));
  cmd->add_flag("--without-key", args->without_key,
                "Check without the passphrase that every object the snapshots need is stored (a "
                "copy's holder can)");
  cmd->add_flag("--read-data", args->read_data,
                "With --without-key: also read every object back as stored, checked by the store's "
                "checksums");
  cmd->add_flag("--json", args->json, "Print the result as JSON on stdout");
  cmd->callback([&global, args, exit_code] {
    global.host_when_alone = true;
    *exit_code = RunVerify(global, *args);
  });
}

}  // namespace coffer::tools
