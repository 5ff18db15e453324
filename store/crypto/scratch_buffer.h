// ScratchLease: borrows one of a few per-thread buffers that are reused across
// calls, so sealing a stream of objects does not allocate (and fault in) fresh
// pages for every intermediate copy. Internal to coffer_crypto.
//
// Thread-safe by construction (thread_local). Within one thread, a slot must
// not be leased twice at once. Buffers above kMaxRetained are freed when the
// lease ends, so a rare large object does not pin memory in every thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace coffer::crypto {

enum class ScratchSlot { kDecrypted = 0, kDecompressed = 1 };

class ScratchLease {
 public:
  static constexpr size_t kMaxRetained = size_t{4} << 20;

  explicit ScratchLease(ScratchSlot slot);
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;

  // `n` uninitialized bytes, valid until the next Get or the end of the lease.
  std::span<uint8_t> Get(size_t n);

 private:
  struct Buffer;
  Buffer& buffer_;
};

}  // namespace coffer::crypto
