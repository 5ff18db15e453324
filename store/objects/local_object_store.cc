#include "store/objects/local_object_store.h"

#include <utility>

#include "store/objects/snapshot_key.h"

namespace coffer {
namespace {

using kv::Column;
using kv::Durability;

Result<Column> ColumnFor(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kChunk: return Column::kChunks;
    case ObjectKind::kTree: return Column::kTrees;
    case ObjectKind::kSnapshot: break;
  }
  return Status::InvalidArgument("objects of kind " + std::string(KindName(kind)) +
                                 " are not stored by id; use the snapshot index");
}

std::string_view KeyOf(const ObjectId& id) { return AsChars(id.view()); }

std::string Describe(const SnapshotRef& ref) {
  return "snapshot " + ref.group + " @" + std::to_string(ref.time_ns) + " (" +
         ref.id.short_hex() + ")";
}

}  // namespace

LocalObjectStore::LocalObjectStore(std::unique_ptr<kv::Database> db) : db_(std::move(db)) {}

Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::Create(const std::string& db_dir) {
  COFFER_ASSIGN_OR_RETURN(auto db, kv::Database::Create(db_dir));
  return std::unique_ptr<LocalObjectStore>(new LocalObjectStore(std::move(db)));
}

Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::Open(const std::string& db_dir) {
  COFFER_ASSIGN_OR_RETURN(auto db, kv::Database::Open(db_dir));
  return std::unique_ptr<LocalObjectStore>(new LocalObjectStore(std::move(db)));
}

Result<std::optional<Bytes>> LocalObjectStore::GetMeta(std::string_view key) {
  Result<Bytes> value = db_->Get(Column::kMeta, key);
  if (value.ok()) return std::optional<Bytes>(std::move(value).value());
  if (value.status().code() == Code::kNotFound) return std::optional<Bytes>();
  return value.status();
}

Status LocalObjectStore::PutMeta(std::string_view key, ByteView value) {
  return db_->Put(Column::kMeta, key, value, Durability::kSynced);
}

Result<std::vector<bool>> LocalObjectStore::Contains(ObjectKind kind,
                                                     std::span<const ObjectId> ids) {
  COFFER_ASSIGN_OR_RETURN(Column column, ColumnFor(kind));
  std::vector<std::string_view> keys;
  keys.reserve(ids.size());
  for (const ObjectId& id : ids) keys.push_back(KeyOf(id));
  return db_->Contains(column, keys);
}

Status LocalObjectStore::Put(ObjectKind kind, const ObjectId& id, ByteView sealed) {
  COFFER_ASSIGN_OR_RETURN(Column column, ColumnFor(kind));
  return db_->Put(column, KeyOf(id), sealed, Durability::kBuffered);
}

Result<Bytes> LocalObjectStore::Get(ObjectKind kind, const ObjectId& id) {
  COFFER_ASSIGN_OR_RETURN(Column column, ColumnFor(kind));
  Result<Bytes> value = db_->Get(column, KeyOf(id));
  if (!value.ok() && value.status().code() == Code::kNotFound) {
    return Status::NotFound(std::string(KindName(kind)) + " " + id.short_hex() + " not found");
  }
  return value;
}

Status LocalObjectStore::CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record) {
  COFFER_RETURN_IF_ERROR(CheckSnapshotGroup(ref.group));
  // 1. Everything put so far is durable. meta and snapshots hold only WAL
  // writes that are durable already; flushing them too lets RocksDB retire
  // old WAL files instead of keeping one per commit.
  COFFER_RETURN_IF_ERROR(db_->Flush({Column::kChunks, Column::kTrees, Column::kMeta,
                                     Column::kSnapshots}));
  // 2. Only then the record, through the WAL, fsynced.
  const std::string key = SnapshotKey(ref.group, ref.time_ns);
  const Bytes value = SnapshotValue(ref.id, sealed_record);
  std::lock_guard<std::mutex> lock(index_mu_);
  Result<Bytes> existing = db_->Get(Column::kSnapshots, key);
  if (existing.ok()) {
    if (*existing == value) return Status::Ok();
    return Status::AlreadyExists(Describe(ref) + ": another snapshot has this group and time");
  }
  if (existing.status().code() != Code::kNotFound) return existing.status();
  return db_->Put(Column::kSnapshots, key, value, Durability::kSynced)
      .WithContext("committing " + Describe(ref));
}

Result<std::vector<StoredSnapshot>> LocalObjectStore::ListSnapshots(std::string_view group) {
  std::string prefix;
  if (!group.empty()) {
    COFFER_RETURN_IF_ERROR(CheckSnapshotGroup(group));
    prefix = SnapshotGroupPrefix(group);
  }
  std::vector<StoredSnapshot> out;
  Status decode_error;
  COFFER_RETURN_IF_ERROR(db_->Scan(Column::kSnapshots, prefix,
                                   [&](std::string_view key, ByteView value) {
                                     Result<StoredSnapshot> s = DecodeSnapshot(key, value);
                                     if (!s.ok()) {
                                       decode_error = s.status();
                                       return false;
                                     }
                                     out.push_back(std::move(s).value());
                                     return true;
                                   }));
  COFFER_RETURN_IF_ERROR(decode_error);
  return out;
}

Status LocalObjectStore::DeleteSnapshot(const SnapshotRef& ref) {
  COFFER_RETURN_IF_ERROR(CheckSnapshotGroup(ref.group));
  const std::string key = SnapshotKey(ref.group, ref.time_ns);
  std::lock_guard<std::mutex> lock(index_mu_);
  Result<Bytes> existing = db_->Get(Column::kSnapshots, key);
  if (!existing.ok()) {
    if (existing.status().code() == Code::kNotFound) {
      return Status::NotFound(Describe(ref) + " not found");
    }
    return existing.status();
  }
  COFFER_ASSIGN_OR_RETURN(StoredSnapshot stored, DecodeSnapshot(key, *existing));
  if (stored.ref.id != ref.id) {
    return Status::NotFound(Describe(ref) + " not found (that group and time hold " +
                            stored.ref.id.short_hex() + ")");
  }
  return db_->Delete(Column::kSnapshots, key, Durability::kSynced)
      .WithContext("deleting " + Describe(ref));
}

Result<uint64_t> LocalObjectStore::ApproximateSizeBytes() { return db_->ApproximateSizeBytes(); }

}  // namespace coffer
