// Byte buffers and views used across the store, and hex encoding.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coffer {

using Bytes = std::vector<uint8_t>;
// A borrowed view; the bytes must remain live while the view is in use.
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string ToHex(ByteView bytes);
// Returns false if `hex` is not an even-length string of hex digits.
bool FromHex(std::string_view hex, Bytes* out);

}  // namespace coffer
