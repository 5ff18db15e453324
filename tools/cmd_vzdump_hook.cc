// coffer vzdump-hook: the hook script of Proxmox VE's vzdump, so that every
// guest backup vzdump writes to a file goes into a Coffer repository.
//
// vzdump runs the hook as `HOOK PHASE [MODE VMID]` with what it knows in the
// environment (VMTYPE, DUMPDIR, STOREID, HOSTNAME; TARGET at backup-end,
// LOGFILE at log-end) and fails the guest's backup when backup-end exits
// non-zero. It runs a path and cannot add a subcommand, so the binary also
// runs this when invoked as coffer-vzdump-hook (tools/main.cc).
//
// backup-end imports the archive as `coffer import` does (tools/cmd_import.h);
// log-end keeps vzdump's log with the snapshot made from the same archive.
// Every other phase does nothing: a busy or missing repository must not fail
// a backup before the archive exists.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "store/ingest/vzdump_name.h"
#include "store/model/snapshot_name.h"
#include "store/verify/verifier.h"
#include "tools/cli.h"
#include "tools/cmd_import.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultConfig = "/etc/coffer/vzdump-hook.conf";

struct HookArgs {
  std::string phase;
  std::string mode;  // stop, suspend or snapshot
  std::string vmid;
  std::string config;  // --config, COFFER_VZDUMP_HOOK_CONFIG; empty: kDefaultConfig
};

// The settings of the config file; empty when not set there.
struct HookConfig {
  std::string repository;
  std::string passphrase_file;
  std::string key_file;  // the repository's key kept outside it (--key-file)
  std::string server;
  std::string tls_ca;
  std::string token_file;
  bool allow_unencrypted = false;
  bool delete_after_import = false;
};

std::string_view Trim(std::string_view text) {
  const char* kSpace = " \t\r";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

// `KEY=VALUE` lines, `#` comments and blank lines. Every mistake is named by
// file and line: the hook runs unattended, and a setting it ignored would
// show only when a backup is needed.
Result<HookConfig> ParseHookConfig(std::string_view text, const std::string& file) {
  HookConfig config;
  std::vector<std::string> seen;
  size_t line_number = 0;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = Trim(text.substr(begin, end - begin));
    begin = end + 1;
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](const std::string& what) {
      return Status::InvalidArgument(fmt::format("{}:{}: {}", EscapeName(file), line_number, what));
    };
    size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return bad(fmt::format("'{}' is not KEY=VALUE", EscapeName(line)));
    }
    const std::string key(Trim(line.substr(0, equals)));
    const std::string value(Trim(line.substr(equals + 1)));
    if (key.empty()) return bad("a line with no key before its '='");
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return bad(EscapeName(key) + " is set twice");
    }
    seen.push_back(key);
    if (value.empty()) return bad(EscapeName(key) + " has no value");
    auto yes_no = [&](bool& out) -> Status {
      if (value != "yes" && value != "no") {
        return bad(fmt::format("{}={}: give yes or no", key, EscapeName(value)));
      }
      out = value == "yes";
      return Status::Ok();
    };
    // The hook runs in whatever folder vzdump is in.
    auto absolute_path = [&](std::string& out) -> Status {
      if (value[0] != '/') {
        return bad(fmt::format("{}={}: give an absolute path", key, EscapeName(value)));
      }
      out = value;
      return Status::Ok();
    };
    if (key == "repository") {
      COFFER_RETURN_IF_ERROR(absolute_path(config.repository));
    } else if (key == "passphrase-file") {
      COFFER_RETURN_IF_ERROR(absolute_path(config.passphrase_file));
    } else if (key == "key-file") {
      COFFER_RETURN_IF_ERROR(absolute_path(config.key_file));
    } else if (key == "server") {
      config.server = value;
    } else if (key == "tls-ca") {
      COFFER_RETURN_IF_ERROR(absolute_path(config.tls_ca));
    } else if (key == "token-file") {
      COFFER_RETURN_IF_ERROR(absolute_path(config.token_file));
    } else if (key == "allow-unencrypted") {
      COFFER_RETURN_IF_ERROR(yes_no(config.allow_unencrypted));
    } else if (key == "delete-after-import") {
      COFFER_RETURN_IF_ERROR(yes_no(config.delete_after_import));
    } else {
      return bad(fmt::format(
          "unknown key '{}' (known: repository, passphrase-file, key-file, server, tls-ca, "
          "token-file, allow-unencrypted, delete-after-import)",
          EscapeName(key)));
    }
  }
  return config;
}

// What the hook runs with: the global options, each completed from the
// config file where the command line and the environment left it empty.
struct HookSetup {
  GlobalOptions global;
  bool delete_after_import = false;
};

// Every problem with the configuration is a usage error (exit 2).
Result<HookSetup> Configure(const GlobalOptions& global, const HookArgs& args) {
  const bool named = !args.config.empty();
  const std::string path = named ? args.config : kDefaultConfig;
  HookConfig config;
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Status::InvalidArgument("cannot read the config file " + EscapeName(path));
    COFFER_ASSIGN_OR_RETURN(config, ParseHookConfig(text.str(), path));
  } else if (named || errno != ENOENT) {
    // Only the default may be missing: the environment may say it all.
    return Status::InvalidArgument(
        fmt::format("cannot read the config file {}: {}", EscapeName(path), std::strerror(errno)));
  }

  HookSetup setup{global, config.delete_after_import};
  GlobalOptions& g = setup.global;
  // Where the repository is, is one setting: -r/COFFER_REPO or
  // --server/COFFER_SERVER replaces both of the file's.
  if (g.repo.empty() && g.server.empty()) {
    g.repo = config.repository;
    g.server = config.server;
  }
  if (g.tls_ca.empty()) g.tls_ca = config.tls_ca;
  if (g.key_file.empty()) g.key_file = config.key_file;
  if (g.token_file.empty() && !std::getenv("COFFER_TOKEN")) g.token_file = config.token_file;
  if (g.passphrase_file.empty() && g.passphrase_fd < 0 && !std::getenv("COFFER_PASSPHRASE")) {
    g.passphrase_file = config.passphrase_file;
  }
  // A flag: unset and "no" look the same on the command line.
  g.allow_unencrypted = g.allow_unencrypted || config.allow_unencrypted;
  if (g.repo.empty() && g.server.empty()) {
    return Status::InvalidArgument(fmt::format(
        "no repository: set repository=DIR in {} (see coffer-vzdump-hook(1))", EscapeName(path)));
  }
  return setup;
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// One line of what was done, on standard output: vzdump copies it into the
// guest's task log.
template <typename... T>
void Tell(const GlobalOptions& global, fmt::format_string<T...> format, T&&... args) {
  if (global.quiet) return;
  fmt::print("coffer: {}\n", fmt::format(format, std::forward<T>(args)...));
}

// "CT 101", "VM 102": the guest as Proxmox VE names it.
std::string Guest(const HookArgs& args) {
  const std::string type = Env("VMTYPE");
  const std::string kind = type == "lxc" ? "CT" : type == "qemu" ? "VM" : "guest";
  return args.vmid.empty() ? kind : kind + " " + args.vmid;
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads back every object of the snapshot just imported, as `coffer verify
// --snapshot` does, and records the outcome in its note.
int VerifyImported(Repository& repo, const GlobalOptions& global, const std::string& name) {
  // Found again: the import wrote its note after the record was made, and
  // recording the verification must keep that note.
  auto snapshot = repo.FindSnapshot(name);
  if (!snapshot.ok()) return Fail(snapshot.status());
  verify::Verifier verifier(repo, verify::VerifyOptions{});
  auto result = verifier.Verify({*snapshot});
  if (!result.ok()) return Fail(result.status());
  if (Status recorded = verify::RecordVerifications(repo, *result, NowNanos()); !recorded.ok()) {
    // The data was read back either way (as in `coffer verify`).
    fmt::print(stderr, "coffer: warning: the verification could not be recorded in {}: {}\n", name,
               recorded.message());
  }
  if (!result->ok()) {
    fmt::print(stderr, "coffer: {} failed its verification: {} objects damaged or missing\n", name,
               result->damaged.size());
    return kExitDamaged;
  }
  Tell(global, "verified {}: {} objects, {}, no damage found", name, result->objects_checked(),
       HumanBytes(result->bytes_checked));
  return kExitOk;
}

// Removes `path` if it exists; true once it is gone. A failure is only
// warned about: the guest's backup is safe in the repository, and vzdump's
// pruning can still remove the file.
bool RemoveFile(const GlobalOptions& global, const std::string& path) {
  if (unlink(path.c_str()) == 0) {
    Tell(global, "removed {}", EscapeName(path));
    return true;
  }
  if (errno == ENOENT) return true;
  fmt::print(stderr, "coffer: warning: cannot remove {}: {}\n", EscapeName(path),
             std::strerror(errno));
  return false;
}

int BackupEnd(const GlobalOptions& global, const HookArgs& args) {
  // Older releases of Proxmox VE call it TARFILE.
  std::string target = Env("TARGET");
  if (target.empty()) target = Env("TARFILE");
  if (target.empty() || target == "-") {
    Tell(global, "vzdump wrote the backup of {} to standard output: nothing to import",
         Guest(args));
    return kExitOk;
  }
  // For a Proxmox Backup Server storage, TARGET is the snapshot's name
  // there (ct/101/2026-12-01T02:00:05Z) and DUMPDIR is not set.
  std::error_code error;
  if (Env("DUMPDIR").empty() && !fs::exists(target, error)) {
    Tell(global,
         "the backup of {} went to {} on Proxmox Backup Server, not to a file: nothing to import",
         Guest(args), EscapeName(target));
    return kExitOk;
  }

  auto setup = Configure(global, args);
  if (!setup.ok()) return Fail(setup.status());
  setup->global.host_when_alone = true;  // an import, as `coffer import` is
  Opened opened = OpenRepository(setup->global);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;

  auto imported = ImportArchive(repo, target, global.quiet);
  if (!imported.ok()) {
    fmt::print(stderr, "coffer: {}\n", imported.status().message());
    fmt::print(stderr, "coffer: the backup of {} was not imported; {} is kept\n", Guest(args),
               EscapeName(target));
    return ExitCodeFor(imported.status(), FailedStep::kImportingArchive);
  }
  if (!imported->result) {
    // Not imported now, so nothing here says the snapshot holds this archive.
    Tell(global, "{} is already in the repository as {}: not imported again, and kept",
         EscapeName(target), imported->snapshot);
    return kExitOk;
  }
  const pb::Snapshot& record = imported->result->snapshot.record;
  Tell(global, "imported {} as {} (id {}): {} files, {}, added {} in {}", EscapeName(target),
       imported->snapshot, imported->result->snapshot.ref.id.short_hex(),
       record.stats().files_total(), HumanBytes(record.stats().bytes_total()),
       HumanBytes(record.stats().bytes_added()), HumanDuration(record.stats().duration_ns()));
  if (!imported->result->errors.empty()) {
    fmt::print(stderr,
               "coffer: {} is INCOMPLETE: {} members of the archive were left out (named above); "
               "{} is kept\n",
               imported->snapshot, imported->result->errors.size(), EscapeName(target));
    return kExitIncomplete;
  }
  if (!setup->delete_after_import) return kExitOk;

  // vzdump --protected asked for this archive to be kept.
  if (fs::exists(target + ".protected", error)) {
    Tell(global, "{} is protected: kept", EscapeName(target));
    return kExitOk;
  }
  if (int verified = VerifyImported(repo, global, imported->snapshot); verified != kExitOk) {
    fmt::print(stderr, "coffer: {} is kept\n", EscapeName(target));
    return verified;
  }
  // The notes are in the snapshot; left alone they would outlive their
  // archive, as vzdump prunes archives and removes notes only with them.
  if (RemoveFile(global, target)) RemoveFile(global, target + ".notes");
  return kExitOk;
}

int LogEnd(const GlobalOptions& global, const HookArgs& args) {
  const std::string log = Env("LOGFILE");
  if (log.empty()) {
    // vzdump writes no log file for a Proxmox Backup Server storage.
    Tell(global, "vzdump kept no log file for {}: nothing to attach", Guest(args));
    return kExitOk;
  }
  auto name = ingest::ParseVzdumpLogName(fs::path(log).filename().string());
  if (!name) {
    return Fail(Status::InvalidArgument(
        fmt::format("LOGFILE {} is not named as vzdump names a backup's log "
                    "(vzdump-lxc|qemu-VMID-YYYY_MM_DD-HH_MM_SS.log)",
                    EscapeName(log))));
  }
  auto setup = Configure(global, args);
  if (!setup.ok()) return Fail(setup.status());
  Opened opened = OpenRepository(setup->global);
  if (!opened.repo) return opened.exit_code;
  Repository& repo = *opened.repo;

  const std::string wanted = name->group() + "/" + model::FormatTime(name->time_ns);
  auto snapshots = repo.ListSnapshots(name->group());
  if (!snapshots.ok()) return Fail(snapshots.status());
  const Snapshot* snapshot = nullptr;
  for (const Snapshot& s : *snapshots) {
    if (s.ref.time_ns == name->time_ns) snapshot = &s;
  }
  if (snapshot == nullptr) {
    Tell(global,
         "no snapshot {} in the repository (the backup failed or was not imported): {} is not "
         "attached",
         wanted, EscapeName(log));
    return kExitOk;
  }
  auto text = ReadImportLog(log);
  if (!text.ok()) return Fail(text.status());
  // Only the log changes: the note's comment (vzdump's notes) stays.
  Status updated =
      repo.UpdateNote(*snapshot, [&text](pb::SnapshotNote& note) { note.set_log(*text); });
  if (!updated.ok()) return Fail(updated);
  Tell(global, "kept {} as the log of {}", EscapeName(log), snapshot->name());

  // Once its archive was removed after the import, nothing would remove
  // the log: vzdump prunes archives, and their logs with them.
  if (!setup->delete_after_import) return kExitOk;
  const fs::path folder = fs::path(log).parent_path();
  for (const std::string& archive : name->archive_names()) {
    std::error_code error;
    if (fs::exists(folder / archive, error) || error) return kExitOk;
  }
  RemoveFile(global, log);
  return kExitOk;
}

int RunVzdumpHook(const GlobalOptions& global, const HookArgs& args) {
  // vzdump logs standard output and error as they come: keep their order.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (args.phase == "backup-end") return BackupEnd(global, args);
  if (args.phase == "log-end") return LogEnd(global, args);
  if (args.phase == "backup-abort") {
    Tell(global, "the backup of {} failed: nothing was imported", Guest(args));
    return kExitOk;
  }
  for (const char* phase : {"job-init", "job-start", "job-end", "job-abort", "backup-start",
                            "pre-stop", "pre-restart", "post-restart"}) {
    if (args.phase == phase) return kExitOk;
  }
  // A phase a newer vzdump added must not fail its backups.
  Tell(global, "phase '{}' is not one Coffer knows: nothing to do", EscapeName(args.phase));
  return kExitOk;
}

}  // namespace

void RegisterVzdumpHook(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<HookArgs>();
  CLI::App* cmd = app.add_subcommand(
      "vzdump-hook",
      "The hook script of Proxmox VE's vzdump: imports each backup as vzdump writes it. "
      "In /etc/vzdump.conf: script: /usr/bin/coffer-vzdump-hook");
  cmd->add_option("PHASE", args->phase,
                  "vzdump's phase: backup-end imports TARGET, log-end keeps LOGFILE with it; the "
                  "others do nothing")
      ->required();
  cmd->add_option("MODE", args->mode,
                  "The backup mode (stop, suspend, snapshot), for a guest's phases");
  cmd->add_option("VMID", args->vmid, "The guest's id, for a guest's phases");
  cmd->add_option(
         "--config", args->config,
         std::string("Read the hook's settings from FILE (default ") + kDefaultConfig + ")")
      ->type_name("FILE")
      ->envname("COFFER_VZDUMP_HOOK_CONFIG");
  cmd->callback([&global, args, exit_code] { *exit_code = RunVzdumpHook(global, *args); });
}

}  // namespace coffer::tools
