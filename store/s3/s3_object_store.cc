#include "store/s3/s3_object_store.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <unordered_map>

#include "store/base/executor.h"
#include "store/model/snapshot_name.h"
#include "store/objects/key_slots.h"
#include "store/s3/bucket_format.h"

namespace coffer::s3 {
namespace {

// Where an object lies: a pack by its number, or the pack being filled.
constexpr uint32_t kPendingPack = UINT32_MAX;
struct Location {
  uint32_t pack = kPendingPack;
  uint32_t length = 0;
  uint64_t offset = 0;
  uint64_t checksum = 0;
};

struct IndexKey {
  ObjectKind kind;
  ObjectId id;
  bool operator==(const IndexKey&) const = default;
};
struct IndexKeyHash {
  size_t operator()(const IndexKey& key) const {
    return ObjectIdHash()(key.id) ^ static_cast<size_t>(key.kind);
  }
};

// Ranges of one pack closer than this are read as one request.
constexpr uint64_t kReadGap = 1 << 20;
constexpr uint64_t kMaxRead = 32 << 20;

Status CheckMetaKey(std::string_view key) {
  const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
  if (!plain)
    return Status::InvalidArgument("meta key '" + std::string(key) +
                                   "' cannot be stored in a bucket");
  return Status::Ok();
}

// Objects stored by id; snapshot records are stored by group and time.
Status CheckPackedKind(ObjectKind kind) {
  if (kind == ObjectKind::kChunk || kind == ObjectKind::kTree || kind == ObjectKind::kNeeds) {
    return Status::Ok();
  }
  return Status::InvalidArgument(std::string(KindName(kind)) + " objects are not stored by id");
}

// A group becomes part of the records' names: "host/web1", "ct/101".
Status CheckGroup(std::string_view group) {
  const bool plain = !group.empty() && group.front() != '/' && group.back() != '/' &&
                     group.find("//") == std::string_view::npos &&
                     std::all_of(group.begin(), group.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                              c == '_' || c == '/';
                     });
  if (!plain) {
    return Status::InvalidArgument("group '" + std::string(group.substr(0, group.find('\0'))) +
                                   "' cannot be stored in a bucket");
  }
  return Status::Ok();
}

std::string NotStored(ObjectKind kind, const ObjectId& id) {
  return std::string(KindName(kind)) + " " + id.short_hex() + " is not in the copy";
}

}  // namespace

class S3ObjectStore::Impl {
 public:
  Impl(const S3Settings& settings, const S3Location& location, const S3StoreOptions& options)
      : client_(settings, location.bucket, options.retry),
        root_(location.prefix.empty() ? "" : location.prefix + "/"),
        options_(options),
        reads_(std::max(1u, options.parallel_requests), 4096),
        // Two packs on their way while the next fills: the sender never
        // waits for one request, and at most four packs are in memory.
        uploads_(2, 1) {}

  // Every index; then every pack no index names (left by a writer that
  // stopped, or named by a damaged index) is read from its own trailer, so
  // its objects count and the next index names them.
  Status Load() {
    COFFER_RETURN_IF_ERROR(client_.CheckBucket());
    COFFER_ASSIGN_OR_RETURN(std::vector<ListedObject> indexes, client_.List(Key("index/")));
    COFFER_ASSIGN_OR_RETURN(std::vector<ListedObject> packs, client_.List(Key("packs/")));
    std::vector<std::future<Result<std::vector<IndexedPack>>>> read;
    for (const ListedObject& listed : indexes) {
      read.push_back(reads_.Async([this, name = listed.key]() -> Result<std::vector<IndexedPack>> {
        COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> bytes, client_.Get(name));
        if (!bytes) return std::vector<IndexedPack>();  // gone meanwhile
        if (Key(IndexName(ContentId(*bytes))) != name) {
          return Status::Corruption(name + " is damaged: its bytes do not match its name");
        }
        Result<std::vector<IndexedPack>> decoded = DecodeIndex(*bytes);
        if (!decoded.ok()) return decoded.status().WithContext(name);
        return decoded;
      }));
    }
    for (auto& future : read) {
      Result<std::vector<IndexedPack>> got = future.get();
      if (!got.ok()) {
        if (got.status().code() != Code::kCorruption) return got.status();
        counts_.damaged_indexes.push_back(got.status().message());
        continue;
      }
      for (const IndexedPack& pack : *got) AddPack(pack);
      ++counts_.indexes;
    }
    std::vector<std::future<Result<IndexedPack>>> trailers;
    for (const ListedObject& listed : packs) {
      const std::string hex = listed.key.substr(listed.key.rfind('/') + 1);
      std::optional<ObjectId> id = ObjectId::FromHex(hex);
      if (!id || Key(PackName(*id)) != listed.key || pack_numbers_.count(*id)) continue;
      trailers.push_back(reads_.Async([this, listed, id = *id]() -> Result<IndexedPack> {
        if (listed.size < kPackTailSize) return Status::Corruption(listed.key + " is cut short");
        COFFER_ASSIGN_OR_RETURN(
            Bytes tail, client_.GetRange(listed.key, listed.size - kPackTailSize, kPackTailSize));
        Result<uint32_t> length = PackTrailerLength(tail, listed.size);
        if (!length.ok()) return length.status().WithContext(listed.key);
        COFFER_ASSIGN_OR_RETURN(Bytes trailer,
                                client_.GetRange(listed.key, listed.size - *length, *length));
        Result<std::vector<PackEntry>> entries = DecodePackTrailer(trailer, listed.size);
        if (!entries.ok()) return entries.status().WithContext(listed.key);
        return IndexedPack{id, listed.size, std::move(entries).value()};
      }));
    }
    for (auto& future : trailers) {
      Result<IndexedPack> got = future.get();
      if (!got.ok()) {
        if (got.status().code() != Code::kCorruption && got.status().code() != Code::kNotFound) {
          return got.status();
        }
        continue;  // its objects are unknown; whoever needs them says so
      }
      AddPack(*got);
      unindexed_.push_back(std::move(got).value());
      ++counts_.packs_from_trailers;
    }
    return Status::Ok();
  }

  std::string Key(std::string_view name) const { return root_ + std::string(name); }

  // --- objects ---

  Result<std::vector<bool>> Contains(ObjectKind kind, std::span<const ObjectId> ids) {
    COFFER_RETURN_IF_ERROR(CheckPackedKind(kind));
    std::lock_guard lock(mu_);
    std::vector<bool> found(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) found[i] = index_.count({kind, ids[i]}) > 0;
    return found;
  }

  Status Put(ObjectKind kind, const ObjectId& id, ByteView sealed) {
    COFFER_RETURN_IF_ERROR(CheckPackedKind(kind));
    if (kind == ObjectKind::kNeeds && ContentId(sealed) != id) {
      return Status::InvalidArgument("needs list " + id.short_hex() + " does not match its id");
    }
    if (sealed.size() > UINT32_MAX) return Status::InvalidArgument("an object larger than 4 GiB");
    const uint64_t checksum = ObjectChecksum(sealed);
    std::unique_lock lock(mu_);
    COFFER_RETURN_IF_ERROR(upload_error_);
    const auto length = static_cast<uint32_t>(sealed.size());
    if (!index_
             .emplace(IndexKey{kind, id},
                      Location{kPendingPack, length, pending_data_.size(), checksum})
             .second) {
      return Status::Ok();
    }
    pending_entries_.push_back(PackEntry{kind, id, pending_data_.size(), length, checksum});
    pending_data_.insert(pending_data_.end(), sealed.begin(), sealed.end());
    if (pending_data_.size() >= options_.pack_size || pending_entries_.size() >= kMaxPackEntries) {
      return SealPending(lock);
    }
    return Status::Ok();
  }

  Result<Bytes> Get(ObjectKind kind, const ObjectId& id) {
    COFFER_RETURN_IF_ERROR(CheckPackedKind(kind));
    Result<Bytes> answer = Status::NotFound(NotStored(kind, id));
    COFFER_RETURN_IF_ERROR(
        GetMany(kind, std::span<const ObjectId>(&id, 1), [&](size_t, Result<ByteView> sealed) {
          if (sealed.ok()) {
            answer = Bytes(sealed->begin(), sealed->end());
          } else {
            answer = sealed.status();
          }
        }));
    return answer;
  }

  Status GetMany(ObjectKind kind, std::span<const ObjectId> ids, const SealedVisitor& use) {
    COFFER_RETURN_IF_ERROR(CheckPackedKind(kind));
    std::vector<std::optional<Result<Bytes>>> answers(ids.size());
    struct Wanted {
      size_t index;
      Location at;
      ObjectId pack;
    };
    std::vector<Wanted> wanted;
    {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < ids.size(); ++i) {
        auto found = index_.find({kind, ids[i]});
        if (found == index_.end()) {
          answers[i] = Status::NotFound(NotStored(kind, ids[i]));
          continue;
        }
        const Location& at = found->second;
        const Bytes* held = at.pack == kPendingPack ? &pending_data_ : nullptr;
        if (auto sent = in_memory_.find(at.pack); sent != in_memory_.end())
          held = sent->second.get();
        if (held != nullptr) {
          answers[i] = Bytes(held->begin() + static_cast<ptrdiff_t>(at.offset),
                             held->begin() + static_cast<ptrdiff_t>(at.offset + at.length));
          continue;
        }
        wanted.push_back({i, at, packs_[at.pack]});
      }
    }
    // Neighbours in a pack are read with one request; requests run at once.
    std::sort(wanted.begin(), wanted.end(), [](const Wanted& a, const Wanted& b) {
      return std::tie(a.at.pack, a.at.offset) < std::tie(b.at.pack, b.at.offset);
    });
    std::vector<std::future<Status>> reads;
    for (size_t first = 0; first < wanted.size();) {
      size_t last = first + 1;
      uint64_t end = wanted[first].at.offset + wanted[first].at.length;
      while (last < wanted.size() && wanted[last].at.pack == wanted[first].at.pack &&
             wanted[last].at.offset <= end + kReadGap &&
             wanted[last].at.offset + wanted[last].at.length - wanted[first].at.offset <=
                 kMaxRead) {
        end = std::max(end, wanted[last].at.offset + wanted[last].at.length);
        ++last;
      }
      reads.push_back(reads_.Async([&, first, last, end]() -> Status {
        const uint64_t start = wanted[first].at.offset;
        const std::string name = Key(PackName(wanted[first].pack));
        Result<Bytes> run = client_.GetRange(name, start, end - start);
        for (size_t w = first; w < last; ++w) {
          if (!run.ok()) {
            if (!IsObjectFailure(run.status())) return run.status();
            answers[wanted[w].index] = run.status().WithContext(std::string(KindName(kind)) + " " +
                                                                ids[wanted[w].index].short_hex());
            continue;
          }
          const uint64_t from = wanted[w].at.offset - start;
          Bytes object(run->begin() + static_cast<ptrdiff_t>(from),
                       run->begin() + static_cast<ptrdiff_t>(from + wanted[w].at.length));
          if (ObjectChecksum(object) != wanted[w].at.checksum) {
            answers[wanted[w].index] = Status::Corruption(
                std::string(KindName(kind)) + " " + ids[wanted[w].index].short_hex() +
                " is damaged in " + name + ": its bytes do not match the index's checksum");
          } else {
            answers[wanted[w].index] = std::move(object);
          }
        }
        return Status::Ok();
      }));
      first = last;
    }
    Status failed;
    for (auto& read : reads) {
      Status s = read.get();
      if (!s.ok() && failed.ok()) failed = s;
    }
    COFFER_RETURN_IF_ERROR(failed);
    for (size_t i = 0; i < ids.size(); ++i) {
      Result<Bytes>& answer = *answers[i];
      if (answer.ok() && kind == ObjectKind::kNeeds && ContentId(*answer) != ids[i]) {
        answer = Status::Corruption("needs list " + ids[i].short_hex() + " is damaged in the copy");
      }
      if (answer.ok()) {
        use(i, ByteView(*answer));
      } else {
        use(i, answer.status());
      }
    }
    return Status::Ok();
  }

  Status Flush() {
    std::unique_lock lock(mu_);
    if (!pending_entries_.empty()) COFFER_RETURN_IF_ERROR(SealPending(lock));
    return WriteIndex(lock);
  }

  // --- meta ---

  Result<std::optional<Bytes>> GetMeta(std::string_view key) {
    COFFER_RETURN_IF_ERROR(CheckMetaKey(key));
    return client_.Get(Key("meta/" + std::string(key)));
  }

  Status PutMeta(std::string_view key, ByteView value) {
    COFFER_RETURN_IF_ERROR(CheckMetaKey(key));
    std::lock_guard lock(meta_mu_);
    COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> existing, GetMeta(key));
    if (existing) {
      if (std::equal(existing->begin(), existing->end(), value.begin(), value.end()))
        return Status::Ok();
      return Status::AlreadyExists("meta key " + std::string(key) + " is write-once");
    }
    return client_.Put(Key("meta/" + std::string(key)), value);
  }

  Result<std::vector<MetaRecord>> ListMeta(std::string_view prefix) {
    const std::string folder = Key("meta/");
    COFFER_ASSIGN_OR_RETURN(std::vector<ListedObject> listed,
                            client_.List(folder + std::string(prefix)));
    std::vector<MetaRecord> records;
    for (const ListedObject& o : listed) {
      COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> value, client_.Get(o.key));
      if (value) records.push_back({o.key.substr(folder.size()), std::move(*value)});
    }
    return records;
  }

  Status RemoveKeySlot(std::string_view name) {
    if (!KeySlotNumber(name)) {
      return Status::InvalidArgument("meta key " + std::string(name) + " is not a key slot");
    }
    std::lock_guard lock(meta_mu_);
    COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> stored, ListMeta(kKeySlotPrefix));
    COFFER_RETURN_IF_ERROR(CheckKeySlotRemovable(name, std::move(stored)));
    return client_.Delete(Key("meta/" + std::string(name)));
  }

  // --- snapshots ---

  Status Commit(const SnapshotRef& ref, ByteView sealed, const std::optional<ObjectId>& needs) {
    COFFER_RETURN_IF_ERROR(CheckGroup(ref.group));
    COFFER_RETURN_IF_ERROR(Flush());
    if (needs) COFFER_RETURN_IF_ERROR(CheckNeedsStored(*needs));
    std::lock_guard lock(snapshots_mu_);
    COFFER_ASSIGN_OR_RETURN(std::optional<BucketSnapshot> existing, ReadSnapshot(ref));
    if (existing) {
      if (existing->id == ref.id) return Status::Ok();  // a retried commit
      return Status::AlreadyExists("there is another snapshot at " + ref.group + " and that time");
    }
    BucketSnapshot record;
    record.id = ref.id;
    record.needs = needs;
    record.sealed.assign(sealed.begin(), sealed.end());
    return client_.Put(Key(SnapshotName(ref.group, ref.time_ns)), EncodeSnapshot(record));
  }

  Result<std::vector<StoredSnapshot>> ListSnapshots(std::string_view group) {
    if (group.find('\0') != std::string_view::npos) return CheckGroup(group);
    // A group no record can have has no snapshots.
    if (!group.empty() && !CheckGroup(group).ok()) return std::vector<StoredSnapshot>();
    const std::string folder = group.empty() ? Key("snapshots/") : Key(SnapshotFolder(group));
    COFFER_ASSIGN_OR_RETURN(std::vector<ListedObject> listed, client_.List(folder));
    std::vector<std::future<Result<std::optional<StoredSnapshot>>>> read;
    for (const ListedObject& o : listed) {
      auto name = ParseSnapshotName(std::string_view(o.key).substr(root_.size()));
      if (!name || !CheckGroup(name->first).ok()) continue;  // not Coffer's
      read.push_back(reads_.Async(
          [this, key = o.key, name = *name]() -> Result<std::optional<StoredSnapshot>> {
            COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> bytes, client_.Get(key));
            if (!bytes) return std::optional<StoredSnapshot>();  // deleted meanwhile
            Result<BucketSnapshot> record = DecodeSnapshot(*bytes);
            if (!record.ok()) return record.status().WithContext(key);
            StoredSnapshot s;
            s.ref = SnapshotRef{name.first, name.second, record->id};
            s.sealed = std::move(record->sealed);
            s.is_protected = record->is_protected;
            s.sealed_note = std::move(record->sealed_note);
            s.needs = record->needs;
            return std::optional<StoredSnapshot>(std::move(s));
          }));
    }
    std::vector<StoredSnapshot> snapshots;
    Status failed;
    for (auto& future : read) {
      Result<std::optional<StoredSnapshot>> got = future.get();
      if (!got.ok()) {
        if (failed.ok()) failed = got.status();
      } else if (*got) {
        snapshots.push_back(std::move(**got));
      }
    }
    COFFER_RETURN_IF_ERROR(failed);
    std::sort(snapshots.begin(), snapshots.end(),
              [](const StoredSnapshot& a, const StoredSnapshot& b) {
                return std::tie(a.ref.group, a.ref.time_ns) < std::tie(b.ref.group, b.ref.time_ns);
              });
    return snapshots;
  }

  // Reads, changes and writes back one snapshot's record.
  Status ChangeSnapshot(const SnapshotRef& ref,
                        const std::function<Status(BucketSnapshot&)>& change) {
    COFFER_RETURN_IF_ERROR(CheckGroup(ref.group));
    std::lock_guard lock(snapshots_mu_);
    COFFER_ASSIGN_OR_RETURN(std::optional<BucketSnapshot> record, ReadSnapshot(ref));
    if (!record || record->id != ref.id) return NoSnapshot(ref);
    COFFER_RETURN_IF_ERROR(change(*record));
    return client_.Put(Key(SnapshotName(ref.group, ref.time_ns)), EncodeSnapshot(*record));
  }

  Status DeleteSnapshot(const SnapshotRef& ref) {
    COFFER_RETURN_IF_ERROR(CheckGroup(ref.group));
    std::lock_guard lock(snapshots_mu_);
    COFFER_ASSIGN_OR_RETURN(std::optional<BucketSnapshot> record, ReadSnapshot(ref));
    if (!record || record->id != ref.id) return NoSnapshot(ref);
    if (record->is_protected) {
      return Status::FailedPrecondition("snapshot " + ref.group + " at that time is protected");
    }
    return client_.Delete(Key(SnapshotName(ref.group, ref.time_ns)));
  }

  Status CheckNeedsStored(const ObjectId& needs) {
    std::lock_guard lock(mu_);
    if (!index_.count({ObjectKind::kNeeds, needs})) {
      return Status::InvalidArgument("needs list " + needs.short_hex() + " is not stored");
    }
    return Status::Ok();
  }

  uint64_t retries() const { return client_.retries(); }
  Counts counts() {
    std::lock_guard lock(mu_);
    Counts c = counts_;
    c.objects = index_.size();
    c.packs = packs_.size();
    return c;
  }

 private:
  Result<std::optional<BucketSnapshot>> ReadSnapshot(const SnapshotRef& ref) {
    const std::string key = Key(SnapshotName(ref.group, ref.time_ns));
    COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> bytes, client_.Get(key));
    if (!bytes) return std::optional<BucketSnapshot>();
    Result<BucketSnapshot> record = DecodeSnapshot(*bytes);
    if (!record.ok()) return record.status().WithContext(key);
    return std::optional<BucketSnapshot>(std::move(record).value());
  }

  static Status NoSnapshot(const SnapshotRef& ref) {
    return Status::NotFound("no snapshot of " + ref.group + " at " +
                            model::FormatTime(ref.time_ns) + " in the copy");
  }

  void AddPack(const IndexedPack& pack) {
    auto [it, added] = pack_numbers_.emplace(pack.pack, static_cast<uint32_t>(packs_.size()));
    if (added) packs_.push_back(pack.pack);
    for (const PackEntry& e : pack.entries) {
      index_.insert_or_assign(IndexKey{e.kind, e.id},
                              Location{it->second, e.length, e.offset, e.checksum});
    }
  }

  // Closes the pack being filled and sends it; `lock` holds mu_ on entry
  // and on return.
  Status SealPending(std::unique_lock<std::mutex>& lock) {
    auto pack = std::make_shared<Bytes>(std::move(pending_data_));
    const Bytes trailer = EncodePackTrailer(pending_entries_);
    pack->insert(pack->end(), trailer.begin(), trailer.end());
    const ObjectId pack_id = ContentId(*pack);
    const uint32_t number = static_cast<uint32_t>(packs_.size());
    packs_.push_back(pack_id);
    pack_numbers_.emplace(pack_id, number);
    for (const PackEntry& e : pending_entries_) index_[{e.kind, e.id}].pack = number;
    unindexed_.push_back(IndexedPack{pack_id, pack->size(), std::move(pending_entries_)});
    pending_data_ = Bytes();
    pending_entries_.clear();
    in_memory_[number] = pack;
    ++uploading_;
    lock.unlock();
    // Blocks while two packs are on their way: memory stays bounded.
    uploads_.Submit([this, pack, number, name = Key(PackName(pack_id))] {
      Status sent = client_.Put(name, *pack);
      std::lock_guard done(mu_);
      if (!sent.ok() && upload_error_.ok()) upload_error_ = sent;
      if (sent.ok()) in_memory_.erase(number);
      --uploading_;
      uploaded_.notify_all();
    });
    lock.lock();
    if (unindexed_.size() >= options_.packs_per_index) return WriteIndex(lock);
    return upload_error_;
  }

  // Waits for the packs on their way, then writes one index naming every
  // pack no index names yet. `lock` holds mu_ on entry and on return.
  Status WriteIndex(std::unique_lock<std::mutex>& lock) {
    uploaded_.wait(lock, [&] { return uploading_ == 0; });
    COFFER_RETURN_IF_ERROR(upload_error_);
    if (unindexed_.empty()) return Status::Ok();
    std::vector<IndexedPack> packs = std::move(unindexed_);
    unindexed_.clear();
    const Bytes index = EncodeIndex(packs);
    lock.unlock();
    Status written = client_.Put(Key(IndexName(ContentId(index))), index);
    lock.lock();
    if (!written.ok()) {
      // Named by the next index instead.
      for (IndexedPack& p : packs) unindexed_.push_back(std::move(p));
      return written;
    }
    ++counts_.indexes;
    return Status::Ok();
  }

  S3Client client_;
  const std::string root_;
  const S3StoreOptions options_;

  std::mutex mu_;  // guards everything below up to snapshots_mu_
  std::unordered_map<IndexKey, Location, IndexKeyHash> index_;
  std::vector<ObjectId> packs_;
  std::unordered_map<ObjectId, uint32_t, ObjectIdHash> pack_numbers_;
  Bytes pending_data_;
  std::vector<PackEntry> pending_entries_;
  // Packs on their way (and packs whose sending failed), by number.
  std::unordered_map<uint32_t, std::shared_ptr<const Bytes>> in_memory_;
  std::vector<IndexedPack> unindexed_;
  int uploading_ = 0;
  std::condition_variable uploaded_;
  Status upload_error_;
  Counts counts_;

  std::mutex meta_mu_;       // a write-once check and its write
  std::mutex snapshots_mu_;  // a record's read-change-write

  // Last: their threads use everything above until they are joined.
  Executor reads_;
  Executor uploads_;
};

S3ObjectStore::S3ObjectStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3ObjectStore::~S3ObjectStore() = default;

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Open(const S3Settings& settings,
                                                           const S3Location& location,
                                                           const S3StoreOptions& options) {
  auto impl = std::make_unique<Impl>(settings, location, options);
  COFFER_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<S3ObjectStore>(new S3ObjectStore(std::move(impl)));
}

Status S3ObjectStore::Flush() {
  return impl_->Flush();
}
uint64_t S3ObjectStore::retries() const {
  return impl_->retries();
}
S3ObjectStore::Counts S3ObjectStore::counts() const {
  return impl_->counts();
}

Result<std::optional<Bytes>> S3ObjectStore::GetMeta(std::string_view key) {
  return impl_->GetMeta(key);
}
Status S3ObjectStore::PutMeta(std::string_view key, ByteView value) {
  return impl_->PutMeta(key, value);
}
Result<std::vector<MetaRecord>> S3ObjectStore::ListMeta(std::string_view prefix) {
  return impl_->ListMeta(prefix);
}
Status S3ObjectStore::RemoveKeySlot(std::string_view name) {
  return impl_->RemoveKeySlot(name);
}
Result<std::vector<bool>> S3ObjectStore::Contains(ObjectKind kind, std::span<const ObjectId> ids) {
  return impl_->Contains(kind, ids);
}
Status S3ObjectStore::Put(ObjectKind kind, const ObjectId& id, ByteView sealed) {
  return impl_->Put(kind, id, sealed);
}
Result<Bytes> S3ObjectStore::Get(ObjectKind kind, const ObjectId& id) {
  return impl_->Get(kind, id);
}
Status S3ObjectStore::GetMany(ObjectKind kind, std::span<const ObjectId> ids,
                              const SealedVisitor& use) {
  return impl_->GetMany(kind, ids, use);
}

// No garbage collection runs on a copy in object storage, so there is
// nothing a writer must be registered against.
Result<WriteId> S3ObjectStore::BeginWrite(const std::optional<SnapshotRef>&) {
  return next_writer_.fetch_add(1) + 1;
}
Status S3ObjectStore::EndWrite(WriteId) {
  return Status::Ok();
}
Status S3ObjectStore::RefreshWriters(std::span<const WriteId>) {
  return Status::Ok();
}

Status S3ObjectStore::CommitSnapshot(const SnapshotRef& ref, ByteView sealed_record, WriteId,
                                     const std::optional<ObjectId>& needs) {
  return impl_->Commit(ref, sealed_record, needs);
}
Result<std::vector<StoredSnapshot>> S3ObjectStore::ListSnapshots(std::string_view group) {
  return impl_->ListSnapshots(group);
}
Status S3ObjectStore::DeleteSnapshot(const SnapshotRef& ref) {
  return impl_->DeleteSnapshot(ref);
}
Status S3ObjectStore::SetSnapshotProtected(const SnapshotRef& ref, bool is_protected) {
  return impl_->ChangeSnapshot(ref, [&](BucketSnapshot& s) {
    s.is_protected = is_protected;
    return Status::Ok();
  });
}
Status S3ObjectStore::SetSnapshotNote(const SnapshotRef& ref, ByteView sealed_note) {
  return impl_->ChangeSnapshot(ref, [&](BucketSnapshot& s) {
    s.sealed_note.assign(sealed_note.begin(), sealed_note.end());
    return Status::Ok();
  });
}
Status S3ObjectStore::SetSnapshotNeeds(const SnapshotRef& ref, const ObjectId& needs) {
  COFFER_RETURN_IF_ERROR(impl_->Flush());
  COFFER_RETURN_IF_ERROR(impl_->CheckNeedsStored(needs));
  return impl_->ChangeSnapshot(ref, [&](BucketSnapshot& s) {
    if (s.needs && *s.needs != needs) {
      return Status::AlreadyExists("the snapshot names another needs list already");
    }
    s.needs = needs;
    return Status::Ok();
  });
}

namespace {
Status NoGc() {
  return Status::Unsupported(
      "garbage collection does not run on a copy in object storage: forgotten snapshots' objects "
      "stay until the copy is made afresh");
}
}  // namespace

Result<GcStart> S3ObjectStore::BeginGc() {
  return NoGc();
}
Status S3ObjectStore::AddGcMarks(uint64_t, std::span<const uint64_t>) {
  return NoGc();
}
Result<GcResult> S3ObjectStore::FinishGc(uint64_t) {
  return NoGc();
}
Status S3ObjectStore::AbortGc(uint64_t) {
  return NoGc();
}

}  // namespace coffer::s3
