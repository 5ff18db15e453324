#include "store/ingest/vma_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "tests/testing/vma_test_writer.h"

namespace coffer::vma {
namespace {

namespace layout = testing::vma_layout;
using testing::PutBe16;
using testing::PutBe32;
using testing::PutBe64;
using testing::ResealVmaExtent;
using testing::ResealVmaHeader;
using testing::VmaTestCluster;
using testing::VmaTestDevice;
using testing::VmaTestOptions;
using testing::WriteVma;

// Reads `bytes`, at most `piece` bytes a call.
ReadFn ReadFrom(ByteView bytes, size_t piece = SIZE_MAX) {
  auto at = std::make_shared<size_t>(0);
  return [bytes, piece, at](std::span<uint8_t> out) -> Result<size_t> {
    const size_t n = std::min({out.size(), bytes.size() - *at, piece});
    std::copy_n(bytes.begin() + *at, n, out.begin());
    *at += n;
    return n;
  };
}

struct SeenCluster {
  uint8_t device_id;
  uint64_t index;
  uint16_t mask;
};

struct ReadBack {
  Header header;
  std::map<uint8_t, Bytes> images;  // by device id
  std::vector<SeenCluster> clusters;
};

// Reads the whole archive, placing each cluster by (device, index) and
// checking its data.
Result<ReadBack> ReadAll(ByteView archive, size_t piece = SIZE_MAX) {
  Reader reader(ReadFrom(archive, piece));
  ReadBack out;
  COFFER_ASSIGN_OR_RETURN(out.header, reader.ReadHeader());
  std::map<uint8_t, uint64_t> sizes;
  for (const Device& d : out.header.devices) {
    out.images[d.id] = Bytes(d.size, 0xEE);  // not zero: every byte must be written
    sizes[d.id] = d.size;
  }
  for (;;) {
    COFFER_ASSIGN_OR_RETURN(std::optional<Cluster> cluster, reader.Next());
    if (!cluster) break;
    if (cluster->data.size() != kClusterSize) return Status::Corruption("cluster of wrong size");
    if (!sizes.count(cluster->device_id)) return Status::Corruption("cluster of unknown device");
    const uint64_t start = cluster->index * kClusterSize;
    const uint64_t size = sizes[cluster->device_id];
    if (start >= size) return Status::Corruption("cluster past the end handed out");
    const size_t inside = static_cast<size_t>(std::min<uint64_t>(kClusterSize, size - start));
    std::copy_n(cluster->data.begin(), inside, out.images[cluster->device_id].begin() + start);
    // Absent blocks and bytes past the device's end read as zero.
    for (size_t b = 0; b < kClusterSize / kBlockSize; ++b) {
      const auto block = cluster->data.subspan(b * kBlockSize, kBlockSize);
      if (!(cluster->mask >> b & 1) &&
          std::any_of(block.begin(), block.end(), [](uint8_t x) { return x; })) {
        return Status::Corruption("an absent block is not zero");
      }
    }
    if (std::any_of(cluster->data.begin() + inside, cluster->data.end(),
                    [](uint8_t x) { return x; })) {
      return Status::Corruption("bytes past the device's end are not zero");
    }
    out.clusters.push_back({cluster->device_id, cluster->index, cluster->mask});
  }
  if (reader.position() != archive.size()) return Status::Corruption("position is not the size");
  return out;
}

// Reads the whole archive, only for its status (devices may be huge).
Status ReadStatus(ByteView archive) {
  Reader reader(ReadFrom(archive));
  COFFER_RETURN_IF_ERROR(reader.ReadHeader().status());
  for (;;) {
    COFFER_ASSIGN_OR_RETURN(std::optional<Cluster> cluster, reader.Next());
    if (!cluster) return Status::Ok();
  }
}

// The status is kCorruption and its message names `position` and says `what`.
void ExpectCorruptAt(const Bytes& archive, uint64_t position, std::string_view what) {
  const Status status = ReadStatus(archive);
  EXPECT_EQ(status.code(), Code::kCorruption) << status.message();
  const std::string prefix = "VMA at byte " + std::to_string(position) + ": ";
  EXPECT_EQ(status.message().substr(0, prefix.size()), prefix) << status.message();
  EXPECT_NE(status.message().find(what), std::string::npos) << status.message();
}

Bytes Text(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// Three devices, sizes not multiples of 64 KiB, content with zero blocks and
// zero clusters, and the two configs vzdump writes.
VmaTestOptions ThreeDevices() {
  VmaTestOptions o;
  o.devices.push_back(
      {"drive-scsi0", 9 * kClusterSize + 5000, testing::VmaPatternContent(1), {}, 0});
  o.devices.push_back({"drive-virtio1", 6 * kClusterSize, testing::VmaPatternContent(2), {}, 0});
  o.devices.push_back({"drive-efidisk0", 12345, testing::VmaPatternContent(3), {}, 0});
  o.configs.push_back(
      {"qemu-server.conf",
       Text("boot: order=scsi0\nmemory: 2048\n#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:\n")});
  o.configs.push_back({"qemu-server.fw", Text("[OPTIONS]\nenable: 1\n")});
  return o;
}

// Every cluster of every device of `o`, shuffled with `seed`.
std::vector<VmaTestCluster> Shuffled(const VmaTestOptions& o, uint32_t seed) {
  std::vector<VmaTestCluster> order;
  for (size_t i = 0; i < o.devices.size(); ++i) {
    const uint64_t clusters = (o.devices[i].size + kClusterSize - 1) / kClusterSize;
    for (uint64_t c = 0; c < clusters; ++c) order.push_back({static_cast<uint8_t>(i + 1), c, {}});
  }
  std::mt19937 random(seed);
  std::shuffle(order.begin(), order.end(), random);
  return order;
}

// Two small devices in extents of two clusters: the archive the damage tests
// start from (device 1: 3 clusters, the last one 2 blocks long; device 2: 2).
VmaTestOptions Small() {
  VmaTestOptions o;
  o.devices.push_back(
      {"drive-scsi0", 2 * kClusterSize + kBlockSize + 100, testing::VmaPatternContent(7), {}, 0});
  o.devices.push_back({"drive-scsi1", 2 * kClusterSize, testing::VmaPatternContent(8), {}, 0});
  o.configs.push_back({"qemu-server.conf", Text("memory: 512\n")});
  o.configs.push_back({"qemu-server.fw", Text("[OPTIONS]\n")});
  o.clusters_per_extent = 2;
  return o;
}

TEST(VmaReaderTest, InterleavedOutOfOrderClustersRebuildEveryDevice) {
  VmaTestOptions o = ThreeDevices();
  o.order = Shuffled(o, 11);
  o.clusters_per_extent = 5;
  o.trailing_empty_extent = true;
  const auto archive = WriteVma(o);
  Result<ReadBack> back = ReadAll(archive.bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();

  EXPECT_EQ(back->header.uuid, o.uuid);
  EXPECT_EQ(back->header.ctime, o.ctime);
  ASSERT_EQ(back->header.devices.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const Device& d = back->header.devices[i];
    EXPECT_EQ(d.id, i + 1);
    EXPECT_EQ(d.name, o.devices[i].name);
    EXPECT_EQ(d.size, o.devices[i].size);
    EXPECT_EQ(back->images[d.id], testing::VmaDeviceImage(o.devices[i])) << d.name;
  }
  EXPECT_EQ(back->header.devices[0].cluster_count(), 10u);
  EXPECT_EQ(back->header.devices[2].cluster_count(), 1u);
  ASSERT_EQ(back->header.configs.size(), 2u);
  EXPECT_EQ(back->header.configs[0].name, "qemu-server.conf");
  EXPECT_EQ(back->header.configs[0].data, o.configs[0].second);
  EXPECT_EQ(back->header.configs[1].name, "qemu-server.fw");
  EXPECT_EQ(back->header.configs[1].data, o.configs[1].second);

  // Clusters come in archive order, and the data covers every kind of mask.
  ASSERT_EQ(back->clusters.size(), o.order->size());
  size_t zero_clusters = 0, partial = 0, full = 0, device_changes = 0;
  for (size_t i = 0; i < back->clusters.size(); ++i) {
    EXPECT_EQ(back->clusters[i].device_id, (*o.order)[i].device_id);
    EXPECT_EQ(back->clusters[i].index, (*o.order)[i].index);
    const uint16_t mask = back->clusters[i].mask;
    zero_clusters += mask == 0;
    full += mask == 0xffff;
    partial += mask != 0 && mask != 0xffff;
    if (i > 0) device_changes += back->clusters[i].device_id != back->clusters[i - 1].device_id;
  }
  EXPECT_GT(zero_clusters, 0u);
  EXPECT_GT(partial, 0u);
  EXPECT_GT(device_changes, 5u);
}

TEST(VmaReaderTest, MasksLeaveOutExactlyTheZeroBlocks) {
  const VmaTestOptions o = ThreeDevices();
  const auto archive = WriteVma(o);
  Result<ReadBack> back = ReadAll(archive.bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  for (const SeenCluster& c : back->clusters) {
    const Bytes& image = back->images[c.device_id];
    uint16_t expected = 0;
    for (size_t b = 0; b < 16; ++b) {
      const uint64_t start = c.index * kClusterSize + b * kBlockSize;
      if (start >= image.size()) break;
      const auto end = image.begin() + std::min<uint64_t>(start + kBlockSize, image.size());
      if (std::any_of(image.begin() + start, end, [](uint8_t x) { return x; })) expected |= 1 << b;
    }
    EXPECT_EQ(c.mask, expected) << "device " << int{c.device_id} << " cluster " << c.index;
  }
}

TEST(VmaReaderTest, ShortReadsOfAnySizeGiveTheSameArchive) {
  VmaTestOptions o = Small();
  o.order = Shuffled(o, 3);
  const auto archive = WriteVma(o);
  Result<ReadBack> whole = ReadAll(archive.bytes);
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  for (size_t piece : {1, 7, 511, 4097}) {
    Result<ReadBack> pieces = ReadAll(archive.bytes, piece);
    ASSERT_TRUE(pieces.ok()) << piece << ": " << pieces.status().message();
    EXPECT_EQ(pieces->images, whole->images) << piece;
  }
}

TEST(VmaReaderTest, ExtentsOfNoneAndFiftyNineClustersAreRead) {
  VmaTestOptions o;
  o.devices.push_back({"drive-scsi0", 100 * kClusterSize, testing::VmaPatternContent(4), {}, 0});
  o.devices.push_back({"drive-scsi1", 30 * kClusterSize - 1, testing::VmaPatternContent(5), {}, 0});
  o.configs.push_back({"qemu-server.conf", Text("cores: 2\n")});
  o.order = Shuffled(o, 9);
  o.extent_clusters = {0, 59, 0, 59, 0};
  o.trailing_empty_extent = true;
  const auto archive = WriteVma(o);
  ASSERT_EQ(archive.extents.size(), 7u);  // 0, 59, 0, 59, 0, the last 12, then 0
  Result<ReadBack> back = ReadAll(archive.bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->clusters.size(), 130u);
  EXPECT_EQ(back->images[1], testing::VmaDeviceImage(o.devices[0]));
  EXPECT_EQ(back->images[2], testing::VmaDeviceImage(o.devices[1]));
}

TEST(VmaReaderTest, ZeroBlocksStoredAnywayAreRead) {
  // A writer may store zero blocks (mask bits set for them): valid.
  VmaTestOptions o = Small();
  o.order = {{1, 0, 0xffff}, {1, 1, 0x0f0f}, {1, 2, 0x0003}, {2, 0, 0}, {2, 1, {}}};
  const auto archive = WriteVma(o);
  Result<ReadBack> back = ReadAll(archive.bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->clusters[1].mask, 0x0f0f);
  // Cluster 1 of device 1 keeps only its blocks 0-3 and 8-11; device 2's
  // cluster 0 (mask 0) reads as zeros.
  Bytes expected = testing::VmaDeviceImage(o.devices[0]);
  for (size_t b = 0; b < 16; ++b) {
    if (!(0x0f0f >> b & 1))
      std::fill_n(expected.begin() + kClusterSize + b * kBlockSize, kBlockSize, 0);
  }
  EXPECT_EQ(back->images[1], expected);
  EXPECT_TRUE(std::all_of(back->images[2].begin(), back->images[2].begin() + kClusterSize,
                          [](uint8_t x) { return x == 0; }));
}

TEST(VmaReaderTest, AnArchiveWithoutDevicesHasOnlyItsConfigs) {
  VmaTestOptions o;
  o.configs.push_back({"qemu-server.conf", Text("name: empty\n")});
  o.trailing_empty_extent = true;
  for (bool with_extent : {false, true}) {
    o.trailing_empty_extent = with_extent;
    Result<ReadBack> back = ReadAll(WriteVma(o).bytes);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_TRUE(back->header.devices.empty());
    EXPECT_EQ(back->header.configs.size(), 1u);
    EXPECT_TRUE(back->clusters.empty());
  }
}

TEST(VmaReaderTest, TheLastPartialBlockReadsZeroPastTheDeviceEnd) {
  // Older writers left memory in the last block's bytes past the end.
  VmaTestOptions o;
  o.devices.push_back(
      {"drive-scsi0", kClusterSize + 100, {}, Bytes(kClusterSize + kBlockSize, 0xAB), 0});
  o.order = {{1, 0, {}}, {1, 1, 0x0001}};
  auto archive = WriteVma(o);
  // The archive ends with that block; the data is not checksummed.
  std::fill(archive.bytes.end() - kBlockSize + 100, archive.bytes.end(), 0xCD);
  Reader reader(ReadFrom(archive.bytes));
  ASSERT_TRUE(reader.ReadHeader().ok());
  ASSERT_TRUE(reader.Next().ok());
  Result<std::optional<Cluster>> last = reader.Next();
  ASSERT_TRUE(last.ok() && *last) << last.status().message();
  EXPECT_EQ((*last)->mask, 1);
  EXPECT_EQ((*last)->data[99], 0xAB);
  EXPECT_EQ((*last)->data[100], 0);
  EXPECT_EQ((*last)->data[kBlockSize - 1], 0);
}

// ---- the header ----

TEST(VmaReaderTest, BadMagicOrVersion) {
  const auto archive = WriteVma(Small());
  Bytes bad = archive.bytes;
  bad[1] = 'X';
  ExpectCorruptAt(bad, 0, "bad magic");
  ExpectCorruptAt(Text("not a vma"), 0, "bad magic");
  bad = archive.bytes;
  PutBe32(bad, layout::kVersion, 2);
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, 4, "version 2 is not known");
}

TEST(VmaReaderTest, HeaderChecksumMismatch) {
  Bytes bad = WriteVma(Small()).bytes;
  bad[100] ^= 1;  // a reserved byte
  ExpectCorruptAt(bad, 32, "header checksum mismatch");
  bad = WriteVma(Small()).bytes;
  bad[layout::kHeaderFixed + 5] ^= 0x20;  // a config name
  ExpectCorruptAt(bad, 32, "header checksum mismatch");
}

TEST(VmaReaderTest, HeaderSizeOutOfRange) {
  const auto archive = WriteVma(Small());
  for (uint32_t size : {0u, 12288u, 12800u + 1, 12288u + 8 * 65536}) {
    Bytes bad = archive.bytes;
    PutBe32(bad, layout::kHeaderSize, size);
    ExpectCorruptAt(bad, 56, "header size " + std::to_string(size));
  }
}

TEST(VmaReaderTest, BlobBufferOutsideTheHeader) {
  const auto archive = WriteVma(Small());
  for (auto [offset, size] : {std::pair<uint32_t, uint32_t>{12287, 10},
                              {uint32_t(archive.header_size) + 1, 0},
                              {12288, uint32_t(archive.header_size) - 12288 + 1},
                              {12800, 0xffffffff}}) {
    Bytes bad = archive.bytes;
    PutBe32(bad, layout::kBlobBufferOffset, offset);
    PutBe32(bad, layout::kBlobBufferSize, size);
    ResealVmaHeader(bad);
    ExpectCorruptAt(bad, 48, "lies outside the header");
  }
}

TEST(VmaReaderTest, BlobRecordsRunningPastTheBuffer) {
  const auto archive = WriteVma(Small());
  const uint32_t last = archive.blob_records.back();
  Bytes bad = archive.bytes;
  PutBe32(bad, layout::kBlobBufferSize, uint32_t(archive.blob_buffer_size) - 1);
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::kHeaderFixed + last, "runs past the end of the blob buffer");
  PutBe32(bad, layout::kBlobBufferSize, last + 1);  // one byte of its length left
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::kHeaderFixed + last, "length cut off");
  // A length that is too large, the buffer size unchanged.
  bad = archive.bytes;
  PutBe16(bad, layout::kHeaderFixed + archive.blob_records[1], 0x0100);  // little-endian 1
  ResealVmaHeader(bad);
  EXPECT_EQ(ReadStatus(bad).code(), Code::kCorruption);
}

TEST(VmaReaderTest, NamesMustEndInNul) {
  const auto archive = WriteVma(Small());
  // Config 0's name is the first record, "qemu-server.conf\0" (17 bytes).
  Bytes bad = archive.bytes;
  bad[layout::kHeaderFixed + archive.blob_records[0] + 2 + 16] = 'x';
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::ConfigName(0),
                  "config 0 name at blob offset 1 is not NUL-terminated");
  // Device 1's name is the record after the two configs' four.
  bad = archive.bytes;
  const uint32_t name = archive.blob_records[4];
  bad[layout::kHeaderFixed + name + 2 + 11] = 'x';  // "drive-scsi0\0"
  ResealVmaHeader(bad);
  ExpectCorruptAt(
      bad, layout::DeviceInfo(1),
      "device 1 name at blob offset " + std::to_string(name) + " is not NUL-terminated");
  // A NUL inside.
  bad = archive.bytes;
  bad[layout::kHeaderFixed + name + 2 + 5] = 0;
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::DeviceInfo(1), "device 1 name 'drive?scsi0' has a NUL byte inside");
}

TEST(VmaReaderTest, NamesThatAreNotFileNames) {
  for (const char* name : {"", "../etc", "a/b", ".", ".."}) {
    VmaTestOptions o = Small();
    o.configs[1].first = name;
    ExpectCorruptAt(WriteVma(o).bytes, layout::ConfigName(1), "is not a file name");
    o = Small();
    o.devices[1].name = name;
    ExpectCorruptAt(WriteVma(o).bytes, layout::DeviceInfo(2), "is not a file name");
  }
}

TEST(VmaReaderTest, BlobOffsetsOutsideTheBufferOrBetweenRecords) {
  const auto archive = WriteVma(Small());
  const uint32_t past = uint32_t(archive.blob_buffer_size);
  struct Case {
    size_t field;
    uint32_t offset;
    std::string what;
  };
  for (const Case& c : {Case{layout::ConfigName(1), past, "config 1 name offset"},
                        Case{layout::ConfigData(0), past + 1000, "config 0 data offset"},
                        Case{layout::DeviceInfo(2), 0xffffffff, "device 2 name offset"}}) {
    Bytes bad = archive.bytes;
    PutBe32(bad, c.field, c.offset);
    ResealVmaHeader(bad);
    ExpectCorruptAt(bad, c.field,
                    c.what + " " + std::to_string(c.offset) + " lies outside the blob buffer");
  }
  Bytes bad = archive.bytes;
  PutBe32(bad, layout::ConfigName(0), 2);
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::ConfigName(0),
                  "config 0 name offset 2 is not the start of a blob record");
}

TEST(VmaReaderTest, ConfigsNeedBothNameAndData) {
  const auto archive = WriteVma(Small());
  Bytes bad = archive.bytes;
  PutBe32(bad, layout::ConfigData(1), 0);
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::ConfigData(1), "config 1 has a name but no data");
  bad = archive.bytes;
  PutBe32(bad, layout::ConfigName(0), 0);
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::ConfigName(0), "config 0 has data but no name");
}

TEST(VmaReaderTest, NamesUsedTwice) {
  VmaTestOptions o = Small();
  o.configs[1].first = o.configs[0].first;
  ExpectCorruptAt(WriteVma(o).bytes, layout::ConfigName(1), "'qemu-server.conf' is used twice");
  o = Small();
  o.devices[1].name = o.devices[0].name;
  ExpectCorruptAt(WriteVma(o).bytes, layout::DeviceInfo(2), "'drive-scsi0' is used twice");
}

TEST(VmaReaderTest, DeviceIdsOutsideOneTo254) {
  const auto archive = WriteVma(Small());
  for (size_t id : {0, 255}) {
    Bytes bad = archive.bytes;
    std::copy_n(archive.bytes.begin() + layout::DeviceInfo(1), 32,
                bad.begin() + layout::DeviceInfo(id));
    std::fill_n(bad.begin() + layout::DeviceInfo(1), 32, 0);
    ResealVmaHeader(bad);
    ExpectCorruptAt(bad, layout::DeviceInfo(id),
                    "device " + std::to_string(id) + " is outside the ids 1..254");
  }
}

TEST(VmaReaderTest, DevicesNeedANameAndASize) {
  const auto archive = WriteVma(Small());
  Bytes bad = archive.bytes;
  PutBe32(bad, layout::DeviceInfo(2), 0);
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::DeviceInfo(2), "device 2 has no name");
  bad = archive.bytes;
  PutBe64(bad, layout::DeviceInfo(2) + 8, 0);
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::DeviceInfo(2), "device 2 has a name but size 0");
  bad = archive.bytes;
  PutBe64(bad, layout::DeviceInfo(2) + 8, (uint64_t{1} << 48) + 1);
  ResealVmaHeader(bad);
  ExpectCorruptAt(bad, layout::DeviceInfo(2) + 8, "larger than VMA cluster numbers reach");
}

TEST(VmaReaderTest, SavedRamStateIsUnsupported) {
  VmaTestOptions o = Small();
  o.devices[1].name = "vmstate";
  const Status status = ReadStatus(WriteVma(o).bytes);
  EXPECT_EQ(status.code(), Code::kUnsupported);
  EXPECT_NE(status.message().find("VMA at byte 4160: device 2 holds a VM's saved RAM state"),
            std::string::npos)
      << status.message();
}

// ---- extents ----

TEST(VmaReaderTest, BadExtentMagicReservedChecksumOrUuid) {
  const auto archive = WriteVma(Small());
  const size_t e0 = archive.extents[0], e1 = archive.extents[1];
  Bytes bad = archive.bytes;
  bad[e1 + 3] = 'X';
  ResealVmaExtent(bad, e1);
  ExpectCorruptAt(bad, e1, "bad extent magic");

  bad = archive.bytes;
  PutBe16(bad, e0 + layout::kExtentReserved, 1);
  ResealVmaExtent(bad, e0);
  ExpectCorruptAt(bad, e0 + 4, "extent reserved field is not 0");

  bad = archive.bytes;
  bad[e1 + layout::ExtentSlot(1) + 7] ^= 1;  // a cluster number, not resealed
  ExpectCorruptAt(bad, e1, "extent checksum mismatch");

  bad = archive.bytes;
  bad[e0 + layout::kExtentUuid + 15] ^= 1;
  ResealVmaExtent(bad, e0);
  ExpectCorruptAt(bad, e0 + 8, "extent uuid differs from the header's");
}

TEST(VmaReaderTest, BlockCountMustMatchTheMasks) {
  const auto archive = WriteVma(Small());
  const size_t e = archive.extents[0];
  const uint16_t count = static_cast<uint16_t>(archive.bytes[e + 6] << 8 | archive.bytes[e + 7]);
  for (uint16_t wrong : {uint16_t(count + 1), uint16_t(count - 1), uint16_t(0xffff)}) {
    Bytes bad = archive.bytes;
    PutBe16(bad, e + layout::kExtentBlockCount, wrong);
    ResealVmaExtent(bad, e);
    ExpectCorruptAt(
        bad, e + 6,
        "extent block count " + std::to_string(wrong) + " differs from its slots' masks");
  }
}

TEST(VmaReaderTest, SlotsNamingDevicesThatDoNotExist) {
  const auto archive = WriteVma(Small());
  const size_t slot = archive.extents[1] + layout::ExtentSlot(1);
  for (uint8_t id : {3, 255}) {
    Bytes bad = archive.bytes;
    bad[slot + 3] = id;
    ResealVmaExtent(bad, archive.extents[1]);
    ExpectCorruptAt(
        bad, slot,
        "slot 1 names device " + std::to_string(id) + ", which the header does not list");
  }
}

TEST(VmaReaderTest, UnusedSlotsAndReservedBytesMustBeZero) {
  const auto archive = WriteVma(Small());
  const size_t e = archive.extents[0];
  Bytes bad = archive.bytes;
  bad[e + layout::ExtentSlot(58)] = 0x80;  // a mask bit, no device
  ResealVmaExtent(bad, e);
  ExpectCorruptAt(bad, e + layout::ExtentSlot(58), "slot 58 has no device but is not zero");
  bad = archive.bytes;
  bad[e + layout::ExtentSlot(0) + 2] = 1;
  ResealVmaExtent(bad, e);
  ExpectCorruptAt(bad, e + layout::ExtentSlot(0), "slot 0 reserved byte is not 0");
}

TEST(VmaReaderTest, ClusterPastTheDeviceEnd) {
  VmaTestOptions o = Small();
  o.order = {{1, 0, {}}, {1, 1, {}}, {1, 2, {}}, {2, 0, {}}, {2, 1, {}}, {2, 2, {}}};
  const auto archive = WriteVma(o);
  ExpectCorruptAt(archive.bytes, archive.extents[2] + layout::ExtentSlot(1),
                  "slot 1: cluster 2 is past the end of device 2 'drive-scsi1' (2 clusters)");
  // Cluster numbers are 32 bits: 2^32 is written as 0, a duplicate of cluster 0.
  o.order = {{2, 0, {}}, {2, uint64_t{1} << 32, {}}};
  ExpectCorruptAt(WriteVma(o).bytes, WriteVma(o).extents[0] + layout::ExtentSlot(1),
                  "appears twice");
}

TEST(VmaReaderTest, MaskBitsPastTheDeviceEnd) {
  // Device 1's last cluster (2) holds 4196 bytes: blocks 0 and 1.
  VmaTestOptions o = Small();
  o.order = {{1, 0, {}}, {1, 1, {}}, {1, 2, 0x0003}, {2, 0, {}}, {2, 1, {}}};
  ASSERT_TRUE(ReadStatus(WriteVma(o).bytes).ok());
  o.order = {{1, 0, {}}, {1, 1, {}}, {1, 2, 0x0007}, {2, 0, {}}, {2, 1, {}}};
  const auto archive = WriteVma(o);
  ExpectCorruptAt(archive.bytes, archive.extents[1] + layout::ExtentSlot(0),
                  "slot 0: mask 0x0007 marks blocks past the end of device 1 'drive-scsi0'");
}

TEST(VmaReaderTest, DuplicateClusters) {
  VmaTestOptions o = Small();
  // In another extent...
  o.order = {{1, 0, {}}, {1, 1, {}}, {1, 2, {}}, {2, 0, {}}, {2, 1, {}}, {1, 1, {}}};
  auto archive = WriteVma(o);
  ExpectCorruptAt(archive.bytes, archive.extents[2] + layout::ExtentSlot(1),
                  "slot 1: cluster 1 of device 1 'drive-scsi0' appears twice");
  // ...and in the same one.
  o.order = {{2, 1, {}}, {2, 1, {}}};
  archive = WriteVma(o);
  ExpectCorruptAt(archive.bytes, archive.extents[0] + layout::ExtentSlot(1), "appears twice");
}

TEST(VmaReaderTest, ExtentsCutShortByTheEnd) {
  const auto archive = WriteVma(Small());
  const size_t e = archive.extents[1];
  Bytes cut(archive.bytes.begin(), archive.bytes.begin() + e + 100);
  ExpectCorruptAt(cut, e + 100,
                  "the input ends inside the extent header at byte " + std::to_string(e) +
                      " (100 of 512 bytes)");
  const size_t data = archive.extents[2] - e - 512;
  ASSERT_GT(data, 0u);  // the test data's extent 1 holds blocks
  cut.assign(archive.bytes.begin(), archive.bytes.begin() + archive.extents[2] - 1);
  ExpectCorruptAt(cut, archive.extents[2] - 1,
                  "the input ends inside the data of the extent at byte " + std::to_string(e) +
                      " (" + std::to_string(data - 1) + " of " + std::to_string(data) + " bytes)");
}

TEST(VmaReaderTest, ClustersMissingAtTheEnd) {
  VmaTestOptions o = Small();
  o.order = {{2, 0, {}}, {1, 0, {}}, {1, 2, {}}, {1, 1, {}}};  // no cluster 1 of device 2
  const auto archive = WriteVma(o);
  ExpectCorruptAt(
      archive.bytes, archive.bytes.size(),
      "the archive ends without cluster 1 of device 2 'drive-scsi1' (1 of 2 clusters missing)");
  o.order = {{2, 0, {}}, {1, 2, {}}};
  ExpectCorruptAt(WriteVma(o).bytes, WriteVma(o).bytes.size(),
                  "without cluster 0 of device 1 'drive-scsi0'");
}

TEST(VmaReaderTest, EveryCutOfTheArchiveFailsUntilTheEnd) {
  // Small() with a few non-zero blocks, so that the sweep is quick.
  VmaTestOptions o = Small();
  for (VmaTestDevice& d : o.devices) {
    d.fill = nullptr;
    d.content.assign(d.size, 0);
  }
  o.devices[0].content[5] = 1;                              // cluster 0
  o.devices[0].content[2 * kClusterSize + kBlockSize] = 2;  // the last, partial block
  o.devices[1].content[kClusterSize + 3 * kBlockSize] = 3;  // cluster 1, block 3
  o.order = Shuffled(o, 5);
  const Bytes archive = WriteVma(o).bytes;
  ASSERT_LT(archive.size(), 64u * 1024);
  for (size_t cut = 0; cut < archive.size(); ++cut) {
    const Status status = ReadStatus(ByteView(archive).first(cut));
    ASSERT_EQ(status.code(), Code::kCorruption) << cut << ": " << status.message();
    // Each names where the input ended.
    const std::string prefix = "VMA at byte " + std::to_string(cut) + ": the ";
    ASSERT_EQ(status.message().substr(0, prefix.size()), prefix) << cut << ": " << status.message();
  }
  EXPECT_TRUE(ReadStatus(archive).ok());
}

TEST(VmaReaderTest, HugeDevicesCostMemoryOnlyForTheClustersSeen) {
  // 2^48 bytes (2^32 clusters): a whole bitmap would be 512 MiB.
  VmaTestOptions o;
  o.devices.push_back({"drive-scsi0", uint64_t{1} << 48, {}, {}, 0});
  o.order = {{1, 0, {}}, {1, 0xffffffff, {}}, {1, (uint64_t{1} << 20) + 3, {}}};
  const auto archive = WriteVma(o);
  ExpectCorruptAt(archive.bytes, archive.bytes.size(),
                  "without cluster 1 of device 1 'drive-scsi0'");
  o.order = {{1, 0xffffffff, {}}};
  ExpectCorruptAt(WriteVma(o).bytes, WriteVma(o).bytes.size(), "without cluster 0 of device 1");
}

TEST(VmaReaderTest, TheFirstMissingClusterIsFoundPastTheFirstBitmapPage) {
  const uint64_t clusters = (uint64_t{1} << 20) + 10;
  VmaTestOptions o;
  o.devices.push_back({"drive-scsi0", clusters * kClusterSize, {}, {}, 0});
  o.order.emplace();
  for (uint64_t c = 0; c < clusters; ++c) {
    if (c != (uint64_t{1} << 20) + 3) o.order->push_back({1, c, {}});
  }
  const auto archive = WriteVma(o);
  ExpectCorruptAt(
      archive.bytes, archive.bytes.size(),
      "without cluster 1048579 of device 1 'drive-scsi0' (1 of 1048586 clusters missing)");
}

// ---- use ----

TEST(VmaReaderTest, AnErrorIsReturnedAgainAndNextNeedsTheHeader) {
  Bytes bad = WriteVma(Small()).bytes;
  bad[WriteVma(Small()).extents[1]] = 'X';
  Reader reader(ReadFrom(bad));
  EXPECT_EQ(reader.Next().status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(reader.ReadHeader().ok());
  Status first;
  for (;;) {
    Result<std::optional<Cluster>> next = reader.Next();
    if (!next.ok()) {
      first = next.status();
      break;
    }
    ASSERT_TRUE(next->has_value());
  }
  EXPECT_EQ(first.code(), Code::kCorruption);
  EXPECT_EQ(reader.Next().status().message(), first.message());
  EXPECT_EQ(reader.ReadHeader().status().message(), first.message());
}

TEST(VmaReaderTest, AReadErrorKeepsItsCodeAndSaysWhere) {
  const Bytes archive = WriteVma(Small()).bytes;
  auto inner = ReadFrom(archive, 1000);
  size_t calls = 0, delivered = 0;
  Reader reader([&](std::span<uint8_t> out) -> Result<size_t> {
    if (++calls == 20) return Status::IoError("disk on fire");
    Result<size_t> n = inner(out);
    delivered += *n;
    return n;
  });
  ASSERT_TRUE(reader.ReadHeader().ok());
  Result<std::optional<Cluster>> next = reader.Next();
  while (next.ok()) next = reader.Next();
  EXPECT_EQ(next.status().code(), Code::kIoError);
  EXPECT_EQ(next.status().message(),
            "reading VMA at byte " + std::to_string(delivered) + ": disk on fire");
  EXPECT_GT(delivered, 12800u);
}

TEST(VmaReaderTest, AMovedReaderGoesOn) {
  const Bytes archive = WriteVma(Small()).bytes;
  Reader first(ReadFrom(archive));
  ASSERT_TRUE(first.ReadHeader().ok());
  ASSERT_TRUE(first.Next().ok());
  Reader second(std::move(first));
  size_t clusters = 1;
  for (Result<std::optional<Cluster>> next = second.Next(); next.ok() && *next;
       next = second.Next()) {
    ++clusters;
  }
  EXPECT_EQ(clusters, 5u);
  EXPECT_EQ(second.position(), archive.size());
}

TEST(VmaReaderTest, AfterTheEndNextStaysAtTheEnd) {
  const Bytes archive = WriteVma(Small()).bytes;
  Reader reader(ReadFrom(archive));
  ASSERT_TRUE(reader.ReadHeader().ok());
  size_t clusters = 0;
  for (Result<std::optional<Cluster>> next = reader.Next(); next.ok() && *next;
       next = reader.Next())
    ++clusters;
  EXPECT_EQ(clusters, 5u);
  Result<std::optional<Cluster>> after = reader.Next();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  EXPECT_EQ(reader.position(), archive.size());
}

}  // namespace
}  // namespace coffer::vma
