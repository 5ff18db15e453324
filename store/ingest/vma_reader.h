// Reading Proxmox VMA archives (the QEMU VM backups vzdump writes,
// vzdump-qemu-*.vma) as a stream: the header's devices and configs, then
// every cluster of every device in archive order, each one checked.
//
// The format (Proxmox's vma_spec.txt and vma-reader.c; store/FORMAT.md,
// "Foreign formats read: VMA"), integers big-endian:
//   header, header_size bytes (a multiple of 512): magic "VMA\0", version 1,
//     uuid (16), ctime (i64 seconds), MD5 of the whole header with this
//     field zeroed (16), blob buffer offset and used size, header_size;
//     at 2044 and 3068 the blob offsets of 256 config names and data; at
//     4096 256 device entries of 32 bytes (name blob offset, size in bytes).
//     The blob buffer holds records [u16 little-endian length][bytes] from
//     its offset 1; names end in NUL. A device exists when its size is not 0.
//   extents until the end of the input, each a 512-byte header ("VMAE",
//     reserved u16 = 0, block_count u16, the header's uuid, MD5 of these
//     512 bytes with the field zeroed, 59 slots of u64: mask 63-48, reserved
//     47-40, device id 39-32, cluster number 31-0; device 0 = unused) and
//     then block_count 4 KiB blocks: those whose mask bit is set, slot by
//     slot, block by block. An absent block is zero; mask 0 is an all-zero
//     cluster. Clusters come in any order, devices interleaved.
// Only headers are checksummed: the data's integrity rests on the outer
// compressor's (zstd, gzip) checksum.
// The offsets and sizes are named in store/ingest/vma_format.h.
//
// Strict: anything the reference reader would refuse, and anything a real
// writer cannot produce that would change what is read (a record past the
// blob buffer, a cluster twice, a mask bit past the device's end, a cluster
// missing at the end), is kCorruption with the byte position in its message;
// a VM's saved RAM state (a device named "vmstate", which vzdump does not
// write) is kUnsupported.
//
// On the import path, so: an extent is read in two calls (its header, then
// all its blocks); a full cluster's data points into the extent, an all-zero
// one at a static zero cluster, and only a cluster with absent blocks is put
// together by copying. Memory stays bounded whatever the disks' sizes: one
// extent, one cluster, and one bit per cluster of each device, in pages
// allocated as clusters are seen.
//
// Not thread-safe; one Reader reads one stream once.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/status.h"
#include "store/ingest/vma_format.h"

namespace coffer::vma {

struct Device {
  uint8_t id;        // 1..254, as extents name it
  std::string name;  // e.g. "drive-scsi0"
  uint64_t size;     // in bytes, not always a multiple of kClusterSize
  uint64_t cluster_count() const { return (size + kClusterSize - 1) / kClusterSize; }
};

struct Config {
  std::string name;  // e.g. "qemu-server.conf"
  Bytes data;
};

struct Header {
  std::array<uint8_t, 16> uuid;
  int64_t ctime;                // seconds since the epoch
  std::vector<Device> devices;  // by id
  std::vector<Config> configs;  // in header order
};

struct Cluster {
  uint8_t device_id;
  uint64_t index;  // cluster number within the device
  uint16_t mask;   // bit i: 4 KiB block i was stored (0: an all-zero cluster)
  // kClusterSize bytes, absent blocks and bytes past the device's end zero;
  // valid until the next call to Next().
  ByteView data;
};

// Reads bytes into the span; returns how many (0 only at end of input).
using ReadFn = std::function<Result<size_t>(std::span<uint8_t>)>;

class Reader {
 public:
  explicit Reader(ReadFn read);
  ~Reader();
  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;

  // First: reads and checks the header.
  Result<Header> ReadHeader();
  // The next cluster in archive order; nullopt at a clean end, after
  // checking that every cluster of every device was seen. After an error
  // every call returns that error again.
  Result<std::optional<Cluster>> Next();
  // Bytes consumed so far (for messages).
  uint64_t position() const { return position_; }

 private:
  struct DeviceState;
  struct Slot {
    uint8_t device_id;
    uint16_t mask;
    uint32_t index;
    size_t data_offset;  // of its first stored block in extent_data_
  };

  // Reads until `out` is full or the input ends; returns the bytes read.
  Result<size_t> ReadFull(std::span<uint8_t> out);
  Status ParseHeader(ByteView header, Header* out);
  // Reads the next extent; false at the end of the input.
  Result<bool> ReadExtent();
  Status CheckComplete();
  Cluster MakeCluster(const Slot& slot);
  Status Fail(Status status);

  ReadFn read_;
  uint64_t position_ = 0;
  enum class State { kBeforeHeader, kClusters, kEnd, kFailed } state_ = State::kBeforeHeader;
  Status failure_;
  std::array<uint8_t, 16> uuid_{};
  std::array<std::unique_ptr<DeviceState>, kDeviceSlots> devices_;
  std::array<Slot, kSlotsPerExtent> slots_{};
  size_t slot_count_ = 0;
  size_t next_slot_ = 0;
  Bytes extent_data_;     // the stored blocks of the current extent
  Bytes cluster_buffer_;  // a cluster with some blocks absent, put together
};

}  // namespace coffer::vma
