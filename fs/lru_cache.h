// LruCache: a map bounded by the total cost of its values, evicting the least
// recently used entry first. Not thread-safe: callers hold their own lock.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <utility>

namespace coffer::fs {

template <typename K, typename V, typename Hash = std::hash<K>>
class LruCache {
 public:
  explicit LruCache(uint64_t capacity) : capacity_(capacity) {}

  // The value for `key`, marked most recently used; nullptr if absent.
  const V* Find(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->value;
  }

  // Whether `key` is present; does not count as a use.
  bool Contains(const K& key) const { return index_.count(key) > 0; }

  // Inserts or replaces. A value costing more than the capacity is kept
  // alone, so the most recent one is always there (a huge directory read
  // entry by entry must not be decoded again for every entry).
  void Insert(const K& key, V value, uint64_t cost) {
    Erase(key);
    order_.push_front(Item{key, std::move(value), cost});
    index_.emplace(key, order_.begin());
    used_ += cost;
    while (used_ > capacity_ && order_.size() > 1) Erase(order_.back().key);
  }

  void Erase(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    used_ -= it->second->cost;
    order_.erase(it->second);
    index_.erase(it);
  }

  uint64_t used() const { return used_; }
  size_t size() const { return index_.size(); }

 private:
  struct Item {
    K key;
    V value;
    uint64_t cost;
  };
  uint64_t capacity_;
  uint64_t used_ = 0;
  std::list<Item> order_;  // most recently used first
  std::unordered_map<K, typename std::list<Item>::iterator, Hash> index_;
};

}  // namespace coffer::fs
