// SecretBytes: owns a fixed-size buffer of secret key material.
//
// The memory comes from sodium_malloc (guard pages, mlocked so it is never
// swapped out) and is wiped by sodium_free on destruction. Move-only, so a
// secret has exactly one owner. Not synchronized: concurrent reads are fine,
// a write concurrent with anything else is not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "store/base/bytes.h"

namespace coffer::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  // Zero-filled. Throws std::bad_alloc if the secure allocation fails, as `new` would.
  explicit SecretBytes(size_t size);
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  ByteView view() const { return {data_, size_}; }
  std::span<uint8_t> mutable_span() { return {data_, size_}; }

 private:
  void Reset();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace coffer::crypto
