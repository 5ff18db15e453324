#include "store/repo/write_session.h"

#include "store/base/crash_point.h"
#include "store/model/tree.h"

namespace coffer {

WriteSession::WriteSession(Repository& repo, unsigned seal_threads)
    : repo_(repo), sealers_(std::make_unique<Executor>(seal_threads, seal_threads)) {}

WriteSession::~WriteSession() { sealers_.reset(); }

bool WriteSession::Claim(const ObjectId& id) {
  std::lock_guard lock(known_mutex_);
  return known_.insert(id).second;
}

void WriteSession::RecordError(Status status) {
  std::lock_guard lock(error_mutex_);
  if (first_error_.ok()) first_error_ = std::move(status);
  failed_ = true;
}

Status WriteSession::FirstError() {
  if (!failed_) return Status::Ok();
  std::lock_guard lock(error_mutex_);
  return first_error_;
}

Status WriteSession::StoreIfAbsent(ObjectKind kind, const ObjectId& id, ByteView plaintext) {
  ObjectStore& store = repo_.store();
  COFFER_ASSIGN_OR_RETURN(auto present, store.Contains(kind, std::span(&id, 1)));
  if (present[0]) return Status::Ok();
  COFFER_ASSIGN_OR_RETURN(Bytes sealed, repo_.sealer().Seal(kind, id, plaintext));
  COFFER_RETURN_IF_ERROR(store.Put(kind, id, sealed));
  stats_.bytes_added += sealed.size();
  (kind == ObjectKind::kChunk ? stats_.chunks_added : stats_.trees_added)++;
  return Status::Ok();
}

Result<ObjectId> WriteSession::AddChunk(ByteView data, bool background) {
  COFFER_RETURN_IF_ERROR(FirstError());
  ObjectId id = repo_.sealer().IdOf(data);
  if (!Claim(id)) return id;
  if (!background) {
    Status s = StoreIfAbsent(ObjectKind::kChunk, id, data);
    if (!s.ok()) {
      s = s.WithContext("storing chunk " + id.short_hex());
      RecordError(s);
      return s;
    }
    CrashPoint("chunk-stored");
    return id;
  }
  auto copy = std::make_shared<Bytes>(data.begin(), data.end());
  sealers_->Submit([this, id, copy] {
    if (failed_) return;
    Status s = StoreIfAbsent(ObjectKind::kChunk, id, *copy);
    if (!s.ok()) RecordError(s.WithContext("storing chunk " + id.short_hex()));
    CrashPoint("chunk-stored");
  });
  return id;
}

Result<ObjectId> WriteSession::AddTree(const pb::Tree& tree) {
  COFFER_RETURN_IF_ERROR(FirstError());
  Bytes plain = model::Encode(tree);
  ObjectId id = repo_.sealer().IdOf(plain);
  if (Claim(id)) {
    COFFER_RETURN_IF_ERROR(StoreIfAbsent(ObjectKind::kTree, id, plain));
    CrashPoint("tree-stored");
  }
  return id;
}

Status WriteSession::Flush() {
  sealers_->WaitIdle();
  return FirstError();
}

Result<Snapshot> WriteSession::Commit(const pb::Snapshot& record) {
  COFFER_RETURN_IF_ERROR(Flush());
  Bytes plain = model::Encode(record);
  Snapshot snapshot{{record.group(), record.time_ns(), repo_.sealer().IdOf(plain)}, record};
  COFFER_ASSIGN_OR_RETURN(Bytes sealed,
                          repo_.sealer().Seal(ObjectKind::kSnapshot, snapshot.ref.id, plain));
  CrashPoint("before-commit");
  COFFER_RETURN_IF_ERROR(repo_.store().CommitSnapshot(snapshot.ref, sealed));
  return snapshot;
}

}  // namespace coffer
