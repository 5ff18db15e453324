#include "fs/inode_table.h"

namespace coffer::fs {

namespace {

// What one heap block costs beyond its size (glibc's header and rounding).
constexpr uint64_t kMallocOverhead = 16;

uint64_t HeapBytes(const std::string& s) {
  // Short strings live inside the object (libstdc++ keeps up to 15 bytes there).
  return s.capacity() > 15 ? s.capacity() + 1 + kMallocOverhead : 0;
}

}  // namespace

InodeTable::InodeTable() {
  auto root = std::make_shared<Node>();
  root->kind = Node::Kind::kRoot;
  root->parent = kRootIno;
  Slot& slot = slots_[kRootIno];
  slot.node = std::move(root);
  slot.lookups = 1;
  slot.pinned = true;
  by_key_[slot.key] = kRootIno;
}

uint64_t InodeTable::CostOf(const Slot& slot) {
  // The node (with make_shared's control block), the slot's hash node and
  // bucket, the key index's node and bucket, the key and the name on the heap,
  // and the eviction queue's word.
  return sizeof(Node) + 16 + kMallocOverhead + HeapBytes(slot.node->name) +
         sizeof(std::pair<const uint64_t, Slot>) + 8 + kMallocOverhead + 8 +
         sizeof(std::pair<const std::string_view, uint64_t>) + 16 + kMallocOverhead + 8 +
         HeapBytes(slot.key) + 8;
}

bool InodeTable::Evictable(const Node& node) {
  // Directories stay: dropping one the kernel still uses (a shell's working
  // directory) would make it look deleted.
  return node.kind == Node::Kind::kEntry && node.type != pb::Entry::DIRECTORY;
}

uint64_t InodeTable::Acquire(const std::string& key, const std::function<NodePtr()>& make,
                             bool pinned) {
  auto hit = [this](uint64_t ino) {
    Slot& slot = slots_[ino];
    ++slot.lookups;
    if (slot.offered) {  // the kernel kept it after all: a candidate again
      slot.offered = false;
      offered_bytes_ -= slot.cost;
      slot.used = false;
      evictable_.push_back(ino);
    } else {
      slot.used = true;
    }
    return ino;
  };
  {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (it != by_key_.end()) return hit(it->second);
  }
  NodePtr node = make();  // outside the lock: it may read the repository
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) return hit(it->second);  // another thread made it meanwhile
  uint64_t ino = next_++;
  Slot& slot = slots_[ino];
  slot.node = std::move(node);
  slot.lookups = 1;
  slot.key = key;
  slot.pinned = pinned;
  slot.cost = CostOf(slot);
  by_key_[slot.key] = ino;
  bytes_ += slot.cost;
  if (!pinned && Evictable(*slot.node)) evictable_.push_back(ino);
  // Forgotten inodes leave stale numbers behind in the queue: sweep them now
  // and then so the queue stays proportional to the table.
  if (evictable_.size() > 2 * slots_.size() + 1024) {
    std::deque<uint64_t> live;
    for (uint64_t i : evictable_) {
      auto s = slots_.find(i);
      if (s != slots_.end() && !s->second.offered) live.push_back(i);
    }
    evictable_.swap(live);
  }
  return ino;
}

NodePtr InodeTable::Get(uint64_t ino) const {
  std::lock_guard lock(mu_);
  auto it = slots_.find(ino);
  return it == slots_.end() ? nullptr : it->second.node;
}

uint64_t InodeTable::Peek(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  return it == by_key_.end() ? 0 : it->second;
}

void InodeTable::Forget(uint64_t ino, uint64_t n) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(ino);
  if (it == slots_.end()) return;
  Slot& slot = it->second;
  slot.lookups = n >= slot.lookups ? 0 : slot.lookups - n;
  if (slot.lookups == 0 && !slot.pinned) {
    bytes_ -= slot.cost;
    if (slot.offered) offered_bytes_ -= slot.cost;
    by_key_.erase(slot.key);
    slots_.erase(it);  // a stale number may stay in evictable_; it is skipped there
  }
}

std::vector<Eviction> InodeTable::TakeEvictions(uint64_t budget_bytes, size_t max) {
  std::vector<Eviction> out;
  std::lock_guard lock(mu_);
  // Bytes already offered are on their way out; count only the rest. Once
  // over the budget, go well below it: every dropped name makes the kernel
  // ask for its directory's attributes again, and names dropped together
  // mostly share a directory (they were made in order).
  if (!trimming_ && bytes_ - offered_bytes_ <= budget_bytes) return out;
  trimming_ = true;
  uint64_t target = budget_bytes / 4 * 3;
  size_t visits = 2 * evictable_.size();  // a used node comes round once more
  while (out.size() < max && visits-- > 0 && !evictable_.empty() &&
         bytes_ - offered_bytes_ > target) {
    uint64_t ino = evictable_.front();
    evictable_.pop_front();
    auto it = slots_.find(ino);
    if (it == slots_.end() || it->second.offered) continue;  // forgotten meanwhile
    Slot& slot = it->second;
    if (slot.used) {  // used since it was queued: once more to the back
      slot.used = false;
      evictable_.push_back(ino);
      continue;
    }
    slot.offered = true;
    offered_bytes_ += slot.cost;
    out.push_back(Eviction{slot.node->parent, slot.node->name, ino});
  }
  if (out.size() < max) trimming_ = false;  // down to the target, or nothing left to offer
  return out;
}

size_t InodeTable::size() const {
  std::lock_guard lock(mu_);
  return slots_.size();
}

uint64_t InodeTable::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace coffer::fs
