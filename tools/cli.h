// What every subcommand shares: the global options, opening the repository,
// reporting errors, and formatting sizes, durations and names for people.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "store/repo/repository.h"

namespace coffer::tools {

struct GlobalOptions {
  std::string repo;
  std::string passphrase_file;
  int passphrase_fd = -1;
  std::string lock_wait = "0";
  bool quiet = false;
  bool no_server = false;  // open the database in this process, under the lock
  std::string server;       // --server, COFFER_SERVER: tcp://HOST:PORT of a remote server
  std::string tls_ca;       // --tls-ca, COFFER_TLS_CA: the CA of the remote server's certificate
  std::string token_file;   // --token-file, COFFER_TOKEN_FILE (else COFFER_TOKEN)
  // --allow-unencrypted, COFFER_ALLOW_UNENCRYPTED: accept a repository whose
  // config says it is unencrypted (else refused: exit 4).
  bool allow_unencrypted = false;
  // --key-file, COFFER_KEY_FILE: the repository's key kept outside it (a
  // wrapped key, store/crypto/key_text.h); `init` writes it there.
  std::string key_file;
  std::string command_line;  // shown to a process waiting for our lock
  // --jobs, COFFER_JOBS: the jobs file (empty: /etc/coffer/jobs.toml).
  std::string jobs_file;
  // --state-dir, COFFER_STATE_DIR: where the record of job runs is kept
  // (empty: /var/lib/coffer).
  std::string state_dir;
};

// Prints "coffer: MESSAGE" on stderr and returns the exit code for `status`.
int Fail(const Status& status);

// Opens the repository named by -r/COFFER_REPO; a missing one exits 10.
struct Opened {
  std::unique_ptr<Repository> repo;
  int exit_code = 0;  // non-zero when repo is null
};
Opened OpenRepository(const GlobalOptions& global);

// Validates the snapshot name (a bad one exits 2 before any passphrase is
// asked), opens the repository and finds the snapshot, which must be
// readable (a damaged record exits 4).
struct OpenedSnapshot {
  std::unique_ptr<Repository> repo;
  Snapshot snapshot;
  int exit_code = 0;  // non-zero when repo is null
};
OpenedSnapshot OpenSnapshot(const GlobalOptions& global, const std::string& name);

// The passphrase from --passphrase-fd, --passphrase-file, COFFER_PASSPHRASE_FILE,
// COFFER_PASSPHRASE or the terminal, in that order. `confirm` asks twice.
Result<std::string> ReadPassphrase(const GlobalOptions& global, bool confirm);
// A new passphrase (`coffer key passwd`, `add`, `import`): from `file`
// (--new-passphrase-file) or COFFER_NEW_PASSPHRASE_FILE, COFFER_NEW_PASSPHRASE,
// or asked twice on the terminal. Never empty.
Result<std::string> ReadNewPassphrase(const std::string& file);

// The repository's store, without its keys (what `coffer key import` needs
// when the key is lost); exits as OpenRepository does.
struct ConnectedStore {
  std::unique_ptr<ObjectStore> store;
  int exit_code = 0;  // non-zero when store is null
};
ConnectedStore ConnectStore(const GlobalOptions& global);

// The Argon2id costs of --kdf-ops and --kdf-memory: from libsodium's minimum
// to the bounds Unwrap honours (store/crypto/keys.h); kInvalidArgument else.
Result<crypto::KdfParams> ParseKdfOptions(uint64_t ops, const std::string& memory);

// Today's date in the local time zone (TZ), YYYY-MM-DD.
std::string TodayLocal();

// The wrapped key in the key file `path` (key_text.h); kInvalidArgument
// naming the file when it is not one.
Result<Bytes> ReadWrappedKeyFile(const std::string& path);
// Writes `wrapped`, the key of the repository `repository_id` (its raw 32
// bytes), as the key file `path` (WriteSecretFile, dated today).
Status WriteKeyFile(const std::string& path, std::string_view repository_id, const Bytes& wrapped,
                    bool replace);
// Writes `text` to `path` with mode 0600, durably: through a temporary file
// renamed over it. kAlreadyExists if `path` exists and !replace.
Status WriteSecretFile(const std::string& path, std::string_view text, bool replace);
// Writes `text` to `path` with mode `mode` (whatever the umask), durably and
// atomically: PATH.tmp in the same folder, fsync, renamed over `path`, the
// folder synced. A reader sees the old file or the new one, never a part.
// Two writers of the same path at once are not expected (PATH.tmp is shared).
Status ReplaceFileDurably(const std::string& path, std::string_view text, mode_t mode);

// "30s", "5m", "1h30m", "2d", or plain seconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
// "64M", "1G", "512K", or plain bytes (powers of 1024).
Result<uint64_t> ParseSize(std::string_view text);

std::string HumanBytes(uint64_t bytes);       // "1.2 GiB"
std::string HumanDuration(int64_t nanos);     // "6.2 s"
// Bytes as a person can read them: non-printable bytes as \n, \t, \xNN.
std::string EscapeName(std::string_view name);
// "drwxr-xr-x" from an entry's type and mode.
std::string ModeString(const pb::Entry& entry);

// Adds an option that may be given more than once and takes exactly one
// value each time, as restic's and borg's do: `--exclude A DIR --exclude=B`
// is two patterns and a path. CLI11's default for a vector takes every word
// up to the next option, so an option before a positional argument
// swallowed it. The value is never split: paths and patterns may hold
// commas and brackets. The help shows VALUE_NAME and ends the description
// with "(repeatable)", which tests/e2e/repeatable_option_test.cc relies on.
CLI::Option* AddRepeatableOption(CLI::App* cmd, const std::string& name, const std::string& value_name,
                                 std::vector<std::string>& values, const std::string& description);

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
