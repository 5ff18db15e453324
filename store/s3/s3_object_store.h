// S3ObjectStore: a repository copy in S3-compatible object storage (MinIO,
// Ceph RGW, AWS S3), for `coffer sync` to write and read without the key,
// and for commands given `-r s3://BUCKET/PREFIX` to read snapshots from.
//
// Objects are gathered into packs of about 16 MiB, since object storage
// charges and waits per request; where each object lies is in index files
// kept in the bucket too, so the bucket alone is enough to restore from
// (bucket_format.h has the layout). Opening reads every index into memory:
// about 100 bytes per object (a hash map entry of kind, id and place).
//
// Order of writes, as in any store: packs, then the index naming them, then
// the snapshot record, so a snapshot is never visible before its objects.
// A writer stopped half-way leaves packs no index names (the next open
// reads their own trailers, so their objects count and the next index names
// them) and never a half-written record (object storage writes an object
// whole or not at all).
//
// Several writers at once are safe: packs and indexes are named by their
// content, and a snapshot record is only ever written whole. Garbage
// collection is not offered (kUnsupported): a copy in object storage grows
// until it is made afresh; forgets (`sync --delete`) delete records only.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "store/objects/object_store.h"
#include "store/s3/s3_client.h"
#include "store/s3/s3_settings.h"

namespace coffer::s3 {

struct S3StoreOptions {
  // A pack is sent when its objects pass this size.
  size_t pack_size = 16 << 20;
  // An index is written after this many packs, and at each commit: what a
  // stopped sync sends again is bounded by it.
  size_t packs_per_index = 8;
  unsigned parallel_requests = 8;  // ranges read, records read at once
  RetryPolicy retry;
};

class S3ObjectStore : public ObjectStore {
 public:
  // Checks the bucket and reads every index of the copy at `location`.
  // kNotFound if the bucket does not exist; the copy itself may be empty.
  static Result<std::unique_ptr<S3ObjectStore>> Open(const S3Settings& settings,
                                                     const S3Location& location,
                                                     const S3StoreOptions& options = {});
  ~S3ObjectStore() override;

  // Sends what Put() holds (a pack and its index); commits do this too.
  Status Flush();
  // Requests retried after a transient failure, since opening.
  uint64_t retries() const;
  struct Counts {
    uint64_t objects = 0;  // the indexes name, and put since
    uint64_t packs = 0;
    uint64_t indexes = 0;                      // read at opening, and written since
    uint64_t packs_from_trailers = 0;          // no index named them at opening
    std::vector<std::string> damaged_indexes;  // ignored at opening: why, each
  };
  Counts counts() const;

  Result<std::optional<Bytes>> GetMeta(std::string_view key) override;
  Status PutMeta(std::string_view key, ByteView value) override;
  Result<std::vector<MetaRecord>> ListMeta(std::string_view prefix) override;
  Status RemoveKeySlot(std::string_view name) override;
  Result<std::vector<bool>> Contains(ObjectKind kind, std::span<const ObjectId> ids) override;
  Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) override;
  Result<Bytes> Get(ObjectKind kind, const ObjectId& id) override;
  Status GetMany(ObjectKind kind, std::span<const ObjectId> ids, const SealedVisitor& use) override;
  Result<WriteId> BeginWrite(const std::optional<SnapshotRef>& parent) override;
  Status EndWrite(WriteId writer) override;
  Status RefreshWriters(std::span<const WriteId> writers) override;
  Status CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record, WriteId writer,
                        const std::optional<ObjectId>& needs) override;
  Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) override;
  Status DeleteSnapshot(const SnapshotRef& ref) override;
  Status SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) override;
  Status SetSnapshotNote(const SnapshotRef& ref, ByteView sealed_note) override;
  Status SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) override;
  Result<GcStart> BeginGc() override;
  Status AddGcMarks(uint64_t gc_id, std::span<const uint64_t> id_prefixes) override;
  Result<GcResult> FinishGc(uint64_t gc_id) override;
  Status AbortGc(uint64_t gc_id) override;

 private:
  class Impl;
  explicit S3ObjectStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<WriteId> next_writer_{kNoWriter};
};

}  // namespace coffer::s3
