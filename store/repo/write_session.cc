#include "store/repo/write_session.h"

#include "store/base/crash_point.h"
#include "store/model/tree.h"
#include "store/model/tree_split.h"

namespace coffer {
namespace {

// A batch is stored when it holds this many objects or bytes: large enough
// that a round trip to the server is a small part of its cost, small enough
// that a few batches in flight stay a few MiB.
constexpr size_t kBatchObjects = 256;
constexpr size_t kBatchBytes = 2 << 20;

}  // namespace

WriteSession::WriteSession(Repository& repo, unsigned seal_threads)
    : repo_(repo), sealers_(std::make_unique<Executor>(seal_threads, seal_threads)) {}

WriteSession::~WriteSession() {
  sealers_.reset();
  if (writer_) (void)repo_.store().EndWrite(*writer_);  // an abandoned backup
}

Status WriteSession::Begin(const std::optional<SnapshotRef>& parent) {
  std::lock_guard lock(writer_mutex_);
  if (writer_) return Status::InvalidArgument("WriteSession::Begin called twice");
  COFFER_ASSIGN_OR_RETURN(WriteId id, repo_.store().BeginWrite(parent));
  writer_ = id;
  parent_ = parent;
  return Status::Ok();
}

Result<WriteId> WriteSession::Writer() {
  std::lock_guard lock(writer_mutex_);
  if (!writer_) {
    COFFER_ASSIGN_OR_RETURN(WriteId id, repo_.store().BeginWrite(std::nullopt));
    writer_ = id;
  }
  return *writer_;
}

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

Status WriteSession::StoreBatch(Batch& batch) {
  ObjectStore& store = repo_.store();
  COFFER_RETURN_IF_ERROR(Writer().status());  // registered before the first Contains()
  for (ObjectKind kind : {ObjectKind::kChunk, ObjectKind::kTree}) {
    std::vector<size_t> members;
    std::vector<ObjectId> ids;
    for (size_t i = 0; i < batch.ids.size(); ++i) {
      if (batch.kinds[i] != kind) continue;
      members.push_back(i);
      ids.push_back(batch.ids[i]);
    }
    if (ids.empty()) continue;
    COFFER_ASSIGN_OR_RETURN(std::vector<bool> present, store.Contains(kind, ids));
    for (size_t j = 0; j < members.size(); ++j) {
      if (present[j]) continue;
      size_t i = members[j];
      auto sealed = repo_.sealer().Seal(kind, ids[j], batch.plaintexts[i], batch.efforts[i]);
      if (!sealed.ok()) {
        return sealed.status().WithContext("sealing " + std::string(KindName(kind)) + " " +
                                           ids[j].short_hex());
      }
      COFFER_RETURN_IF_ERROR(store.Put(kind, ids[j], *sealed));
      stats_.bytes_added += sealed->size();
      (kind == ObjectKind::kChunk ? stats_.chunks_added : stats_.trees_added)++;
      CrashPoint(kind == ObjectKind::kChunk ? "chunk-stored" : "tree-stored");
    }
  }
  return Status::Ok();
}

void WriteSession::Submit(std::unique_ptr<Batch> batch, bool background) {
  if (!background) {
    if (!failed_) {
      if (Status s = StoreBatch(*batch); !s.ok()) RecordError(s);
    }
    return;
  }
  std::shared_ptr<Batch> shared = std::move(batch);
  sealers_->Submit([this, shared] {
    if (failed_) return;
    if (Status s = StoreBatch(*shared); !s.ok()) RecordError(s);
  });
}

Result<ObjectId> WriteSession::Add(ObjectKind kind, ByteView plaintext, bool background,
                                   crypto::Effort effort) {
  COFFER_RETURN_IF_ERROR(FirstError());
  ObjectId id = repo_.sealer().IdOf(plaintext);
  if (!Claim(id)) return id;
  std::unique_ptr<Batch> full;
  {
    std::lock_guard lock(batch_mutex_);
    if (!batch_) batch_ = std::make_unique<Batch>();
    batch_->kinds.push_back(kind);
    batch_->efforts.push_back(effort);
    batch_->ids.push_back(id);
    batch_->plaintexts.emplace_back(plaintext.begin(), plaintext.end());
    batch_->bytes += plaintext.size();
    if (batch_->ids.size() >= kBatchObjects || batch_->bytes >= kBatchBytes)
      full = std::move(batch_);
  }
  if (full) Submit(std::move(full), background);
  return id;
}

Result<ObjectId> WriteSession::AddChunk(ByteView data, bool background, crypto::Effort effort) {
  return Add(ObjectKind::kChunk, data, background, effort);
}

Result<ObjectId> WriteSession::AddTree(const pb::Tree& tree) {
  auto store = [this](const pb::Tree& part) -> Result<ObjectId> {
    COFFER_ASSIGN_OR_RETURN(ObjectId id, Add(ObjectKind::kTree, model::Encode(part),
                                             /*background=*/true, crypto::Effort::kSmall));
    std::vector<NeededObject> named;
    COFFER_RETURN_IF_ERROR(model::ForEachReference(part, [&](ObjectKind kind, const ObjectId& ref) {
      named.push_back({kind, ref});
      return Status::Ok();
    }));
    std::lock_guard lock(references_mutex_);
    references_.try_emplace(id, std::move(named));
    return id;
  };
  // Almost every tree fits in one object; only those that do not are copied.
  if (model::FitsInOneObject(tree)) return store(tree);
  COFFER_ASSIGN_OR_RETURN(pb::Tree split, model::SplitTree(tree, store));
  return store(split);
}

Status WriteSession::Flush() {
  std::unique_ptr<Batch> last;
  {
    std::lock_guard lock(batch_mutex_);
    last = std::move(batch_);
  }
  if (last) Submit(std::move(last), /*background=*/true);
  sealers_->WaitIdle();
  return FirstError();
}

Result<Snapshot> WriteSession::Commit(const pb::Snapshot& given) {
  COFFER_RETURN_IF_ERROR(Flush());
  pb::Snapshot record = given;
  auto root = ObjectId::FromBytes(AsBytes(record.root_tree_id()));
  if (!root) return Status::InvalidArgument("WriteSession::Commit: a malformed root tree id");
  std::optional<ObjectId> parent_needs;
  if (parent_) {
    COFFER_ASSIGN_OR_RETURN(std::vector<StoredSnapshot> siblings,
                            repo_.store().ListSnapshots(parent_->group));
    for (const StoredSnapshot& s : siblings) {
      if (s.ref == *parent_) parent_needs = s.needs;
    }
  }
  COFFER_ASSIGN_OR_RETURN(NeedsSet needs, CollectNeeds(repo_, *root, references_));
  COFFER_ASSIGN_OR_RETURN(ObjectId needs_id, PutNeeds(repo_.store(), needs, parent_needs));
  record.set_needs_id(needs_id.bytes.data(), needs_id.bytes.size());
  Bytes plain = model::Encode(record);
  Snapshot snapshot;
  snapshot.ref = {record.group(), record.time_ns(), repo_.sealer().IdOf(plain)};
  snapshot.record = record;
  snapshot.needs = needs_id;
  COFFER_ASSIGN_OR_RETURN(Bytes sealed,
                          repo_.sealer().Seal(ObjectKind::kSnapshot, snapshot.ref.id, plain));
  CrashPoint("before-commit");
  COFFER_ASSIGN_OR_RETURN(WriteId writer, Writer());
  COFFER_RETURN_IF_ERROR(repo_.store().CommitSnapshot(snapshot.ref, sealed, writer, needs_id));
  {
    std::lock_guard lock(writer_mutex_);
    writer_.reset();  // the commit ended the registration
  }
  return snapshot;
}

}  // namespace coffer
