// Opening a repository that lives in a local folder: the marker check, the
// lock, and the in-process store over RocksDB. (The client of `coffer serve`
// will offer the same calls over its socket.)
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "store/kv/repair.h"
#include "store/repo/repository.h"

namespace coffer {

struct LocalOpenOptions {
  std::chrono::milliseconds lock_wait{0};
  std::string holder_description;  // shown to whoever waits for the lock
  // OpenLocalRepository() only: OpenOptions::allow_unencrypted.
  bool allow_unencrypted = false;
};

// Creates DIR (if absent; it must be empty otherwise), the marker and the
// database, then initializes it. `keep_key`, if given, is handed the new
// key before the marker is written (`coffer init --key-file` writes its key
// file there): if it fails, DIR is left without the marker, not a repository.
Status InitLocalRepository(
    const std::string& dir, const InitOptions& options, std::string_view passphrase,
    const std::function<Status(const Repository::NewKey&)>& keep_key = nullptr);

// Creates DIR (if absent; it must be empty otherwise) and the database, has
// `fill` write its meta records without any key (a replica's, sync/sync.h),
// then writes the marker. If `fill` fails, DIR is not a repository.
Status InitLocalStore(const std::string& dir, const std::function<Status(ObjectStore&)>& fill);

// Whether DIR holds a repository (its marker file); the kNotFound says so.
Status CheckLocalRepository(const std::string& dir);

// The repository's database, opened in this process under the repository
// lock, without keys: what `coffer serve` serves. The lock is released when
// the returned store is destroyed, after the database is closed.
Result<std::unique_ptr<ObjectStore>> OpenLocalStore(const std::string& dir,
                                                    const LocalOpenOptions& options);

// kNotFound (with "no Coffer repository at DIR") when DIR is not a repository.
// For a server of an unencrypted repository: a check that opens each object
// a client puts and recomputes its id (an encrypted repository's server has
// no key, and the clients' AEAD tags protect the ids). Null for an encrypted
// repository. The server cannot authenticate the config's `encrypted` flag;
// whoever changes it can switch this check off or make it refuse every
// object, nothing more (store/FORMAT.md, threat model).
Result<ObjectCheck> UnencryptedObjectCheck(ObjectStore& store);

Result<std::unique_ptr<Repository>> OpenLocalRepository(const std::string& dir,
                                                        const LocalOpenOptions& options,
                                                        const PassphraseFn& passphrase);

// Rebuilds the database of the repository at DIR after damage to its
// MANIFEST, CURRENT or OPTIONS file (kv/repair.h), under the repository
// lock, keeping the damaged database as DIR/db.damaged-TIME (returned in
// `kept`). Needs no key: it works on stored objects as they are.
struct LocalRepairResult {
  std::string kept;
  kv::RepairReport report;
};
Result<LocalRepairResult> RepairLocalRepository(const std::string& dir,
                                                const LocalOpenOptions& options);

}  // namespace coffer
