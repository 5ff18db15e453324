#include "store/export/vma_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <tuple>

#include "store/ingest/vma_reader.h"
#include "tests/testing/vma_test_writer.h"

namespace coffer::vma {
namespace {

namespace layout = testing::vma_layout;

constexpr size_t kBlocks = kClusterSize / kBlockSize;

// A disk as the tests know it: its whole content in memory.
struct Disk {
  uint8_t id;
  std::string name;
  Bytes image;  // size() is the device's size
  uint64_t clusters() const { return (image.size() + kClusterSize - 1) / kClusterSize; }
};

// Content with every kind of cluster: a fifth all zero, a third of the other
// blocks zero, and some blocks whose one non-zero byte is their last (a
// zero check that stops early takes them for zero).
Bytes Pattern(uint64_t size, uint32_t seed) {
  Bytes image(size, 0);
  std::mt19937_64 random(seed);
  for (uint64_t block = 0; block * kBlockSize < size; ++block) {
    const uint64_t start = block * kBlockSize;
    const size_t length = static_cast<size_t>(std::min<uint64_t>(kBlockSize, size - start));
    if (block % kBlocks == 0 && random() % 5 == 0) {
      block += kBlocks - 1;  // an all-zero cluster
      continue;
    }
    switch (random() % 6) {
      case 0:
      case 1: break;  // zero
      case 2: image[start + length - 1] = 0x80; break;
      default:
        for (size_t i = 0; i < length; ++i) image[start + i] = static_cast<uint8_t>(random());
    }
  }
  return image;
}

// Cluster `index` of `disk`, kClusterSize bytes, zero past the disk's end.
Bytes ClusterOf(const Disk& disk, uint64_t index) {
  Bytes cluster(kClusterSize, 0);
  const uint64_t start = index * kClusterSize;
  const size_t inside =
      static_cast<size_t>(std::min<uint64_t>(kClusterSize, disk.image.size() - start));
  std::copy_n(disk.image.begin() + static_cast<ptrdiff_t>(start), inside, cluster.begin());
  return cluster;
}

// The mask a writer must give cluster `index`: the blocks inside the disk
// that are not all zero.
uint16_t ExpectedMask(const Disk& disk, uint64_t index) {
  uint16_t mask = 0;
  for (size_t b = 0; b < kBlocks; ++b) {
    const uint64_t start = index * kClusterSize + b * kBlockSize;
    if (start >= disk.image.size()) break;
    const auto first = disk.image.begin() + static_cast<ptrdiff_t>(start);
    const auto last =
        first + static_cast<ptrdiff_t>(std::min<uint64_t>(kBlockSize, disk.image.size() - start));
    if (std::any_of(first, last, [](uint8_t x) { return x != 0; })) mask |= 1 << b;
  }
  return mask;
}

struct ClusterRef {
  uint8_t device_id;
  uint64_t index;
  bool operator==(const ClusterRef&) const = default;
};

std::vector<ClusterRef> InOrder(const std::vector<Disk>& disks) {
  std::vector<ClusterRef> order;
  for (const Disk& disk : disks) {
    for (uint64_t c = 0; c < disk.clusters(); ++c) order.push_back({disk.id, c});
  }
  return order;
}

std::vector<ClusterRef> Shuffled(const std::vector<Disk>& disks, uint32_t seed) {
  std::vector<ClusterRef> order = InOrder(disks);
  std::mt19937 random(seed);
  std::shuffle(order.begin(), order.end(), random);
  return order;
}

Bytes Text(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

Header HeaderFor(const std::vector<Disk>& disks) {
  Header header;
  header.uuid = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};
  header.ctime = 1767225600;
  for (const Disk& disk : disks) header.devices.push_back({disk.id, disk.name, disk.image.size()});
  header.configs.push_back(
      {"qemu-server.conf",
       Text("boot: order=scsi0\nmemory: 2048\n#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:\n")});
  header.configs.push_back({"qemu-server.fw", Text("[OPTIONS]\nenable: 1\n")});
  return header;
}

// Collects what the writer writes, one piece per call.
struct Sink {
  Bytes bytes;
  std::vector<size_t> calls;  // the size of each write
  WriteFn Fn() {
    return [this](ByteView data) {
      bytes.insert(bytes.end(), data.begin(), data.end());
      calls.push_back(data.size());
      return Status::Ok();
    };
  }
};

// Writes the disks' clusters in `order`: all-zero clusters alternately as
// empty data and as 64 KiB of zeros (both must come out as mask 0).
Bytes WriteArchive(const Header& header, const std::vector<Disk>& disks,
                   const std::vector<ClusterRef>& order, Sink* sink_out = nullptr) {
  Sink sink;
  Writer writer(sink.Fn());
  EXPECT_TRUE(writer.WriteHeader(header).ok());
  std::map<uint8_t, const Disk*> by_id;
  for (const Disk& disk : disks) by_id[disk.id] = &disk;
  bool empty_for_zero = true;
  for (const ClusterRef& ref : order) {
    const Bytes cluster = ClusterOf(*by_id.at(ref.device_id), ref.index);
    ByteView data = cluster;
    if (std::all_of(cluster.begin(), cluster.end(), [](uint8_t x) { return x == 0; })) {
      if (empty_for_zero) data = {};
      empty_for_zero = !empty_for_zero;
    }
    const Status added = writer.AddCluster(ref.device_id, ref.index, data);
    EXPECT_TRUE(added.ok()) << added.message();
  }
  const Status finished = writer.Finish();
  EXPECT_TRUE(finished.ok()) << finished.message();
  EXPECT_EQ(writer.bytes_written(), sink.bytes.size());
  if (sink_out) *sink_out = sink;
  return std::move(sink.bytes);
}

ReadFn ReadFrom(ByteView bytes) {
  auto at = std::make_shared<size_t>(0);
  return [bytes, at](std::span<uint8_t> out) -> Result<size_t> {
    const size_t n = std::min(out.size(), bytes.size() - *at);
    std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(*at), n, out.begin());
    *at += n;
    return n;
  };
}

struct ReadCluster {
  uint8_t device_id;
  uint64_t index;
  uint16_t mask;
};

struct ReadBack {
  Header header;
  std::map<uint8_t, Bytes> images;
  std::vector<ReadCluster> clusters;  // in archive order
};

// Reads the archive with the strict reader, placing each cluster.
Result<ReadBack> ReadAll(ByteView archive) {
  Reader reader(ReadFrom(archive));
  ReadBack out;
  COFFER_ASSIGN_OR_RETURN(out.header, reader.ReadHeader());
  for (const Device& d : out.header.devices) out.images[d.id] = Bytes(d.size, 0xEE);
  for (;;) {
    COFFER_ASSIGN_OR_RETURN(std::optional<Cluster> cluster, reader.Next());
    if (!cluster) break;
    Bytes& image = out.images.at(cluster->device_id);
    const uint64_t start = cluster->index * kClusterSize;
    const size_t inside =
        static_cast<size_t>(std::min<uint64_t>(kClusterSize, image.size() - start));
    std::copy_n(cluster->data.begin(), inside, image.begin() + static_cast<ptrdiff_t>(start));
    out.clusters.push_back({cluster->device_id, cluster->index, cluster->mask});
  }
  if (reader.position() != archive.size()) return Status::Corruption("bytes after the end");
  return out;
}

// Round trip: the reader gives back every disk, in the order written, with
// the masks the content calls for.
void ExpectRoundTrip(const std::vector<Disk>& disks, const std::vector<ClusterRef>& order) {
  const Header header = HeaderFor(disks);
  const Bytes archive = WriteArchive(header, disks, order);
  Result<ReadBack> back = ReadAll(archive);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->header.devices.size(), disks.size());
  std::map<uint8_t, const Disk*> by_id;
  for (const Disk& disk : disks) by_id[disk.id] = &disk;
  for (const Device& device : back->header.devices) {
    const Disk& disk = *by_id.at(device.id);
    EXPECT_EQ(device.name, disk.name);
    EXPECT_EQ(device.size, disk.image.size());
    EXPECT_TRUE(back->images.at(device.id) == disk.image) << disk.name;
  }
  ASSERT_EQ(back->clusters.size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const ReadCluster& c = back->clusters[i];
    ASSERT_EQ((ClusterRef{c.device_id, c.index}), order[i]) << "at " << i;
    EXPECT_EQ(c.mask, ExpectedMask(*by_id.at(c.device_id), c.index))
        << "device " << int{c.device_id} << " cluster " << c.index;
  }
}

std::vector<Disk> TwoDisks() {
  return {{1, "drive-scsi0", Pattern(65537, 1)},
          {2, "drive-virtio1", Pattern(3 * kClusterSize + 4096 + 17, 2)}};
}

std::vector<Disk> ThreeDisks() {
  return {{1, "drive-scsi0", Pattern(3 * kClusterSize + 4096 + 17, 3)},
          {2, "drive-efidisk0", Pattern(1, 4)},
          {5, "drive-virtio3", Pattern(65537, 5)}};
}

TEST(VmaWriterTest, TwoDevicesRoundTrip) {
  const std::vector<Disk> disks = TwoDisks();
  ExpectRoundTrip(disks, InOrder(disks));
}

TEST(VmaWriterTest, ThreeDevicesInShuffledInterleavedOrderRoundTrip) {
  std::vector<Disk> disks = ThreeDisks();
  disks[1].image = {0x7f};  // the 1-byte disk not zero
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE(seed);
    const std::vector<ClusterRef> order = Shuffled(disks, seed);
    ExpectRoundTrip(disks, order);
  }
}

TEST(VmaWriterTest, SeveralExtentsOfAtMost58ClustersEachOneWrite) {
  // 130 clusters: extents of 58, 58 and 14, as Proxmox's writer cuts them.
  const std::vector<Disk> disks = {{1, "drive-scsi0", Pattern(100 * kClusterSize - 512, 6)},
                                   {2, "drive-scsi1", Pattern(30 * kClusterSize, 7)}};
  const std::vector<ClusterRef> order = Shuffled(disks, 9);
  ASSERT_EQ(order.size(), 130u);
  ExpectRoundTrip(disks, order);

  Sink sink;
  const Bytes archive = WriteArchive(HeaderFor(disks), disks, order, &sink);
  // The header, then one write per extent holding all of it.
  ASSERT_EQ(sink.calls.size(), 4u);
  size_t at = sink.calls[0];
  EXPECT_EQ(at % 512, 0u);
  const std::vector<size_t> expected_slots = {58, 58, 14};
  for (size_t e = 0; e < 3; ++e) {
    ASSERT_GE(archive.size(), at + layout::kExtentHeader);
    EXPECT_EQ(std::memcmp(archive.data() + at, "VMAE", 4), 0);
    const size_t blocks =
        archive[at + layout::kExtentBlockCount] << 8 | archive[at + layout::kExtentBlockCount + 1];
    EXPECT_EQ(sink.calls[1 + e], layout::kExtentHeader + blocks * layout::kBlock);
    size_t used = 0;
    for (size_t s = 0; s < 59; ++s) {
      used += archive[at + layout::ExtentSlot(s) + 3] != 0;  // device id byte
    }
    EXPECT_EQ(used, expected_slots[e]) << "extent " << e;
    at += sink.calls[1 + e];
  }
  EXPECT_EQ(at, archive.size());
}

TEST(VmaWriterTest, ExactlyFullExtentsLeaveNoEmptyExtentAtTheEnd) {
  const std::vector<Disk> disks = {{1, "drive-scsi0", Pattern(116 * kClusterSize, 8)}};
  Sink sink;
  WriteArchive(HeaderFor(disks), disks, InOrder(disks), &sink);
  ASSERT_EQ(sink.calls.size(), 3u);  // header, 58, 58
  EXPECT_GT(sink.calls[2], layout::kExtentHeader);
}

TEST(VmaWriterTest, AllZeroClustersAreMaskZeroWithNoBlocks) {
  const std::vector<Disk> disks = {{1, "drive-scsi0", Bytes(3 * kClusterSize + 100, 0)},
                                   {2, "drive-scsi1", Bytes(kClusterSize, 0)}};
  Sink sink;
  const Bytes archive = WriteArchive(HeaderFor(disks), disks, InOrder(disks), &sink);
  ASSERT_EQ(sink.calls.size(), 2u);
  EXPECT_EQ(sink.calls[1], layout::kExtentHeader);  // no block stored
  Result<ReadBack> back = ReadAll(archive);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->clusters.size(), 5u);
  for (const ReadCluster& c : back->clusters) EXPECT_EQ(c.mask, 0) << c.index;
  EXPECT_EQ(back->images.at(1), disks[0].image);
}

TEST(VmaWriterTest, ZeroBlocksAreLeftOutByTheMask) {
  // Device of 2 clusters and 3 blocks and 10 bytes; chosen blocks non-zero.
  Disk disk{1, "drive-scsi0", Bytes(2 * kClusterSize + 3 * kBlockSize + 10, 0)};
  auto set = [&](uint64_t offset) { disk.image.at(offset) = 0xA5; };
  set(0);                                // cluster 0 block 0, first byte
  set(2 * kBlockSize + kBlockSize - 1);  // cluster 0 block 2, last byte
  set(15 * kBlockSize + 2000);           // cluster 0 block 15
  // cluster 1: all zero
  set(2 * kClusterSize + 1 * kBlockSize + 7);  // cluster 2 block 1
  set(2 * kClusterSize + 3 * kBlockSize + 9);  // cluster 2 block 3, its last byte in the device
  const std::vector<Disk> disks = {disk};
  const Bytes archive = WriteArchive(HeaderFor(disks), disks, InOrder(disks));
  Result<ReadBack> back = ReadAll(archive);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->clusters.size(), 3u);
  EXPECT_EQ(back->clusters[0].mask, 0x8005);
  EXPECT_EQ(back->clusters[1].mask, 0x0000);
  EXPECT_EQ(back->clusters[2].mask, 0x000a);
  EXPECT_EQ(back->images.at(1), disk.image);
  // Five stored blocks and nothing else.
  const size_t header_size = archive.size() - layout::kExtentHeader - 5 * layout::kBlock;
  EXPECT_EQ(header_size % 512, 0u);
  EXPECT_EQ(archive[header_size + layout::kExtentBlockCount + 1], 5);
}

TEST(VmaWriterTest, HeaderFieldsAndConfigsRoundTrip) {
  const std::vector<Disk> disks = TwoDisks();
  for (int64_t ctime : {int64_t{1767225600}, int64_t{0}, int64_t{-86400}}) {
    Header header = HeaderFor(disks);
    header.ctime = ctime;
    header.uuid[15] = static_cast<uint8_t>(ctime);
    const Bytes archive = WriteArchive(header, disks, InOrder(disks));
    Result<ReadBack> back = ReadAll(archive);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->header.uuid, header.uuid);
    EXPECT_EQ(back->header.ctime, ctime);
    ASSERT_EQ(back->header.configs.size(), 2u);
    EXPECT_EQ(back->header.configs[0].name, "qemu-server.conf");
    EXPECT_EQ(back->header.configs[0].data, header.configs[0].data);
    EXPECT_EQ(back->header.configs[1].name, "qemu-server.fw");
    EXPECT_EQ(back->header.configs[1].data, header.configs[1].data);
  }
}

TEST(VmaWriterTest, HeaderSizeIsTheBlobBufferRoundedUpTo512) {
  // Blob buffer: offset 0, "qemu-server.conf\0" (2 + 17), the data (2 + n),
  // "drive-scsi0\0" (2 + 12): 512 bytes with n = 476.
  const std::vector<Disk> disks = {{1, "drive-scsi0", Bytes(kClusterSize, 0)}};
  for (const auto& [data_size, blob_size, header_size] :
       std::vector<std::tuple<size_t, size_t, size_t>>{
           {476, 512, 12288 + 512}, {477, 513, 12288 + 1024}, {0, 36, 12288 + 512}}) {
    Header header = HeaderFor(disks);
    header.configs.resize(1);
    header.configs[0].data = Bytes(data_size, 'x');
    Sink sink;
    const Bytes archive = WriteArchive(header, disks, InOrder(disks), &sink);
    ASSERT_EQ(sink.calls.size(), 2u);
    EXPECT_EQ(sink.calls[0], header_size) << data_size;
    auto be32 = [&](size_t at) {
      return uint32_t{archive[at]} << 24 | archive[at + 1] << 16 | archive[at + 2] << 8 |
             archive[at + 3];
    };
    EXPECT_EQ(be32(layout::kHeaderSize), header_size) << data_size;
    EXPECT_EQ(be32(layout::kBlobBufferOffset), layout::kHeaderFixed) << data_size;
    EXPECT_EQ(be32(layout::kBlobBufferSize), blob_size) << data_size;
    // The records from offset 1: config name, config data, device name.
    EXPECT_EQ(be32(layout::ConfigName(0)), 1u);
    EXPECT_EQ(be32(layout::ConfigData(0)), 1u + 19);
    EXPECT_EQ(be32(layout::DeviceInfo(1)), 1u + 19 + 2 + data_size);
    EXPECT_TRUE(ReadAll(archive).ok());
  }
}

TEST(VmaWriterTest, DevicesAreListedByIdWhateverTheirOrderInTheHeader) {
  std::vector<Disk> disks = ThreeDisks();
  std::reverse(disks.begin(), disks.end());
  const Bytes archive = WriteArchive(HeaderFor(disks), disks, Shuffled(disks, 3));
  Result<ReadBack> back = ReadAll(archive);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->header.devices.size(), 3u);
  EXPECT_EQ(back->header.devices[0].id, 1);
  EXPECT_EQ(back->header.devices[0].name, "drive-scsi0");
  EXPECT_EQ(back->header.devices[2].id, 5);
  EXPECT_EQ(back->header.devices[2].name, "drive-virtio3");
}

TEST(VmaWriterTest, LargeConfigsAndManyDevicesFitTheHeader) {
  // The header grows past one cluster: 7 configs near the record limit.
  Header header;
  header.uuid = {};
  header.ctime = 1;
  for (int i = 0; i < 7; ++i) {
    header.configs.push_back({"config" + std::to_string(i), Bytes(65535, static_cast<uint8_t>(i))});
  }
  std::vector<Disk> disks;
  for (uint8_t id = 1; id <= 254; ++id) {
    disks.push_back({id, "drive-" + std::to_string(id), Bytes(512, 0)});
    header.devices.push_back({id, disks.back().name, 512});
  }
  const Bytes archive = WriteArchive(header, disks, InOrder(disks));
  Result<ReadBack> back = ReadAll(archive);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->header.devices.size(), 254u);
  ASSERT_EQ(back->header.configs.size(), 7u);
  EXPECT_EQ(back->header.configs[6].data, header.configs[6].data);
  EXPECT_EQ(back->clusters.size(), 254u);
}

// --- Independence: the same archive as the tests' writer, byte for byte ---

// The tests' writer (tests/testing/vma_test_writer) shares no code or
// constants with this one and lays archives out as Proxmox's writer does:
// the same blob buffer, header_size rounded up to 512, the same masks, 58
// clusters an extent. Given the same uuid, ctime and order, both must write
// the same bytes.
testing::VmaTestOptions TestWriterOptions(const Header& header, const std::vector<Disk>& disks,
                                          const std::vector<ClusterRef>& order) {
  testing::VmaTestOptions o;
  o.uuid = header.uuid;
  o.ctime = header.ctime;
  for (const Disk& disk : disks) {
    o.devices.push_back({disk.name, disk.image.size(), {}, disk.image, disk.id});
  }
  for (const Config& config : header.configs) o.configs.push_back({config.name, config.data});
  std::vector<testing::VmaTestCluster> clusters;
  for (const ClusterRef& ref : order) clusters.push_back({ref.device_id, ref.index, {}});
  o.order = clusters;
  o.clusters_per_extent = 58;
  return o;
}

TEST(VmaWriterTest, SameBytesAsTheTestsIndependentWriter) {
  struct Case {
    std::vector<Disk> disks;
    uint32_t seed;
  };
  std::vector<Case> cases;
  cases.push_back({TwoDisks(), 0});
  cases.push_back({ThreeDisks(), 21});
  cases.push_back({{{1, "drive-scsi0", Pattern(100 * kClusterSize - 512, 10)},
                    {3, "drive-scsi2", Pattern(17 * kClusterSize + 3, 11)}},
                   22});
  cases.push_back({{{1, "drive-scsi0", Pattern(116 * kClusterSize, 12)}}, 0});
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    const std::vector<Disk>& disks = cases[i].disks;
    const std::vector<ClusterRef> order =
        cases[i].seed ? Shuffled(disks, cases[i].seed) : InOrder(disks);
    const Header header = HeaderFor(disks);
    const Bytes ours = WriteArchive(header, disks, order);
    const testing::VmaTestArchive theirs =
        testing::WriteVma(TestWriterOptions(header, disks, order));
    ASSERT_EQ(ours.size(), theirs.bytes.size());
    const auto diff = std::mismatch(ours.begin(), ours.end(), theirs.bytes.begin());
    EXPECT_TRUE(diff.first == ours.end())
        << "first difference at byte " << (diff.first - ours.begin());
  }
}

// With no devices the layouts legitimately differ: Proxmox's writer (and
// this one) ends the archive with one empty extent, which the tests' writer
// leaves out. So the header is compared byte for byte, and the extent after
// it is decoded with the tests' writer's own layout constants.
TEST(VmaWriterTest, NoDevicesIsTheHeaderAndOneEmptyExtent) {
  const Header header = HeaderFor({});
  const Bytes ours = WriteArchive(header, {}, {});
  const testing::VmaTestArchive theirs = testing::WriteVma(TestWriterOptions(header, {}, {}));
  ASSERT_EQ(ours.size(), theirs.bytes.size() + layout::kExtentHeader);
  EXPECT_TRUE(std::equal(theirs.bytes.begin(), theirs.bytes.end(), ours.begin()));

  Bytes extent(ours.end() - layout::kExtentHeader, ours.end());
  EXPECT_EQ(std::memcmp(extent.data(), "VMAE", 4), 0);
  EXPECT_EQ(extent[layout::kExtentReserved] | extent[layout::kExtentReserved + 1], 0);
  EXPECT_EQ(extent[layout::kExtentBlockCount] | extent[layout::kExtentBlockCount + 1], 0);
  EXPECT_TRUE(
      std::equal(header.uuid.begin(), header.uuid.end(), extent.begin() + layout::kExtentUuid));
  for (size_t s = 0; s < 59; ++s) {
    for (size_t b = 0; b < 8; ++b) EXPECT_EQ(extent[layout::ExtentSlot(s) + b], 0) << s;
  }
  Bytes resealed = extent;
  testing::ResealVmaExtent(resealed, 0);  // the test writer's MD5 (OpenSSL)
  EXPECT_EQ(resealed, extent);

  Result<ReadBack> back = ReadAll(ours);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->header.devices.empty());
  EXPECT_EQ(back->header.configs.size(), 2u);
}

// --- Refusals ---

Status HeaderStatus(const Header& header, Sink* sink) {
  Writer writer(sink->Fn());
  return writer.WriteHeader(header);
}

Header OneDevice() {
  Header header;
  header.uuid = {1};
  header.ctime = 1;
  header.devices.push_back({1, "drive-scsi0", 3 * kClusterSize + 5});
  header.configs.push_back({"qemu-server.conf", Text("memory: 512\n")});
  return header;
}

void ExpectHeaderRefused(const Header& header, std::string_view what) {
  Sink sink;
  const Status status = HeaderStatus(header, &sink);
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.message();
  EXPECT_NE(status.message().find(what), std::string::npos) << status.message();
  EXPECT_TRUE(sink.bytes.empty()) << "a refused header was written";
}

TEST(VmaWriterTest, WriteHeaderRefusesBadDevices) {
  const Header good = OneDevice();
  Sink sink;
  ASSERT_TRUE(HeaderStatus(good, &sink).ok());

  auto with = [&](auto change) {
    Header header = good;
    change(header);
    return header;
  };
  const std::string name(65535, 'x');
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].id = 0; }), "ids are 1..254");
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].id = 255; }), "ids are 1..254");
  ExpectHeaderRefused(with([](Header& h) {
                        h.devices.push_back({1, "drive-scsi1", 1});
                      }),
                      "id is used twice");
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].name = ""; }), "is empty");
  ExpectHeaderRefused(with([](Header& h) {
                        h.devices.push_back({2, "drive-scsi0", 1});
                      }),
                      "name is used twice");
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].name = "vmstate"; }), "saved RAM");
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].name = "a/b"; }), "not a file name");
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].name = ".."; }), "not a file name");
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].name = std::string("a\0b", 3); }),
                      "NUL byte");
  ExpectHeaderRefused(with([&](Header& h) { h.devices[0].name = name; }), "longer than");
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].size = 0; }), "size 0");
  ExpectHeaderRefused(with([](Header& h) { h.devices[0].size = kMaxDeviceSize + 1; }),
                      "larger than VMA cluster numbers reach");

  // The limits themselves are allowed.
  EXPECT_TRUE(HeaderStatus(with([](Header& h) { h.devices[0].id = 254; }), &sink).ok());
  EXPECT_TRUE(
      HeaderStatus(with([](Header& h) { h.devices[0].size = kMaxDeviceSize; }), &sink).ok());
  EXPECT_TRUE(
      HeaderStatus(with([&](Header& h) { h.devices[0].name = name.substr(1); }), &sink).ok());
}

TEST(VmaWriterTest, WriteHeaderRefusesBadConfigs) {
  const Header good = OneDevice();
  auto with = [&](auto change) {
    Header header = good;
    change(header);
    return header;
  };
  ExpectHeaderRefused(with([](Header& h) { h.configs[0].name = ""; }), "is empty");
  ExpectHeaderRefused(with([](Header& h) {
                        h.configs.push_back({"qemu-server.conf", {}});
                      }),
                      "name is used twice");
  ExpectHeaderRefused(with([](Header& h) { h.configs[0].name = "etc/qemu-server.conf"; }),
                      "not a file name");
  ExpectHeaderRefused(with([](Header& h) { h.configs[0].name = "."; }), "not a file name");
  ExpectHeaderRefused(with([](Header& h) { h.configs[0].data = Bytes(65536, 1); }),
                      "larger than a blob record holds");
  ExpectHeaderRefused(with([](Header& h) {
                        h.configs.clear();
                        for (int i = 0; i < 257; ++i) h.configs.push_back({std::to_string(i), {}});
                      }),
                      "at most 256 configs");
  // Eight records of 64 KiB do not fit the 512 KiB header.
  ExpectHeaderRefused(with([](Header& h) {
                        for (int i = 0; i < 8; ++i) {
                          h.configs.push_back({"big" + std::to_string(i), Bytes(65535, 1)});
                        }
                      }),
                      "at most");

  Sink sink;
  EXPECT_TRUE(HeaderStatus(with([](Header& h) { h.configs[0].data.clear(); }), &sink).ok());
  EXPECT_TRUE(HeaderStatus(with([](Header& h) {
                             h.configs.clear();
                             for (int i = 0; i < 256; ++i)
                               h.configs.push_back({std::to_string(i), {}});
                           }),
                           &sink)
                  .ok());
}

// A writer with OneDevice's header written; `sink` collects the output.
std::unique_ptr<Writer> Started(Sink* sink) {
  auto writer = std::make_unique<Writer>(sink->Fn());
  EXPECT_TRUE(writer->WriteHeader(OneDevice()).ok());
  return writer;
}

void ExpectRefused(const Status& status, std::string_view what) {
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.message();
  EXPECT_NE(status.message().find(what), std::string::npos) << status.message();
}

TEST(VmaWriterTest, AddClusterRefusesUnknownDevicesClustersPastTheEndAndTwice) {
  Sink sink;
  std::unique_ptr<Writer> writer = Started(&sink);
  const Bytes ones(kClusterSize, 1);
  Bytes last(kClusterSize, 0);
  std::fill_n(last.begin(), 5, 2);

  ExpectRefused(writer->AddCluster(2, 0, ones), "device 2 is not in the header");
  ExpectRefused(writer->AddCluster(0, 0, ones), "device 0 is not in the header");
  ExpectRefused(writer->AddCluster(255, 0, ones), "device 255 is not in the header");
  ExpectRefused(writer->AddCluster(1, 4, {}), "cluster 4 is past the end");
  ExpectRefused(writer->AddCluster(1, (uint64_t{1} << 32) + 1, {}), "past the end");
  ExpectRefused(writer->AddCluster(1, 0, ByteView(ones).first(4096)), "has 4096 bytes");
  Bytes dirty = last;
  dirty[kClusterSize - 1] = 1;
  ExpectRefused(writer->AddCluster(1, 3, dirty), "not zero past the device's end");

  ASSERT_TRUE(writer->AddCluster(1, 1, ones).ok());
  ExpectRefused(writer->AddCluster(1, 1, {}),
                "cluster 1 of device 1 'drive-scsi0' was added before");
  ASSERT_TRUE(writer->AddCluster(1, 3, last).ok());
  ExpectRefused(writer->AddCluster(1, 3, last), "added before");
  ASSERT_TRUE(writer->AddCluster(1, 0, {}).ok());
  ASSERT_TRUE(writer->AddCluster(1, 2, ones).ok());
  ASSERT_TRUE(writer->Finish().ok());

  // The refusals left no trace: the archive holds the clusters as first added.
  Result<ReadBack> back = ReadAll(sink.bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->clusters.size(), 4u);
  EXPECT_EQ(back->clusters[0].index, 1u);
  EXPECT_EQ(back->clusters[0].mask, 0xffff);
  EXPECT_EQ(back->clusters[1].index, 3u);
  EXPECT_EQ(back->clusters[1].mask, 0x0001);
  EXPECT_EQ(back->clusters[2].mask, 0);
  Bytes expected(3 * kClusterSize + 5, 1);
  std::fill_n(expected.begin(), kClusterSize, 0);
  std::fill_n(expected.begin() + 3 * kClusterSize, 5, 2);
  EXPECT_EQ(back->images.at(1), expected);
}

TEST(VmaWriterTest, FinishRefusesAMissingClusterAndWritesNothing) {
  Sink sink;
  std::unique_ptr<Writer> writer = Started(&sink);
  const size_t header_bytes = sink.bytes.size();
  ASSERT_TRUE(writer->AddCluster(1, 0, {}).ok());
  ASSERT_TRUE(writer->AddCluster(1, 3, {}).ok());
  ExpectRefused(writer->Finish(), "cluster 1 of device 1 'drive-scsi0' was not added (2 of 4");
  EXPECT_EQ(sink.bytes.size(), header_bytes);
  ASSERT_TRUE(writer->AddCluster(1, 1, {}).ok());
  ExpectRefused(writer->Finish(), "cluster 2 of device 1");
  ASSERT_TRUE(writer->AddCluster(1, 2, {}).ok());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_TRUE(ReadAll(sink.bytes).ok());
}

TEST(VmaWriterTest, FinishNamesTheFirstMissingClusterOfAHugeDevice) {
  // 2^24 clusters: the bits span pages, and memory stays small.
  Header header = OneDevice();
  header.devices[0].size = uint64_t{1} << 40;
  header.devices.push_back({7, "drive-scsi1", kClusterSize});
  Sink sink;
  Writer writer(sink.Fn());
  ASSERT_TRUE(writer.WriteHeader(header).ok());
  for (uint64_t c = 0; c < (uint64_t{1} << 20) + 70; ++c)
    ASSERT_TRUE(writer.AddCluster(1, c, {}).ok());
  ASSERT_TRUE(writer.AddCluster(7, 0, {}).ok());
  ExpectRefused(writer.Finish(),
                "cluster 1048646 of device 1 'drive-scsi0' was not added (" +
                    std::to_string((uint64_t{1} << 24) - (uint64_t{1} << 20) - 70));
}

TEST(VmaWriterTest, CallsOutOfOrderAreRefused) {
  Sink sink;
  Writer writer(sink.Fn());
  EXPECT_EQ(writer.AddCluster(1, 0, {}).code(), Code::kFailedPrecondition);
  EXPECT_EQ(writer.Finish().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(writer.WriteHeader(OneDevice()).ok());
  EXPECT_EQ(writer.WriteHeader(OneDevice()).code(), Code::kFailedPrecondition);
  for (uint64_t c = 0; c < 4; ++c) ASSERT_TRUE(writer.AddCluster(1, c, {}).ok());
  ASSERT_TRUE(writer.Finish().ok());
  const size_t size = sink.bytes.size();
  EXPECT_EQ(writer.AddCluster(1, 0, {}).code(), Code::kFailedPrecondition);
  EXPECT_EQ(writer.Finish().code(), Code::kFailedPrecondition);
  EXPECT_EQ(sink.bytes.size(), size);
}

TEST(VmaWriterTest, AFailedWriteFailsEveryLaterCall) {
  const std::vector<Disk> disks = {{1, "drive-scsi0", Pattern(70 * kClusterSize, 13)}};
  size_t calls = 0;
  Writer writer(
      [&](ByteView) { return ++calls == 2 ? Status::NoSpace("disk full") : Status::Ok(); });
  ASSERT_TRUE(writer.WriteHeader(HeaderFor(disks)).ok());
  const uint64_t header_bytes = writer.bytes_written();
  Status status;
  uint64_t c = 0;
  for (; c < disks[0].clusters() && status.ok(); ++c) {
    status = writer.AddCluster(1, c, ClusterOf(disks[0], c));
  }
  // The 59th cluster needs the first extent written, which fails.
  EXPECT_EQ(c, 59u);
  EXPECT_EQ(status.code(), Code::kNoSpace);
  EXPECT_NE(status.message().find("writing the VMA extent at byte " + std::to_string(header_bytes)),
            std::string::npos)
      << status.message();
  EXPECT_EQ(writer.AddCluster(1, 69, {}).code(), Code::kNoSpace);
  EXPECT_EQ(writer.Finish().code(), Code::kNoSpace);
  EXPECT_EQ(writer.bytes_written(), header_bytes);
  EXPECT_EQ(calls, 2u);
}

}  // namespace
}  // namespace coffer::vma
