#include "store/objects/local_object_store.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/store/objects/test_objects.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer {
namespace {

using testing::TestId;
using testing::TestValue;

class LocalObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Create(); }

  std::unique_ptr<LocalObjectStore> Create() {
    auto store = LocalObjectStore::Create(dir_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  void Reopen() {
    store_.reset();
    auto store = LocalObjectStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void Commit(const std::string& group, int64_t time, uint32_t n) {
    Status s =
        store_->CommitSnapshot({group, time, TestId(n)}, TestValue(n, 40), kNoWriter, std::nullopt);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::vector<std::pair<std::string, int64_t>> Listed(std::string_view group) {
    auto list = store_->ListSnapshots(group);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::vector<std::pair<std::string, int64_t>> out;
    if (list.ok()) {
      for (const auto& s : *list) out.emplace_back(s.ref.group, s.ref.time_ns);
    }
    return out;
  }

  testing::TempDir tmp_;
  std::string dir_ = tmp_ / "db";
  std::unique_ptr<LocalObjectStore> store_;
};

TEST_F(LocalObjectStoreTest, CreateFailsWithAlreadyExistsOnExistingStore) {
  auto again = LocalObjectStore::Create(dir_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
}

TEST_F(LocalObjectStoreTest, OpenOfMissingDirFailsWithNotFound) {
  auto store = LocalObjectStore::Open(tmp_ / "missing");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kNotFound);
}

TEST_F(LocalObjectStoreTest, SecondOpenWhileOpenFailsWithBusy) {
  auto second = LocalObjectStore::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kBusy) << second.status().ToString();
}

TEST_F(LocalObjectStoreTest, CommittedObjectsSurviveReopen) {
  ASSERT_TRUE(store_->Put(ObjectKind::kChunk, TestId(1), TestValue(1, 1 << 20)).ok());
  ASSERT_TRUE(store_->Put(ObjectKind::kChunk, TestId(2), TestValue(2, 10)).ok());
  ASSERT_TRUE(store_->Put(ObjectKind::kTree, TestId(3), TestValue(3, 300)).ok());
  Commit("host/a", 1, 100);
  Reopen();
  auto chunk1 = store_->Get(ObjectKind::kChunk, TestId(1));
  auto chunk2 = store_->Get(ObjectKind::kChunk, TestId(2));
  auto tree = store_->Get(ObjectKind::kTree, TestId(3));
  ASSERT_TRUE(chunk1.ok() && chunk2.ok() && tree.ok());
  EXPECT_EQ(*chunk1, TestValue(1, 1 << 20));
  EXPECT_EQ(*chunk2, TestValue(2, 10));
  EXPECT_EQ(*tree, TestValue(3, 300));
  std::vector<ObjectId> ids = {TestId(1), TestId(2), TestId(3)};
  auto chunks = store_->Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(*chunks, (std::vector<bool>{true, true, false}));
}

TEST_F(LocalObjectStoreTest, GetOfAbsentObjectIsNotFound) {
  EXPECT_EQ(store_->Get(ObjectKind::kChunk, TestId(9)).status().code(), Code::kNotFound);
}

TEST_F(LocalObjectStoreTest, KindsAreSeparateNamespaces) {
  ASSERT_TRUE(store_->Put(ObjectKind::kTree, TestId(1), TestValue(1, 10)).ok());
  EXPECT_EQ(store_->Get(ObjectKind::kChunk, TestId(1)).status().code(), Code::kNotFound);
}

TEST_F(LocalObjectStoreTest, SnapshotKindIsNotStoredById) {
  EXPECT_EQ(store_->Put(ObjectKind::kSnapshot, TestId(1), TestValue(1, 10)).code(),
            Code::kInvalidArgument);
}

TEST_F(LocalObjectStoreTest, ContainsAnswersForManyPresentAndAbsentIds) {
  constexpr uint32_t kPresent = 2000;
  for (uint32_t i = 0; i < kPresent; ++i) {
    size_t size = i % 2 ? 8000 : 200;  // blob and inline values
    ASSERT_TRUE(store_->Put(ObjectKind::kChunk, TestId(i), TestValue(i, size)).ok());
  }
  Commit("host/a", 1, 1);  // the first half of the present ids is on disk
  for (uint32_t i = kPresent; i < kPresent + 500; ++i) {  // these stay in memory
    ASSERT_TRUE(store_->Put(ObjectKind::kChunk, TestId(i), TestValue(i, 100)).ok());
  }
  std::vector<ObjectId> ids;
  for (uint32_t i = 0; i < 20000; ++i) ids.push_back(TestId(i));
  auto present = store_->Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(present.ok()) << present.status().ToString();
  for (uint32_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ((*present)[i], i < kPresent + 500) << i;
  }
}

TEST_F(LocalObjectStoreTest, MetaRoundTripsAndSurvivesReopenWithoutCommit) {
  auto absent = store_->GetMeta("format");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  ASSERT_TRUE(store_->PutMeta("format", AsBytes("1")).ok());
  ASSERT_TRUE(store_->PutMeta("config", TestValue(5, 300)).ok());
  Reopen();
  auto format = store_->GetMeta("format");
  auto config = store_->GetMeta("config");
  ASSERT_TRUE(format.ok() && config.ok());
  ASSERT_TRUE(format->has_value() && config->has_value());
  EXPECT_EQ(AsChars(**format), "1");
  EXPECT_EQ(**config, TestValue(5, 300));
}

TEST_F(LocalObjectStoreTest, SnapshotsAreListedByGroupThenTime) {
  Commit("host/ab", 5, 1);
  Commit("host/a", 10, 2);
  Commit("host/a", -3'000'000'000, 3);
  Commit("host/a", 0, 4);
  Commit("ct/101", 7, 5);
  Commit("host/ab", -1, 6);
  using V = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(Listed("host/a"), (V{{"host/a", -3'000'000'000}, {"host/a", 0}, {"host/a", 10}}));
  EXPECT_EQ(Listed("host/ab"), (V{{"host/ab", -1}, {"host/ab", 5}}));
  EXPECT_EQ(Listed("host/"), V{});
  EXPECT_EQ(Listed(""), (V{{"ct/101", 7},
                           {"host/a", -3'000'000'000},
                           {"host/a", 0},
                           {"host/a", 10},
                           {"host/ab", -1},
                           {"host/ab", 5}}));
}

TEST_F(LocalObjectStoreTest, ListedSnapshotCarriesIdAndSealedRecord) {
  Commit("vm/100", 42, 7);
  Reopen();
  auto list = store_->ListSnapshots("vm/100");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ref, (SnapshotRef{"vm/100", 42, TestId(7)}));
  EXPECT_EQ((*list)[0].sealed, TestValue(7, 40));
}

TEST_F(LocalObjectStoreTest, GroupWithNulIsRejected) {
  std::string bad("host\0x", 6);
  EXPECT_EQ(store_->CommitSnapshot({bad, 1, TestId(1)}, {}, kNoWriter, std::nullopt).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(store_->ListSnapshots(bad).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->CommitSnapshot({"", 1, TestId(1)}, {}, kNoWriter, std::nullopt).code(),
            Code::kInvalidArgument);
}

TEST_F(LocalObjectStoreTest, RecommittingSameSnapshotIsOkButAnotherAtSameTimeIsRejected) {
  Commit("host/a", 1, 1);
  Commit("host/a", 1, 1);
  EXPECT_EQ(
      store_->CommitSnapshot({"host/a", 1, TestId(2)}, TestValue(2, 40), kNoWriter, std::nullopt)
          .code(),
      Code::kAlreadyExists);
  EXPECT_EQ(Listed("host/a").size(), 1u);
}

TEST_F(LocalObjectStoreTest, DeletedSnapshotIsGoneAfterReopen) {
  Commit("host/a", 1, 1);
  Commit("host/a", 2, 2);
  ASSERT_TRUE(store_->DeleteSnapshot({"host/a", 1, TestId(1)}).ok());
  Reopen();
  using V = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(Listed("host/a"), (V{{"host/a", 2}}));
}

TEST_F(LocalObjectStoreTest, DeleteOfMissingSnapshotIsNotFound) {
  Commit("host/a", 1, 1);
  EXPECT_EQ(store_->DeleteSnapshot({"host/a", 2, TestId(1)}).code(), Code::kNotFound);
  EXPECT_EQ(store_->DeleteSnapshot({"host/a", 1, TestId(2)}).code(), Code::kNotFound);
  EXPECT_EQ(Listed("host/a").size(), 1u);
}

TEST_F(LocalObjectStoreTest, ConcurrentPutsFromFourThreadsAreAllReadable) {
  constexpr uint32_t kThreads = 4, kPerThread = 250;
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (uint32_t i = 0; i < kPerThread; ++i) {
        uint32_t n = t * kPerThread + i;
        Status s = store_->Put(ObjectKind::kChunk, TestId(n), TestValue(n, 1000 + 37 * n));
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  Commit("host/a", 1, 0);
  Reopen();
  for (uint32_t n = 0; n < kThreads * kPerThread; ++n) {
    auto got = store_->Get(ObjectKind::kChunk, TestId(n));
    ASSERT_TRUE(got.ok()) << n;
    ASSERT_EQ(*got, TestValue(n, 1000 + 37 * n)) << n;
  }
}

TEST_F(LocalObjectStoreTest, OneMebibyteAndTenByteValuesRoundTrip) {
  ASSERT_TRUE(store_->Put(ObjectKind::kChunk, TestId(1), TestValue(1, 1 << 20)).ok());
  ASSERT_TRUE(store_->Put(ObjectKind::kChunk, TestId(2), TestValue(2, 10)).ok());
  // From the memtable, then from a blob file and an SST.
  for (int pass = 0; pass < 2; ++pass) {
    auto big = store_->Get(ObjectKind::kChunk, TestId(1));
    auto small = store_->Get(ObjectKind::kChunk, TestId(2));
    ASSERT_TRUE(big.ok() && small.ok());
    EXPECT_EQ(*big, TestValue(1, 1 << 20));
    EXPECT_EQ(*small, TestValue(2, 10));
    Commit("host/a", pass, 3 + pass);
    Reopen();
  }
}

}  // namespace
}  // namespace coffer
