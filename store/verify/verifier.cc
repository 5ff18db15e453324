#include "store/verify/verifier.h"

#include <algorithm>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <tuple>

#include "store/base/executor.h"
#include "store/model/tree.h"
#include "store/verify/id_table.h"

namespace coffer::verify {
namespace {

bool IsDamage(const Status& status) {
  return status.code() == Code::kCorruption || status.code() == Code::kNotFound;
}

struct OpenedTree {
  pb::Tree tree;
  uint64_t size = 0;  // plaintext bytes
};

// Opens a tree as a restore would, and re-hashes it against its id.
Result<OpenedTree> OpenTree(Repository& repo, const ObjectId& id) {
  COFFER_ASSIGN_OR_RETURN(Bytes plain,
                          repo.ReadObject(ObjectKind::kTree, id, crypto::IdCheck::kAlways));
  OpenedTree out;
  out.size = plain.size();
  COFFER_RETURN_IF_ERROR(model::Decode(plain, &out.tree, "tree " + id.short_hex()));
  return out;
}

std::string ChildPath(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// What a subtree holds, counted per reference, for the snapshot verdicts.
struct TreeTotals {
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

// Pass 1: check every object once. The calling thread walks the trees (a few
// subtrees read ahead on a small pool, since each read is a round trip to the
// server); chunks go in batches to the checkers.
class CheckRun {
 public:
  CheckRun(Repository& repo, const VerifyOptions& options, uint64_t seed, VerifyProgress& progress)
      : repo_(repo),
        options_(options),
        seed_(seed),
        progress_(progress),
        checkers_(Threads(options), 2 * Threads(options)),
        tree_readers_(kTreeReaders, 4 * kTreeReaders) {}

  // The totals of the snapshot rooted at `root`.
  Result<TreeTotals> CheckSnapshot(const ObjectId& root) { return Visit(root, nullptr); }

  // Waits for the checkers; the run's damage, or the error that ended it.
  Status Finish(VerifyResult& result) {
    Flush();
    checkers_.WaitIdle();
    tree_readers_.WaitIdle();
    std::lock_guard lock(mutex_);
    if (!fatal_.ok()) return fatal_;
    result.trees_checked = trees_checked_;
    result.chunks_checked = chunks_checked_;
    result.bytes_checked = bytes_checked_;
    result.damaged = std::move(damaged_);
    return Status::Ok();
  }

 private:
  static constexpr unsigned kTreeReaders = 2;
  static constexpr size_t kReadAhead = 8;     // subtrees read ahead per directory
  static constexpr size_t kBatchChunks = 64;  // chunks handed to a checker at once
  static constexpr uint64_t kBatchBytes = 8u << 20;

  struct PendingChunk {
    ObjectId id;
    uint64_t size;  // what the tree says its plaintext length is
  };
  using TreeFuture = std::future<Result<OpenedTree>>;

  static unsigned Threads(const VerifyOptions& options) {
    // Each check waits for the server before it decrypts, so two per core
    // keep the cores busy.
    return options.threads ? options.threads : 2 * Executor::DefaultThreads();
  }

  Result<TreeTotals> Visit(const ObjectId& id, TreeFuture* read_ahead);
  void CollectEntries(const ObjectId& tree_id, const pb::Tree& tree, TreeTotals& totals,
                      std::vector<ObjectId>& subtrees);
  void Queue(const ObjectId& id, uint64_t size);
  void Flush();
  void CheckBatch(const std::vector<PendingChunk>& batch);
  void CheckChunk(const PendingChunk& chunk, Result<Bytes> plain);

  void AddDamage(ObjectKind kind, const ObjectId& id, const Status& status) {
    std::lock_guard lock(mutex_);
    damaged_.push_back({kind, id, status, {}, 0});
    ++progress_.damaged;
  }
  void SetFatal(const Status& status) {
    std::lock_guard lock(mutex_);
    if (fatal_.ok()) fatal_ = status;
    failed_ = true;
  }
  Status Fatal() {
    std::lock_guard lock(mutex_);
    return fatal_;
  }
  void Checked(uint64_t bytes) {
    ++progress_.objects;
    progress_.bytes += bytes;
  }

  Repository& repo_;
  const VerifyOptions& options_;
  const uint64_t seed_;
  VerifyProgress& progress_;

  // Owned by the walking thread.
  IdSet chunks_seen_;
  IdTable<TreeTotals> trees_seen_;
  std::shared_ptr<std::vector<PendingChunk>> batch_;
  uint64_t batch_bytes_ = 0;

  std::mutex mutex_;
  std::vector<DamagedObject> damaged_;
  Status fatal_;
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> trees_checked_{0}, chunks_checked_{0}, bytes_checked_{0};

  // Declared last: destroyed (drained and joined) first, while what their
  // tasks touch is still alive.
  Executor checkers_;
  Executor tree_readers_;
};

Result<TreeTotals> CheckRun::Visit(const ObjectId& id, TreeFuture* read_ahead) {
  if (const TreeTotals* known = trees_seen_.Get(id)) return *known;
  if (failed_) return Fatal();
  Result<OpenedTree> opened = read_ahead ? read_ahead->get() : OpenTree(repo_, id);
  ++trees_checked_;
  TreeTotals totals{1, 0};
  if (!opened.ok()) {
    if (!IsDamage(opened.status())) return opened.status();
    AddDamage(ObjectKind::kTree, id, opened.status());
    trees_seen_.Insert(id, totals);
    Checked(0);
    return totals;
  }
  totals.bytes = opened->size;
  bytes_checked_ += opened->size;
  Checked(opened->size);

  std::vector<ObjectId> subtrees;
  CollectEntries(id, opened->tree, totals, subtrees);
  opened->tree.Clear();  // only the subtree ids are needed below

  std::vector<TreeFuture> ahead(subtrees.size());
  size_t launched = 0;
  for (size_t i = 0; i < subtrees.size(); ++i) {
    for (; launched < subtrees.size() && launched < i + kReadAhead; ++launched) {
      const ObjectId& sub = subtrees[launched];
      if (trees_seen_.Contains(sub)) continue;
      Repository* repo = &repo_;
      ahead[launched] = tree_readers_.Async([repo, sub] { return OpenTree(*repo, sub); });
    }
    COFFER_ASSIGN_OR_RETURN(TreeTotals child,
                            Visit(subtrees[i], ahead[i].valid() ? &ahead[i] : nullptr));
    totals.objects += child.objects;
    totals.bytes += child.bytes;
  }
  trees_seen_.Insert(id, totals);
  return totals;
}

void CheckRun::CollectEntries(const ObjectId& tree_id, const pb::Tree& tree, TreeTotals& totals,
                              std::vector<ObjectId>& subtrees) {
  // A split tree's parts and a large file's extent parts are trees to visit
  // like subdirectories (model/tree_split.h).
  auto follow = [&](const std::string& id, const char* what) {
    if (auto sub = ObjectId::FromBytes(AsBytes(id))) {
      subtrees.push_back(*sub);
    } else {
      AddDamage(ObjectKind::kTree, tree_id,
                Status::Corruption("tree " + tree_id.short_hex() + " has " + what +
                                   " with a malformed tree id"));
    }
  };
  for (const pb::TreePart& part : tree.parts()) follow(part.tree_id(), "a part");
  for (const pb::Entry& entry : tree.entries()) {
    if (entry.type() == pb::Entry::DIRECTORY) {
      follow(entry.subtree_id(), "a directory");
      continue;
    }
    if (entry.type() != pb::Entry::FILE) continue;
    for (const pb::ExtentPart& part : entry.extent_parts()) follow(part.tree_id(), "a file part");
    for (const pb::Extent& extent : entry.extents()) {
      if (extent.chunk_id().empty()) continue;  // a hole
      auto chunk = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
      if (!chunk) {
        AddDamage(ObjectKind::kTree, tree_id,
                  Status::Corruption("tree " + tree_id.short_hex() +
                                     " has a file with a malformed chunk id"));
        continue;
      }
      if (!SampleTakes(*chunk, options_.sample_percent, seed_)) continue;
      ++totals.objects;
      totals.bytes += extent.size();
      if (chunks_seen_.Insert(*chunk)) Queue(*chunk, extent.size());
    }
  }
}

void CheckRun::Queue(const ObjectId& id, uint64_t size) {
  if (!batch_) batch_ = std::make_shared<std::vector<PendingChunk>>();
  batch_->push_back({id, size});
  batch_bytes_ += size;
  if (batch_->size() >= kBatchChunks || batch_bytes_ >= kBatchBytes) Flush();
}

void CheckRun::Flush() {
  if (!batch_) return;
  std::shared_ptr<std::vector<PendingChunk>> batch = std::move(batch_);
  batch_.reset();
  batch_bytes_ = 0;
  checkers_.Submit([this, batch] { CheckBatch(*batch); });
}

// One fetch for the whole batch: through a server, one round trip rather
// than one per chunk.
void CheckRun::CheckBatch(const std::vector<PendingChunk>& batch) {
  if (failed_) return;
  std::vector<ObjectId> ids;
  ids.reserve(batch.size());
  for (const PendingChunk& chunk : batch) ids.push_back(chunk.id);
  Status read = repo_.ReadObjects(
      ObjectKind::kChunk, ids, crypto::IdCheck::kAlways,
      [&](size_t i, Result<Bytes> plain) { CheckChunk(batch[i], std::move(plain)); });
  if (!read.ok()) SetFatal(read);
}

void CheckRun::CheckChunk(const PendingChunk& chunk, Result<Bytes> plain) {
  ++chunks_checked_;
  if (!plain.ok()) {
    if (IsDamage(plain.status())) {
      AddDamage(ObjectKind::kChunk, chunk.id, plain.status());
      Checked(0);
    } else {
      SetFatal(plain.status());
    }
    return;
  }
  if (plain->size() != chunk.size) {
    // The id matches, so the chunk is what was stored; the tree that names
    // it with another length cannot be restored from it.
    AddDamage(ObjectKind::kChunk, chunk.id,
              Status::Corruption("chunk " + chunk.id.short_hex() + " is " +
                                 std::to_string(plain->size()) + " bytes, its file says " +
                                 std::to_string(chunk.size)));
  }
  bytes_checked_ += plain->size();
  Checked(plain->size());
}

// Pass 2, only when something is damaged: walks the snapshots again and names
// every path that uses a damaged object. A subtree found clean is skipped from
// then on, so shared clean subtrees are read once.
class Locator {
 public:
  Locator(Repository& repo, std::vector<DamagedObject>& damaged) : repo_(repo), damaged_(damaged) {
    for (size_t i = 0; i < damaged_.size(); ++i) {
      index_.emplace(Key(damaged_[i].kind, damaged_[i].id), i);
    }
  }

  // The number of distinct damaged objects `snapshot` uses.
  Result<uint64_t> Locate(const Snapshot& snapshot) {
    auto root = ObjectId::FromBytes(AsBytes(snapshot.record.root_tree_id()));
    if (!root) {
      return Status::Corruption("snapshot " + snapshot.name() + " has a malformed root tree id");
    }
    found_.clear();
    snapshot_name_ = snapshot.name();
    COFFER_RETURN_IF_ERROR(Walk(*root, "/").status());
    return found_.size();
  }

 private:
  // Whether anything below `id` (the tree, or a part of the tree, of `dir`)
  // is damaged. Walks the trees as stored, so a damaged part is found too.
  Result<bool> Walk(const ObjectId& id, const std::string& dir) {
    if (auto it = index_.find(Key(ObjectKind::kTree, id)); it != index_.end()) {
      AddUse(it->second, dir);
      return true;
    }
    if (clean_.Contains(id)) return false;
    // Pass 1 checked this tree, and it was not damaged then.
    COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo_.ReadTreeObject(id));
    bool found = false;
    for (const pb::TreePart& part : tree.parts()) {
      auto part_id = ObjectId::FromBytes(AsBytes(part.tree_id()));
      if (!part_id) continue;  // reported as damage to this tree in pass 1
      COFFER_ASSIGN_OR_RETURN(bool below, Walk(*part_id, dir));
      found = found || below;
    }
    for (const pb::Entry& entry : tree.entries()) {
      std::string path = ChildPath(dir, entry.name());
      if (entry.type() == pb::Entry::DIRECTORY) {
        auto sub = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
        if (!sub) continue;  // reported as damage to this tree in pass 1
        COFFER_ASSIGN_OR_RETURN(bool below, Walk(*sub, path));
        found = found || below;
        continue;
      }
      if (entry.type() != pb::Entry::FILE) continue;
      std::set<size_t> in_file;  // a chunk used twice by one file names it once
      COFFER_ASSIGN_OR_RETURN(bool damaged, WalkFile(entry, path, in_file));
      found = found || damaged;
    }
    if (!found) clean_.Insert(id);
    return found;
  }

  // Whether the file `entry` at `path` uses a damaged chunk or extent part.
  Result<bool> WalkFile(const pb::Entry& entry, const std::string& path,
                        std::set<size_t>& in_file) {
    bool found = false;
    for (const pb::Extent& extent : entry.extents()) {
      auto chunk = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
      if (!chunk) continue;
      auto it = index_.find(Key(ObjectKind::kChunk, *chunk));
      if (it == index_.end()) continue;
      if (in_file.insert(it->second).second) AddUse(it->second, path);
      found = true;
    }
    for (const pb::ExtentPart& part : entry.extent_parts()) {
      auto part_id = ObjectId::FromBytes(AsBytes(part.tree_id()));
      if (!part_id) continue;  // reported as damage to this tree in pass 1
      if (auto it = index_.find(Key(ObjectKind::kTree, *part_id)); it != index_.end()) {
        if (in_file.insert(it->second).second) AddUse(it->second, path);
        found = true;
        continue;
      }
      COFFER_ASSIGN_OR_RETURN(pb::Tree holder, repo_.ReadTreeObject(*part_id));
      for (const pb::Entry& piece : holder.entries()) {
        COFFER_ASSIGN_OR_RETURN(bool damaged, WalkFile(piece, path, in_file));
        found = found || damaged;
      }
    }
    return found;
  }

  void AddUse(size_t index, const std::string& path) {
    found_.insert(index);
    DamagedObject& object = damaged_[index];
    if (object.uses.size() < DamagedObject::kMaxUses) {
      object.uses.push_back({snapshot_name_, path});
    } else {
      ++object.more_uses;
    }
  }

  Repository& repo_;
  std::vector<DamagedObject>& damaged_;
  using Key = std::pair<ObjectKind, ObjectId>;
  std::map<Key, size_t> index_;  // into damaged_
  IdSet clean_;
  std::set<size_t> found_;
  std::string snapshot_name_;
};

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer: a bijection that scatters bits
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

bool SampleTakes(const ObjectId& id, double percent, uint64_t seed) {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  uint64_t word;
  std::memcpy(&word, id.bytes.data() + 16, sizeof word);
  double threshold = percent / 100 * 18446744073709551616.0;  // 2^64
  if (threshold >= 18446744073709551615.0) return true;
  return Mix(word ^ Mix(seed)) < static_cast<uint64_t>(threshold);
}

bool DueForVerification(const Snapshot& snapshot, int64_t now_ns, int64_t max_age_ns) {
  if (!snapshot.note.has_last_verify()) return true;
  return snapshot.note.last_verify().time_ns() < now_ns - max_age_ns;
}

Status RecordVerifications(Repository& repo, const VerifyResult& result, int64_t now_ns) {
  for (const SnapshotVerdict& verdict : result.snapshots) {
    pb::VerifyRecord record;
    record.set_time_ns(now_ns);
    record.set_ok(verdict.ok());
    record.set_objects_checked(verdict.objects_checked);
    record.set_bytes_checked(verdict.bytes_checked);
    record.set_damaged_objects(verdict.damaged_objects);
    record.set_sampled(result.sampled);
    COFFER_RETURN_IF_ERROR(repo.RecordVerification(verdict.snapshot, record));
  }
  return Status::Ok();
}

Verifier::Verifier(Repository& repo, VerifyOptions options, VerifyProgress* progress)
    : repo_(repo), options_(options), progress_(progress ? progress : &own_progress_) {}

Result<VerifyResult> Verifier::Verify(const std::vector<Snapshot>& snapshots) {
  if (!(options_.sample_percent >= 0 && options_.sample_percent <= 100)) {
    return Status::InvalidArgument("the sample must be between 0 and 100 percent");
  }
  VerifyResult result;
  result.sampled = options_.sample_percent < 100;
  result.seed = options_.seed;
  while (result.seed == 0) {
    std::random_device random;
    result.seed = (uint64_t{random()} << 32) | random();
  }
  std::set<SnapshotRef> seen;
  for (const Snapshot& snapshot : snapshots) {
    if (!seen.insert(snapshot.ref).second) continue;
    if (snapshot.damaged()) {
      result.damaged_records.push_back(snapshot);
    } else {
      result.snapshots.push_back({snapshot, 0, 0, 0});
    }
  }

  {
    CheckRun run(repo_, options_, result.seed, *progress_);
    for (SnapshotVerdict& verdict : result.snapshots) {
      auto root = ObjectId::FromBytes(AsBytes(verdict.snapshot.record.root_tree_id()));
      if (!root) {
        return Status::Corruption("snapshot " + verdict.snapshot.name() +
                                  " has a malformed root tree id");
      }
      Result<TreeTotals> totals = run.CheckSnapshot(*root);
      if (!totals.ok()) {
        (void)run.Finish(result);  // let the checkers stop before the error is returned
        return totals.status();
      }
      verdict.objects_checked = totals->objects;
      verdict.bytes_checked = totals->bytes;
    }
    COFFER_RETURN_IF_ERROR(run.Finish(result));
  }
  if (result.damaged.empty()) return result;

  // One entry per object (a tree can be reported twice: unreadable entries), in order.
  std::sort(result.damaged.begin(), result.damaged.end(), [](const auto& a, const auto& b) {
    return std::tie(a.kind, a.id) < std::tie(b.kind, b.id);
  });
  result.damaged.erase(
      std::unique(result.damaged.begin(), result.damaged.end(),
                  [](const auto& a, const auto& b) { return a.kind == b.kind && a.id == b.id; }),
      result.damaged.end());
  progress_->locating = true;
  Locator locator(repo_, result.damaged);
  for (SnapshotVerdict& verdict : result.snapshots) {
    COFFER_ASSIGN_OR_RETURN(verdict.damaged_objects, locator.Locate(verdict.snapshot));
  }
  return result;
}

}  // namespace coffer::verify
