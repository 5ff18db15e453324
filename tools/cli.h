// What every subcommand shares: the global options, reporting a failure
// with its exit code, repeatable options, and the registration of each
// command. Opening the repository is tools/open_repository.h; the values
// people type and read (sizes, durations, names) are tools/units.h.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "store/base/status.h"
#include "tools/exit_codes.h"

namespace coffer::tools {

struct GlobalOptions {
  std::string repo;
  std::string passphrase_file;
  int passphrase_fd = -1;
  std::string lock_wait = "0";
  bool quiet = false;
  bool no_server = false;  // open the database in this process, under the lock
  std::string server;      // --server, COFFER_SERVER: tcp://HOST:PORT of a remote server
  std::string tls_ca;      // --tls-ca, COFFER_TLS_CA: the CA of the remote server's certificate
  std::string token_file;  // --token-file, COFFER_TOKEN_FILE (else COFFER_TOKEN)
  // --allow-unencrypted, COFFER_ALLOW_UNENCRYPTED: accept a repository whose
  // config says it is unencrypted (else refused: exit 4).
  bool allow_unencrypted = false;
  // --key-file, COFFER_KEY_FILE: the repository's key kept outside it (a
  // wrapped key, store/crypto/key_text.h); `init` writes it there.
  std::string key_file;
  std::string command_line;  // shown to a process waiting for our lock
  // Not an option: set by the commands that move much data (backup, import
  // and the vzdump hook's, restore, verify), which hold the database
  // themselves when no server runs (tools/server_client.h).
  bool host_when_alone = false;
  // --jobs, COFFER_JOBS: the jobs file (empty: /etc/coffer/jobs.toml).
  std::string jobs_file;
  // --state-dir, COFFER_STATE_DIR: where the record of job runs is kept
  // (empty: /var/lib/coffer).
  std::string state_dir;
};

// Prints "coffer: MESSAGE" on stderr and returns the exit code for `status`
// (ExitCodeFor, with what the command was doing when that matters).
int Fail(const Status& status, FailedStep step = FailedStep::kAny);

// Adds an option that may be given more than once and takes exactly one
// value each time, as restic's and borg's do: `--exclude A DIR --exclude=B`
// is two patterns and a path. CLI11's default for a vector takes every word
// up to the next option, so an option before a positional argument
// swallowed it. The value is never split: paths and patterns may hold
// commas and brackets. The help shows VALUE_NAME and ends the description
// with "(repeatable)", which tests/e2e/repeatable_option_test.cc relies on.
CLI::Option* AddRepeatableOption(CLI::App* cmd, const std::string& name,
                                 const std::string& value_name, std::vector<std::string>& values,
                                 const std::string& description);

// Registration of each subcommand (tools/cmd_*.cc). Each sets a callback that
// stores the command's exit code in `*exit_code`.
void RegisterInit(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterBackup(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterImport(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterSnapshots(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterInfo(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterExport(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterLs(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterDiff(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterRestore(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterCat(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterMount(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterUmount(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterServe(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterPrune(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterForget(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterProtect(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterUnprotect(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterVerify(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterRestoreTest(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterGc(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterSync(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterRepair(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterKey(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterVzdumpHook(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterJobs(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterRun(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterStatus(CLI::App& app, GlobalOptions& global, int* exit_code);
void RegisterScheduler(CLI::App& app, GlobalOptions& global, int* exit_code);
// `coffer completion bash` reads `app`, every command registered before it.
void RegisterCompletion(CLI::App& app, GlobalOptions& global, int* exit_code);

}  // namespace coffer::tools
