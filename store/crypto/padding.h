// Padmé padding with an ISO/IEC 7816-4 marker, for sealed payloads.
//
// Padmé rounds a length up so that it reveals only O(log log n) bits of the
// original size (at most ~12% overhead, ~3% for sizes of 1 MiB and up). The
// marker (0x80 then zeros) makes removal unambiguous. Pure functions;
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace coffer::crypto {

// The Padmé length for `n` (>= n); PadmeLength(0) == 0.
size_t PadmeLength(size_t n);

// The padded length of a `payload_size`-byte payload: room for the marker, then Padmé.
inline size_t PaddedSize(size_t payload_size) {
  return PadmeLength(payload_size + 1);
}

// Writes the marker and zeros into buf[payload_size, buf.size()).
// Requires buf.size() == PaddedSize(payload_size).
void Pad(std::span<uint8_t> buf, size_t payload_size);

// The payload length of a padded buffer, or nullopt unless the padding is
// exactly what Pad writes for that length (canonical, so no malleability).
std::optional<size_t> Unpad(std::span<const uint8_t> buf);

}  // namespace coffer::crypto
