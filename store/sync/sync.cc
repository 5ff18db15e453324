#include "store/sync/sync.h"

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "store/base/crash_point.h"
#include "store/model/snapshot_name.h"
#include "store/objects/meta_keys.h"
#include "store/objects/needs_list.h"
#include "store/sync/missing.h"

namespace coffer::sync {
namespace {

// Ids per batch: as many as make about kBatchBytes at the sizes seen so
// far, within these bounds. Two batches are held at once (one being put,
// the next being read), so memory stays near 2 x kBatchBytes even for 4 MiB
// chunks.
constexpr size_t kMinFetchBatch = 16;
constexpr size_t kMaxFetchBatch = 2048;
constexpr uint64_t kBatchBytes = 16 << 20;
// A batch is read as this many GetMany calls at once: reads of objects not
// in the page cache wait for the disk one by one, so several in flight keep
// it busy (a cold repository's sync ran at a third of the disk's speed).
constexpr size_t kParallelReads = 4;

std::string NameOf(const SnapshotRef& ref) {
  return ref.group + "/" + model::FormatTime(ref.time_ns);
}

// Sends at most `bytes_per_second` over time, in steps of what was sent.
class Throttle {
 public:
  explicit Throttle(uint64_t bytes_per_second) : rate_(bytes_per_second) {}
  void Sent(uint64_t bytes) {
    if (rate_ == 0) return;
    sent_ += bytes;
    const auto due = start_ + std::chrono::nanoseconds(sent_ * 1'000'000'000 / rate_);
    std::this_thread::sleep_until(due);
  }

 private:
  const uint64_t rate_;
  uint64_t sent_ = 0;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

class Syncer {
 public:
  Syncer(ObjectStore& source, ObjectStore& destination, const SyncOptions& options,
         const SyncProgressFn& progress)
      : source_(source),
        destination_(destination),
        options_(options),
        progress_fn_(progress),
        throttle_(options.bytes_per_second) {}

  Result<SyncReport> Run() {
    COFFER_RETURN_IF_ERROR(CheckReplica(source_, destination_));
    COFFER_ASSIGN_OR_RETURN(std::vector<StoredSnapshot> wanted, Selected());
    COFFER_ASSIGN_OR_RETURN(std::vector<StoredSnapshot> there, destination_.ListSnapshots(""));
    std::map<std::pair<std::string, int64_t>, const StoredSnapshot*> at_destination;
    for (const StoredSnapshot& s : there) at_destination[{s.ref.group, s.ref.time_ns}] = &s;

    if (!options_.dry_run) COFFER_RETURN_IF_ERROR(CopyKeySlots());
    progress_.snapshots_total = wanted.size();
    // The chain of the snapshot before in the same group, known complete at
    // the destination: the next one checks only what its set adds.
    std::optional<NeedsChain> previous;
    std::string previous_group;
    for (const StoredSnapshot& s : wanted) {
      if (s.ref.group != previous_group) previous.reset();
      previous_group = s.ref.group;
      progress_.current = NameOf(s.ref);
      auto found = at_destination.find({s.ref.group, s.ref.time_ns});
      if (found != at_destination.end()) {
        if (found->second->ref.id == s.ref.id) {
          ++report_.snapshots_present;
          // Its chain is read only if a later one needs it as a start.
          pending_previous_ = &s;
        } else {
          Skip(s, "the destination has another snapshot at that group and time (" +
                      found->second->ref.id.short_hex() + ")");
          previous.reset();
          pending_previous_ = nullptr;
        }
        Done();
        continue;
      }
      if (!s.needs) {
        Skip(s,
             "made before needs lists, so what it needs is unknown without the key "
             "(a backup made since has them)");
        previous.reset();
        pending_previous_ = nullptr;
        Done();
        continue;
      }
      if (pending_previous_ != nullptr) {
        // The one before is at the destination: what it needs is there.
        previous.reset();
        if (pending_previous_->needs) {
          Result<NeedsChain> chain = ReadChain(*pending_previous_->needs, nullptr);
          if (chain.ok()) previous = std::move(chain).value();
        }
        pending_previous_ = nullptr;
      }
      Result<NeedsChain> chain = ReadChain(*s.needs, previous ? &*previous : nullptr);
      if (!chain.ok()) {
        if (chain.status().code() != Code::kCorruption) return chain.status();
        Skip(s, chain.status().message());
        previous.reset();
        Done();
        continue;
      }
      Result<bool> copied = Copy(s, *chain, previous ? &previous->set : nullptr);
      if (!copied.ok()) return copied.status().WithContext("copying " + NameOf(s.ref));
      if (*copied) {
        ++report_.snapshots_copied;
        previous = std::move(chain).value();
      } else {
        previous.reset();
      }
      Done();
    }
    if (options_.delete_missing) COFFER_RETURN_IF_ERROR(DeleteMissing(wanted, there));
    return report_;
  }

 private:
  // The source's snapshots the options select, oldest first in each group.
  Result<std::vector<StoredSnapshot>> Selected() {
    std::vector<StoredSnapshot> all;
    if (options_.groups.empty()) {
      COFFER_ASSIGN_OR_RETURN(all, source_.ListSnapshots(""));
    } else {
      for (const std::string& group :
           std::set<std::string>(options_.groups.begin(), options_.groups.end())) {
        COFFER_ASSIGN_OR_RETURN(std::vector<StoredSnapshot> of_group, source_.ListSnapshots(group));
        for (StoredSnapshot& s : of_group) all.push_back(std::move(s));
      }
    }
    if (options_.latest == 0) return all;
    // Listed by group, then time: keep the last `latest` of each run.
    std::vector<StoredSnapshot> kept;
    for (size_t i = 0; i < all.size();) {
      size_t end = i;
      while (end < all.size() && all[end].ref.group == all[i].ref.group) ++end;
      for (size_t j = end - std::min(end - i, options_.latest); j < end; ++j) {
        kept.push_back(std::move(all[j]));
      }
      i = end;
    }
    return kept;
  }

  Result<NeedsChain> ReadChain(const ObjectId& head, const NeedsChain* known) {
    return ReadNeedsChain(
        head, [&](const ObjectId& id) { return source_.Get(ObjectKind::kNeeds, id); }, known);
  }

  // The key slots the destination lacks (a passphrase added at the source
  // opens the copy too). Slots removed at the source stay: a copy that a
  // compromised source could lock is no offsite copy.
  Status CopyKeySlots() {
    COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> mine, source_.ListMeta(kKeySlotPrefix));
    COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> theirs, destination_.ListMeta(kKeySlotPrefix));
    std::set<std::string> present;
    for (const MetaRecord& r : OnlyKeySlots(std::move(theirs))) present.insert(r.key);
    for (const MetaRecord& r : OnlyKeySlots(std::move(mine))) {
      if (present.count(r.key)) continue;
      Status put = destination_.PutMeta(r.key, r.value);
      if (put.code() == Code::kPermissionDenied) {
        report_.warnings.push_back("key slot " + r.key + " not copied: " + put.message());
      } else if (!put.ok()) {
        return put;
      }
    }
    return Status::Ok();
  }

  // Copies one snapshot: false if it was skipped (a needed object missing
  // or damaged at the source).
  Result<bool> Copy(const StoredSnapshot& s, const NeedsChain& chain, const NeedsSet* known_there) {
    // Only what the set adds to one already complete at the destination.
    auto find_missing = [&]() -> Result<std::vector<NeededObject>> {
      COFFER_ASSIGN_OR_RETURN(MissingObjects found,
                              FindMissing(destination_, chain.set, known_there));
      report_.objects_present += found.checked - found.missing.size();
      return std::move(found.missing);
    };
    if (options_.dry_run) {
      COFFER_ASSIGN_OR_RETURN(std::vector<NeededObject> missing, find_missing());
      report_.objects_copied += missing.size();
      return true;
    }
    // Registered first: a gc at the destination keeps what this copy finds
    // or puts until the record is committed.
    COFFER_ASSIGN_OR_RETURN(WriteId writer, destination_.BeginWrite(std::nullopt));
    Result<bool> copied = [&]() -> Result<bool> {
      COFFER_ASSIGN_OR_RETURN(std::vector<NeededObject> missing, find_missing());
      for (ObjectKind kind : {ObjectKind::kChunk, ObjectKind::kTree}) {
        std::vector<ObjectId> ids;
        for (const NeededObject& o : missing) {
          if (o.kind == kind) ids.push_back(o.id);
        }
        COFFER_ASSIGN_OR_RETURN(std::optional<std::string> problem, CopyObjects(kind, ids));
        if (problem) {
          Skip(s, *problem);
          return false;
        }
        report_.objects_copied += ids.size();
      }
      // The lists last, newest first does not matter: none is visible
      // before the record names the newest.
      COFFER_ASSIGN_OR_RETURN(std::vector<bool> have,
                              destination_.Contains(ObjectKind::kNeeds, chain.ids));
      std::vector<ObjectId> lists;
      for (size_t i = 0; i < chain.ids.size(); ++i) {
        if (!have[i]) lists.push_back(chain.ids[i]);
      }
      COFFER_ASSIGN_OR_RETURN(std::optional<std::string> problem,
                              CopyObjects(ObjectKind::kNeeds, lists));
      if (problem) {
        Skip(s, *problem);
        return false;
      }
      report_.lists_copied += lists.size();
      COFFER_RETURN_IF_ERROR(destination_.CommitSnapshot(s.ref, s.sealed, writer, s.needs));
      return true;
    }();
    if (!copied.ok() || !*copied) (void)destination_.EndWrite(writer);
    return copied;
  }

  // One batch read from the source: each object as stored, or the first
  // reason one is missing or damaged there.
  struct FetchedBatch {
    std::vector<Bytes> objects;
    std::optional<std::string> problem;
    uint64_t bytes = 0;
  };

  // Reads `batch` with kParallelReads calls at once.
  Result<FetchedBatch> Fetch(ObjectKind kind, std::span<const ObjectId> batch) {
    FetchedBatch fetched;
    fetched.objects.resize(batch.size());
    const size_t part = (batch.size() + kParallelReads - 1) / kParallelReads;
    std::vector<std::future<Result<std::optional<std::string>>>> parts;
    for (size_t first = 0; first < batch.size(); first += part) {
      const size_t n = std::min(part, batch.size() - first);
      parts.push_back(std::async(
          std::launch::async,
          [this, kind, batch, first, n, &fetched]() -> Result<std::optional<std::string>> {
            std::optional<std::string> problem;
            COFFER_RETURN_IF_ERROR(source_.GetMany(
                kind, batch.subspan(first, n), [&](size_t i, Result<ByteView> sealed) {
                  if (problem) return;
                  if (!sealed.ok()) {
                    problem = std::string(KindName(kind)) + " " + batch[first + i].short_hex() +
                              " it needs is " +
                              (sealed.status().code() == Code::kNotFound ? "missing" : "damaged") +
                              " at the source";
                    return;
                  }
                  fetched.objects[first + i].assign(sealed->begin(), sealed->end());
                }));
            return problem;
          }));
    }
    Status failed;
    for (auto& p : parts) {
      Result<std::optional<std::string>> got = p.get();
      if (!got.ok()) {
        if (failed.ok()) failed = got.status();
      } else if (*got && !fetched.problem) {
        fetched.problem = std::move(*got);
      }
    }
    COFFER_RETURN_IF_ERROR(failed);
    for (const Bytes& o : fetched.objects) fetched.bytes += o.size();
    return fetched;
  }

  // Copies `ids` of `kind` as stored. A store error fails the sync; an
  // object missing or damaged at the source is returned as the problem.
  // The next batch is read from the source while this one is put at the
  // destination, so the two ends work at once.
  Result<std::optional<std::string>> CopyObjects(ObjectKind kind,
                                                 const std::vector<ObjectId>& ids) {
    size_t batch_size = kMinFetchBatch;
    auto batch_at = [&](size_t at) {
      return std::span<const ObjectId>(ids.data() + at, std::min(batch_size, ids.size() - at));
    };
    auto read = [this, kind](std::span<const ObjectId> batch) {
      return std::async(std::launch::async, [this, kind, batch] { return Fetch(kind, batch); });
    };
    std::span<const ObjectId> current = batch_at(0);
    std::future<Result<FetchedBatch>> pending;
    if (!current.empty()) pending = read(current);
    for (size_t at = 0; at < ids.size();) {
      Result<FetchedBatch> fetched = pending.get();
      COFFER_RETURN_IF_ERROR(fetched.status());
      if (fetched->problem) return fetched->problem;
      const uint64_t average = std::max<uint64_t>(1, fetched->bytes / current.size());
      batch_size = std::clamp<size_t>(kBatchBytes / average, kMinFetchBatch, kMaxFetchBatch);
      const size_t following = at + current.size();
      std::span<const ObjectId> upcoming;
      if (following < ids.size()) {
        upcoming = batch_at(following);
        pending = read(upcoming);
      }
      Status put_error;
      for (size_t i = 0; i < current.size() && put_error.ok(); ++i) {
        const Bytes& sealed = fetched->objects[i];
        put_error = destination_.Put(kind, current[i], sealed);
        CrashPoint("sync-object-copied");
        report_.bytes_copied += sealed.size();
        progress_.bytes_copied += sealed.size();
        throttle_.Sent(sealed.size());
      }
      if (!put_error.ok()) {
        if (pending.valid()) pending.wait();  // it reads through this object
        return put_error;
      }
      if (kind != ObjectKind::kNeeds) progress_.objects_copied += current.size();
      Report();
      at = following;
      current = upcoming;
    }
    return std::optional<std::string>();
  }

  Status DeleteMissing(const std::vector<StoredSnapshot>& wanted,
                       const std::vector<StoredSnapshot>& there) {
    std::set<std::pair<std::string, int64_t>> at_source;
    std::set<std::string> groups(options_.groups.begin(), options_.groups.end());
    for (const StoredSnapshot& s : wanted) at_source.insert({s.ref.group, s.ref.time_ns});
    // With --latest, the older snapshots of the source are not "missing".
    std::map<std::string, int64_t> oldest_wanted;
    if (options_.latest > 0) {
      for (const StoredSnapshot& s : wanted) {
        auto [it, added] = oldest_wanted.emplace(s.ref.group, s.ref.time_ns);
        if (!added) it->second = std::min(it->second, s.ref.time_ns);
      }
    }
    for (const StoredSnapshot& s : there) {
      if (!groups.empty() && !groups.count(s.ref.group)) continue;
      if (at_source.count({s.ref.group, s.ref.time_ns})) continue;
      if (options_.latest > 0) {
        auto oldest = oldest_wanted.find(s.ref.group);
        if (oldest != oldest_wanted.end() && s.ref.time_ns < oldest->second) continue;
      }
      if (s.is_protected) continue;
      if (!options_.dry_run) COFFER_RETURN_IF_ERROR(destination_.DeleteSnapshot(s.ref));
      ++report_.snapshots_deleted;
    }
    return Status::Ok();
  }

  void Skip(const StoredSnapshot& s, const std::string& why) {
    report_.skipped.push_back(NameOf(s.ref) + ": " + why);
  }
  void Done() {
    ++progress_.snapshots_done;
    Report();
  }
  void Report() {
    if (progress_fn_) progress_fn_(progress_);
  }

  ObjectStore& source_;
  ObjectStore& destination_;
  const SyncOptions& options_;
  const SyncProgressFn& progress_fn_;
  Throttle throttle_;
  SyncReport report_;
  SyncProgress progress_;
  const StoredSnapshot* pending_previous_ = nullptr;
};

}  // namespace

Status CheckReplica(ObjectStore& source, ObjectStore& destination) {
  COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> mine, source.GetMeta(kMetaConfig));
  if (!mine) return Status::FailedPrecondition("the source is not an initialized repository");
  COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> theirs, destination.GetMeta(kMetaConfig));
  if (!theirs) {
    return Status::NotFound("the destination is not a repository yet (--init makes it a copy)");
  }
  if (*mine != *theirs) {
    return Status::FailedPrecondition(
        "the destination is not a copy of this repository: their configs differ (another "
        "repository id, or other settings)");
  }
  return Status::Ok();
}

Status InitReplica(ObjectStore& source, ObjectStore& destination) {
  COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> config, source.GetMeta(kMetaConfig));
  if (!config) return Status::FailedPrecondition("the source is not an initialized repository");
  COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> existing, destination.GetMeta(kMetaConfig));
  if (existing) {
    return *existing == *config
               ? Status::Ok()
               : Status::AlreadyExists("the destination is another repository already");
  }
  COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> slots, source.ListMeta(kKeySlotPrefix));
  for (const MetaRecord& slot : OnlyKeySlots(std::move(slots))) {
    COFFER_RETURN_IF_ERROR(destination.PutMeta(slot.key, slot.value));
  }
  COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> mac, source.GetMeta(kMetaConfigMac));
  if (mac) COFFER_RETURN_IF_ERROR(destination.PutMeta(kMetaConfigMac, *mac));
  return destination.PutMeta(kMetaConfig, *config);
}

Result<SyncReport> Sync(ObjectStore& source, ObjectStore& destination, const SyncOptions& options,
                        const SyncProgressFn& progress) {
  return Syncer(source, destination, options, progress).Run();
}

}  // namespace coffer::sync
