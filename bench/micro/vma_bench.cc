// How fast the VMA writer and reader run over archives in memory, in MB/s.
// Not a test: it asserts nothing about speed (see bench/micro/CMakeLists.txt).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "store/export/vma_writer.h"
#include "store/ingest/vma_reader.h"
#include "tests/testing/vma_test_writer.h"

namespace coffer::vma {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRounds = 4;

// A disk image with a fifth of its clusters zero and the rest random.
Bytes Image(uint64_t size, uint32_t seed) {
  Bytes image(size, 0);
  std::mt19937_64 random(seed);
  for (uint64_t start = 0; start < size; start += kClusterSize) {
    if (random() % 5 == 0) continue;
    const uint64_t end = std::min<uint64_t>(size, start + kClusterSize);
    for (uint64_t i = start; i < end; ++i) image[i] = static_cast<uint8_t>(random());
  }
  return image;
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

TEST(VmaBench, Writer) {
  const Bytes image = Image(192 << 20, 1);
  const Bytes zeros(kClusterSize, 0);
  Header header{};
  header.uuid = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};
  header.ctime = 1767225600;
  const std::string config = "boot: order=scsi0\nmemory: 2048\n";
  header.configs.push_back({"qemu-server.conf", Bytes(config.begin(), config.end())});
  header.devices.push_back({1, "drive-scsi0", image.size()});
  header.devices.push_back({2, "drive-scsi1", 64 << 20});  // all zero, given as data
  std::vector<Bytes> clusters;
  for (uint64_t start = 0; start < image.size(); start += kClusterSize) {
    clusters.emplace_back(image.begin() + static_cast<ptrdiff_t>(start),
                          image.begin() + static_cast<ptrdiff_t>(start + kClusterSize));
  }
  uint64_t out = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    Writer writer([&](ByteView data) {
      out += data.size();
      return Status::Ok();
    });
    ASSERT_TRUE(writer.WriteHeader(header).ok());
    for (uint64_t c = 0; c < clusters.size(); ++c)
      ASSERT_TRUE(writer.AddCluster(1, c, clusters[c]).ok());
    for (uint64_t c = 0; c < 1024; ++c) ASSERT_TRUE(writer.AddCluster(2, c, zeros).ok());
    ASSERT_TRUE(writer.Finish().ok());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("VMA writer: %.0f MB/s of disk image, %.0f MB/s of archive\n",
              kRounds * 256.0 * (1 << 20) / 1e6 / seconds, out / 1e6 / seconds);
}

TEST(VmaBench, Reader) {
  testing::VmaTestOptions o;
  o.devices.push_back({"drive-scsi0", 192 << 20, testing::VmaPatternContent(1), {}, 0});
  o.devices.push_back({"drive-scsi1", 64 << 20, {}, Bytes(64 << 20, 0x5A), 0});
  std::vector<testing::VmaTestCluster> order;  // every cluster, shuffled
  for (size_t i = 0; i < o.devices.size(); ++i) {
    for (uint64_t c = 0; c < o.devices[i].size / kClusterSize; ++c) {
      order.push_back({static_cast<uint8_t>(i + 1), c, {}});
    }
  }
  std::shuffle(order.begin(), order.end(), std::mt19937(1));
  o.order = std::move(order);
  const Bytes archive = testing::WriteVma(o).bytes;
  uint64_t sum = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    Reader reader(ReadFrom(archive));
    ASSERT_TRUE(reader.ReadHeader().ok());
    for (;;) {
      Result<std::optional<Cluster>> next = reader.Next();
      ASSERT_TRUE(next.ok()) << next.status().message();
      if (!*next) break;
      sum += (*next)->data[kClusterSize - 1];  // touch the cluster
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("VMA reader: %.0f MB/s of disk image, %.0f MB/s of archive (%llu)\n",
              kRounds * 256.0 * (1 << 20) / 1e6 / seconds, kRounds * archive.size() / 1e6 / seconds,
              static_cast<unsigned long long>(sum));
}

}  // namespace
}  // namespace coffer::vma
