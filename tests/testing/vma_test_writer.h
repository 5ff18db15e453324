// A writer of Proxmox VMA archives for tests: lays out header, blob buffer
// and extents as Proxmox's vma-writer.c does (zero 4 KiB blocks left out by
// mask, all-zero clusters listed with mask 0, at most 58 clusters an
// extent), and can also write what no real writer does (59 or 0 clusters in
// an extent, clusters in any order, twice, past a device's end or missing,
// chosen masks), so that tests and fuzz seeds can reach every rule of the
// reader. Damage at chosen bytes is done by patching the output and, to get
// past the checksums, resealing it.
//
// Deliberately shares nothing with store/ingest/vma_reader: its own layout
// constants and code, and MD5 from OpenSSL rather than nettle, so that a
// mistake in one is not repeated in the other.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "store/base/bytes.h"

namespace coffer::testing {

// Where the fields are (vma_spec.txt), for tests that damage them.
namespace vma_layout {
inline constexpr size_t kCluster = 65536;
inline constexpr size_t kBlock = 4096;
inline constexpr size_t kHeaderFixed = 12288;  // the blob buffer starts here
inline constexpr size_t kVersion = 4;
inline constexpr size_t kUuid = 8;
inline constexpr size_t kCtime = 24;
inline constexpr size_t kHeaderMd5 = 32;
inline constexpr size_t kBlobBufferOffset = 48;
inline constexpr size_t kBlobBufferSize = 52;
inline constexpr size_t kHeaderSize = 56;
inline size_t ConfigName(size_t i) {
  return 2044 + 4 * i;
}
inline size_t ConfigData(size_t i) {
  return 3068 + 4 * i;
}
inline size_t DeviceInfo(size_t id) {
  return 4096 + 32 * id;
}  // name offset; size at +8
inline constexpr size_t kExtentHeader = 512;
inline constexpr size_t kExtentReserved = 4;
inline constexpr size_t kExtentBlockCount = 6;
inline constexpr size_t kExtentUuid = 8;
inline constexpr size_t kExtentMd5 = 24;
inline size_t ExtentSlot(size_t i) {
  return 40 + 8 * i;
}
}  // namespace vma_layout

struct VmaTestDevice {
  std::string name;
  uint64_t size = 0;
  // The bytes from `offset` on, as many as `out` holds (never past `size`).
  // If unset: `content`, zero past its end.
  std::function<void(uint64_t offset, std::span<uint8_t> out)> fill;
  Bytes content;
  uint8_t id = 0;  // 0: its position in the list, plus 1
};

// One slot of an extent.
struct VmaTestCluster {
  uint8_t device_id;
  uint64_t index;                // written as its low 32 bits
  std::optional<uint16_t> mask;  // set: these blocks are stored, zero or not
};

struct VmaTestOptions {
  std::array<uint8_t, 16> uuid = {0x5e, 0x1f, 0x0a, 0x7c, 0x33, 0x41, 0x4d, 0x2b,
                                  0x9a, 0x10, 0xc4, 0x6e, 0x88, 0x02, 0xf1, 0x97};
  int64_t ctime = 1764547200;
  std::vector<VmaTestDevice> devices;
  std::vector<std::pair<std::string, Bytes>> configs;
  // The clusters in archive order; unset: every cluster of each device in
  // turn, ascending.
  std::optional<std::vector<VmaTestCluster>> order;
  size_t clusters_per_extent = 58;
  // If not empty, the first extents hold these many clusters (0 allowed);
  // the rest clusters_per_extent each.
  std::vector<size_t> extent_clusters;
  // An extent of no clusters at the end, as Proxmox's writer leaves when its
  // buffer was just flushed as the last device closed.
  bool trailing_empty_extent = false;
};

struct VmaTestArchive {
  Bytes bytes;
  size_t header_size = 0;
  size_t blob_buffer_size = 0;         // used bytes, from offset kHeaderFixed
  std::vector<uint32_t> blob_records;  // offsets in the blob buffer, in order
  std::vector<size_t> extents;         // byte offset of each extent
};

VmaTestArchive WriteVma(const VmaTestOptions& options);

// A device's bytes as a reader must rebuild them (`size` bytes).
Bytes VmaDeviceImage(const VmaTestDevice& device);

// Content that is pseudo-random per block, with all-zero blocks and
// clusters mixed in (a function of `seed` and the offset only).
std::function<void(uint64_t, std::span<uint8_t>)> VmaPatternContent(uint64_t seed);

// For damage: big-endian stores, and the checksums made right again after a
// change (the header's over its header_size bytes as they now are).
void PutBe16(Bytes& bytes, size_t at, uint16_t value);
void PutBe32(Bytes& bytes, size_t at, uint32_t value);
void PutBe64(Bytes& bytes, size_t at, uint64_t value);
void ResealVmaHeader(Bytes& archive);
void ResealVmaExtent(Bytes& archive, size_t extent_at);

}  // namespace coffer::testing
