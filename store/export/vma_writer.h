// Writing Proxmox VMA archives (the format: store/ingest/vma_reader.h), so
// that `coffer export` can turn a VM snapshot back into what qmrestore
// reads: a header of devices and configs, then every cluster of every
// device in extents.
//
// Laid out as Proxmox's vma-writer.c does: the blob buffer's records from
// its offset 1, each config's name then its data, then the device names by
// id; each all-zero 4 KiB block left out by the mask and an all-zero
// cluster listed with mask 0; at most 58 clusters an extent, an extent
// written only when the next cluster does not fit, so that the last one is
// never empty (unless there are no devices, when, as `vma create` does, one
// empty extent follows the header). One difference: header_size is the blob
// buffer rounded up to 512 bytes, where Proxmox's, which grows its blob
// table by each record's size rounded up to 512, is sometimes larger; both
// are read alike.
//
// What is written passes the strict reader: a header it would refuse is
// kInvalidArgument before anything is written. qmrestore's reader counts in
// 512-byte sectors and may fail on a device whose size is not a multiple of
// 512; a VM's disks always are one, and the format does not ask it.
//
// Output goes through `write` in large pieces: the header in one call, then
// each extent (its header and blocks) in one call. Memory stays bounded
// whatever the disks' sizes: one extent (3.6 MiB) and one bit per cluster of
// each device, in pages allocated as clusters are added.
//
// Not thread-safe; one Writer writes one archive once. After `write` fails,
// every call returns that failure: the archive is cut.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "store/base/bytes.h"
#include "store/base/status.h"
#include "store/ingest/vma_format.h"
#include "store/ingest/vma_reader.h"

namespace coffer::vma {

// Writes all of the bytes, or fails.
using WriteFn = std::function<Status(ByteView)>;

class Writer {
 public:
  explicit Writer(WriteFn write);
  ~Writer();
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;

  // First: checks and writes the header. Devices have ids 1..254, unique
  // names that are file names (not empty, no '/' or NUL, not "." or "..")
  // and not "vmstate" (a VM's saved RAM, which Coffer neither reads nor
  // writes), sizes above 0 that cluster numbers reach; configs have unique
  // file names; names and data fit a blob record (65535 bytes with a name's
  // NUL), at most 256 configs, the header at most 512 KiB. kInvalidArgument
  // naming the device or config otherwise, and nothing is written.
  Status WriteHeader(const Header& header);

  // One cluster of a device, in any order: `data` is its kClusterSize bytes
  // (those past the device's end zero), or empty for an all-zero cluster.
  // kInvalidArgument, with nothing written, for an unknown device, a cluster
  // past its end or added before, or data of another size or not zero past
  // the end.
  Status AddCluster(uint8_t device_id, uint64_t index, ByteView data);

  // Last: writes the last extent. kInvalidArgument, with nothing written, if
  // a cluster of a device was not added.
  Status Finish();

  // Bytes handed to `write` so far.
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  struct DeviceState;

  Status CheckHeader(const Header& header) const;
  // OK in the state where clusters are written; else why `next` cannot be.
  Status CheckWritingClusters(std::string_view next) const;
  // Writes the extent gathered so far and starts the next one.
  Status FlushExtent();
  Status Write(ByteView bytes, std::string_view what);
  Status Fail(Status status);

  WriteFn write_;
  uint64_t bytes_written_ = 0;
  enum class State { kBeforeHeader, kClusters, kFinished, kFailed } state_ = State::kBeforeHeader;
  Status failure_;
  std::array<uint8_t, 16> uuid_{};
  std::array<std::unique_ptr<DeviceState>, kDeviceSlots> devices_;
  // The extent being gathered: its header (slots filled when it is written)
  // and stored blocks, contiguous so that it is one write.
  Bytes extent_;
  size_t extent_used_ = 0;  // bytes of extent_, its header included
  std::array<uint64_t, kSlotsPerExtent> slots_{};
  size_t slot_count_ = 0;
};

}  // namespace coffer::vma
