#include "store/objects/mark_set.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace coffer {
namespace {

size_t PageMarks() {
  return static_cast<size_t>(sysconf(_SC_PAGESIZE)) / sizeof(uint64_t);
}

}  // namespace

MarkSet::~MarkSet() {
  Clear();
}

MarkSet::MarkSet(MarkSet&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

MarkSet& MarkSet::operator=(MarkSet&& other) noexcept {
  if (this != &other) {
    Clear();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void MarkSet::Append(std::span<const uint64_t> prefixes) {
  const size_t needed = size_ + prefixes.size();
  if (needed > capacity_) {
    // Doubling costs address space only: untouched pages take no memory.
    const size_t page = PageMarks();
    size_t capacity = std::max({needed, 2 * capacity_, 64 * page});
    capacity = (capacity + page - 1) / page * page;
    void* grown = data_ == nullptr
                      ? mmap(nullptr, capacity * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                      : mremap(data_, capacity_ * sizeof(uint64_t), capacity * sizeof(uint64_t),
                               MREMAP_MAYMOVE);
    if (grown == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<uint64_t*>(grown);
    capacity_ = capacity;
  }
  if (!prefixes.empty()) {
    std::memcpy(data_ + size_, prefixes.data(), prefixes.size_bytes());
  }
  size_ = needed;
}

void MarkSet::SortUnique() {
  std::sort(data_, data_ + size_);
  size_ = static_cast<size_t>(std::unique(data_, data_ + size_) - data_);
  // Give back the pages past the end (duplicates removed).
  const size_t page = PageMarks();
  const size_t keep = (size_ + page - 1) / page * page;
  if (keep < capacity_) madvise(data_ + keep, (capacity_ - keep) * sizeof(uint64_t), MADV_DONTNEED);
}

bool MarkSet::Contains(uint64_t prefix) const {
  return std::binary_search(data_, data_ + size_, prefix);
}

void MarkSet::Clear() {
  if (data_ != nullptr) munmap(data_, capacity_ * sizeof(uint64_t));
  data_ = nullptr;
  size_ = capacity_ = 0;
}

}  // namespace coffer
