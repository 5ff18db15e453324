#include "store/objects/gc_coordinator.h"

#include <algorithm>
#include <bit>
#include <new>
#include <random>

namespace coffer {
namespace {

// Random, so a writer registered with an earlier server process is unknown
// to a later one rather than mistaken for one of its writers.
uint64_t RandomNonZero() {
  static std::mutex mu;
  static std::mt19937_64 engine{std::random_device{}()};
  std::lock_guard lock(mu);
  uint64_t v = 0;
  while (v == 0) v = engine();
  return v;
}

}  // namespace

GcCoordinator::GcCoordinator() = default;

Result<WriteId> GcCoordinator::BeginWrite(
    const std::function<Result<std::optional<StoredSnapshot>>()>& find_parent) {
  std::lock_guard lock(mu_);
  COFFER_ASSIGN_OR_RETURN(std::optional<StoredSnapshot> parent, find_parent());
  WriteId id = RandomNonZero();
  writers_[id] = Writer{std::move(parent), Clock::now()};
  return id;
}

void GcCoordinator::EndWrite(WriteId writer) {
  std::lock_guard lock(mu_);
  writers_.erase(writer);
  MaybeClearLocked();
}

void GcCoordinator::Refresh(std::span<const WriteId> writers) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  for (WriteId id : writers) {
    auto it = writers_.find(id);
    if (it != writers_.end()) it->second.refreshed = now;
  }
}

Status GcCoordinator::Commit(WriteId writer, const std::function<Status()>& write_record) {
  std::lock_guard lock(mu_);
  DropLapsedWritersLocked();
  if (writer != kNoWriter && !writers_.count(writer)) {
    // Registered with another server process (this one restarted, and may
    // have lost objects the writer was told were stored: they are durable
    // only at a commit) or lapsed: nothing vouches for its objects.
    return Status::Aborted(
        "this backup's registration with the repository server was lost (the server restarted, "
        "or the backup stalled for more than 10 minutes): nothing was committed; run the "
        "backup again");
  }
  // A commit without registration (kNoWriter) had its objects unprotected;
  // that is harmless only if no collection has swept or is running.
  if (writer != kNoWriter || (sweeps_completed_ == 0 && gc_id_ == 0)) {
    COFFER_RETURN_IF_ERROR(write_record());
    writers_.erase(writer);
    MaybeClearLocked();
    return Status::Ok();
  }
  return Status::Aborted(
      "a garbage collection ran while this backup was not registered with the repository "
      "(it stalled, or the server restarted): nothing was committed; run the backup again");
}

void GcCoordinator::NoteTouched(std::span<const ObjectId> ids) {
  std::lock_guard lock(mu_);
  if (!Tracking()) return;
  for (const ObjectId& id : ids) touched_.insert(id.prefix64());
}

void GcCoordinator::NoteTouched(const ObjectId& id) {
  NoteTouched(std::span(&id, 1));
}

Result<GcStart> GcCoordinator::BeginGc(
    const std::function<Result<std::vector<StoredSnapshot>>()>& list_snapshots) {
  std::lock_guard lock(mu_);
  if (gc_id_ != 0 && Clock::now() - gc_last_call_ < kGcAbandoned) {
    return Status::Busy("another garbage collection is running");
  }
  DropLapsedWritersLocked();
  COFFER_ASSIGN_OR_RETURN(std::vector<StoredSnapshot> snapshots, list_snapshots());
  GcStart start;
  start.gc_id = RandomNonZero();
  start.roots = std::move(snapshots);
  for (const auto& entry : writers_) {
    const auto& writer = entry.second;  // clang 14 cannot capture a structured binding
    if (!writer.pinned_parent) continue;
    bool listed = std::any_of(start.roots.begin(), start.roots.end(), [&](const StoredSnapshot& s) {
      return s.ref == writer.pinned_parent->ref;
    });
    if (!listed) start.roots.push_back(*writer.pinned_parent);
  }
  gc_id_ = start.gc_id;
  gc_last_call_ = Clock::now();
  marks_.Clear();
  return start;
}

// Below this many marks, repeats cost less than sorting them away.
constexpr size_t kDedupeFrom = 1 << 20;

Status GcCoordinator::AddMarks(uint64_t gc_id, std::span<const uint64_t> prefixes) {
  std::lock_guard lock(mu_);
  if (gc_id == 0 || gc_id != gc_id_) {
    return Status::FailedPrecondition("this garbage collection is no longer running");
  }
  gc_last_call_ = Clock::now();
  const size_t before = marks_.size();
  try {
    marks_.Append(prefixes);
  } catch (const std::bad_alloc&) {
    return Status::IoError("out of memory for the marks of this garbage collection");
  }
  // Objects reached from many snapshots arrive many times: drop the repeats
  // whenever the set has doubled since the last time.
  if (marks_.size() >= kDedupeFrom && std::bit_floor(marks_.size()) > std::bit_floor(before)) {
    marks_.SortUnique();
  }
  return Status::Ok();
}

bool GcCoordinator::Sweep::IsMarked(const ObjectId& id) const {
  return marks.Contains(id.prefix64());
}

Result<GcCoordinator::Sweep> GcCoordinator::StartSweep(uint64_t gc_id) {
  std::lock_guard lock(mu_);
  if (gc_id == 0 || gc_id != gc_id_) {
    return Status::FailedPrecondition("this garbage collection is no longer running");
  }
  gc_last_call_ = Clock::now();
  Sweep sweep;
  sweep.marks = std::move(marks_);
  sweep.marks.SortUnique();
  return sweep;
}

bool GcCoordinator::IsTouched(const ObjectId& id) {
  std::lock_guard lock(mu_);
  gc_last_call_ = Clock::now();
  return touched_.count(id.prefix64()) != 0;
}

void GcCoordinator::EndGc(uint64_t gc_id, bool swept) {
  std::lock_guard lock(mu_);
  if (gc_id != gc_id_) return;
  gc_id_ = 0;
  marks_.Clear();
  if (swept) ++sweeps_completed_;
  MaybeClearLocked();
}

bool GcCoordinator::HasWritersOrCollection() {
  std::lock_guard lock(mu_);
  DropLapsedWritersLocked();
  return !writers_.empty() || (gc_id_ != 0 && Clock::now() - gc_last_call_ < kGcAbandoned);
}

void GcCoordinator::DropLapsedWritersLocked() {
  const auto now = Clock::now();
  std::erase_if(writers_,
                [&](const auto& entry) { return now - entry.second.refreshed > kWriterLapse; });
  MaybeClearLocked();
}

void GcCoordinator::MaybeClearLocked() {
  if (!Tracking()) touched_ = {};
}

}  // namespace coffer
