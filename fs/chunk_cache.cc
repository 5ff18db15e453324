#include "fs/chunk_cache.h"

#include <algorithm>

namespace coffer::fs {

namespace {

// What a cached chunk costs beyond its bytes: the vector, the shared_ptr's
// control block, the LRU's list and index nodes, glibc's headers.
constexpr uint64_t kChunkOverhead = 160;

Result<ChunkPtr> Shared(Result<Bytes> loaded) {
  if (!loaded.ok()) return loaded.status();
  return ChunkPtr(std::make_shared<const Bytes>(std::move(loaded).value()));
}

}  // namespace

ChunkCache::ChunkCache(uint64_t capacity_bytes, Loader load, unsigned loaders,
                       BatchLoader load_many)
    : load_(std::move(load)),
      load_many_(std::move(load_many)),
      loader_count_(std::max(1u, loaders)),
      lru_(capacity_bytes) {
  for (unsigned i = 0; i < loader_count_; ++i) loaders_.emplace_back([this] { Work(); });
}

ChunkCache::~ChunkCache() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& t : loaders_) t.join();
  for (auto& [id, job] : loading_) {
    if (!job->started) job->promise.set_value(Status::IoError("the mount is shutting down"));
  }
}

Result<ChunkPtr> ChunkCache::Get(const ObjectId& id) {
  Pending result;
  {
    std::lock_guard lock(mu_);
    if (const ChunkPtr* hit = lru_.Find(id)) return *hit;
    if (stopping_) return Status::IoError("the mount is shutting down");
    auto it = loading_.find(id);
    if (it == loading_.end()) {
      auto job = std::make_shared<Load>();
      job->result = job->promise.get_future().share();
      it = loading_.emplace(id, std::move(job)).first;
      ++loads_;
    }
    Load& job = *it->second;
    if (!job.started && !job.wanted) {  // new, or queued as readahead: a reader waits now
      job.wanted = true;
      wanted_.push_back(id);
      work_.notify_one();
    }
    result = job.result;
  }
  return result.get();
}

ChunkCache::Prefetched ChunkCache::Prefetch(const ObjectId& id, uint64_t bytes) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || lru_.Contains(id) || loading_.count(id)) return Prefetched::kHeld;
    if (ahead_bytes_ >= kMaxQueuedAheadBytes) return Prefetched::kQueueFull;
    auto job = std::make_shared<Load>();
    job->result = job->promise.get_future().share();
    loading_.emplace(id, std::move(job));
    ++loads_;
    ahead_.push_back({id, bytes});
    ahead_bytes_ += bytes;
  }
  work_.notify_one();
  return Prefetched::kQueued;
}

bool ChunkCache::Has(const ObjectId& id) const {
  std::lock_guard lock(mu_);
  return lru_.Contains(id) || loading_.count(id) > 0;
}

void ChunkCache::Work() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !wanted_.empty() || !ahead_.empty(); });
    if (stopping_) return;
    std::vector<Job> jobs = TakeLocked();
    if (jobs.empty()) continue;
    ++running_;
    max_running_ = std::max(max_running_, running_);
    lock.unlock();
    if (jobs.size() == 1) {
      Run(jobs.front());
    } else {
      RunMany(jobs);
    }
    lock.lock();
    --running_;
    if (loading_.empty()) idle_.notify_all();
  }
}

std::vector<ChunkCache::Job> ChunkCache::TakeLocked() {
  std::vector<Job> jobs;
  // Starts the load of `id` unless it started already (queued twice:
  // readahead, then wanted; the first turn loaded it).
  auto start = [&](const ObjectId& id) {
    auto it = loading_.find(id);
    if (it == loading_.end() || it->second->started) return false;
    it->second->started = true;
    jobs.emplace_back(id, it->second);
    return true;
  };
  // One chunk a reader waits for; other waiting readers go to other loaders.
  while (!wanted_.empty() && jobs.empty()) {
    ObjectId id = wanted_.front();
    wanted_.pop_front();
    start(id);
  }
  // Readahead from the front of its queue, up to `budget` bytes (at least
  // one chunk) and kMaxAheadBatch chunks in all.
  auto take_ahead = [&](uint64_t budget) {
    uint64_t taken = 0;
    const size_t limit = load_many_ ? kMaxAheadBatch : 1;
    while (!ahead_.empty() && jobs.size() < limit) {
      const Ahead next = ahead_.front();
      if (taken > 0 && taken + next.bytes > budget) break;
      ahead_.pop_front();
      ahead_bytes_ -= next.bytes;
      if (start(next.id)) taken += next.bytes;
    }
  };
  if (!load_many_) {
    if (jobs.empty()) take_ahead(0);
  } else if (!jobs.empty()) {
    // The readahead queued first rides along in the same round trip.
    take_ahead(kMaxAheadBatchBytes);
  } else {
    // Readahead alone is shared among the loaders, so a batch never keeps
    // the others idle (they open chunks in parallel).
    take_ahead(std::min(kMaxAheadBatchBytes, ahead_bytes_ / loader_count_));
  }
  return jobs;
}

void ChunkCache::Run(const Job& job) {
  Result<ChunkPtr> result = Status::IoError("chunk loader threw");
  try {
    result = Shared(load_(job.first));
  } catch (const std::exception& e) {
    result =
        Status::IoError(std::string("reading chunk ") + job.first.short_hex() + ": " + e.what());
  }
  Publish(job, std::move(result));
}

void ChunkCache::RunMany(const std::vector<Job>& jobs) {
  std::vector<ObjectId> ids;
  ids.reserve(jobs.size());
  for (const Job& job : jobs) ids.push_back(job.first);
  size_t answered = 0;
  auto use = [&](size_t index, Result<Bytes> chunk) {
    // In order, once each: anything else is the loader's bug, not a chunk.
    if (index != answered || answered == jobs.size()) return;
    Publish(jobs[answered++], Shared(std::move(chunk)));
  };
  Status status = Status::IoError("chunk loader threw");
  try {
    status = load_many_(ids, use);
  } catch (const std::exception& e) {
    status = Status::IoError(std::string("reading chunks: ") + e.what());
  }
  if (status.ok() && answered != jobs.size()) {
    status = Status::IoError("reading chunks: the loader answered " + std::to_string(answered) +
                             " of " + std::to_string(jobs.size()));
  }
  while (answered < jobs.size()) Publish(jobs[answered++], status);
}

void ChunkCache::Publish(const Job& job, Result<ChunkPtr> result) {
  {
    std::lock_guard lock(mu_);
    if (result.ok()) lru_.Insert(job.first, *result, (*result)->capacity() + kChunkOverhead);
    loading_.erase(job.first);
  }
  job.second->promise.set_value(std::move(result));
}

void ChunkCache::WaitIdle() const {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return loading_.empty(); });
}

uint64_t ChunkCache::loads() const {
  std::lock_guard lock(mu_);
  return loads_;
}

uint64_t ChunkCache::used_bytes() const {
  std::lock_guard lock(mu_);
  return lru_.used();
}

unsigned ChunkCache::max_parallel_loads() const {
  std::lock_guard lock(mu_);
  return max_running_;
}

}  // namespace coffer::fs
