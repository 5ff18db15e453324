// coffer: the command line. Each subcommand lives in tools/cmd_NAME.cc.
#include <malloc.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/mount_helper.h"

namespace {

// Deep trees keep one directory open per level while they are walked.
void RaiseOpenFileLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// glibc gives each thread its own heap arena, and each arena keeps the
// megabyte-sized chunk buffers it once held: with eight threads that alone
// was 30 MiB of peak memory. Two arenas cost no measurable time.
//
// Chunk buffers (up to a few MiB) also come from the heap, not from mmap:
// glibc maps every block above its threshold afresh and unmaps it on free, so
// each chunk read or written paid a page fault per 4 KiB, and a freed buffer
// at the heap's top was handed back at once. That was most of the CPU of a
// sequential read through `coffer mount` and its server (2.7 s for 300 MB;
// 0.8 s with these settings). The heap keeps at most 64 MiB free for reuse.
void TuneMalloc() {
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

// Whether the program was run under the file name `name` (a symlink to coffer):
//   coffer-vzdump-hook  vzdump runs its hook script by path, with no way to
//                       add a subcommand: it runs `coffer vzdump-hook`;
//   mount.coffer        mount(8) runs it for "-t coffer" and fstab lines of
//                       type coffer (tools/mount_helper.h).
bool InvokedAs(std::string_view argv0, std::string_view name) {
  return argv0.substr(argv0.rfind('/') + 1) == name;
}

// What is printed is the command's answer: losing it is a failure (exit 1),
// not a success with nothing to show.
int StandardOutputFailed(int err) {
  fmt::print(stderr, "coffer: cannot write to standard output: {}\n", std::strerror(err));
  return coffer::tools::kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace coffer::tools;
  RaiseOpenFileLimit();
  TuneMalloc();

  CLI::App app{
      "Coffer: encrypted, deduplicating, incremental backups.\n"
      "Every command and exit code is described in coffer(1) and coffer-COMMAND(1).",
      "coffer"};
  app.set_version_flag("--version", "coffer " COFFER_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command name

  GlobalOptions global;
  for (int i = 0; i < argc; ++i) global.command_line += (i ? " " : "") + std::string(argv[i]);
  app.add_option("-r,--repo", global.repo,
                 "Repository folder, or s3://BUCKET/PREFIX (a copy in object storage)")
      ->type_name("DIR")
      ->envname("COFFER_REPO");
  app.add_option("--passphrase-file", global.passphrase_file,
                 "Read the passphrase from the first line of FILE")
      ->type_name("FILE")
      ->envname("COFFER_PASSPHRASE_FILE");
  app.add_option("--passphrase-fd", global.passphrase_fd,
                 "Read the passphrase from file descriptor FD")
      ->type_name("FD");
  app.add_option("--lock-wait", global.lock_wait,
                 "How long to wait for a repository locked by another process (e.g. 30s, 5m)")
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_flag("-q,--quiet", global.quiet, "No progress and no summary, only errors");
  app.add_flag("--no-server", global.no_server,
               "Open the repository in this process instead of through its server");
  app.add_option("--server", global.server,
                 "Use the coffer serve at tcp://HOST:PORT (TLS, with a token) instead of -r")
      ->type_name("ADDRESS")
      ->envname("COFFER_SERVER");
  app.add_option("--tls-ca", global.tls_ca,
                 "The CA certificate (PEM) that signed the --server's certificate")
      ->type_name("FILE")
      ->envname("COFFER_TLS_CA");
  app.add_option("--token-file", global.token_file,
                 "Read the token for --server from FILE (default: COFFER_TOKEN)")
      ->type_name("FILE")
      ->envname("COFFER_TOKEN_FILE");
  app.add_flag("--allow-unencrypted", global.allow_unencrypted,
               "Accept a repository that says it is unencrypted (made with init --encryption "
               "none); refused otherwise, as the claim cannot be authenticated")
      ->envname("COFFER_ALLOW_UNENCRYPTED");

  app.add_option("--key-file", global.key_file,
                 "The repository's key kept in FILE, outside the repository (written by init "
                 "--key-file)")
      ->type_name("FILE")
      ->envname("COFFER_KEY_FILE");

  app.add_option(
         "--jobs", global.jobs_file,
         "The jobs file of coffer run, jobs, scheduler and status (default /etc/coffer/jobs.toml)")
      ->type_name("FILE")
      ->envname("COFFER_JOBS");
  app.add_option("--state-dir", global.state_dir,
                 "Where the record of job runs is kept (default /var/lib/coffer)")
      ->type_name("DIR")
      ->envname("COFFER_STATE_DIR");

  int exit_code = kExitOk;
  RegisterInit(app, global, &exit_code);
  RegisterBackup(app, global, &exit_code);
  RegisterImport(app, global, &exit_code);
  RegisterSnapshots(app, global, &exit_code);
  RegisterInfo(app, global, &exit_code);
  RegisterExport(app, global, &exit_code);
  RegisterLs(app, global, &exit_code);
  RegisterDiff(app, global, &exit_code);
  RegisterRestore(app, global, &exit_code);
  RegisterCat(app, global, &exit_code);
  RegisterMount(app, global, &exit_code);
  RegisterUmount(app, global, &exit_code);
  RegisterServe(app, global, &exit_code);
  RegisterPrune(app, global, &exit_code);
  RegisterForget(app, global, &exit_code);
  RegisterProtect(app, global, &exit_code);
  RegisterUnprotect(app, global, &exit_code);
  RegisterVerify(app, global, &exit_code);
  RegisterRestoreTest(app, global, &exit_code);
  RegisterGc(app, global, &exit_code);
  RegisterSync(app, global, &exit_code);
  RegisterRepair(app, global, &exit_code);
  RegisterKey(app, global, &exit_code);
  RegisterVzdumpHook(app, global, &exit_code);
  RegisterJobs(app, global, &exit_code);
  RegisterRun(app, global, &exit_code);
  RegisterStatus(app, global, &exit_code);
  RegisterScheduler(app, global, &exit_code);
  RegisterCompletion(app, global, &exit_code);  // last: it describes the commands above

  std::vector<char*> args(argv, argv + argc);
  char hook_command[] = "vzdump-hook";
  if (argc > 0 && InvokedAs(argv[0], "coffer-vzdump-hook"))
    args.insert(args.begin() + 1, hook_command);
  const bool mount_helper = argc > 0 && InvokedAs(argv[0], "mount.coffer");
  std::vector<std::string> mount_command;
  if (mount_helper) {
    coffer::Result<std::vector<std::string>> command =
        MountHelperCommand(std::vector<std::string>(argv, argv + argc));
    if (!command.ok()) {
      fmt::print(stderr, "mount.coffer: {}\n", command.status().message());
      return kMountExitUsage;
    }
    if (command->empty()) return kExitOk;  // -f: mount(8) only pretends
    mount_command = std::move(command).value();
    args.clear();
    for (std::string& arg : mount_command) args.push_back(arg.data());
  }

  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A word where the command belongs is a command that does not exist.
    const std::vector<std::string> rest = app.remaining();
    if (app.get_subcommands().empty() && !rest.empty() && !rest.front().starts_with("-")) {
      fmt::print(stderr, "coffer: unknown command '{}' (see coffer --help)\n", rest.front());
      return mount_helper ? kMountExitUsage : kExitUsage;
    }
    // CLI11 words an option given twice as "--group: At Most 1 required but
    // received 2"; a person reads it better as what to do.
    const std::string_view what = e.what();
    if (const size_t at = what.find(": At Most 1 required but received ");
        at != std::string_view::npos && what.starts_with("-")) {
      fmt::print(stderr, "coffer: {} may be given only once (see coffer --help)\n",
                 what.substr(0, at));
      return mount_helper ? kMountExitUsage : kExitUsage;
    }
    fmt::print(stderr, "coffer: {} (see coffer --help)\n", what);
    return mount_helper ? kMountExitUsage : kExitUsage;
  } catch (const std::system_error& e) {
    // fmt::print throws when standard output cannot take what is printed
    // (a full disk, a closed terminal); whatever the command stored is kept.
    return StandardOutputFailed(e.code().value());
  }
  // Buffered output that fails only now must not end in success either.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int failed = StandardOutputFailed(errno);
    return exit_code != kExitOk ? exit_code : failed;
  }
  // A bad -o value (cache-size=12Q) is a usage error to mount(8) too.
  if (mount_helper && exit_code != kExitOk) {
    return exit_code == kExitUsage ? kMountExitUsage : kMountExitFailure;
  }
  return exit_code;
}
