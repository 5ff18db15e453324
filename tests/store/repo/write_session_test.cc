#include "store/repo/write_session.h"

#include <gtest/gtest.h>

#include "tests/store/repo/repo_test_util.h"

namespace coffer {
namespace {

TEST(WriteSessionTest, DuplicateChunksAreStoredOnce) {
  testing::TempDir tmp;
  auto repo = testing::InitAndOpen(tmp / "repo");
  std::string data = testing::RandomBytes(100'000, 7);
  WriteSession session(*repo, 2);
  ObjectId a = *session.AddChunk(AsBytes(data));
  ObjectId b = *session.AddChunk(AsBytes(data));
  ASSERT_TRUE(session.Flush().ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(session.stats().chunks_added, 1u);
  EXPECT_EQ(AsChars(*repo->ReadObject(ObjectKind::kChunk, a)), data);
}

TEST(WriteSessionTest, ChunksAlreadyInTheStoreAreNotStoredAgain) {
  testing::TempDir tmp;
  auto repo = testing::InitAndOpen(tmp / "repo");
  std::string data = testing::RandomBytes(50'000, 8);
  {
    WriteSession first(*repo, 2);
    ASSERT_TRUE(first.AddChunk(AsBytes(data)).ok());
    ASSERT_TRUE(first.Flush().ok());
  }
  WriteSession second(*repo, 2);
  ASSERT_TRUE(second.AddChunk(AsBytes(data)).ok());
  ASSERT_TRUE(second.Flush().ok());
  EXPECT_EQ(second.stats().chunks_added, 0u);
  EXPECT_EQ(second.stats().bytes_added, 0u);
}

TEST(WriteSessionTest, ManyThreadsAddingChunksAllLand) {
  testing::TempDir tmp;
  auto repo = testing::InitAndOpen(tmp / "repo");
  WriteSession session(*repo, 2);
  std::vector<std::thread> threads;
  std::vector<ObjectId> ids(400);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 400; i += 4) {
        std::string data =
            testing::RandomBytes(1000 + static_cast<size_t>(i), static_cast<uint64_t>(i % 200));
        ids[static_cast<size_t>(i)] = *session.AddChunk(AsBytes(data));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(session.Flush().ok());
  for (int i = 0; i < 400; ++i) {
    std::string data =
        testing::RandomBytes(1000 + static_cast<size_t>(i), static_cast<uint64_t>(i % 200));
    auto read = repo->ReadObject(ObjectKind::kChunk, ids[static_cast<size_t>(i)]);
    ASSERT_TRUE(read.ok()) << i;
    EXPECT_EQ(AsChars(*read), data);
  }
}

}  // namespace
}  // namespace coffer
