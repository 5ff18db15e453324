#include "fs/chunk_cache.h"

#include <algorithm>

namespace coffer::fs {

namespace {

// What a cached chunk costs beyond its bytes: the vector, the shared_ptr's
// control block, the LRU's list and index nodes, glibc's headers.
constexpr uint64_t kChunkOverhead = 160;
// Readahead waiting beyond this many chunks is dropped: it would arrive late.
constexpr size_t kMaxQueuedAhead = 16;

}  // namespace

ChunkCache::ChunkCache(uint64_t capacity_bytes, Loader load, unsigned loaders)
    : load_(std::move(load)), lru_(capacity_bytes) {
  for (unsigned i = 0; i < std::max(1u, loaders); ++i) loaders_.emplace_back([this] { Work(); });
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

bool ChunkCache::Prefetch(const ObjectId& id) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || lru_.Contains(id) || loading_.count(id) || ahead_.size() >= kMaxQueuedAhead) {
      return false;
    }
    auto job = std::make_shared<Load>();
    job->result = job->promise.get_future().share();
    loading_.emplace(id, std::move(job));
    ++loads_;
    ahead_.push_back(id);
  }
  work_.notify_one();
  return true;
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
    std::deque<ObjectId>& queue = wanted_.empty() ? ahead_ : wanted_;
    ObjectId id = queue.front();
    queue.pop_front();
    auto it = loading_.find(id);
    // Queued twice (readahead, then wanted): the first turn loaded it.
    if (it == loading_.end() || it->second->started) continue;
    std::shared_ptr<Load> job = it->second;
    job->started = true;
    ++running_;
    max_running_ = std::max(max_running_, running_);
    lock.unlock();
    Run(id, job);
    lock.lock();
    --running_;
    if (loading_.empty()) idle_.notify_all();
  }
}

void ChunkCache::Run(const ObjectId& id, const std::shared_ptr<Load>& job) {
  Result<ChunkPtr> result = Status::IoError("chunk loader threw");
  try {
    Result<Bytes> loaded = load_(id);
    if (loaded.ok()) {
      result = ChunkPtr(std::make_shared<const Bytes>(std::move(loaded).value()));
    } else {
      result = loaded.status();
    }
  } catch (const std::exception& e) {
    result = Status::IoError(std::string("reading chunk ") + id.short_hex() + ": " + e.what());
  }
  {
    std::lock_guard lock(mu_);
    if (result.ok()) lru_.Insert(id, *result, (*result)->capacity() + kChunkOverhead);
    loading_.erase(id);
  }
  job->promise.set_value(std::move(result));
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
