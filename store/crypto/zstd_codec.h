// One-shot zstd compression and bounded decompression for sealed payloads.
//
// Contexts are thread_local (one compression and one decompression context per
// thread, freed at thread exit), so every function here is thread-safe.
// Error messages say what was wrong; callers add which object it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace coffer::crypto {

// The highest level a repository may use (`coffer init --compression-level`);
// zstd's levels above it need windows of up to 128 MiB to decompress.
inline constexpr int kMaxZstdLevel = 19;

// Compresses `in` into `out` (one frame with its content size written) and
// returns the compressed size, or nullopt if it would not fit in out.size()
// bytes — give out one byte less than `in` to keep only output that shrinks.
std::optional<size_t> ZstdCompress(ByteView in, int level, std::span<uint8_t> out);

// The declared content size of `frame`, which must be exactly one frame. Frames
// without a declared size, or declaring more than `max_size`, are kCorruption:
// the size bounds the allocation before any work is done (no zstd bombs).
Result<size_t> ZstdContentSize(ByteView frame, size_t max_size);

// Decompresses `frame` into `out`, whose size must be ZstdContentSize(frame);
// kCorruption if the frame is bad or does not fill `out` exactly.
Status ZstdDecompressInto(ByteView frame, std::span<uint8_t> out);

}  // namespace coffer::crypto
