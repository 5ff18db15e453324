// ForwardingObjectStore: an ObjectStore that passes every call to another
// one it owns. What wraps a store to add to its life rather than to its
// calls derives from it: the repository lock held until the database is
// closed (store/repo/local.cc), a command serving its own database to other
// commands (tools/server_client.cc).
#pragma once

#include <memory>
#include <utility>

#include "store/objects/object_store.h"

namespace coffer {

class ForwardingObjectStore : public ObjectStore {
 public:
  explicit ForwardingObjectStore(std::unique_ptr<ObjectStore> target)
      : target_(std::move(target)) {}

  Result<std::optional<Bytes>> GetMeta(std::string_view key) override {
    return target_->GetMeta(key);
  }
  Status PutMeta(std::string_view key, ByteView value) override {
    return target_->PutMeta(key, value);
  }
  Result<std::vector<MetaRecord>> ListMeta(std::string_view prefix) override {
    return target_->ListMeta(prefix);
  }
  Status RemoveKeySlot(std::string_view name) override { return target_->RemoveKeySlot(name); }
  Result<std::vector<bool>> Contains(ObjectKind kind, std::span<const ObjectId> ids) override {
    return target_->Contains(kind, ids);
  }
  Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) override {
    return target_->Put(kind, id, sealed);
  }
  Result<Bytes> Get(ObjectKind kind, const ObjectId& id) override { return target_->Get(kind, id); }
  Status GetMany(ObjectKind kind, std::span<const ObjectId> ids,
                 const SealedVisitor& use) override {
    return target_->GetMany(kind, ids, use);
  }
  Status GetManyChecked(ObjectKind kind, std::span<const ObjectId> ids,
                        const SealedVisitor& use) override {
    return target_->GetManyChecked(kind, ids, use);
  }
  Result<WriteId> BeginWrite(const std::optional<SnapshotRef>& parent) override {
    return target_->BeginWrite(parent);
  }
  Status EndWrite(WriteId writer) override { return target_->EndWrite(writer); }
  Status RefreshWriters(std::span<const WriteId> writers) override {
    return target_->RefreshWriters(writers);
  }
  Status CommitSnapshot(const SnapshotRef& ref, ByteView sealed, WriteId writer,
                        const std::optional<ObjectId>& needs) override {
    return target_->CommitSnapshot(ref, sealed, writer, needs);
  }
  Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) override {
    return target_->ListSnapshots(group);
  }
  Status DeleteSnapshot(const SnapshotRef& ref) override { return target_->DeleteSnapshot(ref); }
  Status SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) override {
    return target_->SetSnapshotProtected(ref, is_protected);
  }
  Status SetSnapshotNote(const SnapshotRef& ref, ByteView sealed_note) override {
    return target_->SetSnapshotNote(ref, sealed_note);
  }
  Status SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) override {
    return target_->SetSnapshotNeeds(ref, needs);
  }
  Result<GcStart> BeginGc() override { return target_->BeginGc(); }
  Status AddGcMarks(uint64_t gc_id, std::span<const uint64_t> id_prefixes) override {
    return target_->AddGcMarks(gc_id, id_prefixes);
  }
  Result<GcResult> FinishGc(uint64_t gc_id) override { return target_->FinishGc(gc_id); }
  Status AbortGc(uint64_t gc_id) override { return target_->AbortGc(gc_id); }
  bool HasWritersOrCollection() override { return target_->HasWritersOrCollection(); }

 protected:
  ObjectStore& target() { return *target_; }
  // Closes the target (for a database: flushes and closes it) before the
  // derived class gives up what outlives it.
  void CloseTarget() { target_.reset(); }

 private:
  std::unique_ptr<ObjectStore> target_;
};

}  // namespace coffer
