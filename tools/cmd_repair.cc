// coffer repair: rebuild a repository's database whose MANIFEST, CURRENT or
// OPTIONS file is damaged, keeping the damaged one beside it.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/repo/local.h"
#include "store/s3/s3_settings.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct RepairArgs {
  bool json = false;
};

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

int RunRepair(const GlobalOptions& global, const RepairArgs& args) {
  if (!global.server.empty()) {
    return Fail(
        Status::InvalidArgument("repair works on a repository folder (-r), not through --server"));
  }
  if (s3::IsS3Address(global.repo)) {
    return Fail(Status::InvalidArgument(
        "repair works on a repository folder; a copy in object storage is repaired by syncing "
        "it again from its source"));
  }
  auto wait = ParseDuration(global.lock_wait);
  if (!wait.ok()) return Fail(wait.status().WithContext("--lock-wait"));
  LocalOpenOptions options{*wait, global.command_line};
  Result<LocalRepairResult> repaired = RepairLocalRepository(global.repo, options);
  if (!repaired.ok()) {
    if (repaired.status().code() == Code::kBusy) {
      return Fail(repaired.status().WithContext(
          "the repository is in use (a server stops 30 s after its last client); repair needs "
          "it to itself"));
    }
    return Fail(repaired.status());
  }
  const kv::RepairReport& r = repaired->report;
  if (args.json) {
    nlohmann::json out = {{"kept", repaired->kept},
                          {"table_files", r.table_files},
                          {"blob_files", r.blob_files},
                          {"chunks_put_back", r.chunks_put_back},
                          {"damaged_blob_records", r.damaged_blob_records},
                          {"unreadable_blob_bytes", r.unreadable_blob_bytes},
                          {"chunk_tables", r.chunk_tables},
                          {"lost_chunks", r.lost_chunks},
                          {"set_aside", r.set_aside},
                          {"bad_blob_files", r.bad_blob_files}};
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  if (global.quiet) return kExitOk;
  fmt::print("rebuilt the database from {} table files and {} blob files ({} chunks put back)\n",
             r.table_files, r.blob_files, r.chunks_put_back);
  fmt::print("the damaged database is kept in {} (hard links: remove it when satisfied)\n",
             repaired->kept);
  if (!r.set_aside.empty()) {
    fmt::print("unreadable table files set aside in db/lost: {}\n", JoinNames(r.set_aside));
  }
  if (!r.bad_blob_files.empty()) {
    fmt::print("unreadable blob files: {}\n", JoinNames(r.bad_blob_files));
  }
  if (r.damaged_blob_records > 0 || r.unreadable_blob_bytes > 0 || r.lost_chunks > 0) {
    fmt::print(
        "lost: {} damaged blob records, {} unreadable bytes of blob files, {} chunks "
        "without data\n",
        r.damaged_blob_records, r.unreadable_blob_bytes, r.lost_chunks);
  }
  fmt::print(
      "run `coffer verify` to check every snapshot: it names each file whose data was lost\n");
  return kExitOk;
}

}  // namespace

void RegisterRepair(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<RepairArgs>();
  CLI::App* cmd = app.add_subcommand(
      "repair",
      "Rebuild a database whose MANIFEST, CURRENT or OPTIONS file is damaged, keeping the "
      "damaged one");
  cmd->add_flag("--json", args->json, "Print a JSON summary");
  cmd->callback([&global, args, exit_code] { *exit_code = RunRepair(global, *args); });
}

}  // namespace coffer::tools
