#include "store/crypto/padding.h"

#include <bit>
#include <cstring>

namespace coffer::crypto {

size_t PadmeLength(size_t n) {
  if (n < 2) return n;
  // E = floor(log2 n); keep the top floor(log2 E) + 1 bits of n, round up the rest.
  const int e = std::bit_width(n) - 1;
  const int s = std::bit_width(static_cast<unsigned>(e));
  const size_t mask = (size_t{1} << (e - s)) - 1;
  return (n + mask) & ~mask;
}

void Pad(std::span<uint8_t> buf, size_t payload_size) {
  buf[payload_size] = 0x80;
  std::memset(buf.data() + payload_size + 1, 0, buf.size() - payload_size - 1);
}

std::optional<size_t> Unpad(std::span<const uint8_t> buf) {
  // Timing need not be constant: callers unpad only authenticated plaintext.
  size_t i = buf.size();
  while (i > 0 && buf[i - 1] == 0) --i;
  if (i == 0 || buf[i - 1] != 0x80) return std::nullopt;
  const size_t payload_size = i - 1;
  if (PaddedSize(payload_size) != buf.size()) return std::nullopt;
  return payload_size;
}

}  // namespace coffer::crypto
