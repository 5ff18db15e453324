// coffer sync: copy snapshots to or from another repository, without the
// key (store/sync/sync.h).
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/objects/folder_copy.h"
#include "store/repo/local.h"
#include "store/sync/sync.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/object_storage.h"
#include "tools/open_repository.h"
#include "tools/progress.h"
#include "tools/server_client.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct SyncArgs {
  std::string to;
  std::string from;
  bool init = false;
  std::vector<std::string> groups;
  size_t latest = 0;
  bool delete_missing = false;
  bool dry_run = false;
  std::string bwlimit;
  std::string pack_size;
  std::string peer_token_file;
  std::string peer_tls_ca;
  bool json = false;
};

bool IsServerAddress(const std::string& where) {
  return where.rfind("tcp://", 0) == 0;
}

// The other repository: a folder (through its own server, started on
// demand), a server on another host, or object storage.
Result<std::unique_ptr<ObjectStore>> ConnectPeer(const GlobalOptions& global, const SyncArgs& args,
                                                 const std::string& where) {
  if (s3::IsS3Address(where)) {
    COFFER_ASSIGN_OR_RETURN(std::unique_ptr<s3::S3ObjectStore> bucket,
                            OpenBucket(where, args.pack_size));
    return std::unique_ptr<ObjectStore>(std::move(bucket));
  }
  COFFER_ASSIGN_OR_RETURN(std::chrono::milliseconds wait, ParseDuration(global.lock_wait));
  ServerClientOptions options;
  options.lock_wait = wait;
  options.command_line = global.command_line;
  options.no_server = global.no_server && !IsServerAddress(where);
  if (IsServerAddress(where)) {
    if (args.peer_token_file.empty()) {
      return Status::InvalidArgument("no token for " + where +
                                     ": give --peer-token-file or set COFFER_PEER_TOKEN_FILE");
    }
    options.server = where;
    options.token_file = args.peer_token_file;
    options.tls_ca_file = args.peer_tls_ca;
  }
  return ConnectRepository(IsServerAddress(where) ? std::string() : where, options);
}

// Bytes in the folder `dir` so far (the progress of a copy made elsewhere).
uint64_t BytesUnder(const std::string& dir) {
  uint64_t total = 0;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    std::error_code size_error;
    const uintmax_t size = it->is_regular_file(size_error) ? it->file_size(size_error) : 0;
    if (!size_error) total += size;
  }
  return total;
}

// How the snapshots went across, for the summary.
struct Method {
  std::string_view name;            // "objects" or "files"
  std::optional<uint64_t> files;    // files copied whole ("files")
  std::optional<uint64_t> retries;  // requests retried (a bucket)
};

// The summary of a sync: a JSON object with --json, else one line.
void PrintSummary(const GlobalOptions& global, const SyncArgs& args, const sync::SyncReport& report,
                  double seconds, const Method& method) {
  const bool push = !args.to.empty();
  const std::string& peer = push ? args.to : args.from;
  if (args.json) {
    nlohmann::json out = {{"direction", push ? "to" : "from"},
                          {"peer", peer},
                          {"dry_run", args.dry_run},
                          {"method", method.name},
                          {"snapshots_copied", report.snapshots_copied},
                          {"snapshots_present", report.snapshots_present},
                          {"snapshots_deleted", report.snapshots_deleted},
                          {"snapshots_skipped", report.skipped},
                          {"objects_copied", report.objects_copied},
                          {"objects_present", report.objects_present},
                          {"needs_lists_copied", report.lists_copied},
                          {"bytes_copied", report.bytes_copied},
                          {"duration_s", seconds}};
    if (method.files) out["files_copied"] = *method.files;
    if (method.retries) out["requests_retried"] = *method.retries;
    fmt::print("{}\n", out.dump(2));
  } else if (!global.quiet) {
    fmt::print("{}{} snapshots copied ({} already there{}), {} objects, {} {} {} in {}{}{}\n",
               args.dry_run ? "dry run: " : "", report.snapshots_copied, report.snapshots_present,
               args.delete_missing ? fmt::format(", {} deleted", report.snapshots_deleted) : "",
               report.objects_copied, HumanBytes(report.bytes_copied), push ? "to" : "from", peer,
               HumanDuration(static_cast<int64_t>(seconds * 1e9)),
               report.skipped.empty() ? "" : fmt::format("; {} not copied", report.skipped.size()),
               method.files ? "; the repository's files, copied whole" : "");
  }
}

// A first copy of every snapshot into the new folder `destination`, made
// file by file by the store that owns the source's folder
// (store/objects/folder_copy.h). nullopt when that store cannot (a server on
// another host, a bucket): the caller copies object by object.
std::optional<int> CopyFolder(const GlobalOptions& global, const SyncArgs& args,
                              ObjectStore& source, const std::string& destination) {
  auto* files = dynamic_cast<FolderCopySource*>(&source);
  if (files == nullptr) return std::nullopt;
  std::error_code error;
  const std::string dir = std::filesystem::absolute(destination, error).lexically_normal();
  if (error) return Fail(Status::FromErrno(error.value(), "resolve " + destination));
  ProgressLine line(ProgressWanted(global.quiet) && !args.json, [&] {
    return fmt::format("copying the repository's files: {}", HumanBytes(BytesUnder(dir)));
  });
  const auto start = std::chrono::steady_clock::now();
  Result<FolderCopyReport> copied = files->CopyRepositoryTo(dir);
  line.Stop();
  if (!copied.ok()) {
    const Code code = copied.status().code();
    if (code == Code::kUnsupported || code == Code::kPermissionDenied) return std::nullopt;
    return Fail(copied.status().WithContext("making the copy " + destination));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sync::SyncReport report;
  report.snapshots_copied = copied->snapshots;
  report.objects_copied = copied->objects;
  report.lists_copied = copied->needs_lists;
  report.bytes_copied = copied->bytes;
  PrintSummary(global, args, report, seconds,
               {.name = "files", .files = copied->files, .retries = std::nullopt});
  return kExitOk;
}

int RunSync(const GlobalOptions& global, const SyncArgs& args) {
  const bool push = !args.to.empty();
  const std::string& peer = push ? args.to : args.from;
  sync::SyncOptions options;
  options.groups = args.groups;
  options.latest = args.latest;
  options.delete_missing = args.delete_missing;
  options.dry_run = args.dry_run;
  if (!args.bwlimit.empty()) {
    Result<uint64_t> rate = ParseSize(args.bwlimit);
    if (!rate.ok() || *rate == 0) {
      return Fail(Status::InvalidArgument("--bwlimit " + args.bwlimit +
                                          ": expected bytes per second, like 20M or 512K"));
    }
    options.bytes_per_second = *rate;
  }
  if (args.init &&
      (IsServerAddress(push ? peer : global.server) || (!push && global.repo.empty()))) {
    return Fail(Status::InvalidArgument(
        "--init makes a new repository in a folder or a bucket: the destination must be one (a "
        "server serves a repository made on its host)"));
  }

  if (!args.pack_size.empty() && !s3::IsS3Address(peer)) {
    return Fail(Status::InvalidArgument("--pack-size applies to a copy in object storage (s3://)"));
  }
  // Pulling into a new folder: this end is made after the peer is reached.
  const bool init_here = args.init && !push;
  // Every snapshot into a new folder: the source's files may be copied whole.
  const bool whole_copy =
      args.init && !args.dry_run && args.groups.empty() && args.latest == 0 && args.bwlimit.empty();
  ConnectedStore here;
  if (!init_here) {
    here = ConnectStore(global);
    if (!here.store) return here.exit_code;
  }
  const bool peer_is_folder = !s3::IsS3Address(peer) && !IsServerAddress(peer);
  if (whole_copy && push && peer_is_folder) {
    if (std::optional<int> done = CopyFolder(global, args, *here.store, peer)) return *done;
  }
  std::unique_ptr<ObjectStore> there;
  if (args.init && push && !s3::IsS3Address(peer)) {
    // The new copy is made here, in this process, before anything serves it.
    Status made = InitLocalStore(peer, [&](ObjectStore& destination) {
      return sync::InitReplica(*here.store, destination);
    });
    if (!made.ok()) return Fail(made.WithContext("making the copy " + peer));
  }
  Result<std::unique_ptr<ObjectStore>> connected = ConnectPeer(global, args, peer);
  if (!connected.ok()) {
    return Fail(connected.status(), FailedStep::kOpeningRepository);
  }
  there = std::move(connected).value();
  auto* bucket = dynamic_cast<s3::S3ObjectStore*>(there.get());
  if (args.init && push && bucket != nullptr) {
    Status made = sync::InitReplica(*here.store, *bucket);
    if (!made.ok()) return Fail(made.WithContext("making the copy " + peer));
  }
  if (whole_copy && init_here) {
    if (std::optional<int> done = CopyFolder(global, args, *there, global.repo)) return *done;
  }
  if (init_here) {
    Status made = InitLocalStore(global.repo, [&](ObjectStore& destination) {
      return sync::InitReplica(*there, destination);
    });
    if (!made.ok()) return Fail(made.WithContext("making the copy " + global.repo));
    here = ConnectStore(global);
    if (!here.store) return here.exit_code;
  }
  ObjectStore& source = push ? *here.store : *there;
  ObjectStore& destination = push ? *there : *here.store;

  std::mutex progress_mutex;
  sync::SyncProgress seen;
  ProgressLine line(ProgressWanted(global.quiet) && !args.json, [&] {
    std::lock_guard lock(progress_mutex);
    return fmt::format("{}/{} snapshots, {} objects, {} copied{}", seen.snapshots_done,
                       seen.snapshots_total, seen.objects_copied, HumanBytes(seen.bytes_copied),
                       seen.current.empty() ? "" : " (" + seen.current + ")");
  });
  const auto start = std::chrono::steady_clock::now();
  Result<sync::SyncReport> report =
      sync::Sync(source, destination, options, [&](const sync::SyncProgress& p) {
        std::lock_guard lock(progress_mutex);
        seen = p;
      });
  line.Stop();
  if (!report.ok()) {
    // kNotFound: the destination is no repository yet (--init makes it one).
    return Fail(report.status(), FailedStep::kOpeningRepository);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& warning : report->warnings) fmt::print(stderr, "coffer: {}\n", warning);
  for (const std::string& skipped : report->skipped) {
    fmt::print(stderr, "coffer: not copied: {}\n", skipped);
  }
  PrintSummary(
      global, args, *report, seconds,
      {.name = "objects",
       .files = std::nullopt,
       .retries = bucket != nullptr ? std::optional<uint64_t>(bucket->retries()) : std::nullopt});
  return report->skipped.empty() ? kExitOk : kExitIncomplete;
}

}  // namespace

void RegisterSync(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<SyncArgs>();
  CLI::App* cmd = app.add_subcommand("sync",
                                     "Copy snapshots to or from another repository (a folder, a "
                                     "server or object storage), without the key");
  auto* to = cmd->add_option("--to", args->to,
                             "Copy this repository's snapshots to DEST: a folder, tcp://HOST:PORT "
                             "or s3://BUCKET/PREFIX")
                 ->type_name("DEST");
  auto* from = cmd->add_option("--from", args->from,
                               "Copy the snapshots of SRC (a folder, tcp://HOST:PORT or "
                               "s3://BUCKET/PREFIX) into this repository")
                   ->type_name("SRC");
  to->excludes(from);
  cmd->add_flag("--init", args->init,
                "Make the destination (a new folder or an empty bucket prefix) a copy of the "
                "source first (same key and settings); "
                "a first copy of everything into a folder copies the repository's files whole");
  AddRepeatableOption(cmd, "--group", "GROUP", args->groups, "Copy only the snapshots of GROUP");
  cmd->add_option("--latest", args->latest, "Copy only the newest N snapshots of each group")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  cmd->add_flag(
      "--delete", args->delete_missing,
      "Also delete the destination's snapshots the source no longer has (not protected ones)");
  cmd->add_flag("--dry-run", args->dry_run, "Only count what would be copied and deleted");
  cmd->add_option("--bwlimit", args->bwlimit, "Send at most RATE bytes per second (20M, 512K)")
      ->type_name("RATE");
  cmd->add_option("--pack-size", args->pack_size,
                  "Objects sent to object storage travel in packs of about SIZE (default 16M)")
      ->type_name("SIZE");
  cmd->add_option("--peer-token-file", args->peer_token_file,
                  "Read the token for a tcp:// peer from FILE")
      ->type_name("FILE")
      ->envname("COFFER_PEER_TOKEN_FILE");
  cmd->add_option("--peer-tls-ca", args->peer_tls_ca,
                  "The CA of a tcp:// peer's certificate (default: the system's CAs)")
      ->type_name("FILE")
      ->envname("COFFER_PEER_TLS_CA");
  cmd->add_flag("--json", args->json, "Print a JSON summary");
  cmd->callback([&global, args, exit_code, to, from] {
    if (to->count() == 0 && from->count() == 0) {
      *exit_code = Fail(Status::InvalidArgument("sync needs --to DEST or --from SRC"));
      return;
    }
    *exit_code = RunSync(global, *args);
  });
}

}  // namespace coffer::tools
