#include "store/chunk/fastcdc.h"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <string>

namespace coffer::chunk {
namespace {

constexpr uint32_t kMaxChunkLimit = 8 * 1024 * 1024;
constexpr uint32_t kMinAvgSize = 64;

// Written into the gear table derivation: changing it moves every boundary.
constexpr char kGearDomain[] = "coffer.chunk.fastcdc.gear.v1";

// A mask of the top `bits` bits. The gear hash shifts left once per byte, so
// its top bits mix the last 64 bytes, whereas low bits see only the last few.
uint64_t TopBits(int bits) {
  return ~uint64_t{0} << (64 - bits);
}

// The gear hash loop over [i, end): returns the index one past the first byte
// at which (hash & mask) == 0, or `end` with *found = false.
inline size_t Scan(const uint8_t* p, size_t i, size_t end, uint64_t mask, const uint64_t* gear,
                   uint64_t* hash, bool* found) {
  uint64_t h = *hash;
  for (; i < end; ++i) {
    h = (h << 1) + gear[p[i]];
    if ((h & mask) == 0) {
      *hash = h;
      *found = true;
      return i + 1;
    }
  }
  *hash = h;
  *found = false;
  return end;
}

}  // namespace

Status ChunkerParams::Validate() const {
  auto describe = [this] {
    return " (min " + std::to_string(min_size) + ", avg " + std::to_string(avg_size) + ", max " +
           std::to_string(max_size) + ")";
  };
  if (!(min_size < avg_size && avg_size < max_size)) {
    return Status::InvalidArgument("chunk sizes must satisfy min < avg < max" + describe());
  }
  if (!std::has_single_bit(avg_size) || avg_size < kMinAvgSize) {
    return Status::InvalidArgument("average chunk size must be a power of two >= 64" + describe());
  }
  if (max_size > kMaxChunkLimit) {
    return Status::InvalidArgument("maximum chunk size must be at most 8 MiB" + describe());
  }
  return Status::Ok();
}

FastCdc::FastCdc(ByteView seed, ChunkerParams params) : params_(params) {
  // Construction has no error path; bad user input must be rejected earlier.
  if (!params_.Validate().ok()) std::abort();
  if (sodium_init() < 0) std::abort();

  // Normalized chunking level 2: 2 bits harder than avg before it, 2 easier after.
  const int bits = std::countr_zero(params_.avg_size);
  mask_small_ = TopBits(bits + 2);
  mask_large_ = TopBits(bits - 2);

  // key = BLAKE2b-256(seed) keyed by the domain string, so any seed length works
  // and the table never equals another use of the same subkey; the table is
  // then the XChaCha20 keystream under that key and a zero nonce.
  uint8_t key[crypto_stream_xchacha20_KEYBYTES];
  crypto_generichash(key, sizeof key, seed.data(), seed.size(),
                     reinterpret_cast<const uint8_t*>(kGearDomain), sizeof kGearDomain - 1);
  uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES] = {};
  uint8_t stream[sizeof gear_];
  crypto_stream_xchacha20(stream, sizeof stream, nonce, key);
  for (size_t i = 0; i < gear_.size(); ++i) {
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v |= uint64_t{stream[i * 8 + b]} << (8 * b);  // little endian
    gear_[i] = v;
  }
  sodium_memzero(key, sizeof key);
  sodium_memzero(stream, sizeof stream);
}

size_t FastCdc::NextBoundary(ByteView data, bool at_end) const {
  const size_t n = data.size();
  if (n == 0) return 0;
  const size_t limit = std::min<size_t>(n, params_.max_size);
  // No cut before min_size, so those bytes are not hashed at all; the hash
  // starts from zero at min_size (standard FastCDC).
  if (limit > params_.min_size) {
    const size_t normal = std::min<size_t>(limit, params_.avg_size);
    uint64_t hash = 0;
    bool found = false;
    size_t cut =
        Scan(data.data(), params_.min_size, normal, mask_small_, gear_.data(), &hash, &found);
    if (found) return cut;
    cut = Scan(data.data(), normal, limit, mask_large_, gear_.data(), &hash, &found);
    if (found) return cut;
  }
  if (limit == params_.max_size) return limit;
  return at_end ? n : 0;
}

}  // namespace coffer::chunk
