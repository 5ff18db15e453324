#include "store/ingest/vma_import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>

#include "store/restore/restorer.h"
#include "tests/store/repo/repo_test_util.h"
#include "tests/testing/vma_test_writer.h"

namespace coffer::ingest {
namespace {

using testing::TempDir;
using testing::VmaTestCluster;
using testing::VmaTestDevice;
using testing::VmaTestOptions;

constexpr uint64_t kCluster = 65536;

vma::ReadFn ReadFrom(const Bytes& bytes) {
  auto at = std::make_shared<size_t>(0);
  return [&bytes, at](std::span<uint8_t> out) -> Result<size_t> {
    const size_t n = std::min(out.size(), bytes.size() - *at);
    std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(*at), n, out.begin());
    *at += n;
    return n;
  };
}

// Two disks, sizes not multiples of 64 KiB, content with zero blocks and
// zero clusters, both configs; clusters interleaved and shuffled by `seed`.
VmaTestOptions TwoDiskVm(uint64_t order_seed, uint8_t uuid_byte) {
  VmaTestOptions options;
  options.uuid[0] = uuid_byte;
  options.devices.push_back(
      {"drive-scsi0", 40 * kCluster + 4096 * 3 + 17, testing::VmaPatternContent(1), {}, 0});
  options.devices.push_back({"drive-virtio1", 25 * kCluster, testing::VmaPatternContent(2), {}, 0});
  options.configs.push_back({"qemu-server.conf", Bytes{'b', 'o', 'o', 't', ':', '\n'}});
  options.configs.push_back({"qemu-server.fw", Bytes{'[', 'O', 'P', 'T', 'I', 'O', 'N', 'S', ']'}});
  std::vector<VmaTestCluster> order;
  for (uint8_t dev = 1; dev <= 2; ++dev) {
    const uint64_t clusters = (options.devices[dev - 1].size + kCluster - 1) / kCluster;
    for (uint64_t i = 0; i < clusters; ++i) order.push_back({dev, i, std::nullopt});
  }
  std::shuffle(order.begin(), order.end(), std::mt19937_64(order_seed));
  options.order = order;
  return options;
}

class VmaImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
  }

  Result<BackupResult> Import(const Bytes& archive, int64_t seconds) {
    BackupOptions options;
    options.group = "vm/100";
    options.time_ns = seconds * 1'000'000'000;
    VmaImporter importer(*repo_, options, nullptr);
    return importer.Import(ReadFrom(archive), "vzdump-qemu-100.vma");
  }

  std::string Restore(const Snapshot& snapshot) {
    std::string target = tmp_ / ("restore-" + std::to_string(++restores_));
    restore::RestoreOptions options;
    options.target = target;
    restore::Restorer restorer(*repo_, options);
    auto result = restorer.Restore(snapshot, "");
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return target;
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  int restores_ = 0;
};

TEST_F(VmaImportTest, EachDiskIsAnImageOfItsExactSizeBesideTheConfigs) {
  const VmaTestOptions vm = TwoDiskVm(1, 1);
  const Bytes archive = testing::WriteVma(vm).bytes;
  auto result = Import(archive, 1000);
  ASSERT_TRUE(result.ok()) << result.status().ToString();

  const std::string restored = Restore(result->snapshot);
  for (const VmaTestDevice& device : vm.devices) {
    const Bytes expected = testing::VmaDeviceImage(device);
    const std::string image = testing::ReadFile(restored + "/" + ImageFileName(device.name));
    ASSERT_EQ(image.size(), device.size) << device.name;
    EXPECT_TRUE(image == std::string(expected.begin(), expected.end())) << device.name;
  }
  EXPECT_EQ(testing::ReadFile(restored + "/qemu-server.conf"), "boot:\n");
  EXPECT_EQ(testing::ReadFile(restored + "/qemu-server.fw"), "[OPTIONS]");

  auto root =
      repo_->ReadTree(*ObjectId::FromBytes(AsBytes(result->snapshot.record.root_tree_id())));
  ASSERT_TRUE(root.ok());
  std::vector<std::string> names;
  for (const pb::Entry& e : root->entries()) names.push_back(e.name());
  EXPECT_EQ(names, (std::vector<std::string>{"drive-scsi0.img", "drive-virtio1.img",
                                             "qemu-server.conf", "qemu-server.fw"}));
  EXPECT_EQ(result->snapshot.record.paths(0), "vzdump-qemu-100.vma");
}

TEST_F(VmaImportTest, TheSameDisksWithAnotherUuidAndOrderStoreNoNewChunks) {
  auto first = Import(testing::WriteVma(TwoDiskVm(1, 1)).bytes, 1000);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_GT(first->snapshot.record.stats().chunks_added(), 30u);
  auto second = Import(testing::WriteVma(TwoDiskVm(2, 2)).bytes, 2000);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->snapshot.record.stats().chunks_added(), 0u);
  EXPECT_EQ(second->snapshot.record.root_tree_id(), first->snapshot.record.root_tree_id());
}

TEST_F(VmaImportTest, ADamagedArchiveNamesItselfAndCommitsNothing) {
  const Bytes whole = testing::WriteVma(TwoDiskVm(1, 1)).bytes;
  for (size_t cut : {size_t{100}, whole.size() / 2, whole.size() - 1}) {
    SCOPED_TRACE(cut);
    Bytes truncated(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(cut));
    auto result = Import(truncated, 1000);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), Code::kCorruption);
    EXPECT_NE(result.status().message().find("vzdump-qemu-100.vma: "), std::string::npos)
        << result.status().message();
  }
  auto snapshots = repo_->ListSnapshots();
  ASSERT_TRUE(snapshots.ok());
  EXPECT_TRUE(snapshots->empty());
}

TEST_F(VmaImportTest, ADeviceNameThatIsNoFileNameIsRefused) {
  VmaTestOptions vm = TwoDiskVm(1, 1);
  vm.devices[1].name = "../escape";
  auto result = Import(testing::WriteVma(vm).bytes, 1000);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kCorruption);
  EXPECT_NE(result.status().message().find("is not a file name"), std::string::npos)
      << result.status().message();
}

}  // namespace
}  // namespace coffer::ingest
