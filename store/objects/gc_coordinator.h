// GcCoordinator: what lets garbage collection run while backups write.
//
// The collector marks from the snapshots that exist when it starts, but a
// backup running meanwhile will commit a snapshot that references objects
// nobody marked: chunks it uploaded, chunks it found already stored (dedup),
// and subtrees and chunks it reuses unchanged from its parent snapshot. So
// the store remembers, while any writer is registered or a collection runs,
// the id of every object put or found by Contains() ("touched"), and keeps
// each writer's parent snapshot record ("pinned", returned as a root even if
// the snapshot is deleted meanwhile). A sweep deletes only what is neither
// marked nor touched, under an exclusive lock that Contains() also takes, so
// a writer is never told an object exists that the sweep is deleting.
//
// A writer that is not registered when it commits (its registration lapsed,
// or the server restarted under it and may have lost objects it had
// acknowledged but not yet flushed) cannot be vouched for: its commit is
// refused. A commit without any registration (kNoWriter, tests and tools
// that write directly) is refused once a sweep has completed or while a
// collection runs.
//
// Memory: 8 bytes per touched object (a hash set of id prefixes) while any
// writer or collection is active, plus 8 bytes per marked object during a
// collection; cleared when neither is.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <unordered_set>
#include <vector>

#include "store/base/status.h"
#include "store/objects/mark_set.h"
#include "store/objects/object_store.h"

namespace coffer {

class GcCoordinator {
 public:
  using Clock = std::chrono::steady_clock;
  // Registrations of remote writers lapse after this long without a refresh.
  static constexpr std::chrono::minutes kWriterLapse{10};
  // A collection with no call for this long may be taken over.
  static constexpr std::chrono::minutes kGcAbandoned{10};

  GcCoordinator();

  // Registers a writer. `find_parent` runs under the coordinator's lock, so
  // no collection can list its roots between finding the parent and pinning it.
  Result<WriteId> BeginWrite(
      const std::function<Result<std::optional<StoredSnapshot>>()>& find_parent);
  void EndWrite(WriteId writer);
  // Keeps registrations alive (remote writers refresh on every keep-alive).
  void Refresh(std::span<const WriteId> writers);
  // Runs `write_record` if a commit by `writer` is safe (see above), else
  // kAborted; on success the writer's registration ends. Under the lock, so
  // no collection starts between the check and the record.
  Status Commit(WriteId writer, const std::function<Status()>& write_record);

  // Held (shared) around a Contains() or Put() and its NoteTouched(), so a
  // sweep decision (exclusive) never falls between the two.
  std::shared_mutex& sweep_lock() { return sweep_lock_; }
  // Records `ids` as touched if anyone needs to know. Call with sweep_lock()
  // held shared.
  void NoteTouched(std::span<const ObjectId> ids);
  void NoteTouched(const ObjectId& id);

  // Starts a collection; `list_snapshots` runs under the lock. The roots are
  // its result plus every pinned parent not among them.
  Result<GcStart> BeginGc(
      const std::function<Result<std::vector<StoredSnapshot>>()>& list_snapshots);
  Status AddMarks(uint64_t gc_id, std::span<const uint64_t> prefixes);
  // Sorts the marks and returns a decider for the sweep: called with
  // sweep_lock() held exclusively, it says whether an object may be deleted.
  struct Sweep {
    MarkSet marks;  // sorted, unique
    bool IsMarked(const ObjectId& id) const;
  };
  Result<Sweep> StartSweep(uint64_t gc_id);
  // With sweep_lock() held exclusively: touched since the collection began?
  bool IsTouched(const ObjectId& id);
  // Ends the collection (swept or not).
  void EndGc(uint64_t gc_id, bool swept);

  // Whether a writer is registered (and not lapsed) or a collection runs
  // (and is not abandoned): a store that serves other processes must not
  // close under them.
  bool HasWritersOrCollection();

 private:
  struct Writer {
    std::optional<StoredSnapshot> pinned_parent;
    Clock::time_point refreshed;
  };
  bool Tracking() const { return !writers_.empty() || gc_id_ != 0; }
  void DropLapsedWritersLocked();
  void MaybeClearLocked();

  std::mutex mu_;
  std::shared_mutex sweep_lock_;
  std::map<WriteId, Writer> writers_;
  std::unordered_set<uint64_t> touched_;
  uint64_t gc_id_ = 0;  // 0: no collection
  Clock::time_point gc_last_call_;
  MarkSet marks_;
  uint64_t sweeps_completed_ = 0;
};

}  // namespace coffer
