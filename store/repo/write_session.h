// WriteSession: adds chunks and trees to a repository and commits a snapshot.
//
// An object is hashed in the caller's thread (its id is needed at once for
// the file's extent list or the parent's tree) and, unless this session has
// seen it, copied into a batch. A full batch costs one Contains() call to the
// store for all its ids, then the new objects are sealed and stored, either
// on the session's workers or in the adding thread. One round trip per batch,
// not per object, is what keeps a backup through `coffer serve` as fast as
// one in-process. Batches are small and few, so memory stays flat.
//
// Thread-safety: AddChunk/AddTree may be called from many threads; Commit once,
// after every Add has returned. The Repository must outlive the session.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "store/base/executor.h"
#include "store/repo/repository.h"
#include "store/repo/snapshot_needs.h"

namespace coffer {

struct WriteStats {
  std::atomic<uint64_t> chunks_added{0};
  std::atomic<uint64_t> trees_added{0};
  std::atomic<uint64_t> bytes_added{0};  // sealed bytes stored
};

class WriteSession {
 public:
  explicit WriteSession(Repository& repo, unsigned seal_threads = Executor::DefaultThreads());
  // Ends the writer's registration if nothing was committed.
  ~WriteSession();

  // Registers this session as a writer with the store before anything is
  // added, naming the snapshot it reuses unchanged objects from, so that a
  // concurrent garbage collection keeps them (ObjectStore::BeginWrite).
  // kNotFound if `parent` was deleted meanwhile. Optional: a session that
  // reuses nothing registers itself when it first stores.
  Status Begin(const std::optional<SnapshotRef>& parent);

  // Returns the chunk's id. When its batch fills, the batch is stored on the
  // session's workers if `background`, else in this thread (which saves a
  // hand-off when the caller is a worker itself). Members of a container
  // archive are added with Effort::kSmall.
  Result<ObjectId> AddChunk(ByteView data, bool background = true,
                            crypto::Effort effort = crypto::Effort::kStandard);
  // Encodes a tree (entries must be sorted) and adds it like a chunk, with
  // Effort::kSmall.
  Result<ObjectId> AddTree(const pb::Tree& tree);
  // Stores every pending batch and waits for them; the first error any met.
  Status Flush();
  // Flushes, puts the needs lists of what the record's root reaches (as a
  // difference from the parent's), then commits the record as given with
  // their id added (the caller sets group, time, root and stats).
  Result<Snapshot> Commit(const pb::Snapshot& record);

  const WriteStats& stats() const { return stats_; }

 private:
  struct Batch {
    std::vector<ObjectKind> kinds;
    std::vector<crypto::Effort> efforts;
    std::vector<ObjectId> ids;
    std::vector<Bytes> plaintexts;
    size_t bytes = 0;
  };

  Result<ObjectId> Add(ObjectKind kind, ByteView plaintext, bool background, crypto::Effort effort);
  // The writer id, registering without a parent if Begin() was not called.
  Result<WriteId> Writer();
  // True if this session stores `id` (first to claim it), false if known.
  bool Claim(const ObjectId& id);
  void Submit(std::unique_ptr<Batch> batch, bool background);
  Status StoreBatch(Batch& batch);
  void RecordError(Status status);
  Status FirstError();

  Repository& repo_;
  WriteStats stats_;
  std::mutex writer_mutex_;
  std::optional<WriteId> writer_;  // registered and not yet committed
  std::optional<SnapshotRef> parent_;
  std::mutex references_mutex_;
  KnownReferences references_;  // of every tree added, for the needs set
  std::mutex known_mutex_;
  std::unordered_set<ObjectId, ObjectIdHash> known_;
  std::mutex batch_mutex_;
  std::unique_ptr<Batch> batch_;
  std::mutex error_mutex_;
  Status first_error_;
  std::atomic<bool> failed_{false};
  std::unique_ptr<Executor> sealers_;  // last member: joined before the rest goes
};

}  // namespace coffer
