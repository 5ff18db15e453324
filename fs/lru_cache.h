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

  // Inserts or replaces; a value costing more than the capacity is not kept.
  void Insert(const K& key, V value, uint64_t cost) {
    Erase(key);
    if (cost > capacity_) return;
    order_.push_front(Item{key, std::move(value), cost});
    index_.emplace(key, order_.begin());
    used_ += cost;
    while (used_ > capacity_) Erase(order_.back().key);
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
