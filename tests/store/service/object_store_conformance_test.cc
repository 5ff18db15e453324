// The behaviour every ObjectStore must have, run against LocalObjectStore,
// against RemoteObjectStore through a real server (store_envs.h), over a
// unix socket and over TLS on loopback, and against S3ObjectStore on a real
// S3 server (s3_env.h). Status codes included: commands must not be able to
// tell them apart. Garbage collection, which a copy in object storage does
// not run, has a suite of its own.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "store/objects/needs_list.h"
#include "tests/store/objects/test_objects.h"
#include "tests/store/s3/s3_env.h"
#include "tests/store/service/store_envs.h"

namespace coffer {
namespace {

using testing::GetAll;
using testing::TestId;
using testing::TestValue;
using Listing = std::vector<std::pair<std::string, int64_t>>;

template <typename Env>
class ObjectStoreConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (requires(Env & env) { env.why_not(); }) {
      if (!env_.ready()) GTEST_SKIP() << "no S3 server to test against: " << env_.why_not();
    }
  }
  ObjectStore& store() { return env_.store(); }
  void Reopen() { env_.Reopen(); }

  void Put(ObjectKind kind, uint32_t n, size_t size) {
    Status s = store().Put(kind, TestId(n), TestValue(n, size));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Commit(const std::string& group, int64_t time, uint32_t n, size_t size = 40) {
    Status s = store().CommitSnapshot({group, time, TestId(n)}, TestValue(n, size), kNoWriter,
                                      std::nullopt);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  Listing Listed(std::string_view group) {
    auto list = store().ListSnapshots(group);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    Listing out;
    if (list.ok()) {
      for (const auto& s : *list) out.emplace_back(s.ref.group, s.ref.time_ns);
    }
    return out;
  }
  void ExpectValue(ObjectKind kind, uint32_t n, size_t size) {
    auto got = store().Get(kind, TestId(n));
    ASSERT_TRUE(got.ok()) << n << ": " << got.status().ToString();
    EXPECT_EQ(*got, TestValue(n, size)) << n;
  }

  Env env_;
};

struct EnvNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};
using Envs =
    ::testing::Types<testing::LocalEnv, testing::RemoteEnv, testing::TlsEnv, testing::S3Env>;
TYPED_TEST_SUITE(ObjectStoreConformanceTest, Envs, EnvNames);

TYPED_TEST(ObjectStoreConformanceTest, CommittedObjectsSurviveReopen) {
  this->Put(ObjectKind::kChunk, 1, 1 << 20);
  this->Put(ObjectKind::kChunk, 2, 10);
  this->Put(ObjectKind::kTree, 3, 300);
  this->Commit("host/a", 1, 100);
  this->Reopen();
  this->ExpectValue(ObjectKind::kChunk, 1, 1 << 20);
  this->ExpectValue(ObjectKind::kChunk, 2, 10);
  this->ExpectValue(ObjectKind::kTree, 3, 300);
  std::vector<ObjectId> ids = {TestId(1), TestId(2), TestId(3)};
  auto chunks = this->store().Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(*chunks, (std::vector<bool>{true, true, false}));
}

TYPED_TEST(ObjectStoreConformanceTest, PutObjectsAreVisibleBeforeCommit) {
  this->Put(ObjectKind::kChunk, 1, 5000);
  this->Put(ObjectKind::kTree, 2, 70);
  std::vector<ObjectId> ids = {TestId(1), TestId(2)};
  auto chunks = this->store().Contains(ObjectKind::kChunk, ids);
  auto trees = this->store().Contains(ObjectKind::kTree, ids);
  ASSERT_TRUE(chunks.ok() && trees.ok());
  EXPECT_EQ(*chunks, (std::vector<bool>{true, false}));
  EXPECT_EQ(*trees, (std::vector<bool>{false, true}));
  this->ExpectValue(ObjectKind::kChunk, 1, 5000);
  this->ExpectValue(ObjectKind::kTree, 2, 70);
}

TYPED_TEST(ObjectStoreConformanceTest, EmptyValueRoundTrips) {
  this->Put(ObjectKind::kChunk, 1, 0);
  this->ExpectValue(ObjectKind::kChunk, 1, 0);
}

TYPED_TEST(ObjectStoreConformanceTest, GetOfAbsentObjectIsNotFound) {
  EXPECT_EQ(this->store().Get(ObjectKind::kChunk, TestId(9)).status().code(), Code::kNotFound);
  EXPECT_EQ(this->store().Get(ObjectKind::kTree, TestId(9)).status().code(), Code::kNotFound);
}

TYPED_TEST(ObjectStoreConformanceTest, KindsAreSeparateNamespaces) {
  this->Put(ObjectKind::kTree, 1, 10);
  EXPECT_EQ(this->store().Get(ObjectKind::kChunk, TestId(1)).status().code(), Code::kNotFound);
}

TYPED_TEST(ObjectStoreConformanceTest, SnapshotKindIsNotStoredById) {
  ObjectStore& store = this->store();
  EXPECT_EQ(store.Put(ObjectKind::kSnapshot, TestId(1), TestValue(1, 10)).code(),
            Code::kInvalidArgument);
  std::vector<ObjectId> ids = {TestId(1)};
  EXPECT_EQ(store.Contains(ObjectKind::kSnapshot, ids).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store.Get(ObjectKind::kSnapshot, TestId(1)).status().code(), Code::kInvalidArgument);
  // The refusal leaves the store usable.
  this->Put(ObjectKind::kChunk, 2, 10);
  this->Commit("host/a", 1, 3);
}

TYPED_TEST(ObjectStoreConformanceTest, GetManyAnswersEachIdInOrderMissingOnesAlone) {
  this->Put(ObjectKind::kChunk, 1, 8000);  // a blob value
  this->Put(ObjectKind::kChunk, 2, 200);   // an inline one
  this->Put(ObjectKind::kTree, 3, 300);
  this->Commit("host/a", 1, 100);
  this->Put(ObjectKind::kChunk, 4, 5000);  // put, not yet committed
  std::vector<ObjectId> ids = {TestId(1), TestId(9), TestId(2), TestId(3), TestId(4)};
  auto got = GetAll(this->store(), ObjectKind::kChunk, ids);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), ids.size());
  ASSERT_TRUE((*got)[0].ok()) << (*got)[0].status().ToString();
  EXPECT_EQ(*(*got)[0], TestValue(1, 8000));
  EXPECT_EQ((*got)[1].status().code(), Code::kNotFound);
  ASSERT_TRUE((*got)[2].ok()) << (*got)[2].status().ToString();
  EXPECT_EQ(*(*got)[2], TestValue(2, 200));
  EXPECT_EQ((*got)[3].status().code(), Code::kNotFound);  // a tree, not a chunk
  ASSERT_TRUE((*got)[4].ok()) << (*got)[4].status().ToString();
  EXPECT_EQ(*(*got)[4], TestValue(4, 5000));
  // Each missing answer is Get()'s, message included.
  EXPECT_EQ((*got)[1].status().ToString(),
            this->store().Get(ObjectKind::kChunk, TestId(9)).status().ToString());
}

// The keyless check's read: the same answers, checked by the store itself.
TYPED_TEST(ObjectStoreConformanceTest, GetManyCheckedAnswersAsGetManyDoes) {
  this->Put(ObjectKind::kChunk, 1, 8000);
  this->Put(ObjectKind::kChunk, 2, 200);
  this->Commit("host/a", 1, 100);
  this->Reopen();  // read from the files, not from memory
  std::vector<ObjectId> ids = {TestId(1), TestId(9), TestId(2)};
  std::vector<Result<Bytes>> got;
  Status s =
      this->store().GetManyChecked(ObjectKind::kChunk, ids, [&](size_t, Result<ByteView> sealed) {
        got.push_back(sealed.ok() ? Result<Bytes>(Bytes(sealed->begin(), sealed->end()))
                                  : Result<Bytes>(sealed.status()));
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(got[0].ok()) << got[0].status().ToString();
  EXPECT_EQ(*got[0], TestValue(1, 8000));
  EXPECT_EQ(got[1].status().code(), Code::kNotFound);
  ASSERT_TRUE(got[2].ok()) << got[2].status().ToString();
  EXPECT_EQ(*got[2], TestValue(2, 200));
}

TYPED_TEST(ObjectStoreConformanceTest, GetManyOfNoIdsIsEmpty) {
  auto none = GetAll(this->store(), ObjectKind::kTree, {});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(ObjectStoreConformanceTest, GetManyAnswersADuplicateEachTime) {
  this->Put(ObjectKind::kTree, 1, 100);
  this->Put(ObjectKind::kTree, 2, 9000);
  std::vector<ObjectId> ids = {TestId(1), TestId(2), TestId(1), TestId(7), TestId(1), TestId(7)};
  auto got = GetAll(this->store(), ObjectKind::kTree, ids);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), ids.size());
  for (size_t i : {0, 2, 4}) {
    ASSERT_TRUE((*got)[i].ok()) << i;
    EXPECT_EQ(*(*got)[i], TestValue(1, 100)) << i;
  }
  ASSERT_TRUE((*got)[1].ok());
  EXPECT_EQ(*(*got)[1], TestValue(2, 9000));
  EXPECT_EQ((*got)[3].status().code(), Code::kNotFound);
  EXPECT_EQ((*got)[5].status().code(), Code::kNotFound);
}

TYPED_TEST(ObjectStoreConformanceTest, GetManyOfMoreThanOneReplyHoldsArrivesWhole) {
  // 30 MiB in 1 MiB objects, one of 9 MiB (more than a reply holds, so it
  // goes alone), missing ids between them: several replies of a server.
  std::vector<ObjectId> ids;
  std::vector<size_t> sizes;  // 0: missing
  for (uint32_t i = 0; i < 40; ++i) {
    size_t size = i % 4 == 3 ? 0 : i == 10 ? (9u << 20) : (1u << 20) + i;
    if (size > 0) this->Put(ObjectKind::kChunk, i, size);
    ids.push_back(TestId(i));
    sizes.push_back(size);
  }
  this->Commit("host/a", 1, 100);
  auto got = GetAll(this->store(), ObjectKind::kChunk, ids);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), ids.size());
  for (uint32_t i = 0; i < ids.size(); ++i) {
    if (sizes[i] == 0) {
      EXPECT_EQ((*got)[i].status().code(), Code::kNotFound) << i;
      continue;
    }
    ASSERT_TRUE((*got)[i].ok()) << i << ": " << (*got)[i].status().ToString();
    EXPECT_EQ(*(*got)[i], TestValue(i, sizes[i])) << i;
  }
}

TYPED_TEST(ObjectStoreConformanceTest, GetManyOfMoreIdsThanOneCallCarriesArrivesWhole) {
  constexpr uint32_t kIds = 1000;  // a remote store asks at most 256 per call
  for (uint32_t i = 0; i < kIds; i += 2) this->Put(ObjectKind::kChunk, i, 64 + i);
  std::vector<ObjectId> ids;
  for (uint32_t i = 0; i < kIds; ++i) ids.push_back(TestId(i));
  auto got = GetAll(this->store(), ObjectKind::kChunk, ids);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), ids.size());
  for (uint32_t i = 0; i < kIds; ++i) {
    if (i % 2) {
      EXPECT_EQ((*got)[i].status().code(), Code::kNotFound) << i;
    } else {
      ASSERT_TRUE((*got)[i].ok()) << i;
      EXPECT_EQ(*(*got)[i], TestValue(i, 64 + i)) << i;
    }
  }
}

TYPED_TEST(ObjectStoreConformanceTest, GetManyOfSnapshotKindFailsAsAWhole) {
  std::vector<ObjectId> ids = {TestId(1), TestId(2)};
  EXPECT_EQ(GetAll(this->store(), ObjectKind::kSnapshot, ids).status().code(),
            Code::kInvalidArgument);
}

TYPED_TEST(ObjectStoreConformanceTest, ContainsOfNoIdsIsEmpty) {
  auto none = this->store().Contains(ObjectKind::kChunk, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(ObjectStoreConformanceTest, ContainsAnswersForManyPresentAndAbsentIds) {
  constexpr uint32_t kPresent = 2000;
  for (uint32_t i = 0; i < kPresent; ++i) {
    this->Put(ObjectKind::kChunk, i, i % 2 ? 8000 : 200);  // blob and inline values
  }
  this->Commit("host/a", 1, 1);
  for (uint32_t i = kPresent; i < kPresent + 500; ++i) this->Put(ObjectKind::kChunk, i, 100);
  std::vector<ObjectId> ids;  // more than one Contains call holds
  for (uint32_t i = 0; i < 40000; ++i) ids.push_back(TestId(i));
  auto present = this->store().Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(present.ok()) << present.status().ToString();
  ASSERT_EQ(present->size(), ids.size());
  for (uint32_t i = 0; i < ids.size(); ++i) ASSERT_EQ((*present)[i], i < kPresent + 500) << i;
}

TYPED_TEST(ObjectStoreConformanceTest, MetaRoundTripsAndSurvivesReopenWithoutCommit) {
  auto absent = this->store().GetMeta("format");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  ASSERT_TRUE(this->store().PutMeta("format", AsBytes("1")).ok());
  ASSERT_TRUE(this->store().PutMeta("config", TestValue(5, 300)).ok());
  ASSERT_TRUE(this->store().PutMeta("empty", {}).ok());
  this->Reopen();
  auto format = this->store().GetMeta("format");
  auto config = this->store().GetMeta("config");
  auto empty = this->store().GetMeta("empty");
  ASSERT_TRUE(format.ok() && config.ok() && empty.ok());
  ASSERT_TRUE(format->has_value() && config->has_value() && empty->has_value());
  EXPECT_EQ(AsChars(**format), "1");
  EXPECT_EQ(**config, TestValue(5, 300));
  EXPECT_TRUE((*empty)->empty());
}

// The config, its MAC and the wrapped key are the only copies: no call may
// replace them, and a client is told so with its own code and message.
TYPED_TEST(ObjectStoreConformanceTest, MetaKeysAreWriteOnce) {
  for (const char* key : {"key", "config", "config-mac"}) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(this->store().PutMeta(key, TestValue(7, 121)).ok());
    Status s = this->store().PutMeta(key, TestValue(8, 121));
    EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
    EXPECT_EQ(s.message(), "meta key " + std::string(key) + " is write-once");
    EXPECT_EQ(this->store().PutMeta(key, {}).code(), Code::kAlreadyExists);
    EXPECT_TRUE(this->store().PutMeta(key, TestValue(7, 121)).ok()) << "the same value is a retry";
  }
  this->Reopen();
  for (const char* key : {"key", "config", "config-mac"}) {
    auto value = this->store().GetMeta(key);
    ASSERT_TRUE(value.ok() && value->has_value()) << key;
    EXPECT_EQ(**value, TestValue(7, 121)) << key;
    EXPECT_EQ(this->store().PutMeta(key, TestValue(9, 10)).code(), Code::kAlreadyExists) << key;
  }
}

TYPED_TEST(ObjectStoreConformanceTest, SnapshotsAreListedByGroupThenTime) {
  this->Commit("host/ab", 5, 1);
  this->Commit("host/a", 10, 2);
  this->Commit("host/a", -3'000'000'000, 3);
  this->Commit("host/a", 0, 4);
  this->Commit("ct/101", 7, 5);
  this->Commit("host/ab", -1, 6);
  EXPECT_EQ(this->Listed("host/a"),
            (Listing{{"host/a", -3'000'000'000}, {"host/a", 0}, {"host/a", 10}}));
  EXPECT_EQ(this->Listed("host/ab"), (Listing{{"host/ab", -1}, {"host/ab", 5}}));
  EXPECT_EQ(this->Listed("host/"), Listing{});
  EXPECT_EQ(this->Listed(""), (Listing{{"ct/101", 7},
                                       {"host/a", -3'000'000'000},
                                       {"host/a", 0},
                                       {"host/a", 10},
                                       {"host/ab", -1},
                                       {"host/ab", 5}}));
}

TYPED_TEST(ObjectStoreConformanceTest, ListedSnapshotCarriesIdAndSealedRecord) {
  this->Commit("vm/100", 42, 7);
  this->Reopen();
  auto list = this->store().ListSnapshots("vm/100");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ref, (SnapshotRef{"vm/100", 42, TestId(7)}));
  EXPECT_EQ((*list)[0].sealed, TestValue(7, 40));
}

TYPED_TEST(ObjectStoreConformanceTest, LongListingKeepsOrderAndRecords) {
  // 12 MiB of records: more than one page of the server's stream.
  for (uint32_t i = 0; i < 12; ++i) this->Commit("host/big", 100 - i, i, 1 << 20);
  auto list = this->store().ListSnapshots("");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 12u);
  for (uint32_t k = 0; k < 12; ++k) {
    uint32_t i = 11 - k;
    EXPECT_EQ((*list)[k].ref, (SnapshotRef{"host/big", 100 - int64_t(i), TestId(i)}));
    EXPECT_EQ((*list)[k].sealed, TestValue(i, 1 << 20));
  }
}

TYPED_TEST(ObjectStoreConformanceTest, GroupWithNulIsRejected) {
  std::string bad("host\0x", 6);
  EXPECT_EQ(this->store().CommitSnapshot({bad, 1, TestId(1)}, {}, kNoWriter, std::nullopt).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(this->store().ListSnapshots(bad).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->store().CommitSnapshot({"", 1, TestId(1)}, {}, kNoWriter, std::nullopt).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(this->store().DeleteSnapshot({bad, 1, TestId(1)}).code(), Code::kInvalidArgument);
}

TYPED_TEST(ObjectStoreConformanceTest, RecommittingSameSnapshotIsOkButAnotherAtSameTimeIsRejected) {
  this->Commit("host/a", 1, 1);
  this->Commit("host/a", 1, 1);
  EXPECT_EQ(this->store()
                .CommitSnapshot({"host/a", 1, TestId(2)}, TestValue(2, 40), kNoWriter, std::nullopt)
                .code(),
            Code::kAlreadyExists);
  EXPECT_EQ(this->Listed("host/a").size(), 1u);
}

TYPED_TEST(ObjectStoreConformanceTest, DeletedSnapshotIsGoneAfterReopen) {
  this->Commit("host/a", 1, 1);
  this->Commit("host/a", 2, 2);
  ASSERT_TRUE(this->store().DeleteSnapshot({"host/a", 1, TestId(1)}).ok());
  this->Reopen();
  EXPECT_EQ(this->Listed("host/a"), (Listing{{"host/a", 2}}));
}

TYPED_TEST(ObjectStoreConformanceTest, DeleteOfMissingSnapshotIsNotFound) {
  this->Commit("host/a", 1, 1);
  EXPECT_EQ(this->store().DeleteSnapshot({"host/a", 2, TestId(1)}).code(), Code::kNotFound);
  EXPECT_EQ(this->store().DeleteSnapshot({"host/a", 1, TestId(2)}).code(), Code::kNotFound);
  EXPECT_EQ(this->Listed("host/a").size(), 1u);
}

TYPED_TEST(ObjectStoreConformanceTest, ConcurrentPutsFromEightThreadsAreAllReadable) {
  constexpr uint32_t kThreads = 8, kPerThread = 150;
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (uint32_t i = 0; i < kPerThread; ++i) {
        uint32_t n = t * kPerThread + i;
        Status s = this->store().Put(ObjectKind::kChunk, TestId(n), TestValue(n, 1000 + 97 * n));
        ASSERT_TRUE(s.ok()) << s.ToString();
        if (i % 50 == 0) {  // reads interleaved with other threads' writes
          std::vector<ObjectId> ids = {TestId(n)};
          auto present = this->store().Contains(ObjectKind::kChunk, ids);
          ASSERT_TRUE(present.ok() && (*present)[0]) << n;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  this->Commit("host/a", 1, 0);
  this->Reopen();
  for (uint32_t n = 0; n < kThreads * kPerThread; ++n) {
    this->ExpectValue(ObjectKind::kChunk, n, 1000 + 97 * n);
  }
}

TYPED_TEST(ObjectStoreConformanceTest, OneMebibyteAndTenByteValuesRoundTrip) {
  this->Put(ObjectKind::kChunk, 1, 1 << 20);
  this->Put(ObjectKind::kChunk, 2, 10);
  for (int pass = 0; pass < 2; ++pass) {
    this->ExpectValue(ObjectKind::kChunk, 1, 1 << 20);
    this->ExpectValue(ObjectKind::kChunk, 2, 10);
    this->Commit("host/a", pass, 3 + pass);
    this->Reopen();
  }
}

// Protection and notes.

TYPED_TEST(ObjectStoreConformanceTest, ProtectedSnapshotIsListedAndCannotBeDeleted) {
  this->Commit("host/a", 1, 1);
  const SnapshotRef ref{"host/a", 1, TestId(1)};
  ASSERT_TRUE(this->store().SetSnapshotProtected(ref, true).ok());
  this->Reopen();
  auto list = this->store().ListSnapshots("");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].is_protected);
  EXPECT_EQ(this->store().DeleteSnapshot(ref).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(this->store().SetSnapshotProtected(ref, false).ok());
  EXPECT_FALSE((*this->store().ListSnapshots(""))[0].is_protected);
  EXPECT_TRUE(this->store().DeleteSnapshot(ref).ok());
  EXPECT_EQ(this->store().SetSnapshotProtected(ref, true).code(), Code::kNotFound);
}

TYPED_TEST(ObjectStoreConformanceTest, NoteIsListedAndGoesWithItsSnapshot) {
  this->Commit("host/a", 1, 1);
  this->Commit("host/a", 2, 2);
  const SnapshotRef first{"host/a", 1, TestId(1)};
  ASSERT_TRUE(this->store().SetSnapshotNote(first, TestValue(7, 100)).ok());
  this->Reopen();
  auto list = this->store().ListSnapshots("host/a");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].sealed_note, TestValue(7, 100));
  EXPECT_TRUE((*list)[1].sealed_note.empty());
  // A snapshot made later at the same group and time does not inherit it.
  ASSERT_TRUE(this->store().DeleteSnapshot(first).ok());
  this->Commit("host/a", 1, 3);
  EXPECT_TRUE((*this->store().ListSnapshots("host/a"))[0].sealed_note.empty());
  EXPECT_EQ(this->store().SetSnapshotNote({"host/a", 9, TestId(9)}, TestValue(1, 10)).code(),
            Code::kNotFound);
}

// Needs lists.

Bytes NeedsListBytes(uint8_t n) {
  NeedsList list;
  NeededObject chunk;
  chunk.id.bytes.fill(n);
  list.added = {chunk};
  return EncodeNeedsList(list);
}

TYPED_TEST(ObjectStoreConformanceTest, NeedsListsAreStoredByTheirHashAndNamedByTheirSnapshot) {
  const Bytes list = NeedsListBytes(1);
  const ObjectId id = NeedsListId(list);
  ASSERT_TRUE(this->store().Put(ObjectKind::kNeeds, id, list).ok());
  ASSERT_TRUE(
      this->store().CommitSnapshot({"host/a", 1, TestId(1)}, TestValue(1, 40), kNoWriter, id).ok());
  this->Commit("host/a", 2, 2);
  this->Reopen();
  EXPECT_EQ(*this->store().Get(ObjectKind::kNeeds, id), list);
  EXPECT_EQ(*this->store().Contains(ObjectKind::kNeeds, std::vector<ObjectId>{id}),
            std::vector<bool>{true});
  auto listed = this->store().ListSnapshots("host/a");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].needs, id);
  EXPECT_FALSE((*listed)[1].needs.has_value());
  // A snapshot made later at the same group and time does not inherit it.
  ASSERT_TRUE(this->store().DeleteSnapshot((*listed)[0].ref).ok());
  this->Commit("host/a", 1, 3);
  EXPECT_FALSE((*this->store().ListSnapshots("host/a"))[0].needs.has_value());
}

TYPED_TEST(ObjectStoreConformanceTest, ANeedsListThatIsNotItsHashIsRefused) {
  Bytes list = NeedsListBytes(2);
  const ObjectId id = NeedsListId(list);
  list.back() ^= 1;
  // A remote store may refuse it only when its batch is sent: by the commit.
  Status put = this->store().Put(ObjectKind::kNeeds, id, list);
  Status commit =
      this->store().CommitSnapshot({"host/a", 1, TestId(1)}, TestValue(1, 40), kNoWriter, id);
  const Status& refused = put.ok() ? commit : put;
  EXPECT_EQ(refused.code(), Code::kInvalidArgument) << refused.ToString();
  EXPECT_NE(refused.message().find("does not match its id"), std::string::npos)
      << refused.message();
  this->Reopen();  // a remote store reports a refused batch to its next calls, too
  EXPECT_EQ(this->store().Get(ObjectKind::kNeeds, id).status().code(), Code::kNotFound);
  EXPECT_TRUE(this->Listed("host/a").empty());
}

// Garbage collection.

// Garbage collection without the key, which the stores of repositories run.
template <typename Env>
class ObjectStoreGcConformanceTest : public ObjectStoreConformanceTest<Env> {};
using GcEnvs = ::testing::Types<testing::LocalEnv, testing::RemoteEnv, testing::TlsEnv>;
TYPED_TEST_SUITE(ObjectStoreGcConformanceTest, GcEnvs, EnvNames);

TYPED_TEST(ObjectStoreGcConformanceTest, SweepDeletesExactlyWhatIsNotMarked) {
  for (uint32_t n = 1; n <= 10; ++n) this->Put(ObjectKind::kChunk, n, 5000);
  for (uint32_t n = 11; n <= 12; ++n) this->Put(ObjectKind::kTree, n, 100);
  this->Commit("host/a", 1, 100);
  auto start = this->store().BeginGc();
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  ASSERT_EQ(start->roots.size(), 1u);
  EXPECT_EQ(start->roots[0].ref.id, TestId(100));
  std::vector<uint64_t> marks;
  for (uint32_t n : {1, 2, 3, 4, 5, 11}) marks.push_back(TestId(n).prefix64());
  ASSERT_TRUE(this->store().AddGcMarks(start->gc_id, marks).ok());
  auto result = this->store().FinishGc(start->gc_id);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->objects_examined, 12u);
  EXPECT_EQ(result->objects_deleted, 6u);
  this->Reopen();
  for (uint32_t n = 1; n <= 5; ++n) this->ExpectValue(ObjectKind::kChunk, n, 5000);
  this->ExpectValue(ObjectKind::kTree, 11, 100);
  for (uint32_t n = 6; n <= 10; ++n) {
    EXPECT_EQ(this->store().Get(ObjectKind::kChunk, TestId(n)).status().code(), Code::kNotFound)
        << n;
  }
  EXPECT_EQ(this->store().Get(ObjectKind::kTree, TestId(12)).status().code(), Code::kNotFound);
}

TYPED_TEST(ObjectStoreGcConformanceTest, SweepKeepsWhatARegisteredWriterFoundOrPut) {
  this->Put(ObjectKind::kChunk, 1, 5000);  // unreferenced, about to be found by a writer
  this->Put(ObjectKind::kChunk, 2, 5000);  // unreferenced, nobody wants it
  this->Commit("host/a", 1, 100);
  auto writer = this->store().BeginWrite(std::nullopt);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto start = this->store().BeginGc();
  ASSERT_TRUE(start.ok());
  std::vector<ObjectId> ids = {TestId(1)};
  auto present = this->store().Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(present.ok() && (*present)[0]);
  this->Put(ObjectKind::kChunk, 3, 5000);  // uploaded during the collection
  auto result = this->store().FinishGc(start->gc_id);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->objects_deleted, 1u);
  EXPECT_EQ(result->objects_kept_for_writers, 2u);
  this->ExpectValue(ObjectKind::kChunk, 1, 5000);
  this->ExpectValue(ObjectKind::kChunk, 3, 5000);
  EXPECT_EQ(this->store().Get(ObjectKind::kChunk, TestId(2)).status().code(), Code::kNotFound);
  Status commit = this->store().CommitSnapshot({"host/a", 2, TestId(101)}, TestValue(101, 40),
                                               *writer, std::nullopt);
  EXPECT_TRUE(commit.ok()) << commit.ToString();
}

TYPED_TEST(ObjectStoreGcConformanceTest, CommitOfUnregisteredWriterAfterASweepIsAborted) {
  this->Commit("host/a", 1, 100);  // no collection yet: allowed
  auto start = this->store().BeginGc();
  ASSERT_TRUE(start.ok());
  ASSERT_TRUE(this->store().FinishGc(start->gc_id).ok());
  EXPECT_EQ(
      this->store()
          .CommitSnapshot({"host/a", 2, TestId(101)}, TestValue(101, 40), kNoWriter, std::nullopt)
          .code(),
      Code::kAborted);
  EXPECT_EQ(this->Listed("host/a").size(), 1u);
}

TYPED_TEST(ObjectStoreGcConformanceTest, CommitOfAWriterTheStoreDoesNotKnowIsAborted) {
  // As after a server restart: the id came from another server process.
  Status commit = this->store().CommitSnapshot({"host/a", 1, TestId(101)}, TestValue(101, 40),
                                               WriteId{0x5eed}, std::nullopt);
  EXPECT_EQ(commit.code(), Code::kAborted) << commit.ToString();
  EXPECT_NE(commit.message().find("run the backup again"), std::string::npos) << commit.message();
  EXPECT_TRUE(this->Listed("host/a").empty());
}

TYPED_TEST(ObjectStoreGcConformanceTest, DeletedParentOfARegisteredWriterIsStillARoot) {
  this->Commit("host/a", 1, 100);
  const SnapshotRef parent{"host/a", 1, TestId(100)};
  auto writer = this->store().BeginWrite(parent);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE(this->store().DeleteSnapshot(parent).ok());
  auto start = this->store().BeginGc();
  ASSERT_TRUE(start.ok());
  ASSERT_EQ(start->roots.size(), 1u);
  EXPECT_EQ(start->roots[0].ref, parent);
  EXPECT_EQ(start->roots[0].sealed, TestValue(100, 40));
  ASSERT_TRUE(this->store().AbortGc(start->gc_id).ok());
  // Once the writer is gone, so is the pin.
  ASSERT_TRUE(this->store().EndWrite(*writer).ok());
  start = this->store().BeginGc();
  ASSERT_TRUE(start.ok());
  EXPECT_TRUE(start->roots.empty());
  ASSERT_TRUE(this->store().AbortGc(start->gc_id).ok());
}

TYPED_TEST(ObjectStoreGcConformanceTest, OneCollectionAtATime) {
  auto first = this->store().BeginGc();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(this->store().BeginGc().status().code(), Code::kBusy);
  ASSERT_TRUE(this->store().AbortGc(first->gc_id).ok());
  std::vector<uint64_t> marks = {1};
  EXPECT_EQ(this->store().AddGcMarks(first->gc_id, marks).code(), Code::kFailedPrecondition);
  EXPECT_EQ(this->store().FinishGc(first->gc_id).status().code(), Code::kFailedPrecondition);
  auto second = this->store().BeginGc();
  EXPECT_TRUE(second.ok()) << second.status().ToString();
}

TYPED_TEST(ObjectStoreGcConformanceTest, WriterWithAMissingParentIsNotRegistered) {
  EXPECT_EQ(this->store().BeginWrite(SnapshotRef{"host/a", 1, TestId(1)}).status().code(),
            Code::kNotFound);
}

}  // namespace
}  // namespace coffer
