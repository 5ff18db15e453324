// Offsite copies: snapshots copied from one store to another as they are
// stored, without the key (DESIGN.md, "Sync and object storage").
//
// The destination is a replica of the source: the same config and key slots,
// so the same passphrase or paper key opens it. For each snapshot it lacks,
// the objects the snapshot's needs set names that the destination does not
// have are copied, then its needs lists, then its record: a snapshot appears
// at the destination only when everything it needs is there, as after a
// backup. What the destination has is asked for in batches first, so a sync
// with nothing new reads no object, and a sync stopped half-way sends again
// only what had not arrived. Neither end sees a key or plaintext.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/base/status.h"
#include "store/objects/object_store.h"

namespace coffer::sync {

struct SyncOptions {
  std::vector<std::string> groups;  // only these groups; empty: every group
  size_t latest = 0;                // only the newest N of each group; 0: all
  // Deletes the destination's snapshots of the groups considered that the
  // source does not have (protected ones stay), as `forget` would: their
  // objects go at the destination's next gc.
  bool delete_missing = false;
  bool dry_run = false;  // decide and count, copy and delete nothing
  // Bytes per second sent at most; 0: no limit.
  uint64_t bytes_per_second = 0;
};

struct SyncProgress {
  size_t snapshots_done = 0;  // considered so far, copied or not
  size_t snapshots_total = 0;
  uint64_t objects_copied = 0;
  uint64_t bytes_copied = 0;
  std::string current;  // GROUP/TIME being copied
};
using SyncProgressFn = std::function<void(const SyncProgress&)>;

struct SyncReport {
  uint64_t snapshots_copied = 0;
  uint64_t snapshots_present = 0;  // already at the destination
  uint64_t snapshots_deleted = 0;  // --delete
  uint64_t objects_copied = 0;     // chunks and trees
  uint64_t objects_present = 0;    // needed and found at the destination
  uint64_t lists_copied = 0;       // needs lists
  uint64_t bytes_copied = 0;       // stored bytes of the objects and lists copied
  // Snapshots not copied, one line each ("GROUP/TIME: why"): made before
  // needs lists, damaged at the source, or another snapshot at that group
  // and time at the destination. The others are copied regardless.
  std::vector<std::string> skipped;
  // What could not be done and does not make a copy incomplete: a key slot
  // the destination refused (an append-only token may not add one).
  std::vector<std::string> warnings;
};

// OK if `destination` is a replica of `source` (the same config, byte for
// byte); kFailedPrecondition saying why not, kNotFound if the destination
// has no config (not a repository yet: --init makes it one).
Status CheckReplica(ObjectStore& source, ObjectStore& destination);

// Makes the empty `destination` a replica of `source`: its key slots, the
// config's authentication code and the config, in the order init writes
// them (a destination without the config is not a repository yet).
Status InitReplica(ObjectStore& source, ObjectStore& destination);

// Copies the snapshots `options` selects that `destination` lacks, oldest
// first, and the key slots the source has and it lacks. Errors of either
// store end the sync (what was committed stays); problems of one snapshot
// are listed in `skipped` and the sync goes on.
Result<SyncReport> Sync(ObjectStore& source, ObjectStore& destination, const SyncOptions& options,
                        const SyncProgressFn& progress = nullptr);

}  // namespace coffer::sync
