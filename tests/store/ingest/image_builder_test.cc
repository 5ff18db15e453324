#include "store/ingest/image_builder.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "store/chunk/image_chunks.h"
#include "store/restore/restorer.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::ingest {
namespace {

using chunk::ImageChunkCount;
using chunk::ImageChunkLength;
using chunk::kImageChunkSize;
using testing::TempDir;

class ImageBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
  }

  // An image whose chunk i is zero when zero(i), else distinct random bytes.
  static std::string MakeImage(uint64_t size, const std::function<bool(uint64_t)>& zero,
                               uint64_t seed) {
    std::string image = testing::RandomBytes(size, seed);
    for (uint64_t i = 0; i < ImageChunkCount(size); ++i) {
      if (zero(i)) {
        std::fill_n(image.begin() + static_cast<ptrdiff_t>(i * kImageChunkSize),
                    ImageChunkLength(size, i), '\0');
      }
    }
    return image;
  }

  // Stores `image` with chunks put in `order` (hashed on `hashers` if given),
  // commits it as the only file of a snapshot, and returns the snapshot.
  Snapshot Store(const std::string& image, ImageBuilder::Order how,
                 const std::vector<uint64_t>& order, WriteStats* stats = nullptr,
                 Executor* hashers = nullptr) {
    WriteSession session(*repo_);
    auto builder = ImageBuilder::Create(session, image.size(), how, hashers);
    EXPECT_TRUE(builder.ok());
    for (uint64_t i : order) {
      ByteView data =
          AsBytes(image).subspan(i * kImageChunkSize, ImageChunkLength(image.size(), i));
      Status put = (*builder)->Put(i, data);
      EXPECT_TRUE(put.ok()) << put.ToString();
    }
    pb::Tree tree;
    pb::Entry* entry = tree.add_entries();
    entry->set_name("disk.img");
    entry->set_type(pb::Entry::FILE);
    entry->set_mode(0600);
    Status finished = (*builder)->Finish(entry);
    EXPECT_TRUE(finished.ok()) << finished.ToString();
    auto root = session.AddTree(tree);
    EXPECT_TRUE(root.ok());
    pb::Snapshot record;
    record.set_version(1);
    record.set_group("vm/100");
    record.set_time_ns(++time_ * 1'000'000'000);
    record.set_root_tree_id(root->bytes.data(), root->bytes.size());
    auto committed = session.Commit(record);
    EXPECT_TRUE(committed.ok()) << committed.status().ToString();
    if (stats) {
      stats->chunks_added = session.stats().chunks_added.load();
      stats->bytes_added = session.stats().bytes_added.load();
    }
    return *committed;
  }

  std::string Restored(const Snapshot& snapshot) {
    std::string target = tmp_ / ("restore-" + std::to_string(snapshot.record.time_ns()));
    restore::RestoreOptions options;
    options.target = target;
    restore::Restorer restorer(*repo_, options);
    auto result = restorer.Restore(snapshot, "disk.img");
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return target + "/disk.img";
  }

  static std::vector<uint64_t> Shuffled(uint64_t count, uint64_t seed) {
    std::vector<uint64_t> order(count);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
    return order;
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  int64_t time_ = 1'700'000'000;
};

TEST_F(ImageBuilderTest, ChunksInAnyOrderRestoreTheExactImageWithZerosAsHoles) {
  // Not a multiple of 64 KiB; a run of zero chunks in the middle and at the end.
  const uint64_t size = 300 * kImageChunkSize + 12345;
  const std::string image = MakeImage(
      size, [](uint64_t i) { return (i >= 40 && i < 140) || i == 300; }, 1);
  Snapshot snapshot = Store(image, ImageBuilder::Order::kAny, Shuffled(ImageChunkCount(size), 7));

  const std::string path = Restored(snapshot);
  EXPECT_EQ(testing::ReadFile(path), image);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  // 100 zero chunks are a hole: the file takes noticeably less than its size.
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, size - 90 * kImageChunkSize);

  auto entry = repo_->LookupPath(snapshot, "disk.img");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->size(), size);
  ASSERT_EQ(entry->extents_size(), 40 + 1 + 160 + 1);  // data, one merged hole, data, hole
  EXPECT_TRUE(entry->extents(40).chunk_id().empty());
  EXPECT_EQ(entry->extents(40).size(), 100 * kImageChunkSize);
}

TEST_F(ImageBuilderTest, ChunksNeverPutAreHoles) {
  const uint64_t size = 10 * kImageChunkSize;
  const std::string image = MakeImage(
      size, [](uint64_t i) { return i % 3 == 0; }, 2);
  std::vector<uint64_t> nonzero;
  for (uint64_t i = 0; i < 10; ++i) {
    if (i % 3 != 0) nonzero.push_back(i);
  }
  std::reverse(nonzero.begin(), nonzero.end());
  for (auto how : {ImageBuilder::Order::kAny, ImageBuilder::Order::kSequential}) {
    std::vector<uint64_t> order = nonzero;
    if (how == ImageBuilder::Order::kSequential) std::reverse(order.begin(), order.end());
    EXPECT_EQ(testing::ReadFile(Restored(Store(image, how, order))), image);
  }
}

TEST_F(ImageBuilderTest, TheSameImageInAnotherOrderOrReadInOrderStoresNothingNew) {
  const uint64_t size = 200 * kImageChunkSize;
  const std::string image = MakeImage(
      size, [](uint64_t i) { return i % 10 == 0; }, 3);
  Snapshot first = Store(image, ImageBuilder::Order::kAny, Shuffled(200, 1));
  WriteStats again;
  Snapshot second = Store(image, ImageBuilder::Order::kAny, Shuffled(200, 2), &again);
  EXPECT_EQ(again.chunks_added.load(), 0u);
  WriteStats sequential;
  std::vector<uint64_t> in_order(200);
  std::iota(in_order.begin(), in_order.end(), 0);
  Snapshot third = Store(image, ImageBuilder::Order::kSequential, in_order, &sequential);
  EXPECT_EQ(sequential.chunks_added.load(), 0u);
  EXPECT_EQ(third.record.root_tree_id(), first.record.root_tree_id());
  EXPECT_EQ(first.record.root_tree_id(), second.record.root_tree_id());
}

// Handed to workers a few MiB at a time, the chunks make the same file:
// the same tree, the same bytes, nothing new the second time.
TEST_F(ImageBuilderTest, ChunksHashedOnWorkersMakeTheSameImage) {
  const uint64_t size = 300 * kImageChunkSize + 777;  // several hand-offs and a short last chunk
  const std::string image = MakeImage(
      size, [](uint64_t i) { return i % 7 == 3 || i >= 290; }, 4);
  Snapshot inline_built =
      Store(image, ImageBuilder::Order::kAny, Shuffled(ImageChunkCount(size), 5));
  Executor hashers(2, 2);
  WriteStats stats;
  Snapshot on_workers =
      Store(image, ImageBuilder::Order::kAny, Shuffled(ImageChunkCount(size), 6), &stats, &hashers);
  EXPECT_EQ(on_workers.record.root_tree_id(), inline_built.record.root_tree_id());
  EXPECT_EQ(stats.chunks_added.load(), 0u);
  EXPECT_EQ(testing::ReadFile(Restored(on_workers)), image);

  const std::string other = MakeImage(
      size, [](uint64_t i) { return i % 5 == 0; }, 8);
  Snapshot fresh =
      Store(other, ImageBuilder::Order::kAny, Shuffled(ImageChunkCount(size), 9), &stats, &hashers);
  EXPECT_EQ(stats.chunks_added.load(), ImageChunkCount(size) - 61)
      << "every chunk but the zero ones";
  EXPECT_EQ(testing::ReadFile(Restored(fresh)), other);
}

// A builder given up before Finish (an import that failed) waits for what
// its workers hold, which still refers to it.
TEST_F(ImageBuilderTest, ABuilderGivenUpWaitsForItsWorkers) {
  const uint64_t size = 200 * kImageChunkSize;
  const std::string image = MakeImage(
      size, [](uint64_t) { return false; }, 10);
  Executor hashers(2, 2);
  WriteSession session(*repo_);
  {
    auto builder = ImageBuilder::Create(session, size, ImageBuilder::Order::kAny, &hashers);
    ASSERT_TRUE(builder.ok());
    for (uint64_t i : Shuffled(200, 11)) {
      ASSERT_TRUE(
          (*builder)->Put(i, AsBytes(image).subspan(i * kImageChunkSize, kImageChunkSize)).ok());
    }
  }  // destroyed with hand-offs queued and running
  ASSERT_TRUE(session.Flush().ok());
  // Three full hand-offs of 64 chunks; the last 8 chunks were never handed off.
  EXPECT_EQ(session.stats().chunks_added.load(), 192u) << "every hand-off ran to its end";
}

TEST_F(ImageBuilderTest, AnImageOfManyChunksKeepsItsExtentsInParts) {
  // More chunks than one tree holds inline (8192): 640 MiB of which almost
  // all are zeros, so the test stays small but the extents do not.
  const uint64_t chunks = 10'000;
  const uint64_t size = chunks * kImageChunkSize;
  WriteSession session(*repo_);
  auto builder = ImageBuilder::Create(session, size, ImageBuilder::Order::kAny);
  ASSERT_TRUE(builder.ok());
  // Every other chunk has data, so no holes merge and there are 10,000 extents.
  for (uint64_t i : Shuffled(chunks, 9)) {
    if (i % 2) continue;
    std::string data = testing::RandomBytes(64, i) + std::string(kImageChunkSize - 64, 'x');
    ASSERT_TRUE((*builder)->Put(i, AsBytes(data)).ok());
  }
  pb::Entry entry;
  ASSERT_TRUE((*builder)->Finish(&entry).ok());
  EXPECT_EQ(entry.extents_size(), 0);
  EXPECT_GE(entry.extent_parts_size(), 2);
  EXPECT_EQ(entry.size(), size);
}

TEST_F(ImageBuilderTest, BadPutsAreRefused) {
  WriteSession session(*repo_);
  const uint64_t size = 2 * kImageChunkSize + 10;
  auto any = ImageBuilder::Create(session, size, ImageBuilder::Order::kAny);
  ASSERT_TRUE(any.ok());
  std::string chunk(kImageChunkSize, 'a');
  EXPECT_EQ((*any)->Put(3, AsBytes(chunk)).code(), Code::kInvalidArgument);  // past the end
  EXPECT_EQ((*any)->Put(2, AsBytes(chunk)).code(), Code::kInvalidArgument);  // last is 10 bytes
  EXPECT_TRUE((*any)->Put(2, AsBytes(chunk).first(10)).ok());
  auto sequential = ImageBuilder::Create(session, size, ImageBuilder::Order::kSequential);
  ASSERT_TRUE(sequential.ok());
  EXPECT_TRUE((*sequential)->Put(1, AsBytes(chunk)).ok());
  EXPECT_EQ((*sequential)->Put(0, AsBytes(chunk)).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::ingest
