#include "store/objects/local_object_store.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <shared_mutex>
#include <utility>

#include "store/base/crash_point.h"
#include "store/objects/key_slots.h"
#include "store/objects/needs_list.h"
#include "store/objects/snapshot_key.h"

namespace coffer {
namespace {

using kv::Column;
using kv::Durability;

Result<Column> ColumnFor(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kChunk: return Column::kChunks;
    case ObjectKind::kTree: return Column::kTrees;
    case ObjectKind::kNeeds: return Column::kNeeds;
    case ObjectKind::kSnapshot:
    case ObjectKind::kSnapshotNote: break;
  }
  return Status::InvalidArgument("objects of kind " + std::string(KindName(kind)) +
                                 " are not stored by id; use the snapshot index");
}

std::string_view KeyOf(const ObjectId& id) {
  return AsChars(id.view());
}

Status NotFoundError(ObjectKind kind, const ObjectId& id) {
  return Status::NotFound(std::string(KindName(kind)) + " " + id.short_hex() + " not found");
}

// Meta key prefixes for a snapshot's protection, note and needs. Written to
// disk: never change them.
constexpr std::string_view kProtectedPrefix = "snapshot-protected/";
constexpr std::string_view kNotePrefix = "snapshot-note/";
constexpr std::string_view kNeedsPrefix = "snapshot-needs/";

std::string NeedsKey(const SnapshotRef& ref) {
  return std::string(kNeedsPrefix) + SnapshotKey(ref.group, ref.time_ns);
}
// The snapshot's id, then its newest needs list's: written before the
// record, so a crash in between leaves a pointer that names no snapshot.
Bytes NeedsValue(const SnapshotRef& ref, const ObjectId& needs) {
  Bytes value(ref.id.bytes.begin(), ref.id.bytes.end());
  value.insert(value.end(), needs.bytes.begin(), needs.bytes.end());
  return value;
}
// The needs list `value` names for the snapshot `id`, if it is for that one.
std::optional<ObjectId> NeedsFor(const ObjectId& id, ByteView value) {
  if (value.size() != 2 * ObjectId::kSize) return std::nullopt;
  if (!std::equal(id.bytes.begin(), id.bytes.end(), value.begin())) return std::nullopt;
  return ObjectId::FromBytes(value.subspan(ObjectId::kSize));
}

std::string ProtectedKey(const SnapshotRef& ref) {
  return std::string(kProtectedPrefix) + SnapshotKey(ref.group, ref.time_ns);
}
std::string NoteKey(const SnapshotRef& ref) {
  return std::string(kNotePrefix) + SnapshotKey(ref.group, ref.time_ns);
}

// Deletions per exclusive hold of the sweep lock: writers' Contains() wait
// at most this many deletions.
constexpr size_t kSweepBatch = 1024;

std::string Describe(const SnapshotRef& ref) {
  return "snapshot " + ref.group + " @" + std::to_string(ref.time_ns) + " (" + ref.id.short_hex() +
         ")";
}

// kInvalidArgument unless the needs list a snapshot is to name is stored.
Status CheckNeedsStored(ObjectStore& store, const SnapshotRef& ref, const ObjectId& needs) {
  COFFER_ASSIGN_OR_RETURN(std::vector<bool> found,
                          store.Contains(ObjectKind::kNeeds, std::span<const ObjectId>(&needs, 1)));
  if (found[0]) return Status::Ok();
  return Status::InvalidArgument(Describe(ref) + ": its needs list " + needs.short_hex() +
                                 " is not stored");
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

Result<FolderCopyReport> LocalObjectStore::CopyTo(const std::string& db_dir) {
  COFFER_ASSIGN_OR_RETURN(kv::Database::CopyReport files, db_->CopyTo(db_dir));
  FolderCopyReport report{.files = files.files, .bytes = files.bytes};
  Status finished = [&]() -> Status {
    COFFER_ASSIGN_OR_RETURN(std::unique_ptr<LocalObjectStore> copy, Open(db_dir));
    kv::Database& db = *copy->db_;
    std::vector<std::string> marks;
    for (std::string_view prefix : {kProtectedPrefix, kNotePrefix}) {
      COFFER_RETURN_IF_ERROR(db.Scan(Column::kMeta, prefix, [&](std::string_view key, ByteView) {
        marks.emplace_back(key);
        return true;
      }));
    }
    for (const std::string& key : marks) {
      COFFER_RETURN_IF_ERROR(db.Delete(Column::kMeta, key, Durability::kBuffered));
    }
    COFFER_RETURN_IF_ERROR(db.Flush({Column::kMeta}));
    COFFER_RETURN_IF_ERROR(db.ScanKeys(Column::kSnapshots, [&](std::string_view) {
      report.snapshots++;
      return true;
    }));
    COFFER_ASSIGN_OR_RETURN(uint64_t chunks, db.CountEntries(Column::kChunks));
    COFFER_ASSIGN_OR_RETURN(uint64_t trees, db.CountEntries(Column::kTrees));
    COFFER_ASSIGN_OR_RETURN(report.needs_lists, db.CountEntries(Column::kNeeds));
    report.objects = chunks + trees;
    return Status::Ok();
  }();
  if (!finished.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(db_dir, ignored);
    return finished.WithContext("the copy at " + db_dir);
  }
  return report;
}

Result<std::optional<Bytes>> LocalObjectStore::GetMeta(std::string_view key) {
  Result<Bytes> value = db_->Get(Column::kMeta, key);
  if (value.ok()) return std::optional<Bytes>(std::move(value).value());
  if (value.status().code() == Code::kNotFound) return std::optional<Bytes>();
  return value.status();
}

Status LocalObjectStore::PutMeta(std::string_view key, ByteView value) {
  std::lock_guard lock(meta_mu_);
  Result<Bytes> existing = db_->Get(Column::kMeta, key);
  if (existing.ok()) {
    if (std::equal(existing->begin(), existing->end(), value.begin(), value.end())) {
      return Status::Ok();  // a retried call
    }
    return Status::AlreadyExists("meta key " + std::string(key) + " is write-once");
  }
  if (existing.status().code() != Code::kNotFound) return existing.status();
  return db_->Put(Column::kMeta, key, value, Durability::kSynced);
}

Result<std::vector<MetaRecord>> LocalObjectStore::ListMeta(std::string_view prefix) {
  std::vector<MetaRecord> records;
  COFFER_RETURN_IF_ERROR(
      db_->Scan(Column::kMeta, prefix, [&](std::string_view key, ByteView value) {
        records.push_back({std::string(key), Bytes(value.begin(), value.end())});
        return true;
      }));
  return records;
}

Status LocalObjectStore::RemoveKeySlot(std::string_view name) {
  if (!KeySlotNumber(name)) {
    return Status::InvalidArgument("meta key " + std::string(name) + " is not a key slot");
  }
  std::lock_guard lock(meta_mu_);
  COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> stored, ListMeta(kKeySlotPrefix));
  COFFER_RETURN_IF_ERROR(CheckKeySlotRemovable(name, std::move(stored)));
  return db_->Delete(Column::kMeta, name, Durability::kSynced);
}

Result<std::vector<bool>> LocalObjectStore::Contains(ObjectKind kind,
                                                     std::span<const ObjectId> ids) {
  COFFER_ASSIGN_OR_RETURN(Column column, ColumnFor(kind));
  std::vector<std::string_view> keys;
  keys.reserve(ids.size());
  for (const ObjectId& id : ids) keys.push_back(KeyOf(id));
  // A writer told "present" will reference the object: a sweep must see that
  // before it decides, hence one shared hold around the lookup and the note.
  std::shared_lock sweep_guard(gc_.sweep_lock());
  COFFER_ASSIGN_OR_RETURN(std::vector<bool> present, db_->Contains(column, keys));
  std::vector<ObjectId> found;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (present[i]) found.push_back(ids[i]);
  }
  gc_.NoteTouched(found);
  return present;
}

Status LocalObjectStore::Put(ObjectKind kind, const ObjectId& id, ByteView sealed) {
  COFFER_ASSIGN_OR_RETURN(Column column, ColumnFor(kind));
  // Plain and named by its hash: a store can refuse a bad one itself.
  if (kind == ObjectKind::kNeeds) {
    if (NeedsListId(sealed) != id) {
      return Status::InvalidArgument("needs list " + id.short_hex() + " does not match its id");
    }
    if (Result<NeedsList> list = DecodeNeedsList(sealed); !list.ok()) {
      return Status::InvalidArgument("needs list " + id.short_hex() + ": " +
                                     list.status().message());
    }
  }
  std::shared_lock sweep_guard(gc_.sweep_lock());
  gc_.NoteTouched(id);
  return db_->Put(column, KeyOf(id), sealed, Durability::kBuffered);
}

Result<WriteId> LocalObjectStore::BeginWrite(const std::optional<SnapshotRef>& parent) {
  return gc_.BeginWrite([&]() -> Result<std::optional<StoredSnapshot>> {
    if (!parent) return std::optional<StoredSnapshot>();
    std::lock_guard lock(index_mu_);
    COFFER_ASSIGN_OR_RETURN(StoredSnapshot found, FindSnapshotLocked(*parent));
    return std::optional<StoredSnapshot>(std::move(found));
  });
}

Status LocalObjectStore::EndWrite(WriteId writer) {
  gc_.EndWrite(writer);
  return Status::Ok();
}

Result<Bytes> LocalObjectStore::Get(ObjectKind kind, const ObjectId& id) {
  COFFER_ASSIGN_OR_RETURN(Column column, ColumnFor(kind));
  Result<Bytes> value = db_->Get(column, KeyOf(id));
  if (!value.ok() && value.status().code() == Code::kNotFound) {
    return NotFoundError(kind, id);
  }
  return value;
}

Status LocalObjectStore::GetMany(ObjectKind kind, std::span<const ObjectId> ids,
                                 const SealedVisitor& use) {
  return ReadObjects(kind, ids, use, /*verify_checksums=*/false);
}

Status LocalObjectStore::GetManyChecked(ObjectKind kind, std::span<const ObjectId> ids,
                                        const SealedVisitor& use) {
  return ReadObjects(kind, ids, use, /*verify_checksums=*/true);
}

Status LocalObjectStore::ReadObjects(ObjectKind kind, std::span<const ObjectId> ids,
                                     const SealedVisitor& use, bool verify_checksums) {
  COFFER_ASSIGN_OR_RETURN(Column column, ColumnFor(kind));
  std::vector<std::string_view> keys;
  keys.reserve(ids.size());
  for (const ObjectId& id : ids) keys.push_back(KeyOf(id));
  Status failed;  // the store's own failure: no answer after it
  db_->GetMany(
      column, keys,
      [&](size_t i, Result<ByteView> value) {
        if (!failed.ok()) return;
        if (!value.ok() && value.status().code() == Code::kNotFound) {
          value = NotFoundError(kind, ids[i]);
        } else if (!value.ok() && !IsObjectFailure(value.status())) {
          failed = value.status();
          return;
        }
        use(i, std::move(value));
      },
      verify_checksums);
  return failed;
}

Status LocalObjectStore::CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record,
                                        WriteId writer, const std::optional<ObjectId>& needs) {
  COFFER_RETURN_IF_ERROR(CheckSnapshotGroup(ref.group));
  // 1. Everything put so far is durable.
  COFFER_RETURN_IF_ERROR(db_->Flush({Column::kChunks, Column::kTrees, Column::kNeeds}));
  // What a snapshot says it needs is there before it is.
  if (needs) COFFER_RETURN_IF_ERROR(CheckNeedsStored(*this, ref, *needs));
  // 2. Only then the record, synced.
  const std::string key = SnapshotKey(ref.group, ref.time_ns);
  const Bytes value = SnapshotValue(ref.id, sealed_record);
  return gc_.Commit(writer, [&]() -> Status {
    std::lock_guard lock(index_mu_);
    Result<Bytes> existing = db_->Get(Column::kSnapshots, key);
    if (existing.ok()) {
      if (*existing == value) return Status::Ok();
      return Status::AlreadyExists(Describe(ref) + ": another snapshot has this group and time");
    }
    if (existing.status().code() != Code::kNotFound) return existing.status();
    if (needs) {
      COFFER_RETURN_IF_ERROR(
          db_->Put(Column::kMeta, NeedsKey(ref), NeedsValue(ref, *needs), Durability::kSynced));
    }
    return db_->Put(Column::kSnapshots, key, value, Durability::kSynced)
        .WithContext("committing " + Describe(ref));
  });
}

Result<std::vector<StoredSnapshot>> LocalObjectStore::ListSnapshots(std::string_view group) {
  std::lock_guard lock(index_mu_);
  return ListSnapshotsLocked(group);
}

Result<std::vector<StoredSnapshot>> LocalObjectStore::ListSnapshotsLocked(std::string_view group) {
  std::string prefix;
  if (!group.empty()) {
    COFFER_RETURN_IF_ERROR(CheckSnapshotGroup(group));
    prefix = SnapshotGroupPrefix(group);
  }
  std::vector<StoredSnapshot> out;
  Status decode_error;
  COFFER_RETURN_IF_ERROR(
      db_->Scan(Column::kSnapshots, prefix, [&](std::string_view key, ByteView value) {
        Result<StoredSnapshot> s = DecodeSnapshot(key, value);
        if (!s.ok()) {
          decode_error = s.status();
          return false;
        }
        out.push_back(std::move(s).value());
        return true;
      }));
  COFFER_RETURN_IF_ERROR(decode_error);
  // Protection, notes and needs: one scan of each meta prefix, joined by
  // index key.
  std::map<std::string, StoredSnapshot*, std::less<>> by_key;
  for (StoredSnapshot& s : out) by_key[SnapshotKey(s.ref.group, s.ref.time_ns)] = &s;
  for (std::string_view meta_prefix : {kProtectedPrefix, kNotePrefix, kNeedsPrefix}) {
    COFFER_RETURN_IF_ERROR(db_->Scan(Column::kMeta, std::string(meta_prefix) + prefix,
                                     [&](std::string_view key, ByteView value) {
                                       auto it = by_key.find(key.substr(meta_prefix.size()));
                                       if (it == by_key.end())
                                         return true;  // left over from a deleted snapshot
                                       StoredSnapshot& s = *it->second;
                                       if (meta_prefix == kNotePrefix) {
                                         s.sealed_note.assign(value.begin(), value.end());
                                       } else if (meta_prefix == kNeedsPrefix) {
                                         s.needs = NeedsFor(s.ref.id, value);
                                       } else {
                                         s.is_protected = true;
                                       }
                                       return true;
                                     }));
  }
  return out;
}

Result<StoredSnapshot> LocalObjectStore::FindSnapshotLocked(const SnapshotRef& ref) {
  COFFER_RETURN_IF_ERROR(CheckSnapshotGroup(ref.group));
  const std::string key = SnapshotKey(ref.group, ref.time_ns);
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
  Result<Bytes> flag = db_->Get(Column::kMeta, ProtectedKey(ref));
  if (flag.ok()) {
    stored.is_protected = true;
  } else if (flag.status().code() != Code::kNotFound) {
    return flag.status();
  }
  Result<Bytes> note = db_->Get(Column::kMeta, NoteKey(ref));
  if (note.ok()) {
    stored.sealed_note = std::move(note).value();
  } else if (note.status().code() != Code::kNotFound) {
    return note.status();
  }
  Result<Bytes> needs = db_->Get(Column::kMeta, NeedsKey(ref));
  if (needs.ok()) {
    stored.needs = NeedsFor(ref.id, *needs);
  } else if (needs.status().code() != Code::kNotFound) {
    return needs.status();
  }
  return stored;
}

Status LocalObjectStore::DeleteSnapshot(const SnapshotRef& ref) {
  std::lock_guard lock(index_mu_);
  COFFER_ASSIGN_OR_RETURN(StoredSnapshot stored, FindSnapshotLocked(ref));
  if (stored.is_protected) {
    return Status::FailedPrecondition(Describe(ref) + " is protected; unprotect it first");
  }
  COFFER_RETURN_IF_ERROR(
      db_->Delete(Column::kSnapshots, SnapshotKey(ref.group, ref.time_ns), Durability::kSynced)
          .WithContext("deleting " + Describe(ref)));
  // The record is gone; a note or needs pointer left behind by a crash here
  // is never listed.
  COFFER_RETURN_IF_ERROR(db_->Delete(Column::kMeta, NoteKey(ref), Durability::kSynced));
  return db_->Delete(Column::kMeta, NeedsKey(ref), Durability::kSynced);
}

Status LocalObjectStore::SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) {
  std::lock_guard lock(index_mu_);
  COFFER_RETURN_IF_ERROR(FindSnapshotLocked(ref).status());
  if (is_protected) return db_->Put(Column::kMeta, ProtectedKey(ref), {}, Durability::kSynced);
  return db_->Delete(Column::kMeta, ProtectedKey(ref), Durability::kSynced);
}

Status LocalObjectStore::SetSnapshotNote(const SnapshotRef& ref, ByteView sealed_note) {
  std::lock_guard lock(index_mu_);
  COFFER_RETURN_IF_ERROR(FindSnapshotLocked(ref).status());
  return db_->Put(Column::kMeta, NoteKey(ref), sealed_note, Durability::kSynced);
}

Status LocalObjectStore::SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) {
  COFFER_RETURN_IF_ERROR(db_->Flush({Column::kNeeds}));
  COFFER_RETURN_IF_ERROR(CheckNeedsStored(*this, ref, needs));
  std::lock_guard lock(index_mu_);
  COFFER_ASSIGN_OR_RETURN(StoredSnapshot stored, FindSnapshotLocked(ref));
  if (stored.needs) {
    if (*stored.needs == needs) return Status::Ok();
    return Status::AlreadyExists(Describe(ref) + " names its needs list " +
                                 stored.needs->short_hex() + " already");
  }
  return db_->Put(Column::kMeta, NeedsKey(ref), NeedsValue(ref, needs), Durability::kSynced);
}

Result<GcStart> LocalObjectStore::BeginGc() {
  return gc_.BeginGc([&]() -> Result<std::vector<StoredSnapshot>> {
    std::lock_guard lock(index_mu_);
    return ListSnapshotsLocked("");
  });
}

Status LocalObjectStore::AddGcMarks(uint64_t gc_id, std::span<const uint64_t> id_prefixes) {
  return gc_.AddMarks(gc_id, id_prefixes);
}

Status LocalObjectStore::AbortGc(uint64_t gc_id) {
  gc_.EndGc(gc_id, /*swept=*/false);
  return Status::Ok();
}

Status LocalObjectStore::SweepColumn(Column column, const GcCoordinator::Sweep& sweep,
                                     GcResult& result) {
  std::vector<ObjectId> candidates;
  auto delete_candidates = [&]() -> Status {
    std::unique_lock sweep_guard(gc_.sweep_lock());
    for (const ObjectId& id : candidates) {
      if (gc_.IsTouched(id)) {
        ++result.objects_kept_for_writers;
        continue;
      }
      COFFER_RETURN_IF_ERROR(db_->Delete(column, KeyOf(id), Durability::kBuffered));
      ++result.objects_deleted;
    }
    candidates.clear();
    return Status::Ok();
  };
  Status status;
  COFFER_RETURN_IF_ERROR(db_->ScanKeys(column, [&](std::string_view key) {
    ++result.objects_examined;
    auto id = ObjectId::FromBytes(AsBytes(key));
    if (!id || sweep.IsMarked(*id)) return true;  // a malformed key is not ours to judge
    candidates.push_back(*id);
    if (candidates.size() < kSweepBatch) return true;
    status = delete_candidates();
    return status.ok();
  }));
  COFFER_RETURN_IF_ERROR(status);
  return delete_candidates();
}

Result<GcResult> LocalObjectStore::FinishGc(uint64_t gc_id) {
  COFFER_ASSIGN_OR_RETURN(GcCoordinator::Sweep sweep, gc_.StartSweep(gc_id));
  PausePoint("gc-sweeping");
  GcResult result;
  Status swept = [&]() -> Status {
    COFFER_ASSIGN_OR_RETURN(result.bytes_before, db_->ApproximateSizeBytes());
    COFFER_RETURN_IF_ERROR(SweepColumn(Column::kTrees, sweep, result));
    COFFER_RETURN_IF_ERROR(SweepColumn(Column::kChunks, sweep, result));
    // Needs lists are marked like chunks and trees: by every snapshot whose
    // chain holds them. They are not counted as objects.
    GcResult lists;
    return SweepColumn(Column::kNeeds, sweep, lists);
  }();
  sweep.marks.Clear();  // not needed for the compaction below: its memory goes first
  // Even a sweep that failed half-way may have deleted objects.
  gc_.EndGc(gc_id, /*swept=*/true);
  COFFER_RETURN_IF_ERROR(swept);
  COFFER_RETURN_IF_ERROR(db_->Flush({Column::kChunks, Column::kTrees, Column::kNeeds}));
  COFFER_RETURN_IF_ERROR(db_->CompactAll({Column::kTrees, Column::kChunks, Column::kNeeds}));
  COFFER_ASSIGN_OR_RETURN(result.bytes_after, db_->ApproximateSizeBytes());
  return result;
}

Result<uint64_t> LocalObjectStore::ApproximateSizeBytes() {
  return db_->ApproximateSizeBytes();
}

}  // namespace coffer
