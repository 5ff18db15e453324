#include "fs/chunk_cache.h"

namespace coffer::fs {

Result<ChunkPtr> ChunkCache::Get(const ObjectId& id, const Loader& load) {
  std::promise<Result<ChunkPtr>> promise;
  {
    std::unique_lock lock(mu_);
    if (const ChunkPtr* hit = lru_.Find(id)) return *hit;
    auto it = loading_.find(id);
    if (it != loading_.end()) {
      Pending pending = it->second;
      lock.unlock();
      return pending.get();
    }
    loading_.emplace(id, promise.get_future().share());
    ++loads_;
  }
  Result<ChunkPtr> result = Status::IoError("chunk loader threw");
  try {
    Result<Bytes> loaded = load(id);
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
    if (result.ok()) lru_.Insert(id, *result, (*result)->size() + 64);
    loading_.erase(id);
  }
  promise.set_value(result);
  return result;
}

uint64_t ChunkCache::loads() const {
  std::lock_guard lock(mu_);
  return loads_;
}

uint64_t ChunkCache::used_bytes() const {
  std::lock_guard lock(mu_);
  return lru_.used();
}

}  // namespace coffer::fs
