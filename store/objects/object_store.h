// ObjectStore: the blind store of sealed objects and the snapshot index.
//
// It keeps opaque sealed bytes by (kind, id) and sealed snapshot records by
// (group, time). It never sees a key or plaintext: sealing and opening happen
// in the Repository above it. Commands hold this interface and never know
// whether they got the in-process RocksDB implementation or a remote one.
//
// Thread-safety: every method may be called concurrently from many threads.
//
// Durability contract: Put() may buffer. CommitSnapshot() first makes every
// object put before it durable, then writes the record durably, so a snapshot
// is never visible before what it references.
//
// Garbage collection contract: an object is deleted only if no snapshot
// reaches it and no registered writer (BeginWrite) has put it or been told it
// exists; a commit that cannot be sure of that is refused (kAborted).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/base/status.h"

namespace coffer {

// Where a snapshot record lives in the index. The group and time are visible
// to the store (as in Proxmox Backup Server) so that listing is a range scan.
struct SnapshotRef {
  std::string group;    // "host/web1", "ct/101", ...
  int64_t time_ns = 0;  // snapshot time, nanoseconds since the Unix epoch, UTC
  ObjectId id;          // id of the plaintext snapshot record
  auto operator<=>(const SnapshotRef&) const = default;
};

struct StoredSnapshot {
  SnapshotRef ref;
  Bytes sealed;  // the sealed snapshot record
  // Visible to the store, which refuses to delete a protected snapshot (as
  // Proxmox Backup Server's protected flag).
  bool is_protected = false;
  // The client's sealed notes about the snapshot (when it was last verified
  // and how that went); empty if there are none. Opaque to the store.
  Bytes sealed_note;
  // The newest needs list of the objects the snapshot needs
  // (store/objects/needs_list.h); none for a snapshot made before those.
  std::optional<ObjectId> needs;
};

// Checks a sealed object against the id it is stored under (a server of an
// unencrypted repository can); OK or the reason to refuse it.
using ObjectCheck = std::function<Status(ObjectKind kind, const ObjectId& id, ByteView sealed)>;

// A registered backup writer (BeginWrite). 0 is never a live writer.
using WriteId = uint64_t;
inline constexpr WriteId kNoWriter = 0;

// What a garbage collection starts from (BeginGc).
struct GcStart {
  uint64_t gc_id = 0;
  // Every snapshot, and the parents running writers reuse objects from even
  // if they have been deleted since: everything reachable from these is live.
  std::vector<StoredSnapshot> roots;
};

struct GcResult {
  uint64_t objects_examined = 0;
  uint64_t objects_deleted = 0;
  uint64_t objects_kept_for_writers = 0;  // unmarked, but used by a running backup
  uint64_t bytes_before = 0;              // database size on disk before the sweep
  uint64_t bytes_after = 0;               // ... and after the compaction that follows it
};

// Whether `status` is one object's failure (missing or damaged) rather than
// the store's: what ObjectStore::GetMany() answers per id.
inline bool IsObjectFailure(const Status& status) {
  return status.code() == Code::kNotFound || status.code() == Code::kCorruption;
}

struct MetaRecord {
  std::string key;
  Bytes value;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Repository-wide settings (format version, config, wrapped keys).
  // Returns nullopt when the key is absent.
  virtual Result<std::optional<Bytes>> GetMeta(std::string_view key) = 0;
  // Written durably before returning. Write-once: the config, its
  // authentication code and the wrapped key are the only copies, so a key
  // that exists is never overwritten (kAlreadyExists, "meta key KEY is
  // write-once"); putting the value it already holds is OK (a retried call).
  virtual Status PutMeta(std::string_view key, ByteView value) = 0;
  // Every meta record whose key starts with `prefix`, in key order (the key
  // slots: key_slots.h).
  virtual Result<std::vector<MetaRecord>> ListMeta(std::string_view prefix) = 0;
  // Removes the key slot `name` (key_slots.h), the only meta records that
  // may go: a passphrase is changed or revoked by adding a slot and removing
  // one. kInvalidArgument for a name that is not a slot's, kNotFound if it is
  // absent, kFailedPrecondition if it is the last slot (the only copy of the
  // key). Durable before returning.
  virtual Status RemoveKeySlot(std::string_view name) = 0;

  // For each id, whether an object of `kind` with that id is stored.
  virtual Result<std::vector<bool>> Contains(ObjectKind kind, std::span<const ObjectId> ids) = 0;
  // Stores `sealed` under (kind, id), replacing any value there. Callers put
  // only ids that Contains() reported absent; two sealings of one id are
  // equivalent, so a race between two writers of one id is harmless.
  virtual Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) = 0;
  // kNotFound if absent; kCorruption if the database itself reports damage.
  virtual Result<Bytes> Get(ObjectKind kind, const ObjectId& id) = 0;
  // Get() of every id at once, for readers that know many ids ahead (a
  // remote store fetches them in a few round trips, not one each). Hands one
  // answer per id to `use`, in order: the sealed object, or kNotFound /
  // kCorruption for that id alone, so the others still arrive. A view lives
  // only until `use` returns, so a store passes bytes it already holds (a
  // pinned RocksDB value, a reply from the server) without copying them. Any
  // other error (a bad kind, the server gone) fails the whole call, possibly
  // after some answers were handed over. Duplicates are answered each time.
  // A store may hold a whole batch in memory: callers bound their batches.
  // This default asks Get() for each id.
  using SealedVisitor = std::function<void(size_t index, Result<ByteView> sealed)>;
  virtual Status GetMany(ObjectKind kind, std::span<const ObjectId> ids, const SealedVisitor& use) {
    for (size_t i = 0; i < ids.size(); ++i) {
      Result<Bytes> got = Get(kind, ids[i]);
      if (!got.ok()) {
        if (!IsObjectFailure(got.status())) return got.status();
        use(i, got.status());
        continue;
      }
      use(i, ByteView(*got));
    }
    return Status::Ok();
  }

  // GetMany that also checks each object against the store's own checksums
  // (RocksDB's on its blocks and blob records; a pack index's): damage is
  // kCorruption for that id alone. What the keyless check reads with; a
  // reader that authenticates what it reads (with the key) uses GetMany,
  // which a store may answer without that check. This default is GetMany.
  virtual Status GetManyChecked(ObjectKind kind, std::span<const ObjectId> ids,
                                const SealedVisitor& use) {
    return GetMany(kind, ids, use);
  }

  // Registers a backup about to write, so that a garbage collection running
  // at the same time keeps what it needs: every object it puts or finds with
  // Contains(), and everything reachable from `parent` (the snapshot whose
  // unchanged files and directories it reuses without asking), even if that
  // snapshot is deleted meanwhile. kNotFound if `parent` does not exist.
  // The registration ends with EndWrite() or CommitSnapshot(); a remote
  // writer's lapses if its process stops sending keep-alives.
  virtual Result<WriteId> BeginWrite(const std::optional<SnapshotRef>& parent) = 0;
  virtual Status EndWrite(WriteId writer) = 0;
  // Keeps registrations from lapsing; unknown ids are ignored.
  virtual Status RefreshWriters(std::span<const WriteId> writers) = 0;

  // Makes everything put so far durable, then writes the record durably,
  // with the id of its newest needs list if it has one (put before, like
  // the objects; kInvalidArgument if it is not stored), and ends `writer`'s
  // registration. kAborted, committing nothing, when the
  // store cannot vouch for the writer's objects: `writer` is not registered
  // here (it lapsed, or the server restarted and may have lost objects put
  // since the last commit), or it is kNoWriter and a collection has swept or
  // is running. The backup must then run again.
  virtual Status CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record, WriteId writer,
                                const std::optional<ObjectId>& needs) = 0;
  // Snapshots of `group` (all groups when empty), ordered by group, then time.
  virtual Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) = 0;
  // kNotFound if no such snapshot; kFailedPrecondition if it is protected.
  virtual Status DeleteSnapshot(const SnapshotRef& ref) = 0;
  // kNotFound if no such snapshot. Durable before returning.
  virtual Status SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) = 0;
  virtual Status SetSnapshotNote(const SnapshotRef& ref, ByteView sealed_note) = 0;
  // Names the newest needs list of a snapshot made before needs lists (put
  // before, like the objects of a commit; durable before returning).
  // kNotFound if no such snapshot; kInvalidArgument if the list is not
  // stored; kAlreadyExists if the snapshot names another list already: what
  // a snapshot needs never changes (the same list again is OK).
  virtual Status SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) = 0;

  // Garbage collection without the key (DESIGN.md, "Garbage collection"):
  // the client lists the roots with BeginGc(), walks them and sends the ids
  // of every reachable object and needs list with AddGcMarks() (8-byte id
  // prefixes: a collision only keeps an object longer), then FinishGc()
  // deletes every chunk, tree and needs list that is neither marked nor put
  // or found by a writer registered at any time since BeginGc(), and gives
  // the disk space back. One collection at a time: kBusy while another runs
  // (one abandoned for 10 minutes is taken over).
  virtual Result<GcStart> BeginGc() = 0;
  virtual Status AddGcMarks(uint64_t gc_id, std::span<const uint64_t> id_prefixes) = 0;
  virtual Result<GcResult> FinishGc(uint64_t gc_id) = 0;
  virtual Status AbortGc(uint64_t gc_id) = 0;

  // Whether a writer registered here is still writing or a collection still
  // runs. A command that serves its own database to other commands asks it
  // before it closes (tools/server_client.h). False for a store that passes
  // its calls on to another process or to object storage.
  virtual bool HasWritersOrCollection() { return false; }
};

}  // namespace coffer
