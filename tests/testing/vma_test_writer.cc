#include "tests/testing/vma_test_writer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace coffer::testing {
namespace {

using namespace vma_layout;

constexpr size_t kSlots = 59;
constexpr size_t kBlocksInCluster = kCluster / kBlock;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "vma test writer: %s\n", what);
  std::abort();
}

void Md5(ByteView data, uint8_t* out) {
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out, &length, EVP_md5(), nullptr) != 1 || length != 16) {
    Die("OpenSSL's MD5 failed");
  }
}

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// The bytes of one cluster of `device` (zero past its end), into `out`;
// false if it has none to fetch (an absent device, past the end, or past
// the content buffer): all zero.
bool FetchCluster(const VmaTestDevice* device, uint64_t index, uint8_t* out) {
  const uint64_t start = index * kCluster;
  if (!device || start >= device->size) return false;
  if (!device->fill && start >= device->content.size()) return false;
  const size_t length = static_cast<size_t>(std::min<uint64_t>(kCluster, device->size - start));
  std::memset(out, 0, kCluster);
  if (device->fill) {
    device->fill(start, std::span<uint8_t>(out, length));
  } else {
    const size_t from_content = std::min<uint64_t>(length, device->content.size() - start);
    std::memcpy(out, device->content.data() + start, from_content);
  }
  return true;
}

class Writer {
 public:
  explicit Writer(const VmaTestOptions& options) : options_(options) {
    for (size_t i = 0; i < options.devices.size(); ++i) {
      const VmaTestDevice& device = options.devices[i];
      const size_t id = device.id != 0 ? device.id : i + 1;
      if (id > 255) Die("more than 255 devices");
      by_id_[id] = &device;
    }
  }

  VmaTestArchive Write() {
    WriteHeader();
    std::vector<VmaTestCluster> order;
    if (options_.order) {
      order = *options_.order;
    } else {
      for (size_t id = 0; id < by_id_.size(); ++id) {
        if (!by_id_[id]) continue;
        const uint64_t clusters = (by_id_[id]->size + kCluster - 1) / kCluster;
        for (uint64_t c = 0; c < clusters; ++c) order.push_back({static_cast<uint8_t>(id), c, {}});
      }
    }
    size_t next = 0;
    for (size_t extent = 0; extent < options_.extent_clusters.size() || next < order.size();
         ++extent) {
      size_t count = extent < options_.extent_clusters.size() ? options_.extent_clusters[extent]
                                                              : options_.clusters_per_extent;
      if (count == 0 && extent >= options_.extent_clusters.size()) Die("clusters_per_extent is 0");
      if (count > kSlots) Die("more than 59 clusters in an extent");
      count = std::min(count, order.size() - next);
      WriteExtent(std::span(order).subspan(next, count));
      next += count;
    }
    if (options_.trailing_empty_extent) WriteExtent({});
    return std::move(out_);
  }

 private:
  uint32_t AddBlob(ByteView data) {
    if (data.size() > 0xffff) Die("a blob above 65535 bytes");
    const uint32_t at = static_cast<uint32_t>(blob_.size());
    blob_.push_back(static_cast<uint8_t>(data.size()));
    blob_.push_back(static_cast<uint8_t>(data.size() >> 8));
    blob_.insert(blob_.end(), data.begin(), data.end());
    out_.blob_records.push_back(at);
    return at;
  }
  uint32_t AddName(const std::string& name) {
    Bytes text(name.begin(), name.end());
    text.push_back(0);
    return AddBlob(text);
  }

  void WriteHeader() {
    blob_.assign(1, 0);  // offset 0 means "none"
    Bytes& h = out_.bytes;
    h.assign(kHeaderFixed, 0);
    if (options_.configs.size() > 256) Die("more than 256 configs");
    for (size_t i = 0; i < options_.configs.size(); ++i) {
      PutBe32(h, ConfigName(i), AddName(options_.configs[i].first));
      PutBe32(h, ConfigData(i), AddBlob(options_.configs[i].second));
    }
    for (size_t id = 0; id < by_id_.size(); ++id) {
      if (!by_id_[id]) continue;
      PutBe32(h, DeviceInfo(id), AddName(by_id_[id]->name));
      PutBe64(h, DeviceInfo(id) + 8, by_id_[id]->size);
    }
    out_.blob_buffer_size = blob_.size();
    out_.header_size = kHeaderFixed + (blob_.size() + 511) / 512 * 512;
    std::memcpy(h.data(), "VMA", 4);
    PutBe32(h, kVersion, 1);
    std::copy(options_.uuid.begin(), options_.uuid.end(), h.begin() + kUuid);
    PutBe64(h, kCtime, static_cast<uint64_t>(options_.ctime));
    PutBe32(h, kBlobBufferOffset, kHeaderFixed);
    PutBe32(h, kBlobBufferSize, static_cast<uint32_t>(blob_.size()));
    PutBe32(h, kHeaderSize, static_cast<uint32_t>(out_.header_size));
    h.insert(h.end(), blob_.begin(), blob_.end());
    h.resize(out_.header_size, 0);
    ResealVmaHeader(h);
  }

  void WriteExtent(std::span<const VmaTestCluster> clusters) {
    uint8_t header[kExtentHeader] = {};
    Bytes data;
    Bytes& cluster = cluster_;
    for (size_t slot = 0; slot < clusters.size(); ++slot) {
      const VmaTestCluster& c = clusters[slot];
      const VmaTestDevice* device = by_id_[c.device_id];
      const bool fetched = FetchCluster(device, c.index, cluster.data());
      // Zero clusters cost nothing unless a chosen mask stores their blocks.
      if (!fetched && c.mask) std::fill(cluster.begin(), cluster.end(), 0);
      uint16_t mask = 0;
      if (c.mask) {
        mask = *c.mask;
      } else if (fetched) {
        for (size_t b = 0; b < kBlocksInCluster; ++b) {
          const bool inside = c.index * kCluster + b * kBlock < device->size;
          if (inside && !AllZero(cluster.data() + b * kBlock, kBlock)) mask |= 1 << b;
        }
      }
      for (size_t b = 0; b < kBlocksInCluster; ++b) {
        if (mask >> b & 1) {
          data.insert(data.end(), cluster.begin() + b * kBlock, cluster.begin() + (b + 1) * kBlock);
        }
      }
      const uint64_t info =
          uint64_t{mask} << 48 | uint64_t{c.device_id} << 32 | (c.index & 0xffffffff);
      for (int i = 0; i < 8; ++i)
        header[ExtentSlot(slot) + i] = static_cast<uint8_t>(info >> (56 - 8 * i));
    }
    const size_t blocks = data.size() / kBlock;
    std::memcpy(header, "VMAE", 4);
    header[kExtentBlockCount] = static_cast<uint8_t>(blocks >> 8);
    header[kExtentBlockCount + 1] = static_cast<uint8_t>(blocks);
    std::copy(options_.uuid.begin(), options_.uuid.end(), header + kExtentUuid);
    out_.extents.push_back(out_.bytes.size());
    out_.bytes.insert(out_.bytes.end(), header, header + kExtentHeader);
    out_.bytes.insert(out_.bytes.end(), data.begin(), data.end());
    ResealVmaExtent(out_.bytes, out_.extents.back());
  }

  const VmaTestOptions& options_;
  std::array<const VmaTestDevice*, 256> by_id_{};
  Bytes blob_;
  Bytes cluster_ = Bytes(kCluster);
  VmaTestArchive out_;
};

}  // namespace

VmaTestArchive WriteVma(const VmaTestOptions& options) {
  return Writer(options).Write();
}

Bytes VmaDeviceImage(const VmaTestDevice& device) {
  Bytes image(device.size, 0);
  if (device.fill) {
    for (uint64_t at = 0; at < device.size; at += kCluster) {
      const size_t length = static_cast<size_t>(std::min<uint64_t>(kCluster, device.size - at));
      device.fill(at, std::span<uint8_t>(image.data() + at, length));
    }
  } else {
    std::copy_n(device.content.begin(), std::min<uint64_t>(device.size, device.content.size()),
                image.begin());
  }
  return image;
}

std::function<void(uint64_t, std::span<uint8_t>)> VmaPatternContent(uint64_t seed) {
  return [seed](uint64_t offset, std::span<uint8_t> out) {
    for (size_t i = 0; i < out.size(); ++i) {
      const uint64_t at = offset + i;
      // A quarter of the clusters all zero, a third of the other blocks zero.
      const bool zero =
          Mix(seed ^ Mix(at / kCluster)) % 4 == 0 || Mix(~seed ^ Mix(at / kBlock)) % 3 == 0;
      out[i] = zero ? 0 : static_cast<uint8_t>(Mix(seed + at / 8) >> (8 * (at % 8)));
    }
  };
}

void PutBe16(Bytes& bytes, size_t at, uint16_t value) {
  for (int i = 0; i < 2; ++i) bytes.at(at + i) = static_cast<uint8_t>(value >> (8 - 8 * i));
}
void PutBe32(Bytes& bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes.at(at + i) = static_cast<uint8_t>(value >> (24 - 8 * i));
}
void PutBe64(Bytes& bytes, size_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes.at(at + i) = static_cast<uint8_t>(value >> (56 - 8 * i));
}

void ResealVmaHeader(Bytes& archive) {
  size_t size = 0;
  for (int i = 0; i < 4; ++i) size = size << 8 | archive.at(kHeaderSize + i);
  size = std::min(size, archive.size());
  if (size < kHeaderMd5 + 16) Die("no header to reseal");
  std::fill_n(archive.begin() + kHeaderMd5, 16, 0);
  uint8_t md5[16];
  Md5(ByteView(archive).first(size), md5);
  std::copy_n(md5, 16, archive.begin() + kHeaderMd5);
}

void ResealVmaExtent(Bytes& archive, size_t extent_at) {
  if (extent_at + kExtentHeader > archive.size()) Die("no extent to reseal");
  std::fill_n(archive.begin() + extent_at + kExtentMd5, 16, 0);
  uint8_t md5[16];
  Md5(ByteView(archive).subspan(extent_at, kExtentHeader), md5);
  std::copy_n(md5, 16, archive.begin() + extent_at + kExtentMd5);
}

}  // namespace coffer::testing
