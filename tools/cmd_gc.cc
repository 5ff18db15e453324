// coffer gc: delete every object no snapshot needs and give the space back.
#include <atomic>
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/gc/collector.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/progress.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct GcArgs {
  bool json = false;
};

int RunGc(const GlobalOptions& global, const GcArgs& args) {
  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;

  std::mutex progress_mutex;
  gc::GcProgress seen;
  ProgressLine line(ProgressWanted(global.quiet), [&] {
    std::lock_guard lock(progress_mutex);
    if (seen.sweeping) return std::string("sweeping and compacting...");
    return fmt::format("marking: {}/{} snapshots, {} trees", seen.snapshots_done,
                       seen.snapshots_total, seen.trees_walked);
  });
  const auto start = std::chrono::steady_clock::now();
  Result<gc::GcReport> report = gc::CollectGarbage(*opened.repo, [&](const gc::GcProgress& p) {
    std::lock_guard lock(progress_mutex);
    seen = p;
  });
  line.Stop();
  if (!report.ok()) return Fail(report.status());
  const int64_t elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  const GcResult& sweep = report->sweep;
  const uint64_t freed =
      sweep.bytes_before > sweep.bytes_after ? sweep.bytes_before - sweep.bytes_after : 0;
  if (args.json) {
    nlohmann::json out = {{"snapshots", report->roots},
                          {"trees_walked", report->trees_walked},
                          {"objects_examined", sweep.objects_examined},
                          {"objects_deleted", sweep.objects_deleted},
                          {"objects_kept_for_running_backups", sweep.objects_kept_for_writers},
                          {"bytes_before", sweep.bytes_before},
                          {"bytes_after", sweep.bytes_after},
                          {"bytes_freed", freed},
                          {"snapshots_given_needs_lists", report->needs_written},
                          {"duration_s", static_cast<double>(elapsed) / 1e9}};
    fmt::print("{}\n", out.dump(2));
  } else if (!global.quiet) {
    fmt::print("{} snapshots, {} trees walked; {} of {} objects deleted", report->roots,
               report->trees_walked, sweep.objects_deleted, sweep.objects_examined);
    if (sweep.objects_kept_for_writers > 0) {
      fmt::print(" ({} kept for running backups)", sweep.objects_kept_for_writers);
    }
    fmt::print("; {} freed, repository now {} ({})\n", HumanBytes(freed),
               HumanBytes(sweep.bytes_after), HumanDuration(elapsed));
    if (report->needs_written > 0) {
      fmt::print(
          "{} snapshots made before needs lists were given theirs (coffer sync copies them now)\n",
          report->needs_written);
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterGc(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<GcArgs>();
  CLI::App* cmd = app.add_subcommand(
      "gc",
      "Delete the objects no snapshot references and free their space (safe while backups run)");
  cmd->add_flag("--json", args->json, "Print a JSON summary");
  cmd->callback([&global, args, exit_code] { *exit_code = RunGc(global, *args); });
}

}  // namespace coffer::tools
