#include "fs/inode_table.h"

namespace coffer::fs {

InodeTable::InodeTable() {
  auto root = std::make_shared<Node>();
  root->kind = Node::Kind::kRoot;
  root->parent = kRootIno;
  slots_[kRootIno] = Slot{std::move(root), 1, "", true};
  by_key_[""] = kRootIno;
}

uint64_t InodeTable::Acquire(const std::string& key, const std::function<NodePtr()>& make,
                             bool pinned) {
  {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      ++slots_[it->second].lookups;
      return it->second;
    }
  }
  NodePtr node = make();  // outside the lock: it may read the repository
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {  // another thread made it meanwhile
    ++slots_[it->second].lookups;
    return it->second;
  }
  uint64_t ino = next_++;
  slots_[ino] = Slot{std::move(node), 1, key, pinned};
  by_key_[key] = ino;
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
    by_key_.erase(slot.key);
    slots_.erase(it);
  }
}

size_t InodeTable::size() const {
  std::lock_guard lock(mu_);
  return slots_.size();
}

}  // namespace coffer::fs
