// LocalObjectStore: the in-process ObjectStore over the repository's RocksDB
// database (kv::Database). This is what `coffer serve` owns; only one
// process may have a repository's database open (Open() fails with kBusy).
//
// Where things live: chunks, trees and needs lists by id in their column
// families, snapshots in `snapshots` under the key of snapshot_key.h, repository
// settings in `meta` under the caller's key.
//
// Durability, in the order the product relies on:
//   Put()             buffered in memory, lost on a crash until the next
//                     CommitSnapshot().
//   CommitSnapshot()  1. flushes chunks, trees and needs lists (SST and blob
//                        files, their directory and the MANIFEST are
//                        fsynced), then
//                     2. writes the needs pointer and the record, each
//                        synced (kSynced).
//                     So a visible snapshot's objects are always on disk.
//   PutMeta(), DeleteSnapshot(), SetSnapshotProtected(), SetSnapshotNote(),
//   SetSnapshotNeeds() (which flushes the needs lists first)
//                     on disk (kSynced) before returning.
// A snapshot's protection, note and needs pointer live in `meta` beside it,
// under "snapshot-protected/", "snapshot-note/" and "snapshot-needs/" + its
// index key.
//
// Garbage collection: gc_coordinator.h says how a sweep stays safe while
// backups write; FinishGc() deletes buffered (a crash only undoes
// deletions), then compacts chunks and trees so the space comes back.
// After a crash (SIGKILL, power loss) at any point the store opens; every
// snapshot listed is complete; objects put after the last commit may be
// missing, which is harmless since nothing references them.
//
// Thread-safety: every method may be called concurrently from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "store/kv/database.h"
#include "store/objects/folder_copy.h"
#include "store/objects/gc_coordinator.h"
#include "store/objects/object_store.h"

namespace coffer {

class LocalObjectStore final : public ObjectStore {
 public:
  // Creates the database in `db_dir`. kAlreadyExists if one is there.
  static Result<std::unique_ptr<LocalObjectStore>> Create(const std::string& db_dir);
  // kNotFound if `db_dir` holds no database; kBusy if it is open elsewhere.
  static Result<std::unique_ptr<LocalObjectStore>> Open(const std::string& db_dir);

  Result<std::optional<Bytes>> GetMeta(std::string_view key) override;
  // Write-once (ObjectStore::PutMeta): the check and the write are one step.
  Status PutMeta(std::string_view key, ByteView value) override;
  Result<std::vector<MetaRecord>> ListMeta(std::string_view prefix) override;
  // The count of slots and the removal are one step, as PutMeta's check and write.
  Status RemoveKeySlot(std::string_view name) override;

  // kInvalidArgument for ObjectKind::kSnapshot (snapshots live in the index).
  Result<std::vector<bool>> Contains(ObjectKind kind, std::span<const ObjectId> ids) override;
  Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) override;
  Result<Bytes> Get(ObjectKind kind, const ObjectId& id) override;
  // One RocksDB MultiGet for the whole batch.
  Status GetMany(ObjectKind kind, std::span<const ObjectId> ids, const SealedVisitor& use) override;
  Status GetManyChecked(ObjectKind kind, std::span<const ObjectId> ids,
                        const SealedVisitor& use) override;

  Result<WriteId> BeginWrite(const std::optional<SnapshotRef>& parent) override;
  Status EndWrite(WriteId writer) override;
  // Remote writers' registrations lapse unless refreshed (the server calls
  // this on every keep-alive).
  Status RefreshWriters(std::span<const WriteId> writers) override {
    gc_.Refresh(writers);
    return Status::Ok();
  }

  // kInvalidArgument if ref.group is empty or contains 0x00. Committing a
  // (group, time) that exists is OK if id and record are identical (a
  // retried commit) and kAlreadyExists otherwise: nothing is overwritten.
  Status CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record, WriteId writer,
                        const std::optional<ObjectId>& needs) override;
  // kInvalidArgument if `group` contains 0x00.
  Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) override;
  // kNotFound unless a snapshot with ref's group, time and id is stored.
  Status DeleteSnapshot(const SnapshotRef& ref) override;
  Status SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) override;
  Status SetSnapshotNote(const SnapshotRef& ref, ByteView sealed_note) override;
  Status SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) override;

  Result<GcStart> BeginGc() override;
  Status AddGcMarks(uint64_t gc_id, std::span<const uint64_t> id_prefixes) override;
  Result<GcResult> FinishGc(uint64_t gc_id) override;
  Status AbortGc(uint64_t gc_id) override;
  bool HasWritersOrCollection() override { return gc_.HasWritersOrCollection(); }

  // Estimated bytes on disk (SST and blob files of every column family).
  Result<uint64_t> ApproximateSizeBytes();

  // Copies the database, file by file, into the new folder `db_dir`
  // (kv::Database::CopyTo), then opens the copy and clears every snapshot's
  // protection and note there: those belong to each repository, and sync
  // copies neither (store/sync/sync.h). On error nothing is left at `db_dir`.
  Result<FolderCopyReport> CopyTo(const std::string& db_dir);

 private:
  Status ReadObjects(ObjectKind kind, std::span<const ObjectId> ids, const SealedVisitor& use,
                     bool verify_checksums);
  explicit LocalObjectStore(std::unique_ptr<kv::Database> db);

  // The stored snapshot at ref (group, time and id must match), with its
  // protection and note. Call with index_mu_ held.
  Result<StoredSnapshot> FindSnapshotLocked(const SnapshotRef& ref);
  Result<std::vector<StoredSnapshot>> ListSnapshotsLocked(std::string_view group);
  // Deletes every chunk and tree neither marked nor touched.
  Status SweepColumn(kv::Column column, const GcCoordinator::Sweep& sweep, GcResult& result);

  std::unique_ptr<kv::Database> db_;
  // Serializes the check-then-write of the snapshot index and its notes.
  std::mutex index_mu_;
  // Serializes PutMeta's check-then-write.
  std::mutex meta_mu_;
  GcCoordinator gc_;
};

}  // namespace coffer
