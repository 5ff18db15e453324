// The layout of Proxmox VMA archives: sizes, field offsets and limits, shared
// by the reader (store/ingest/vma_reader.h, which documents the format) and
// the writer (store/export/vma_writer.h). Constants only; no code.
//
// The tests' own writer (tests/testing/vma_test_writer.h) keeps its own copy
// on purpose, so that a wrong offset here is caught rather than repeated.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace coffer::vma {

inline constexpr uint64_t kClusterSize = 65536;
inline constexpr uint64_t kBlockSize = 4096;
inline constexpr size_t kBlocksPerCluster = kClusterSize / kBlockSize;
inline constexpr size_t kMd5Size = 16;

// The header: a fixed part, then the blob buffer; header_size bytes in all.
inline constexpr char kHeaderMagic[4] = {'V', 'M', 'A', '\0'};
inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kFixedHeaderSize = 12288;  // up to the blob buffer
// Proxmox's writer fails on a header above 8 clusters; nothing larger exists.
inline constexpr size_t kMaxHeaderSize = 8 * kClusterSize;
inline constexpr size_t kHeaderAlignment = 512;  // header_size is a multiple
inline constexpr size_t kHeaderMagicAt = 0;
inline constexpr size_t kVersionAt = 4;
inline constexpr size_t kUuidAt = 8;
inline constexpr size_t kCtimeAt = 24;
inline constexpr size_t kHeaderMd5At = 32;
inline constexpr size_t kBlobOffsetAt = 48;
inline constexpr size_t kBlobSizeAt = 52;
inline constexpr size_t kHeaderSizeAt = 56;
inline constexpr size_t kConfigNamesAt = 2044;  // kMaxConfigs u32 blob offsets
inline constexpr size_t kConfigDataAt = 3068;   // kMaxConfigs u32 blob offsets
inline constexpr size_t kMaxConfigs = 256;
inline constexpr size_t kDeviceInfoAt = 4096;  // indexed by device id
inline constexpr size_t kDeviceInfoSize = 32;  // name blob offset u32, reserved, size u64
inline constexpr size_t kDeviceSizeInInfo = 8;
inline constexpr size_t kDeviceSlots = 256;
// Device 0 marks an unused extent slot; Proxmox keeps 255 back.
inline constexpr uint8_t kFirstDeviceId = 1;
inline constexpr uint8_t kLastDeviceId = 254;

// Blob records: a u16 little-endian length, then the bytes; the first at
// offset 1 of the buffer, since offset 0 means "none".
inline constexpr size_t kFirstBlobAt = 1;
inline constexpr size_t kBlobLengthSize = 2;
inline constexpr size_t kMaxBlobSize = 0xffff;

// An extent: a 512-byte header, then the stored 4 KiB blocks.
inline constexpr char kExtentMagic[4] = {'V', 'M', 'A', 'E'};
inline constexpr size_t kExtentHeaderSize = 512;
inline constexpr size_t kExtentReservedAt = 4;
inline constexpr size_t kBlockCountAt = 6;
inline constexpr size_t kExtentUuidAt = 8;
inline constexpr size_t kExtentMd5At = 24;
inline constexpr size_t kSlotsAt = 40;
inline constexpr size_t kSlotsPerExtent = 59;
// A slot, u64: mask 63-48, reserved 47-40, device id 39-32, cluster 31-0.
inline constexpr int kSlotMaskShift = 48;
inline constexpr int kSlotDeviceShift = 32;

// Cluster numbers are 32 bits: no device can hold more.
inline constexpr uint64_t kMaxDeviceSize = (uint64_t{1} << 32) * kClusterSize;

// Which clusters of a device an archive has held (the reader) or been given
// (the writer): one bit each, in pages allocated as clusters come, so that
// a device's size costs nothing until it is used.
class ClusterSet {
 public:
  explicit ClusterSet(uint64_t clusters)
      : clusters_(clusters), pages_((clusters + kPageClusters - 1) / kPageClusters) {}

  bool Contains(uint64_t index) const {
    const std::unique_ptr<uint64_t[]>& words = pages_[index / kPageClusters];
    const uint64_t bit = index % kPageClusters;
    return words && (words[bit / 64] >> (bit % 64) & 1);
  }
  // Adds `index` (below the cluster count); false if it was there.
  bool Insert(uint64_t index) {
    const uint64_t page = index / kPageClusters;
    std::unique_ptr<uint64_t[]>& words = pages_[page];
    if (!words) words = std::make_unique<uint64_t[]>((PageLength(page) + 63) / 64);
    const uint64_t bit = index % kPageClusters;
    const uint64_t flag = uint64_t{1} << (bit % 64);
    if (words[bit / 64] & flag) return false;
    words[bit / 64] |= flag;
    ++count_;
    return true;
  }
  uint64_t count() const { return count_; }
  bool complete() const { return count_ == clusters_; }
  uint64_t missing() const { return clusters_ - count_; }
  // The first cluster not in the set; the cluster count if there is none.
  uint64_t FirstMissing() const {
    for (uint64_t page = 0; page < pages_.size(); ++page) {
      const uint64_t base = page * kPageClusters;
      if (!pages_[page]) return base;
      const uint64_t length = PageLength(page);
      for (uint64_t w = 0; w * 64 < length; ++w) {
        uint64_t missing = ~pages_[page][w];
        if (length - w * 64 < 64) missing &= (uint64_t{1} << (length - w * 64)) - 1;
        if (missing) return base + w * 64 + static_cast<uint64_t>(std::countr_zero(missing));
      }
    }
    return clusters_;
  }

 private:
  static constexpr uint64_t kPageClusters = uint64_t{1} << 20;  // 128 KiB of bits
  uint64_t PageLength(uint64_t page) const {
    return std::min(kPageClusters, clusters_ - page * kPageClusters);
  }

  uint64_t clusters_;
  uint64_t count_ = 0;
  std::vector<std::unique_ptr<uint64_t[]>> pages_;
};

}  // namespace coffer::vma
