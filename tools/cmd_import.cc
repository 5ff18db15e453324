// coffer import: Proxmox VE guest backups (vzdump archives of containers and
// VMs) and other tar and VMA archives, each stored as a snapshot.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/ingest/archive_source.h"
#include "store/ingest/tar_import.h"
#include "store/ingest/vma_import.h"
#include "store/ingest/vzdump_name.h"
#include "store/model/snapshot_name.h"
#include "tools/cli.h"
#include "tools/cmd_import.h"
#include "tools/exit_codes.h"
#include "tools/new_snapshot.h"
#include "tools/open_repository.h"
#include "tools/progress.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

namespace fs = std::filesystem;

// The note holding the notes and the log is read with every listing of
// snapshots: a longer log keeps its end (where a failure is told), longer
// notes are refused.
constexpr uintmax_t kMaxLogBytes = 4u << 20;
constexpr uintmax_t kMaxNotesBytes = 1u << 20;

struct ImportArgs {
  std::vector<std::string> inputs;
  std::string group;
  std::string time;
  std::vector<std::string> tags;
  std::optional<std::string> note;
  std::string log_file;
  bool protect = false;
  bool json = false;
};

// One archive to import, and what lies beside it.
struct Archive {
  std::string path;  // "-" for standard input
  std::optional<ingest::VzdumpName> vzdump;
  fs::path folder;  // where its .notes, .protected and .log would be
  std::string file_name;
  Status unreadable;  // why the path could not be looked at, told in its turn
};

// Named by its absolute path, as a backup names its sources.
Archive Describe(const std::string& path) {
  Archive archive;
  archive.path = path;
  if (path == "-") return archive;
  std::error_code error;
  archive.path = ingest::AbsolutePath(path, fs::current_path(error).string());
  fs::path p(archive.path);
  archive.folder = p.parent_path();
  archive.file_name = p.filename().string();
  archive.vzdump = ingest::ParseVzdumpName(archive.file_name);
  return archive;
}

// The archives named on the command line, a folder's vzdump archives in
// time order (then by name: a container and a VM backed up in one second).
// A path that cannot be looked at stays in the list, failing in its turn,
// so that the other inputs are still imported.
std::vector<Archive> ListArchives(const std::vector<std::string>& inputs) {
  auto unreadable = [](const std::string& input, int error) {
    Archive archive = Describe(input);
    archive.unreadable = Status::FromErrno(error, input);
    return archive;
  };
  std::vector<Archive> archives;
  for (const std::string& input : inputs) {
    if (input == "-") {
      archives.push_back(Describe(input));
      continue;
    }
    struct stat st {};
    if (stat(input.c_str(), &st) != 0) {
      archives.push_back(unreadable(input, errno));
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      archives.push_back(Describe(input));
      continue;
    }
    std::vector<Archive> found;
    std::error_code error;
    for (const auto& item : fs::directory_iterator(input, error)) {
      Archive archive = Describe(item.path().string());
      if (archive.vzdump && item.is_regular_file()) found.push_back(std::move(archive));
    }
    if (error) {
      archives.push_back(unreadable(input, error.value()));
      continue;
    }
    std::sort(found.begin(), found.end(), [](const Archive& a, const Archive& b) {
      return std::pair(a.vzdump->time_ns, a.file_name) < std::pair(b.vzdump->time_ns, b.file_name);
    });
    if (found.empty())
      fmt::print(stderr, "coffer: {}: no vzdump archives in it\n", EscapeName(input));
    archives.insert(archives.end(), std::make_move_iterator(found.begin()),
                    std::make_move_iterator(found.end()));
  }
  return archives;
}

// The file's bytes, nullopt if it does not exist. Past `limit`: refused, or
// with `keep_end` only its last `limit` bytes, said on standard error.
Result<std::optional<std::string>> ReadSideFile(const fs::path& path, uintmax_t limit,
                                                bool keep_end = false) {
  std::error_code error;
  if (!fs::exists(path, error)) return std::optional<std::string>();
  uintmax_t size = fs::file_size(path, error);
  if (error) return Status::FromErrno(error.value(), path.string());
  std::ifstream in(path, std::ios::binary);
  if (size > limit) {
    if (!keep_end) {
      return Status::InvalidArgument(
          fmt::format("{} is larger than {}", EscapeName(path.string()), HumanBytes(limit)));
    }
    fmt::print(stderr, "coffer: {} is larger than {}: its last {} are kept\n",
               EscapeName(path.string()), HumanBytes(limit), HumanBytes(limit));
    in.seekg(static_cast<std::streamoff>(size - limit));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + EscapeName(path.string()));
  return std::optional<std::string>(text.str());
}

// What the snapshot gets beside its content: from the options, else from
// the files vzdump puts beside the archive.
struct Extras {
  std::optional<std::string> comment;
  std::optional<std::string> log;
  bool protect = false;
};

Result<Extras> ReadExtras(const Archive& archive, const ImportArgs& args) {
  Extras extras;
  extras.protect = args.protect;
  extras.comment = args.note;
  if (!args.log_file.empty()) {
    COFFER_ASSIGN_OR_RETURN(extras.log, ReadSideFile(args.log_file, kMaxLogBytes, true));
    if (!extras.log)
      return Status::NotFound("log file " + EscapeName(args.log_file) + " does not exist");
  }
  if (archive.path == "-") return extras;
  const fs::path beside = archive.folder / archive.file_name;
  if (!extras.comment) {
    COFFER_ASSIGN_OR_RETURN(extras.comment,
                            ReadSideFile(beside.string() + ".notes", kMaxNotesBytes));
  }
  if (!extras.protect) extras.protect = fs::exists(beside.string() + ".protected");
  if (!extras.log && archive.vzdump) {
    COFFER_ASSIGN_OR_RETURN(
        extras.log, ReadSideFile(archive.folder / archive.vzdump->log_name(), kMaxLogBytes, true));
  }
  return extras;
}

struct Outcome {
  std::optional<ingest::BackupResult> result;  // empty when skipped
  std::string snapshot;                        // its name
};

void PrintOutcome(const std::string& source, const Outcome& outcome, bool json) {
  if (json) {
    nlohmann::json j = {
        {"archive", source}, {"snapshot", outcome.snapshot}, {"skipped", !outcome.result}};
    if (outcome.result) {
      const pb::Snapshot& r = outcome.result->snapshot.record;
      j["id"] = outcome.result->snapshot.ref.id.hex();
      j["bytes_read"] = r.stats().bytes_read();
      j["bytes_total"] = r.stats().bytes_total();
      j["bytes_added"] = r.stats().bytes_added();
      j["files_total"] = r.stats().files_total();
      j["duration_seconds"] = static_cast<double>(r.stats().duration_ns()) / 1e9;
      j["incomplete"] = r.incomplete();
    }
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  if (!outcome.result) {
    fmt::print(stderr, "{}: skipped, {} is already in the repository\n", EscapeName(source),
               outcome.snapshot);
    return;
  }
  const pb::Snapshot& r = outcome.result->snapshot.record;
  fmt::print(stderr, "{}: snapshot {} saved (id {}){}\n", EscapeName(source), outcome.snapshot,
             outcome.result->snapshot.ref.id.short_hex(), r.incomplete() ? ", INCOMPLETE" : "");
  fmt::print(stderr, "read {} of {} in {} files, added {} to the repository in {}\n",
             HumanBytes(r.stats().bytes_read()), HumanBytes(r.stats().bytes_total()),
             r.stats().files_total(), HumanBytes(r.stats().bytes_added()),
             HumanDuration(r.stats().duration_ns()));
}

// Whether a snapshot whose first path has the file name `stored` came from
// `archive`: the same vzdump name (from any folder, in any compression), else
// the same file name. Unknown (no path, standard input) counts as the same.
bool StoredFrom(const std::string& stored, const Archive& archive) {
  if (stored.empty() || archive.path == "-") return true;
  const auto stored_vzdump = ingest::ParseVzdumpName(stored);
  if (stored_vzdump && archive.vzdump) return stored_vzdump->base == archive.vzdump->base;
  return stored == archive.file_name;
}

Result<Outcome> ImportOne(Repository& repo, const Archive& archive, const ImportArgs& args,
                          bool quiet) {
  const std::string shown = archive.path == "-" ? "standard input" : archive.path;
  std::string group = args.group;
  if (group.empty() && archive.vzdump) group = archive.vzdump->group();
  if (group.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: cannot tell which guest it is from: the name is not vzdump's "
                    "(vzdump-lxc|qemu-VMID-YYYY_MM_DD-HH_MM_SS...); give --group",
                    EscapeName(shown)));
  }
  COFFER_RETURN_IF_ERROR(model::ValidateGroup(group));

  // A vzdump archive's time is in its name; importing it again finds it taken.
  std::string time_text = args.time;
  if (time_text.empty() && archive.vzdump) time_text = model::FormatTime(archive.vzdump->time_ns);
  if (!time_text.empty()) {
    COFFER_ASSIGN_OR_RETURN(int64_t time_ns, model::ParseTime(time_text));
    COFFER_ASSIGN_OR_RETURN(auto existing, repo.ListSnapshots(group));
    for (const Snapshot& s : existing) {
      if (s.ref.time_ns != time_ns) continue;
      // Skipped only when it is this archive again: two guests' archives of
      // one second given one --group must not leave one of them out unsaid.
      const std::string stored =
          s.record.paths_size() > 0 ? fs::path(s.record.paths(0)).filename().string() : "";
      if (StoredFrom(stored, archive)) return Outcome{std::nullopt, s.name()};
      return Status::AlreadyExists(fmt::format(
          "{}: not imported: {} holds another archive ({}); give each guest its own group",
          EscapeName(shown), s.name(), EscapeName(stored)));
    }
  }
  COFFER_ASSIGN_OR_RETURN(int64_t time_ns, ChooseTime(repo, group, time_text));
  COFFER_ASSIGN_OR_RETURN(Extras extras, ReadExtras(archive, args));

  auto opened = ingest::ArchiveSource::Open(archive.path);
  // An empty file or stream is no archive (exit 5), not a usage error.
  if (!opened.ok() && opened.status().code() == Code::kInvalidArgument) {
    return Status::Corruption(opened.status().message());
  }
  COFFER_ASSIGN_OR_RETURN(auto source, std::move(opened));
  const bool is_tar = source->format() == ingest::ArchiveFormat::kTar;
  if (archive.vzdump && (archive.vzdump->format == "tar") != is_tar) {
    return Status::Corruption(fmt::format("{}: the name says {} but it holds {}", EscapeName(shown),
                                          archive.vzdump->format == "tar" ? "a tar" : "a VMA",
                                          is_tar ? "a tar" : "something else"));
  }

  ingest::BackupOptions options;
  options.group = group;
  options.time_ns = time_ns;
  options.tags = args.tags;
  options.hostname = ShortHostname();
  options.username = UserName();

  ingest::BackupProgress progress;
  auto started = std::chrono::steady_clock::now();
  ProgressLine line(ProgressWanted(quiet), [&] {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    uint64_t bytes = progress.bytes_read;
    return fmt::format("{}: {} files, {} read, {}/s", EscapeName(shown), progress.files.load(),
                       HumanBytes(bytes),
                       HumanBytes(static_cast<uint64_t>(secs > 0 ? bytes / secs : 0)));
  });
  Result<ingest::BackupResult> result = Status::Aborted("not run");
  if (is_tar) {
    ingest::TarImporter importer(repo, options, &progress);
    result = importer.Import(*source);
  } else {
    ingest::VmaImporter importer(repo, options, &progress);
    result = importer.Import([&source](std::span<uint8_t> out) { return source->Read(out); },
                             std::string(source->display_name()));
  }
  line.Stop();
  if (!result.ok()) return result.status();
  for (const auto& e : result->errors) {
    fmt::print(stderr, "coffer: {}: {}: {}\n", EscapeName(shown), EscapeName(e.path),
               e.status.message());
  }

  // The snapshot is committed; what follows only annotates it.
  Outcome outcome{std::move(*result), ""};
  Snapshot& snapshot = outcome.result->snapshot;
  outcome.snapshot = snapshot.name();
  if (extras.comment || extras.log) {
    COFFER_RETURN_IF_ERROR(repo.UpdateNote(snapshot, [&extras](pb::SnapshotNote& note) {
      if (extras.comment) note.set_comment(*extras.comment);
      if (extras.log) note.set_log(*extras.log);
    }));
  }
  if (extras.protect) COFFER_RETURN_IF_ERROR(repo.SetProtected(snapshot, true));
  return outcome;
}

int RunImport(const GlobalOptions& global, const ImportArgs& args) {
  if (args.inputs.empty()) {
    return Fail(
        Status::InvalidArgument("nothing to import: give an archive, a folder of them, or -"));
  }
  if (!args.group.empty()) {
    if (Status s = model::ValidateGroup(args.group); !s.ok()) return Fail(s);
  }
  for (const std::string& tag : args.tags) {
    if (Status s = model::ValidateTag(tag); !s.ok()) return Fail(s);
  }
  if (!args.time.empty()) {
    if (auto t = model::ParseTime(args.time); !t.ok()) return Fail(t.status());
  }
  const std::vector<Archive> archives = ListArchives(args.inputs);
  const auto stdin_uses = std::count(args.inputs.begin(), args.inputs.end(), "-");
  if (stdin_uses > 1) {
    return Fail(Status::InvalidArgument("standard input (-) can be imported once"));
  }
  // No group can come from a stream's name: refused before anything else is
  // imported, and before the message about vzdump names, which it has none of.
  if (stdin_uses == 1 && args.group.empty()) {
    return Fail(Status::InvalidArgument(
        "standard input has no vzdump name to tell which guest it is from: give --group"));
  }
  if (!args.time.empty() && archives.size() > 1) {
    return Fail(Status::InvalidArgument("--time names one snapshot: give one archive with it"));
  }
  if ((args.note || !args.log_file.empty()) && archives.size() > 1) {
    return Fail(Status::InvalidArgument(
        "--note and --log belong to one snapshot: give one archive with them"));
  }

  Opened opened = OpenRepository(global);
  if (!opened.repo) return opened.exit_code;

  int exit_code = kExitOk;
  for (const Archive& archive : archives) {
    const std::string shown = archive.path == "-" ? "standard input" : archive.path;
    auto outcome = archive.unreadable.ok() ? ImportOne(*opened.repo, archive, args, global.quiet)
                                           : Result<Outcome>(archive.unreadable);
    if (!outcome.ok()) {
      int code = ExitCodeFor(outcome.status(), FailedStep::kImportingArchive);
      fmt::print(stderr, "coffer: {}\n", outcome.status().message());
      if (args.json) {  // one object per archive, the failed ones too
        nlohmann::json j = {
            {"archive", shown}, {"error", outcome.status().message()}, {"exit_code", code}};
        fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
      if (exit_code == kExitOk) exit_code = code;
      continue;
    }
    if (!global.quiet || args.json) PrintOutcome(shown, *outcome, args.json);
    if (outcome->result && !outcome->result->errors.empty() && exit_code == kExitOk) {
      exit_code = kExitIncomplete;
    }
  }
  return exit_code;
}

}  // namespace

Result<ArchiveImport> ImportArchive(Repository& repo, const std::string& path, bool quiet,
                                    const std::string& group,
                                    const std::vector<std::string>& tags) {
  ImportArgs args;
  args.group = group;
  args.tags = tags;
  COFFER_ASSIGN_OR_RETURN(Outcome outcome, ImportOne(repo, Describe(path), args, quiet));
  return ArchiveImport{std::move(outcome.result), std::move(outcome.snapshot)};
}

Result<std::vector<std::string>> VzdumpArchivesIn(const std::string& folder) {
  std::vector<std::string> paths;
  for (const Archive& archive : ListArchives({folder})) {
    if (!archive.unreadable.ok()) return archive.unreadable;
    paths.push_back(archive.path);
  }
  return paths;
}

Result<std::string> ReadImportLog(const std::string& path) {
  COFFER_ASSIGN_OR_RETURN(auto log, ReadSideFile(path, kMaxLogBytes, /*keep_end=*/true));
  if (!log) return Status::NotFound("log file " + EscapeName(path) + " does not exist");
  return std::move(*log);
}

void RegisterImport(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Store vzdump archives of containers and VMs (or other tar and VMA archives) as snapshots");
  cmd->add_option("ARCHIVE", args->inputs,
                  "An archive, a folder of vzdump archives (imported in time order), or - for "
                  "standard input");
  cmd->add_option("--group", args->group,
                  "Backup group (default from a vzdump name: ct/VMID or vm/VMID)")
      ->type_name("GROUP");
  cmd->add_option("--time", args->time,
                  "Snapshot time, ISO 8601 (default from a vzdump name, else now)")
      ->type_name("TIME");
  AddRepeatableOption(cmd, "--tag", "TAG", args->tags, "Tag the snapshot");
  cmd->add_option("--note", args->note, "The snapshot's note (default: the archive's .notes file)")
      ->type_name("NOTE");
  cmd->add_option("--log", args->log_file,
                  "Keep FILE as the snapshot's log (default: vzdump's BASENAME.log beside it)")
      ->type_name("FILE");
  cmd->add_flag("--protect", args->protect,
                "Protect the snapshot from prune and forget (also when ARCHIVE.protected exists)");
  cmd->add_flag("--json", args->json, "Print one JSON line per archive on stdout");
  cmd->callback([&global, args, exit_code] {
    global.host_when_alone = true;
    *exit_code = RunImport(global, *args);
  });
}

}  // namespace coffer::tools
