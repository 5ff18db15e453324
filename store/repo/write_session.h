// WriteSession: adds chunks and trees to a repository and commits a snapshot.
//
// A chunk is hashed in the caller's thread (its id is needed at once for the
// file's extent list); if neither this session nor the store has it, sealing
// and storing happen on background workers. The bounded queue keeps at most a
// few chunks in flight, so memory stays flat however large the backup.
//
// Thread-safety: AddChunk/AddTree may be called from many threads; Commit once,
// after every Add has returned. The Repository must outlive the session.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "store/base/executor.h"
#include "store/repo/repository.h"

namespace coffer {

struct WriteStats {
  std::atomic<uint64_t> chunks_added{0};
  std::atomic<uint64_t> trees_added{0};
  std::atomic<uint64_t> bytes_added{0};  // sealed bytes stored
};

class WriteSession {
 public:
  explicit WriteSession(Repository& repo, unsigned seal_threads = Executor::DefaultThreads());
  ~WriteSession();

  // Returns the chunk's id. A new chunk is sealed and stored on the session's
  // workers (the bytes are copied) when `background`, else in this thread,
  // which saves the hand-off when the caller is a worker itself.
  Result<ObjectId> AddChunk(ByteView data, bool background = true);
  // Seals and stores a tree (entries must be sorted); returns its id.
  Result<ObjectId> AddTree(const pb::Tree& tree);
  // Waits for every pending store; the first error any of them met.
  Status Flush();
  // Flushes, then commits the record as given (the caller sets group, time,
  // root and stats).
  Result<Snapshot> Commit(const pb::Snapshot& record);

  const WriteStats& stats() const { return stats_; }

 private:
  // True if this session stores `id` (first to claim it), false if known.
  bool Claim(const ObjectId& id);
  Status StoreIfAbsent(ObjectKind kind, const ObjectId& id, ByteView plaintext);
  void RecordError(Status status);
  Status FirstError();

  Repository& repo_;
  WriteStats stats_;
  std::mutex known_mutex_;
  std::unordered_set<ObjectId, ObjectIdHash> known_;
  std::mutex error_mutex_;
  Status first_error_;
  std::atomic<bool> failed_{false};
  std::unique_ptr<Executor> sealers_;  // last member: joined before the rest goes
};

}  // namespace coffer
