// StubObjectStore: an ObjectStore that keeps nothing, for tests of the
// transport and of error paths; a test overrides what it needs.
#pragma once

#include "store/objects/object_store.h"

namespace coffer::testing {

class StubObjectStore : public ObjectStore {
 public:
  Result<std::optional<Bytes>> GetMeta(std::string_view) override { return std::optional<Bytes>(); }
  Status PutMeta(std::string_view, ByteView) override { return Status::Ok(); }
  Result<std::vector<MetaRecord>> ListMeta(std::string_view) override {
    return std::vector<MetaRecord>();
  }
  Status RemoveKeySlot(std::string_view) override { return Status::NotFound("absent"); }
  Result<std::vector<bool>> Contains(ObjectKind, std::span<const ObjectId> ids) override {
    return std::vector<bool>(ids.size(), false);
  }
  Status Put(ObjectKind, const ObjectId&, ByteView) override { return Status::Ok(); }
  Result<Bytes> Get(ObjectKind, const ObjectId&) override { return Status::NotFound("absent"); }
  Result<WriteId> BeginWrite(const std::optional<SnapshotRef>&) override { return WriteId{1}; }
  Status EndWrite(WriteId) override { return Status::Ok(); }
  Status RefreshWriters(std::span<const WriteId>) override { return Status::Ok(); }
  Status CommitSnapshot(const SnapshotRef&, ByteView, WriteId,
                        const std::optional<ObjectId>&) override {
    return Status::Ok();
  }
  Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view) override {
    return std::vector<StoredSnapshot>();
  }
  Status DeleteSnapshot(const SnapshotRef&) override { return Status::NotFound("absent"); }
  Status SetSnapshotProtected(const SnapshotRef&, bool) override {
    return Status::NotFound("absent");
  }
  Status SetSnapshotNote(const SnapshotRef&, ByteView) override {
    return Status::NotFound("absent");
  }
  Status SetSnapshotNeeds(const SnapshotRef&, const ObjectId&) override {
    return Status::NotFound("absent");
  }
  Result<GcStart> BeginGc() override { return Status::Unsupported("no collection here"); }
  Status AddGcMarks(uint64_t, std::span<const uint64_t>) override {
    return Status::Unsupported("no collection here");
  }
  Result<GcResult> FinishGc(uint64_t) override { return Status::Unsupported("no collection here"); }
  Status AbortGc(uint64_t) override { return Status::Ok(); }
};

}  // namespace coffer::testing
