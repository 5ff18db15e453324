#include "store/export/vma_writer.h"

#include <nettle/md5.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace coffer::vma {
namespace {

// Proxmox's writer writes an extent out when it holds 58 clusters, one fewer
// than its 59 slots, and only once the next cluster comes (vma-writer.c,
// vma_writer_get_buffer). Doing the same gives vzdump's shape of archive.
constexpr size_t kClustersPerExtent = kSlotsPerExtent - 1;
constexpr size_t kMaxExtentSize = kExtentHeaderSize + kClustersPerExtent * kClusterSize;

void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void PutBe32(uint8_t* p, uint32_t v) {
  v = __builtin_bswap32(v);  // little-endian host (x86_64, arm64), as the reader
  std::memcpy(p, &v, sizeof v);
}
void PutBe64(uint8_t* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof v);
}

// Sets the 16 bytes at `md5_at` to the MD5 of `bytes` with them zero.
void Seal(std::span<uint8_t> bytes, size_t md5_at) {
  std::memset(bytes.data() + md5_at, 0, kMd5Size);
  md5_ctx ctx;
  md5_init(&ctx);
  md5_update(&ctx, bytes.size(), bytes.data());
  md5_digest(&ctx, kMd5Size, bytes.data() + md5_at);
}

// Runs once per 4 KiB of every disk exported, so it must cost little next to
// the copy: a data block usually shows a set bit in its first 256 bytes, and
// each 256-byte step is an OR of words the compiler vectorises.
bool IsZeroBlock(const uint8_t* block) {
  constexpr size_t kStep = 256;
  for (size_t at = 0; at < kBlockSize; at += kStep) {
    uint64_t any = 0;
    for (size_t i = 0; i < kStep; i += sizeof(uint64_t)) {
      uint64_t word;
      std::memcpy(&word, block + at + i, sizeof word);
      any |= word;
    }
    if (any != 0) return false;
  }
  return true;
}

// A name as messages show it: quoted, bytes that do not print as '?', and
// cut after 64.
std::string Quoted(std::string_view name) {
  std::string out = "'";
  for (char c : name.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (name.size() > 64 ? "'..." : "'");
}

// Why `name` cannot name a config or device, or empty if it can: readers
// (this one, and `vma extract`) make files by these names.
std::string NameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.find('\0') != std::string_view::npos) return "has a NUL byte inside";
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return "is not a file name";
  }
  if (name.size() + 1 > kMaxBlobSize) {
    return "is longer than a blob record holds (" + std::to_string(kMaxBlobSize - 1) + " bytes)";
  }
  return {};
}

// The blob buffer as Proxmox's writer lays it out: records from offset 1.
class BlobBuffer {
 public:
  BlobBuffer() : bytes_(kFirstBlobAt, 0) {}

  // Each returns the record's offset in the buffer; sizes were checked before.
  uint32_t Add(ByteView data) {
    const uint32_t at = StartRecord(data.size());
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return at;
  }
  uint32_t AddName(std::string_view name) {
    const uint32_t at = StartRecord(name.size() + 1);
    bytes_.insert(bytes_.end(), name.begin(), name.end());
    bytes_.push_back(0);
    return at;
  }
  const Bytes& bytes() const { return bytes_; }

 private:
  uint32_t StartRecord(size_t length) {
    const uint32_t at = static_cast<uint32_t>(bytes_.size());
    bytes_.push_back(static_cast<uint8_t>(length));  // little-endian, unlike the rest
    bytes_.push_back(static_cast<uint8_t>(length >> 8));
    return at;
  }

  Bytes bytes_;
};

size_t RecordSize(size_t data_size) {
  return kBlobLengthSize + data_size;
}

size_t HeaderSizeFor(size_t blob_size) {
  return kFixedHeaderSize +
         (blob_size + kHeaderAlignment - 1) / kHeaderAlignment * kHeaderAlignment;
}

}  // namespace

// One device's size and which of its clusters were added: one bit per
// cluster, in pages allocated when a cluster in them is first added.
struct Writer::DeviceState {
  uint8_t id;
  std::string name;
  uint64_t size;
  uint64_t clusters;
  ClusterSet added;

  explicit DeviceState(const Device& device)
      : id(device.id),
        name(device.name),
        size(device.size),
        clusters(device.cluster_count()),
        added(clusters) {}

  std::string Describe() const { return "device " + std::to_string(id) + " " + Quoted(name); }
};

Writer::Writer(WriteFn write) : write_(std::move(write)) {}
Writer::~Writer() = default;
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;

Status Writer::Fail(Status status) {
  state_ = State::kFailed;
  failure_ = status;
  return status;
}

Status Writer::Write(ByteView bytes, std::string_view what) {
  Status written = write_(bytes);
  if (!written.ok()) {
    return Fail(written.WithContext("writing the VMA " + std::string(what) + " at byte " +
                                    std::to_string(bytes_written_)));
  }
  bytes_written_ += bytes.size();
  return Status::Ok();
}

Status Writer::CheckHeader(const Header& header) const {
  if (header.configs.size() > kMaxConfigs) {
    return Status::InvalidArgument("a VMA holds at most " + std::to_string(kMaxConfigs) +
                                   " configs, not " + std::to_string(header.configs.size()));
  }
  size_t blob_size = kFirstBlobAt;
  std::set<std::string_view> names;
  for (size_t i = 0; i < header.configs.size(); ++i) {
    const Config& config = header.configs[i];
    const std::string which = "config " + std::to_string(i) + " " + Quoted(config.name);
    if (std::string problem = NameProblem(config.name); !problem.empty()) {
      return Status::InvalidArgument("VMA " + which + ": the name " + problem);
    }
    if (!names.insert(config.name).second) {
      return Status::InvalidArgument("VMA " + which + ": the name is used twice");
    }
    if (config.data.size() > kMaxBlobSize) {
      return Status::InvalidArgument("VMA " + which + " of " + std::to_string(config.data.size()) +
                                     " bytes is larger than a blob record holds (" +
                                     std::to_string(kMaxBlobSize) + ")");
    }
    blob_size += RecordSize(config.name.size() + 1) + RecordSize(config.data.size());
  }

  names.clear();
  std::array<bool, kDeviceSlots> ids{};
  for (const Device& device : header.devices) {
    const std::string which = "device " + std::to_string(device.id) + " " + Quoted(device.name);
    if (device.id < kFirstDeviceId || device.id > kLastDeviceId) {
      return Status::InvalidArgument("VMA " + which + ": ids are " +
                                     std::to_string(kFirstDeviceId) + ".." +
                                     std::to_string(kLastDeviceId));
    }
    if (ids[device.id]) return Status::InvalidArgument("VMA " + which + ": the id is used twice");
    ids[device.id] = true;
    if (std::string problem = NameProblem(device.name); !problem.empty()) {
      return Status::InvalidArgument("VMA " + which + ": the name " + problem);
    }
    if (device.name == "vmstate") {
      return Status::InvalidArgument("VMA " + which +
                                     ": the name is kept for a VM's saved RAM state");
    }
    if (!names.insert(device.name).second) {
      return Status::InvalidArgument("VMA " + which + ": the name is used twice");
    }
    if (device.size == 0) return Status::InvalidArgument("VMA " + which + " has size 0");
    if (device.size > kMaxDeviceSize) {
      return Status::InvalidArgument("VMA " + which + " of " + std::to_string(device.size) +
                                     " bytes is larger than VMA cluster numbers reach (" +
                                     std::to_string(kMaxDeviceSize) + " bytes)");
    }
    blob_size += RecordSize(device.name.size() + 1);
  }

  if (HeaderSizeFor(blob_size) > kMaxHeaderSize) {
    return Status::InvalidArgument("the VMA header's names and configs take " +
                                   std::to_string(blob_size) + " bytes; at most " +
                                   std::to_string(kMaxHeaderSize - kFixedHeaderSize) + " fit");
  }
  return Status::Ok();
}

Status Writer::WriteHeader(const Header& header) {
  if (state_ == State::kFailed) return failure_;
  if (state_ != State::kBeforeHeader) {
    return Status::FailedPrecondition("the VMA header was written already");
  }
  COFFER_RETURN_IF_ERROR(CheckHeader(header));

  BlobBuffer blobs;
  std::array<uint32_t, kMaxConfigs> config_names{}, config_data{};
  for (size_t i = 0; i < header.configs.size(); ++i) {
    config_names[i] = blobs.AddName(header.configs[i].name);
    config_data[i] = blobs.Add(header.configs[i].data);
  }
  std::vector<const Device*> by_id(kDeviceSlots);
  for (const Device& device : header.devices) by_id[device.id] = &device;
  std::array<uint32_t, kDeviceSlots> device_names{};
  for (size_t id = 0; id < kDeviceSlots; ++id) {
    if (by_id[id]) device_names[id] = blobs.AddName(by_id[id]->name);
  }

  Bytes out(HeaderSizeFor(blobs.bytes().size()), 0);
  uint8_t* h = out.data();
  std::memcpy(h + kHeaderMagicAt, kHeaderMagic, sizeof kHeaderMagic);
  PutBe32(h + kVersionAt, kVersion);
  std::memcpy(h + kUuidAt, header.uuid.data(), header.uuid.size());
  PutBe64(h + kCtimeAt, static_cast<uint64_t>(header.ctime));
  PutBe32(h + kBlobOffsetAt, kFixedHeaderSize);
  PutBe32(h + kBlobSizeAt, static_cast<uint32_t>(blobs.bytes().size()));
  PutBe32(h + kHeaderSizeAt, static_cast<uint32_t>(out.size()));
  for (size_t i = 0; i < header.configs.size(); ++i) {
    PutBe32(h + kConfigNamesAt + 4 * i, config_names[i]);
    PutBe32(h + kConfigDataAt + 4 * i, config_data[i]);
  }
  for (size_t id = 0; id < kDeviceSlots; ++id) {
    if (!by_id[id]) continue;
    PutBe32(h + kDeviceInfoAt + kDeviceInfoSize * id, device_names[id]);
    PutBe64(h + kDeviceInfoAt + kDeviceInfoSize * id + kDeviceSizeInInfo, by_id[id]->size);
  }
  std::copy(blobs.bytes().begin(), blobs.bytes().end(), out.begin() + kFixedHeaderSize);
  Seal(out, kHeaderMd5At);
  COFFER_RETURN_IF_ERROR(Write(out, "header"));

  uuid_ = header.uuid;
  for (size_t id = 0; id < kDeviceSlots; ++id) {
    if (by_id[id]) devices_[id] = std::make_unique<DeviceState>(*by_id[id]);
  }
  extent_.assign(kMaxExtentSize, 0);
  extent_used_ = kExtentHeaderSize;
  state_ = State::kClusters;
  return Status::Ok();
}

Status Writer::CheckWritingClusters(std::string_view next) const {
  switch (state_) {
    case State::kBeforeHeader:
      return Status::FailedPrecondition("the VMA header must be written before " +
                                        std::string(next));
    case State::kFinished:
      return Status::FailedPrecondition("the VMA archive was finished already");
    case State::kFailed: return failure_;
    case State::kClusters: break;
  }
  return Status::Ok();
}

Status Writer::AddCluster(uint8_t device_id, uint64_t index, ByteView data) {
  COFFER_RETURN_IF_ERROR(CheckWritingClusters("clusters"));
  DeviceState* device = devices_[device_id].get();
  if (!device) {
    return Status::InvalidArgument("VMA device " + std::to_string(device_id) +
                                   " is not in the header");
  }
  if (index >= device->clusters) {
    return Status::InvalidArgument("VMA cluster " + std::to_string(index) + " is past the end of " +
                                   device->Describe() + " (" + std::to_string(device->clusters) +
                                   " clusters)");
  }
  if (!data.empty() && data.size() != kClusterSize) {
    return Status::InvalidArgument("VMA cluster " + std::to_string(index) + " of " +
                                   device->Describe() + " has " + std::to_string(data.size()) +
                                   " bytes, not " + std::to_string(kClusterSize) + " or none");
  }
  const uint64_t left = device->size - index * kClusterSize;  // bytes of the device in it
  const size_t inside = static_cast<size_t>(std::min(left, kClusterSize));
  if (!data.empty() && inside < kClusterSize &&
      std::any_of(data.begin() + inside, data.end(), [](uint8_t b) { return b != 0; })) {
    return Status::InvalidArgument("VMA cluster " + std::to_string(index) + " of " +
                                   device->Describe() + " is not zero past the device's end");
  }
  if (device->added.Contains(index)) {
    return Status::InvalidArgument("VMA cluster " + std::to_string(index) + " of " +
                                   device->Describe() + " was added before");
  }

  if (slot_count_ == kClustersPerExtent) COFFER_RETURN_IF_ERROR(FlushExtent());
  uint16_t mask = 0;
  if (!data.empty()) {
    // Blocks wholly past the device's end are zero (checked above) and stay out.
    const size_t blocks = (inside + kBlockSize - 1) / kBlockSize;
    for (size_t b = 0; b < blocks; ++b) {
      const uint8_t* block = data.data() + b * kBlockSize;
      if (IsZeroBlock(block)) continue;
      mask |= static_cast<uint16_t>(1u << b);
      std::memcpy(extent_.data() + extent_used_, block, kBlockSize);
      extent_used_ += kBlockSize;
    }
  }
  slots_[slot_count_++] = uint64_t{mask} << kSlotMaskShift |
                          uint64_t{device_id} << kSlotDeviceShift | static_cast<uint32_t>(index);
  device->added.Insert(index);
  return Status::Ok();
}

Status Writer::FlushExtent() {
  uint8_t* e = extent_.data();
  std::memset(e, 0, kExtentHeaderSize);
  std::memcpy(e, kExtentMagic, sizeof kExtentMagic);
  PutBe16(e + kBlockCountAt,
          static_cast<uint16_t>((extent_used_ - kExtentHeaderSize) / kBlockSize));
  std::memcpy(e + kExtentUuidAt, uuid_.data(), uuid_.size());
  for (size_t i = 0; i < slot_count_; ++i) PutBe64(e + kSlotsAt + 8 * i, slots_[i]);
  Seal(std::span(extent_).first(kExtentHeaderSize), kExtentMd5At);
  COFFER_RETURN_IF_ERROR(Write(ByteView(extent_).first(extent_used_), "extent"));
  extent_used_ = kExtentHeaderSize;
  slot_count_ = 0;
  return Status::Ok();
}

Status Writer::Finish() {
  COFFER_RETURN_IF_ERROR(CheckWritingClusters("finishing"));
  for (const std::unique_ptr<DeviceState>& device : devices_) {
    if (!device || device->added.complete()) continue;
    return Status::InvalidArgument("VMA cluster " + std::to_string(device->added.FirstMissing()) +
                                   " of " + device->Describe() + " was not added (" +
                                   std::to_string(device->added.missing()) + " of " +
                                   std::to_string(device->clusters) + " clusters missing)");
  }
  COFFER_RETURN_IF_ERROR(FlushExtent());
  state_ = State::kFinished;
  return Status::Ok();
}

}  // namespace coffer::vma
