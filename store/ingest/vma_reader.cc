#include "store/ingest/vma_reader.h"

#include <nettle/md5.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <set>

namespace coffer::vma {
namespace {

// What an all-zero cluster's data points at.
alignas(64) const uint8_t kZeroCluster[kClusterSize] = {};

uint16_t Be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t Be32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap32(v);  // little-endian host (x86_64, arm64)
}
uint64_t Be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);
}

// Whether the MD5 of `bytes`, with the 16 bytes at `md5_at` taken as zero,
// is what those 16 bytes hold.
bool Md5Matches(ByteView bytes, size_t md5_at) {
  static constexpr uint8_t kZeros[kMd5Size] = {};
  md5_ctx ctx;
  md5_init(&ctx);
  md5_update(&ctx, md5_at, bytes.data());
  md5_update(&ctx, kMd5Size, kZeros);
  md5_update(&ctx, bytes.size() - md5_at - kMd5Size, bytes.data() + md5_at + kMd5Size);
  uint8_t digest[kMd5Size];
  md5_digest(&ctx, kMd5Size, digest);
  return std::memcmp(digest, bytes.data() + md5_at, kMd5Size) == 0;
}

Status CorruptAt(uint64_t position, std::string_view what) {
  return Status::Corruption("VMA at byte " + std::to_string(position) + ": " + std::string(what));
}

std::string Hex16(uint16_t v) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%04x", v);
  return text;
}

// A name as messages show it: quoted, bytes that do not print as '?', and
// cut after 64 (a name may be 65534 bytes long).
std::string Quoted(std::string_view name) {
  std::string out = "'";
  for (char c : name.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (name.size() > 64 ? "'..." : "'");
}

// The blob buffer's records, by their offset in the buffer.
class BlobBuffer {
 public:
  // Splits the buffer (which starts at byte `at` of the archive) into its
  // records; every record must lie whole inside it.
  static Result<BlobBuffer> Parse(ByteView buffer, uint64_t at) {
    BlobBuffer blobs;
    blobs.buffer_ = buffer;
    size_t pos = kFirstBlobAt;
    while (pos < buffer.size()) {
      if (buffer.size() - pos < kBlobLengthSize) {
        return CorruptAt(at + pos, "blob record length cut off by the end of the blob buffer");
      }
      const size_t length = buffer[pos] | size_t{buffer[pos + 1]} << 8;
      if (length > buffer.size() - pos - kBlobLengthSize) {
        return CorruptAt(at + pos, "blob record of " + std::to_string(length) +
                                       " bytes runs past the end of the blob buffer");
      }
      blobs.starts_.push_back(static_cast<uint32_t>(pos));
      pos += kBlobLengthSize + length;
    }
    return blobs;
  }

  // The record at `offset`, named by the header field at `field_at`.
  Result<ByteView> At(uint32_t offset, uint64_t field_at, std::string_view what) const {
    if (offset >= buffer_.size()) {
      return CorruptAt(field_at, std::string(what) + " offset " + std::to_string(offset) +
                                     " lies outside the blob buffer (" +
                                     std::to_string(buffer_.size()) + " bytes)");
    }
    if (!std::binary_search(starts_.begin(), starts_.end(), offset)) {
      return CorruptAt(field_at, std::string(what) + " offset " + std::to_string(offset) +
                                     " is not the start of a blob record");
    }
    const size_t length = buffer_[offset] | size_t{buffer_[offset + 1]} << 8;
    return buffer_.subspan(offset + kBlobLengthSize, length);
  }

  // A name: NUL-terminated, not empty, no NUL inside, usable as a file name
  // (an importer makes files of configs and devices by these names).
  Result<std::string> Name(uint32_t offset, uint64_t field_at, std::string_view what) const {
    COFFER_ASSIGN_OR_RETURN(ByteView record, At(offset, field_at, what));
    if (record.empty() || record.back() != 0) {
      return CorruptAt(field_at, std::string(what) + " at blob offset " + std::to_string(offset) +
                                     " is not NUL-terminated");
    }
    std::string name(AsChars(record.first(record.size() - 1)));
    if (name.find('\0') != std::string::npos) {
      return CorruptAt(field_at, std::string(what) + " " + Quoted(name) + " has a NUL byte inside");
    }
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
      return CorruptAt(field_at, std::string(what) + " " + Quoted(name) + " is not a file name");
    }
    return name;
  }

 private:
  ByteView buffer_;
  std::vector<uint32_t> starts_;  // ascending
};

}  // namespace

// One device's size and which of its clusters were seen: one bit per
// cluster, in pages allocated when a cluster in them is first seen.
struct Reader::DeviceState {
  std::string name;
  uint64_t size = 0;
  uint64_t clusters = 0;
  ClusterSet seen;

  DeviceState(std::string n, uint64_t s)
      : name(std::move(n)),
        size(s),
        clusters((s + kClusterSize - 1) / kClusterSize),
        seen(clusters) {}

  std::string Describe(uint8_t id) const {
    return "device " + std::to_string(id) + " " + Quoted(name);
  }
};

Reader::Reader(ReadFn read) : read_(std::move(read)) {}
Reader::~Reader() = default;
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;

Status Reader::Fail(Status status) {
  state_ = State::kFailed;
  failure_ = status;
  return status;
}

Result<size_t> Reader::ReadFull(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    Result<size_t> n = read_(out.subspan(done));
    if (!n.ok()) return n.status().WithContext("reading VMA at byte " + std::to_string(position_));
    if (*n > out.size() - done) {
      return Status::IoError("reading VMA at byte " + std::to_string(position_) +
                             ": the input returned more bytes than asked for");
    }
    if (*n == 0) break;
    done += *n;
    position_ += *n;
  }
  return done;
}

Result<Header> Reader::ReadHeader() {
  if (state_ == State::kFailed) return failure_;
  if (state_ != State::kBeforeHeader) {
    return Status::FailedPrecondition("the VMA header was read already");
  }
  Bytes header(kFixedHeaderSize);
  Result<size_t> got = ReadFull(header);
  if (!got.ok()) return Fail(got.status());
  if (*got >= 4 &&
      std::memcmp(header.data() + kHeaderMagicAt, kHeaderMagic, sizeof kHeaderMagic) != 0) {
    return Fail(CorruptAt(kHeaderMagicAt, "bad magic: not a VMA archive"));
  }
  if (*got < kFixedHeaderSize) {
    return Fail(CorruptAt(position_, "the input ends inside the header (" + std::to_string(*got) +
                                         " of " + std::to_string(kFixedHeaderSize) + " bytes)"));
  }
  const uint32_t version = Be32(header.data() + kVersionAt);
  if (version != kVersion) {
    return Fail(
        CorruptAt(kVersionAt, "version " + std::to_string(version) + " is not known (only 1)"));
  }
  const uint32_t header_size = Be32(header.data() + kHeaderSizeAt);
  if (header_size <= kFixedHeaderSize || header_size > kMaxHeaderSize ||
      header_size % kHeaderAlignment != 0) {
    return Fail(CorruptAt(kHeaderSizeAt, "header size " + std::to_string(header_size) +
                                             " is not a multiple of 512 in (12288, " +
                                             std::to_string(kMaxHeaderSize) + "]"));
  }
  header.resize(header_size);
  got = ReadFull(std::span(header).subspan(kFixedHeaderSize));
  if (!got.ok()) return Fail(got.status());
  if (*got < header_size - kFixedHeaderSize) {
    return Fail(CorruptAt(position_, "the input ends inside the header (" +
                                         std::to_string(kFixedHeaderSize + *got) + " of " +
                                         std::to_string(header_size) + " bytes)"));
  }
  if (!Md5Matches(header, kHeaderMd5At)) {
    return Fail(CorruptAt(kHeaderMd5At, "header checksum mismatch"));
  }
  Header out;
  Status parsed = ParseHeader(header, &out);
  if (!parsed.ok()) return Fail(parsed);
  state_ = State::kClusters;
  return out;
}

Status Reader::ParseHeader(ByteView header, Header* out) {
  const uint8_t* h = header.data();
  std::memcpy(out->uuid.data(), h + kUuidAt, out->uuid.size());
  uuid_ = out->uuid;
  out->ctime = static_cast<int64_t>(Be64(h + kCtimeAt));

  const uint32_t blob_offset = Be32(h + kBlobOffsetAt);
  const uint32_t blob_size = Be32(h + kBlobSizeAt);
  if (blob_offset < kFixedHeaderSize || blob_offset > header.size() ||
      blob_size > header.size() - blob_offset) {
    return CorruptAt(kBlobOffsetAt, "blob buffer of " + std::to_string(blob_size) +
                                        " bytes at byte " + std::to_string(blob_offset) +
                                        " lies outside the header (" +
                                        std::to_string(header.size()) + " bytes)");
  }
  COFFER_ASSIGN_OR_RETURN(const BlobBuffer blobs,
                          BlobBuffer::Parse(header.subspan(blob_offset, blob_size), blob_offset));

  std::set<std::string, std::less<>> names;
  for (size_t i = 0; i < kMaxConfigs; ++i) {
    const size_t name_at = kConfigNamesAt + 4 * i;
    const size_t data_at = kConfigDataAt + 4 * i;
    const uint32_t name_offset = Be32(h + name_at);
    const uint32_t data_offset = Be32(h + data_at);
    if (name_offset == 0 && data_offset == 0) continue;
    const std::string which = "config " + std::to_string(i);
    if (name_offset == 0) return CorruptAt(name_at, which + " has data but no name");
    if (data_offset == 0) return CorruptAt(data_at, which + " has a name but no data");
    COFFER_ASSIGN_OR_RETURN(std::string name, blobs.Name(name_offset, name_at, which + " name"));
    COFFER_ASSIGN_OR_RETURN(ByteView data, blobs.At(data_offset, data_at, which + " data"));
    if (!names.insert(name).second) {
      return CorruptAt(name_at, which + " name " + Quoted(name) + " is used twice");
    }
    out->configs.push_back({std::move(name), Bytes(data.begin(), data.end())});
  }

  names.clear();
  for (size_t id = 0; id < devices_.size(); ++id) {
    const size_t info_at = kDeviceInfoAt + kDeviceInfoSize * id;
    const uint32_t name_offset = Be32(h + info_at);
    const uint64_t size = Be64(h + info_at + kDeviceSizeInInfo);
    const std::string which = "device " + std::to_string(id);
    if (size == 0) {
      if (name_offset != 0) return CorruptAt(info_at, which + " has a name but size 0");
      continue;
    }
    if (id < kFirstDeviceId || id > kLastDeviceId) {
      return CorruptAt(info_at, which + " is outside the ids 1..254");
    }
    if (name_offset == 0) return CorruptAt(info_at, which + " has no name");
    COFFER_ASSIGN_OR_RETURN(std::string name, blobs.Name(name_offset, info_at, which + " name"));
    if (name == "vmstate") {
      return Status::Unsupported("VMA at byte " + std::to_string(info_at) + ": " + which +
                                 " holds a VM's saved RAM state ('vmstate'), which is not read");
    }
    if (size > kMaxDeviceSize) {
      return CorruptAt(info_at + kDeviceSizeInInfo,
                       which + " " + Quoted(name) + " of " + std::to_string(size) +
                           " bytes is larger than VMA cluster numbers reach");
    }
    if (!names.insert(name).second) {
      return CorruptAt(info_at, which + " name " + Quoted(name) + " is used twice");
    }
    devices_[id] = std::make_unique<DeviceState>(name, size);
    out->devices.push_back({static_cast<uint8_t>(id), std::move(name), size});
  }
  return Status::Ok();
}

Result<std::optional<Cluster>> Reader::Next() {
  switch (state_) {
    case State::kBeforeHeader:
      return Status::FailedPrecondition("the VMA header must be read before its clusters");
    case State::kFailed: return failure_;
    case State::kEnd: return std::optional<Cluster>();
    case State::kClusters: break;
  }
  while (next_slot_ == slot_count_) {
    Result<bool> more = ReadExtent();
    if (!more.ok()) return Fail(more.status());
    if (!*more) {
      Status complete = CheckComplete();
      if (!complete.ok()) return Fail(complete);
      state_ = State::kEnd;
      return std::optional<Cluster>();
    }
  }
  return std::optional<Cluster>(MakeCluster(slots_[next_slot_++]));
}

Result<bool> Reader::ReadExtent() {
  const uint64_t start = position_;
  uint8_t e[kExtentHeaderSize];
  COFFER_ASSIGN_OR_RETURN(const size_t got, ReadFull(e));
  if (got == 0) return false;
  if (got < kExtentHeaderSize) {
    return CorruptAt(position_, "the input ends inside the extent header at byte " +
                                    std::to_string(start) + " (" + std::to_string(got) + " of " +
                                    std::to_string(kExtentHeaderSize) + " bytes)");
  }
  if (std::memcmp(e, kExtentMagic, sizeof kExtentMagic) != 0) {
    return CorruptAt(start, "bad extent magic");
  }
  if (Be16(e + kExtentReservedAt) != 0) {
    return CorruptAt(start + kExtentReservedAt, "extent reserved field is not 0");
  }
  if (!Md5Matches(ByteView(e, kExtentHeaderSize), kExtentMd5At)) {
    return CorruptAt(start, "extent checksum mismatch");
  }
  if (std::memcmp(e + kExtentUuidAt, uuid_.data(), uuid_.size()) != 0) {
    return CorruptAt(start + kExtentUuidAt, "extent uuid differs from the header's");
  }

  slot_count_ = 0;
  next_slot_ = 0;
  size_t blocks = 0;
  for (size_t i = 0; i < kSlotsPerExtent; ++i) {
    const uint64_t info = Be64(e + kSlotsAt + 8 * i);
    // Messages are made only on the way out: this loop runs for every cluster.
    auto slot_error = [&](const std::string& what) {
      return CorruptAt(start + kSlotsAt + 8 * i, "slot " + std::to_string(i) + what);
    };
    const uint8_t id = static_cast<uint8_t>(info >> kSlotDeviceShift);
    if (id == 0) {
      // Writers leave unused slots zero; anything else is not understood.
      if (info != 0) return slot_error(" has no device but is not zero");
      continue;
    }
    if ((info >> 40 & 0xff) != 0) return slot_error(" reserved byte is not 0");
    DeviceState* device = devices_[id].get();
    if (!device) {
      return slot_error(" names device " + std::to_string(id) + ", which the header does not list");
    }
    const uint32_t index = static_cast<uint32_t>(info);
    const uint16_t mask = static_cast<uint16_t>(info >> kSlotMaskShift);
    if (index >= device->clusters) {
      return slot_error(": cluster " + std::to_string(index) + " is past the end of " +
                        device->Describe(id) + " (" + std::to_string(device->clusters) +
                        " clusters)");
    }
    const uint64_t left = device->size - uint64_t{index} * kClusterSize;
    if (left < kClusterSize && mask >> ((left + kBlockSize - 1) / kBlockSize) != 0) {
      return slot_error(": mask " + Hex16(mask) + " marks blocks past the end of " +
                        device->Describe(id));
    }
    if (!device->seen.Insert(index)) {
      return slot_error(": cluster " + std::to_string(index) + " of " + device->Describe(id) +
                        " appears twice");
    }
    slots_[slot_count_++] = {id, mask, index, blocks * kBlockSize};
    blocks += std::popcount(mask);
  }
  const uint16_t block_count = Be16(e + kBlockCountAt);
  if (block_count != blocks) {
    return CorruptAt(start + kBlockCountAt, "extent block count " + std::to_string(block_count) +
                                                " differs from its slots' masks (" +
                                                std::to_string(blocks) + " blocks)");
  }

  const size_t data_size = blocks * kBlockSize;
  if (extent_data_.size() < data_size) extent_data_.resize(data_size);
  COFFER_ASSIGN_OR_RETURN(const size_t data_got,
                          ReadFull(std::span(extent_data_).first(data_size)));
  if (data_got < data_size) {
    return CorruptAt(position_, "the input ends inside the data of the extent at byte " +
                                    std::to_string(start) + " (" + std::to_string(data_got) +
                                    " of " + std::to_string(data_size) + " bytes)");
  }
  return true;
}

Cluster Reader::MakeCluster(const Slot& slot) {
  Cluster cluster{slot.device_id, slot.index, slot.mask, {}};
  const DeviceState& device = *devices_[slot.device_id];
  const uint64_t left = device.size - uint64_t{slot.index} * kClusterSize;
  if (slot.mask == 0) {
    cluster.data = ByteView(kZeroCluster, kClusterSize);
  } else if (slot.mask == 0xffff && left >= kClusterSize) {
    cluster.data = ByteView(extent_data_).subspan(slot.data_offset, kClusterSize);
  } else {
    if (cluster_buffer_.empty()) cluster_buffer_.resize(kClusterSize);
    uint8_t* out = cluster_buffer_.data();
    const uint8_t* stored = extent_data_.data() + slot.data_offset;
    for (size_t b = 0; b < kBlocksPerCluster; ++b, out += kBlockSize) {
      if (slot.mask >> b & 1) {
        std::memcpy(out, stored, kBlockSize);
        stored += kBlockSize;
      } else {
        std::memset(out, 0, kBlockSize);
      }
    }
    // Older writers left memory in the last block's bytes past the end.
    if (left < kClusterSize) std::memset(cluster_buffer_.data() + left, 0, kClusterSize - left);
    cluster.data = cluster_buffer_;
  }
  return cluster;
}

Status Reader::CheckComplete() {
  for (size_t id = 0; id < devices_.size(); ++id) {
    const DeviceState* device = devices_[id].get();
    if (!device || device->seen.complete()) continue;
    return CorruptAt(position_, "the archive ends without cluster " +
                                    std::to_string(device->seen.FirstMissing()) + " of " +
                                    device->Describe(static_cast<uint8_t>(id)) + " (" +
                                    std::to_string(device->seen.missing()) + " of " +
                                    std::to_string(device->clusters) + " clusters missing)");
  }
  return Status::Ok();
}

}  // namespace coffer::vma
