// The layout of Proxmox VMA archives: sizes, field offsets and limits, shared
// by the reader (store/ingest/vma_reader.h, which documents the format) and
// the writer (store/export/vma_writer.h). Constants only; no code.
//
// The tests' own writer (tests/testing/vma_test_writer.h) keeps its own copy
// on purpose, so that a wrong offset here is caught rather than repeated.
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace coffer::vma
