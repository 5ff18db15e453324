#include "store/crypto/scratch_buffer.h"

#include <memory>

namespace coffer::crypto {

struct ScratchLease::Buffer {
  std::unique_ptr<uint8_t[]> data;
  size_t capacity = 0;
};

ScratchLease::ScratchLease(ScratchSlot slot)
    : buffer_([slot]() -> Buffer& {
        thread_local Buffer buffers[2];
        return buffers[static_cast<int>(slot)];
      }()) {}

ScratchLease::~ScratchLease() {
  if (buffer_.capacity > kMaxRetained) {
    buffer_.data.reset();
    buffer_.capacity = 0;
  }
}

std::span<uint8_t> ScratchLease::Get(size_t n) {
  if (buffer_.capacity < n) {
    buffer_.data.reset();  // free first: peak memory is one buffer, not two
    buffer_.data = std::make_unique_for_overwrite<uint8_t[]>(n);
    buffer_.capacity = n;
  }
  return {buffer_.data.get(), n};
}

}  // namespace coffer::crypto
