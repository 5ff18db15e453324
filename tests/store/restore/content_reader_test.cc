#include "store/restore/content_reader.h"

#include <gtest/gtest.h>

#include "store/model/tree_split.h"
#include "store/repo/write_session.h"
#include "tests/store/repo/repo_test_util.h"

namespace coffer::restore {
namespace {

using testing::TempDir;

// A piece as it was handed over, its bytes copied.
struct Piece {
  uint64_t offset = 0;
  uint64_t size = 0;
  bool hole = false;
  std::string data;
};

std::string IdBytes(const ObjectId& id) {
  return std::string(AsChars(ByteView(id.bytes)));
}

pb::Extent Hole(uint64_t size) {
  pb::Extent e;
  e.set_size(size);
  return e;
}

// An id no object has.
ObjectId AbsentId(uint8_t fill) {
  ObjectId id;
  id.bytes.fill(fill);
  return id;
}

class ContentReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
    session_ = std::make_unique<WriteSession>(*repo_);
  }

  // A data extent of `bytes`, stored as a chunk.
  pb::Extent Data(const std::string& bytes) {
    auto id = session_->AddChunk(AsBytes(bytes));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    pb::Extent e;
    if (id.ok()) e.set_chunk_id(IdBytes(*id));
    e.set_size(bytes.size());
    return e;
  }

  // A file entry holding `extents` inline; its size their sum.
  static pb::Entry FileOf(const std::vector<pb::Extent>& extents) {
    pb::Entry entry;
    entry.set_name("file");
    entry.set_type(pb::Entry::FILE);
    uint64_t size = 0;
    for (const pb::Extent& e : extents) {
      *entry.add_extents() = e;
      size += e.size();
    }
    entry.set_size(size);
    return entry;
  }

  // A file entry of `extents` kept in extent parts, as an image's are.
  pb::Entry FileInParts(const std::vector<pb::Extent>& extents) {
    model::ExtentWriter writer([this](const pb::Tree& part) { return session_->AddTree(part); });
    for (const pb::Extent& e : extents) EXPECT_TRUE(writer.Add(e).ok());
    pb::Entry entry;
    entry.set_name("image");
    entry.set_type(pb::Entry::FILE);
    EXPECT_TRUE(writer.Finish(&entry).ok());
    return entry;
  }

  // Every piece ReadContent hands over, after what was added is stored.
  Result<std::vector<Piece>> Read(const pb::Entry& entry) {
    COFFER_RETURN_IF_ERROR(session_->Flush());
    std::vector<Piece> pieces;
    COFFER_RETURN_IF_ERROR(ReadContent(*repo_, directory_, entry, [&](const ContentPiece& p) {
      pieces.push_back({p.offset, p.size, p.hole(), std::string(AsChars(p.data))});
      return Status::Ok();
    }));
    return pieces;
  }

  // Every extent ForEachExtent hands over.
  Result<std::vector<pb::Extent>> Extents(const pb::Entry& entry) {
    COFFER_RETURN_IF_ERROR(session_->Flush());
    std::vector<pb::Extent> extents;
    COFFER_RETURN_IF_ERROR(ForEachExtent(*repo_, directory_, entry, [&](const pb::Extent& e) {
      extents.push_back(e);
      return Status::Ok();
    }));
    return extents;
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  std::unique_ptr<WriteSession> session_;
  ObjectId directory_ = AbsentId(0xd1);  // the tree holding the entry, for messages only
};

TEST_F(ContentReaderTest, HolesAtTheStartMiddleAndEndArePiecesWithoutData) {
  const std::string a = testing::RandomBytes(1000, 1), b = testing::RandomBytes(70000, 2);
  const pb::Entry entry = FileOf({Hole(4096), Data(a), Hole(1 << 20), Data(b), Hole(123)});
  auto pieces = Read(entry);
  ASSERT_TRUE(pieces.ok()) << pieces.status().ToString();
  ASSERT_EQ(pieces->size(), 5u);
  const std::vector<std::tuple<uint64_t, uint64_t, bool, std::string>> expected = {
      {0, 4096, true, ""},
      {4096, 1000, false, a},
      {5096, 1 << 20, true, ""},
      {5096 + (1 << 20), 70000, false, b},
      {75096 + (1 << 20), 123, true, ""}};
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    const Piece& p = (*pieces)[i];
    EXPECT_EQ(p.offset, std::get<0>(expected[i]));
    EXPECT_EQ(p.size, std::get<1>(expected[i]));
    EXPECT_EQ(p.hole, std::get<2>(expected[i]));
    EXPECT_TRUE(p.data == std::get<3>(expected[i]));
  }
}

TEST_F(ContentReaderTest, AnEmptyFileAndAFileOfOneHole) {
  auto empty = Read(FileOf({}));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
  auto hole = Read(FileOf({Hole(5u << 30)}));
  ASSERT_TRUE(hole.ok()) << hole.status().ToString();
  ASSERT_EQ(hole->size(), 1u);
  EXPECT_TRUE((*hole)[0].hole);
  EXPECT_EQ((*hole)[0].size, 5u << 30);
}

TEST_F(ContentReaderTest, AFileInExtentPartsIsReadWholeAndInOrder) {
  // More extents than an entry holds inline, over many windows of chunks:
  // distinct chunks of varied sizes, every fifth extent a hole.
  std::vector<pb::Extent> extents;
  std::string expected;
  for (uint64_t i = 0; i < model::kMaxInlineExtents + 4000; ++i) {
    if (i % 5 == 4) {
      extents.push_back(Hole(1000 + i));
      expected.append(1000 + i, '\0');
    } else {
      const std::string bytes = testing::RandomBytes(50 + i % 200, i);
      extents.push_back(Data(bytes));
      expected += bytes;
    }
  }
  const pb::Entry entry = FileInParts(extents);
  ASSERT_EQ(entry.extents_size(), 0);
  ASSERT_GE(entry.extent_parts_size(), 2);
  ASSERT_EQ(entry.size(), expected.size());

  auto pieces = Read(entry);
  ASSERT_TRUE(pieces.ok()) << pieces.status().ToString();
  ASSERT_EQ(pieces->size(), extents.size());
  std::string content;
  for (size_t i = 0; i < pieces->size(); ++i) {
    const Piece& p = (*pieces)[i];
    ASSERT_EQ(p.offset, content.size()) << "piece " << i;
    ASSERT_EQ(p.size, extents[i].size()) << "piece " << i;
    ASSERT_EQ(p.hole, extents[i].chunk_id().empty()) << "piece " << i;
    content += p.hole ? std::string(p.size, '\0') : p.data;
  }
  EXPECT_TRUE(content == expected) << "the content differs";

  // ForEachExtent gives the same extents.
  auto listed = Extents(entry);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), extents.size());
  for (size_t i = 0; i < extents.size(); ++i) {
    ASSERT_EQ((*listed)[i].chunk_id(), extents[i].chunk_id()) << i;
    ASSERT_EQ((*listed)[i].size(), extents[i].size()) << i;
  }
}

TEST_F(ContentReaderTest, ForEachExtentFetchesNoChunk) {
  // Extents of chunks that were never stored, inline and in parts: listing
  // them works, reading them does not.
  std::vector<pb::Extent> extents;
  for (uint64_t i = 0; i < model::kMaxInlineExtents + 10; ++i) {
    pb::Extent e;
    e.set_chunk_id(IdBytes(AbsentId(static_cast<uint8_t>(1 + i % 251))));
    e.set_size(100 + i);
    extents.push_back(i % 3 == 2 ? Hole(7) : e);
  }
  for (const pb::Entry& entry :
       {FileOf(std::vector<pb::Extent>(extents.begin(), extents.begin() + 20)),
        FileInParts(extents)}) {
    SCOPED_TRACE(entry.name());
    auto listed = Extents(entry);
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    ASSERT_EQ(listed->size(), static_cast<size_t>(entry.extents_size() > 0 ? 20 : extents.size()));
    for (size_t i = 0; i < listed->size(); ++i) {
      ASSERT_EQ((*listed)[i].chunk_id(), extents[i].chunk_id()) << i;
      ASSERT_EQ((*listed)[i].size(), extents[i].size()) << i;
    }
    auto read = Read(entry);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), Code::kCorruption) << read.status().ToString();
  }
}

TEST_F(ContentReaderTest, AMissingChunkIsDamage) {
  pb::Extent missing;
  missing.set_chunk_id(IdBytes(AbsentId(0x5a)));
  missing.set_size(10);
  const pb::Entry entry = FileOf({Data("present"), Hole(100), missing, Data("after")});
  std::vector<uint64_t> offsets;
  Status status = Status::Ok();
  ASSERT_TRUE(session_->Flush().ok());
  status = ReadContent(*repo_, directory_, entry, [&](const ContentPiece& p) {
    offsets.push_back(p.offset);
    return Status::Ok();
  });
  EXPECT_EQ(status.code(), Code::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find("missing"), std::string::npos) << status.ToString();
  // What comes before the missing chunk was handed over, nothing after.
  EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 7}));
}

TEST_F(ContentReaderTest, AMissingExtentPartIsDamage) {
  std::vector<pb::Extent> extents;
  for (uint64_t i = 0; i < model::kMaxInlineExtents + 10; ++i)
    extents.push_back(Data(std::to_string(i)));
  pb::Entry entry = FileInParts(extents);
  ASSERT_GE(entry.extent_parts_size(), 2);
  entry.mutable_extent_parts(1)->set_tree_id(IdBytes(AbsentId(0x77)));
  auto read = Read(entry);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kCorruption) << read.status().ToString();
  auto listed = Extents(entry);
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.status().code(), Code::kCorruption) << listed.status().ToString();
}

TEST_F(ContentReaderTest, ExtentsThatDoNotAddUpToTheSizeAreDamage) {
  for (int64_t off_by : {-1, 1, 4096}) {
    SCOPED_TRACE(off_by);
    pb::Entry entry = FileOf({Data("0123456789"), Hole(4096), Data("abc")});
    entry.set_size(static_cast<uint64_t>(static_cast<int64_t>(entry.size()) + off_by));
    auto read = Read(entry);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), Code::kCorruption) << read.status().ToString();
    EXPECT_NE(read.status().message().find("4109"), std::string::npos) << read.status().ToString();
  }
  // A chunk shorter or longer than its extent says.
  for (uint64_t says : {9, 11}) {
    pb::Extent extent = Data("0123456789");
    extent.set_size(says);
    auto read = Read(FileOf({extent}));
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), Code::kCorruption) << read.status().ToString();
  }
}

TEST_F(ContentReaderTest, TheVisitorsErrorStopsTheReadAndIsReturned) {
  std::vector<pb::Extent> extents;
  for (uint64_t i = 0; i < 1000; ++i)
    extents.push_back(i % 2 ? Hole(10) : Data(testing::RandomBytes(100, i)));
  const pb::Entry entry = FileOf(extents);
  ASSERT_TRUE(session_->Flush().ok());
  // Stopped in the first window, and several windows in (64 chunks each).
  for (size_t stop_at : {size_t{0}, size_t{3}, size_t{700}}) {
    SCOPED_TRACE(stop_at);
    size_t calls = 0;
    Status status = ReadContent(*repo_, directory_, entry, [&](const ContentPiece&) {
      return calls++ == stop_at ? Status::Aborted("the output is gone") : Status::Ok();
    });
    EXPECT_EQ(status.code(), Code::kAborted);
    EXPECT_EQ(status.message(), "the output is gone");
    EXPECT_EQ(calls, stop_at + 1);
  }
  // And from ForEachExtent.
  size_t calls = 0;
  Status status = ForEachExtent(*repo_, directory_, entry, [&](const pb::Extent&) {
    return ++calls == 5 ? Status::NoSpace("full") : Status::Ok();
  });
  EXPECT_EQ(status.code(), Code::kNoSpace);
  EXPECT_EQ(calls, 5u);
}

TEST_F(ContentReaderTest, OnlyFilesHaveContent) {
  pb::Entry dir;
  dir.set_type(pb::Entry::DIRECTORY);
  auto read = Read(dir);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::restore
