// Opening the repository a command names: its store (a folder, through the
// server, or a bucket), the passphrase that unwraps its key, and key files.
// A failure is reported here (Fail) and comes back as the exit code.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/crypto/keys.h"
#include "store/repo/repository.h"
#include "tools/cli.h"
#include "tools/server_client.h"

namespace coffer::tools {

// Opens the repository named by -r/COFFER_REPO; a missing one exits 10.
struct Opened {
  std::unique_ptr<Repository> repo;
  int exit_code = 0;  // non-zero when repo is null
};
Opened OpenRepository(const GlobalOptions& global);

// Validates every snapshot name in `names` (a bad one exits 2 before any
// passphrase is asked), then opens the repository: what commands that name
// snapshots do first.
Opened OpenRepositoryNaming(const GlobalOptions& global, const std::vector<std::string>& names);

// Validates the snapshot name (a bad one exits 2 before any passphrase is
// asked), opens the repository and finds the snapshot, which must be
// readable (a damaged record exits 4).
struct OpenedSnapshot {
  std::unique_ptr<Repository> repo;
  Snapshot snapshot;
  int exit_code = 0;  // non-zero when repo is null
};
OpenedSnapshot OpenSnapshot(const GlobalOptions& global, const std::string& name);
// The same for several names (`coffer diff`): every name is validated before
// the repository is opened, and the snapshots come in the order named.
struct OpenedSnapshots {
  std::unique_ptr<Repository> repo;
  std::vector<Snapshot> snapshots;
  int exit_code = 0;  // non-zero when repo is null
};
OpenedSnapshots OpenSnapshots(const GlobalOptions& global, const std::vector<std::string>& names);

// How ConnectRepository (tools/server_client.h) reaches the repository that
// `global` names: its server options, --no-server, and whether the command
// holds the database itself when no server runs.
ServerClientOptions ServerClientOptionsFor(const GlobalOptions& global,
                                           std::chrono::milliseconds lock_wait);

// The repository's store, without its keys (what `coffer key import` needs
// when the key is lost); exits as OpenRepository does.
struct ConnectedStore {
  std::unique_ptr<ObjectStore> store;
  int exit_code = 0;  // non-zero when store is null
};
ConnectedStore ConnectStore(const GlobalOptions& global);

// The passphrase from --passphrase-fd, --passphrase-file, COFFER_PASSPHRASE_FILE,
// COFFER_PASSPHRASE or the terminal, in that order. `confirm` asks twice.
Result<std::string> ReadPassphrase(const GlobalOptions& global, bool confirm);
// A new passphrase (`coffer key passwd`, `add`, `import`): from `file`
// (--new-passphrase-file) or COFFER_NEW_PASSPHRASE_FILE, COFFER_NEW_PASSPHRASE,
// or asked twice on the terminal. Never empty.
Result<std::string> ReadNewPassphrase(const std::string& file);

// The Argon2id costs of --kdf-ops and --kdf-memory: from libsodium's minimum
// to the bounds Unwrap honours (store/crypto/keys.h); kInvalidArgument else.
Result<crypto::KdfParams> ParseKdfOptions(uint64_t ops, const std::string& memory);

// The wrapped key in the key file `path` (key_text.h); kInvalidArgument
// naming the file when it is not one.
Result<Bytes> ReadWrappedKeyFile(const std::string& path);
// Writes `wrapped`, the key of the repository `repository_id` (its raw 32
// bytes), as the key file `path` (WriteSecretFile, dated today).
Status WriteKeyFile(const std::string& path, std::string_view repository_id, const Bytes& wrapped,
                    bool replace);

}  // namespace coffer::tools
