// coffer restore-test: restore a random sample of a snapshot to a scratch
// folder, read it back from disk, compare it with the snapshot, record how
// it went in the snapshot's note.
#include <chrono>
#include <cstdlib>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/model/snapshot_name.h"
#include "store/verify/restore_test.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/progress.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct RestoreTestArgs {
  std::string target;  // SNAPSHOT or GROUP
  uint64_t files = 50;
  std::string percent;
  uint64_t seed = 0;
  std::string scratch;
  bool json = false;
};

// "10", "2.5" or "10%": a share above 0 and at most 100.
Result<double> ParsePercent(std::string text) {
  auto bad = [&] {
    return Status::InvalidArgument("invalid --percent '" + text +
                                   "': give a percentage above 0 and at most 100, e.g. 5");
  };
  if (!text.empty() && text.back() == '%') text.pop_back();
  if (text.empty()) return bad();
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !(value > 0 && value <= 100)) return bad();
  return value;
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "host/web1" names its latest snapshot; anything else is a snapshot name.
std::string SnapshotNameFor(const std::string& target) {
  return model::ValidateGroup(target).ok() ? target + "/latest" : target;
}

void PrintJson(const Snapshot& snapshot, const verify::RestoreTestResult& result) {
  nlohmann::json mismatches = nlohmann::json::array();
  for (const verify::RestoreTestMismatch& m : result.mismatches) {
    mismatches.push_back(
        {{"path", m.path}, {"what", m.what}, {"damaged", m.status.code() == Code::kCorruption}});
  }
  nlohmann::json j = {
      {"snapshot", snapshot.name()},
      {"id", snapshot.ref.id.hex()},
      {"ok", result.ok()},
      {"files_in_snapshot", result.population},
      {"files_checked", result.files_checked},
      {"images_checked", result.images_checked},
      {"ranges_checked", result.ranges_checked},
      {"bytes_checked", result.bytes_checked},
      {"seed", result.seed},
      {"duration_seconds", static_cast<double>(result.duration_ns) / 1e9},
      {"files", result.sample},
      {"mismatches", mismatches},
      {"scratch", result.scratch},
      {"scratch_left", result.scratch_left.empty() ? nlohmann::json(nullptr)
                                                   : nlohmann::json(result.scratch_left)}};
  fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

void PrintText(const Snapshot& snapshot, const verify::RestoreTestResult& result) {
  for (const verify::RestoreTestMismatch& m : result.mismatches) {
    fmt::print("mismatch {}: {}\n", EscapeName(m.path), EscapeName(m.what));
  }
  std::string images;
  if (result.images_checked) {
    images = fmt::format(" ({} disk image{} by {} ranges)", result.images_checked,
                         result.images_checked == 1 ? "" : "s", result.ranges_checked);
  }
  std::string outcome =
      result.ok()
          ? "all match"
          : fmt::format("{} MISMATCH{} (--seed {} repeats this sample)", result.mismatches.size(),
                        result.mismatches.size() == 1 ? "" : "ES", result.seed);
  fmt::print("restore test of {}: {} file{}{}, {}, {}\n", snapshot.name(), result.files_checked,
             result.files_checked == 1 ? "" : "s", images, HumanBytes(result.bytes_checked),
             outcome);
}

int RunRestoreTestCommand(const GlobalOptions& global, const RestoreTestArgs& args) {
  verify::RestoreTestOptions options;
  options.files = args.files;
  options.seed = args.seed;
  options.scratch_parent = args.scratch;
  if (!args.percent.empty()) {
    auto percent = ParsePercent(args.percent);
    if (!percent.ok()) return Fail(percent.status());
    options.percent = *percent;
  }
  OpenedSnapshot opened = OpenSnapshot(global, SnapshotNameFor(args.target));
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;
  const Snapshot& snapshot = opened.snapshot;

  // The restore's own progress is per file here; a line saying what runs
  // is enough for a sample.
  ProgressLine line(ProgressWanted(global.quiet),
                    [&] { return fmt::format("restore test of {}", snapshot.name()); });
  auto result = verify::RunRestoreTest(repo, snapshot, options);
  line.Stop();
  if (!result.ok()) return Fail(result.status());
  Status recorded = verify::RecordRestoreTest(repo, snapshot, *result, NowNanos());

  if (args.json) {
    PrintJson(snapshot, *result);
  } else if (!global.quiet || !result->ok()) {
    PrintText(snapshot, *result);
  }
  if (!result->scratch_left.empty()) {
    fmt::print(stderr, "coffer: warning: the scratch folder {} could not be removed: {}\n",
               result->scratch, result->scratch_left);
  }
  // As for verify: the files were read back either way and the record is
  // bookkeeping, but a token that may not write notes will never be able
  // to, and then the test fails (exit 13) unless a mismatch says more.
  const bool refused = recorded.code() == Code::kPermissionDenied;
  if (!recorded.ok()) {
    fmt::print(stderr, "coffer: {}the outcome could not be recorded in the snapshot: {}\n",
               refused ? "" : "warning: ", recorded.message());
  }
  if (!result->ok()) return kExitDamaged;
  if (refused) return ExitCodeFor(recorded);
  return result->scratch_left.empty() ? kExitOk : kExitError;
}

}  // namespace

void RegisterRestoreTest(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<RestoreTestArgs>();
  CLI::App* cmd = app.add_subcommand(
      "restore-test",
      "Restore a random sample of a snapshot to a scratch folder and compare it with the snapshot");
  cmd->add_option("SNAPSHOT", args->target,
                  "GROUP/TIME, GROUP/latest, an id prefix, or a GROUP (its latest snapshot)")
      ->required();
  CLI::Option* files = cmd->add_option("--files", args->files, "Sample N files (default: 50)")
                           ->type_name("N")
                           ->check(CLI::Range(uint64_t{1}, std::numeric_limits<uint64_t>::max()));
  cmd->add_option("--percent", args->percent, "Sample PERCENT of the files instead, e.g. 5")
      ->type_name("PERCENT")
      ->excludes(files);
  cmd->add_option("--seed", args->seed, "Choose the sample with seed S (default: a random one)")
      ->type_name("S")
      ->check(CLI::Range(uint64_t{1}, std::numeric_limits<uint64_t>::max()));
  cmd->add_option("--scratch", args->scratch,
                  "Restore into a fresh folder inside DIR (default: $TMPDIR or /var/tmp)")
      ->type_name("DIR");
  cmd->add_flag("--json", args->json, "Print the result as JSON on stdout");
  cmd->callback([&global, args, exit_code] { *exit_code = RunRestoreTestCommand(global, *args); });
}

}  // namespace coffer::tools
