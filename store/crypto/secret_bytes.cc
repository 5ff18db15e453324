#include "store/crypto/secret_bytes.h"

#include <sodium.h>

#include <new>
#include <utility>

#include "store/crypto/sodium_init.h"

namespace coffer::crypto {

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  EnsureSodium();
  // sodium_malloc also mlocks the pages (best effort: a low RLIMIT_MEMLOCK
  // degrades to unlocked memory rather than failing the backup).
  data_ = static_cast<uint8_t*>(sodium_malloc(size));
  if (data_ == nullptr) throw std::bad_alloc();
  sodium_memzero(data_, size);
  size_ = size;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  Reset();
}

void SecretBytes::Reset() {
  // sodium_free wipes the buffer before unlocking and unmapping it.
  if (data_ != nullptr) sodium_free(data_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace coffer::crypto
