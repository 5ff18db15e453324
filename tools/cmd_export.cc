// coffer export: a snapshot written out as the archive vzdump would have
// written (man/coffer-export.1), for `pct restore` and `qmrestore`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <optional>
#include <variant>

#include <fmt/format.h>

#include "store/base/unique_fd.h"
#include "store/export/compressor.h"
#include "store/export/tar_export.h"
#include "store/export/vma_export.h"
#include "store/ingest/vzdump_name.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/progress.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

using exporting::Compression;

struct ExportArgs {
  std::string snapshot;
  std::string output;
  std::string compress;
  std::string format;
  bool force = false;
};

enum class Format { kTar, kVma };

// Where the archive goes and how.
struct Plan {
  Format format;
  Compression compression;
  bool to_stdout = false;
  std::string path;      // the archive, when not standard output
  std::string log_path;  // BASENAME.log beside it
};

int UsageError(const std::string& message) {
  fmt::print(stderr, "coffer: {}\n", message);
  return kExitUsage;
}

std::optional<Compression> CompressionOfName(const std::string& name) {
  if (name.ends_with(".zst")) return Compression::kZstd;
  if (name.ends_with(".gz")) return Compression::kGzip;
  return std::nullopt;
}

// Where vzdump puts an archive's log: its name without the compression and
// format extensions, with ".log" ("guest.tar.gz" -> "guest.log").
std::string LogPathFor(std::string path) {
  for (std::string_view ext : {".zst", ".gz", ".lzo"}) {
    if (path.ends_with(ext)) {
      path.resize(path.size() - ext.size());
      break;
    }
  }
  for (std::string_view ext : {".tar", ".vma"}) {
    if (path.ends_with(ext)) {
      path.resize(path.size() - ext.size());
      break;
    }
  }
  return path + ".log";
}

// Decides format, compression and names; an exit code when the arguments do not fit.
std::variant<Plan, int> MakePlan(const ExportArgs& args, const Snapshot& snapshot) {
  Plan plan{};
  const std::optional<ingest::VzdumpGuest> guest = ingest::GuestOfGroup(snapshot.ref.group);
  if (args.format == "tar") {
    plan.format = Format::kTar;
  } else if (args.format == "vma") {
    plan.format = Format::kVma;
  } else if (guest) {
    plan.format =
        guest->guest == ingest::VzdumpName::Guest::kContainer ? Format::kTar : Format::kVma;
  } else {
    return UsageError(
        fmt::format("{} is not a Proxmox guest's (ct/VMID or vm/VMID): say --format tar or vma",
                    snapshot.name()));
  }
  std::optional<Compression> chosen;
  if (!args.compress.empty()) {
    Result<Compression> c = exporting::ParseCompression(args.compress);
    if (!c.ok()) return UsageError(c.status().message());
    chosen = *c;
  }

  if (args.output == "-") {
    plan.to_stdout = true;
    plan.compression = chosen.value_or(Compression::kNone);
    if (isatty(STDOUT_FILENO))
      return UsageError("standard output is a terminal: not writing an archive to it");
    return plan;
  }

  namespace fs = std::filesystem;
  std::error_code ec;
  const bool into_folder = args.output.empty() || fs::is_directory(args.output, ec);
  if (!into_folder) {
    plan.path = args.output;
    plan.compression =
        chosen ? *chosen : CompressionOfName(args.output).value_or(Compression::kNone);
    plan.log_path = LogPathFor(plan.path);
    return plan;
  }
  // The name vzdump gives it, in the folder (the current one by default).
  if (!guest) {
    return UsageError(
        fmt::format("{} has no vzdump name (its group is not ct/VMID or vm/VMID): say -o FILE",
                    snapshot.name()));
  }
  plan.compression = chosen.value_or(Compression::kZstd);
  const std::string base = ingest::VzdumpBaseName(*guest, snapshot.ref.time_ns);
  std::string folder = args.output;
  if (!folder.empty() && !folder.ends_with('/')) folder += '/';
  plan.path = folder + base + (plan.format == Format::kTar ? ".tar" : ".vma") +
              std::string(exporting::CompressionExtension(plan.compression));
  plan.log_path = folder + base + ".log";
  return plan;
}

// Writes to a descriptor in large blocks.
class FdOutput {
 public:
  explicit FdOutput(int fd) : fd_(fd) { buffer_.reserve(kBlock); }
  Status Write(ByteView data) {
    if (buffer_.size() + data.size() < kBlock) {
      buffer_.insert(buffer_.end(), data.begin(), data.end());
      return Status::Ok();
    }
    COFFER_RETURN_IF_ERROR(Flush());
    return WriteAll(data);
  }
  Status Flush() {
    Status s = WriteAll(ByteView(buffer_));
    buffer_.clear();
    return s;
  }

 private:
  static constexpr size_t kBlock = 1 << 20;
  Status WriteAll(ByteView data) {
    while (!data.empty()) {
      const ssize_t n = write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "write");
      data = data.subspan(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  int fd_;
  Bytes buffer_;
};

Status WriteSmallFile(const std::string& path, std::string_view content) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno(errno, "create " + path);
  FdOutput out(fd.get());
  COFFER_RETURN_IF_ERROR(out.Write(AsBytes(content)));
  COFFER_RETURN_IF_ERROR(out.Flush());
  if (fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync " + path);
  return Status::Ok();
}

int RunExport(const GlobalOptions& global, const ExportArgs& args) {
  OpenedSnapshot opened = OpenSnapshot(global, args.snapshot);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;
  const Snapshot& snapshot = opened.snapshot;
  if (Status s = snapshot.CheckReadable(); !s.ok()) return Fail(s);

  std::variant<Plan, int> planned = MakePlan(args, snapshot);
  if (const int* code = std::get_if<int>(&planned)) return *code;
  const Plan& plan = std::get<Plan>(planned);
  if (plan.format == Format::kVma) {
    // Refused before any file is made.
    if (Result<exporting::VmLayout> vm = exporting::ReadVmLayout(repo, snapshot); !vm.ok()) {
      return Fail(vm.status());
    }
  }

  // vzdump's convention: the archive is NAME.dat until it is whole.
  std::string temp_path;
  UniqueFd file;
  int fd = STDOUT_FILENO;
  if (!plan.to_stdout) {
    struct stat st;
    if (!args.force && lstat(plan.path.c_str(), &st) == 0) {
      return UsageError(plan.path + " exists (--force replaces it)");
    }
    temp_path = plan.path + ".dat";
    file = UniqueFd(open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file.valid()) return Fail(Status::FromErrno(errno, "create " + temp_path));
    fd = file.get();
  }
  auto fail = [&](const Status& status) {
    if (!temp_path.empty()) unlink(temp_path.c_str());
    return Fail(status);
  };

  FdOutput output(fd);
  auto compressor = exporting::Compressor::Create(
      plan.compression, [&](ByteView data) { return output.Write(data); });
  if (!compressor.ok()) return fail(compressor.status());
  exporting::OutputFn into_archive = [&](ByteView data) { return (*compressor)->Write(data); };

  exporting::ExportProgress progress;
  const auto started = std::chrono::steady_clock::now();
  ProgressLine line(ProgressWanted(global.quiet), [&] {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const uint64_t bytes = progress.bytes;
    return fmt::format("{} entries, {} read, {}/s", progress.entries.load(), HumanBytes(bytes),
                       HumanBytes(static_cast<uint64_t>(secs > 0 ? bytes / secs : 0)));
  });
  Status written = plan.format == Format::kTar
                       ? exporting::ExportTar(repo, snapshot, into_archive, &progress)
                       : exporting::ExportVma(repo, snapshot, into_archive, &progress);
  if (written.ok()) written = (*compressor)->Finish();
  if (written.ok()) written = output.Flush();
  line.Stop();
  if (!written.ok()) return fail(written.WithContext("export " + snapshot.name()));

  if (!plan.to_stdout) {
    if (fsync(fd) != 0) return fail(Status::FromErrno(errno, "fsync " + temp_path));
    file.reset();
    if (rename(temp_path.c_str(), plan.path.c_str()) != 0) {
      return fail(Status::FromErrno(errno, "rename " + temp_path + " to " + plan.path));
    }
    // Beside the archive, as vzdump leaves them: the notes Proxmox VE shows
    // and the log; `coffer import` of the folder takes them back.
    // Those of an archive this one replaced go: they are not this one's.
    if (snapshot.note_damage.ok()) {
      const std::string notes_path = plan.path + ".notes";
      if (!snapshot.note.comment().empty()) {
        if (Status s = WriteSmallFile(notes_path, snapshot.note.comment()); !s.ok()) return Fail(s);
      } else if (args.force) {
        unlink(notes_path.c_str());
      }
      if (!snapshot.note.log().empty()) {
        if (Status s = WriteSmallFile(plan.log_path, snapshot.note.log()); !s.ok()) return Fail(s);
      } else if (args.force) {
        unlink(plan.log_path.c_str());
      }
    }
  }

  if (!global.quiet) {
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
    fmt::print(stderr, "exported {} to {}: {} entries, {} of data, {} written in {}\n",
               snapshot.name(), plan.to_stdout ? std::string("standard output") : plan.path,
               progress.entries.load(), HumanBytes(progress.bytes),
               HumanBytes((*compressor)->bytes_out()), HumanDuration(nanos));
  }
  return kExitOk;
}

}  // namespace

void RegisterExport(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export",
                                     "Write a snapshot as the archive vzdump writes (ct/: LXC tar, "
                                     "vm/: VMA) for pct restore or qmrestore");
  cmd->add_option("SNAPSHOT", args->snapshot, "GROUP/TIME, GROUP/latest or an id prefix")
      ->required();
  cmd->add_option("-o,--output", args->output,
                  "File, folder (the archive gets vzdump's name in it) or - for standard output "
                  "(default: vzdump's name in the current folder)")
      ->type_name("DEST");
  cmd->add_option(
         "--compress", args->compress,
         "zstd, gzip or none (default: zstd; for -o FILE as its extension says; for - none)")
      ->type_name("METHOD")
      ->check(CLI::IsMember({"zstd", "gzip", "none"}));
  cmd->add_option("--format", args->format,
                  "tar or vma (default: from the group, ct/ tar, vm/ vma)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"tar", "vma"}));
  cmd->add_flag("--force", args->force, "Replace an existing archive");
  cmd->callback([&global, args, exit_code] { *exit_code = RunExport(global, *args); });
}

}  // namespace coffer::tools
