// What a copy in object storage does beyond any ObjectStore (the shared
// behaviour is in the conformance suite): packs and their indexes, packs
// read from their own trailers when no index names them, damage confined
// to what it touches, and a server that fails requests, on a real S3 server
// with a proxy in front that fails chosen requests on purpose.
#include <gtest/gtest.h>

#include <algorithm>

#include "store/objects/needs_list.h"
#include "store/s3/bucket_format.h"
#include "store/s3/s3_client.h"
#include "tests/store/objects/test_objects.h"
#include "tests/store/s3/s3_env.h"
#include "tests/testing/fault_proxy.h"

namespace coffer::s3 {
namespace {

using coffer::testing::FaultProxy;
using coffer::testing::GetAll;
using coffer::testing::kTestBucket;
using coffer::testing::S3rverSettings;
using coffer::testing::SmallPackOptions;
using coffer::testing::TestId;
using coffer::testing::TestValue;
using Fault = FaultProxy::Fault;

constexpr size_t kObjectSize = 10 << 10;  // six or so to a 64 KiB pack

class S3ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!env_.ready()) GTEST_SKIP() << "no S3 server to test against: " << env_.why_not();
  }

  // The bucket as a plain S3 client sees it, to change it behind the store.
  S3Client Raw() { return S3Client(S3rverSettings(env_.server().endpoint()), kTestBucket); }
  std::vector<std::string> Names(const std::string& folder) {
    auto listed = Raw().List("copy/" + folder);
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    std::vector<std::string> names;
    if (listed.ok()) {
      for (const ListedObject& o : *listed) names.push_back(o.key);
    }
    return names;
  }

  void PutChunks(uint32_t first, uint32_t count) {
    for (uint32_t n = first; n < first + count; ++n) {
      Status put = env_.store().Put(ObjectKind::kChunk, TestId(n), TestValue(n, kObjectSize));
      ASSERT_TRUE(put.ok()) << put.ToString();
    }
  }
  void ExpectChunks(ObjectStore& store, uint32_t first, uint32_t count) {
    std::vector<ObjectId> ids;
    for (uint32_t n = first; n < first + count; ++n) ids.push_back(TestId(n));
    auto got = GetAll(store, ObjectKind::kChunk, ids);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (uint32_t i = 0; i < count; ++i) {
      ASSERT_TRUE((*got)[i].ok()) << first + i << ": " << (*got)[i].status().ToString();
      EXPECT_EQ(*(*got)[i], TestValue(first + i, kObjectSize)) << first + i;
    }
  }
  // A proxy in front of the server that fails the requests a test chooses.
  std::unique_ptr<FaultProxy> StartProxy() {
    std::string why;
    auto proxy = FaultProxy::Start(env_.server().port(), &why);
    EXPECT_NE(proxy, nullptr) << why;
    return proxy;
  }
  // Another client of a copy, reaching the server at `endpoint`.
  std::unique_ptr<S3ObjectStore> OpenAt(const std::string& endpoint,
                                        const std::string& prefix = "copy") {
    auto opened =
        S3ObjectStore::Open(S3rverSettings(endpoint), {kTestBucket, prefix}, SmallPackOptions());
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  void Commit(int64_t time, uint32_t n) {
    Status s = env_.store().CommitSnapshot({"host/a", time, TestId(n)}, TestValue(n, 40), kNoWriter,
                                           std::nullopt);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  coffer::testing::S3Env env_;
};

TEST_F(S3ObjectStoreTest, ObjectsTravelInPacksThatAnIndexNames) {
  PutChunks(1, 40);
  Commit(1, 100);
  const auto packs = Names("packs/");
  // 40 objects of 10 KiB in packs of 64 KiB: seven packs, not 40 objects.
  EXPECT_GE(packs.size(), 6u);
  EXPECT_LE(packs.size(), 8u);
  EXPECT_FALSE(Names("index/").empty());
  env_.Reopen();
  const auto counts = env_.bucket().counts();
  EXPECT_EQ(counts.objects, 40u);
  EXPECT_EQ(counts.packs, packs.size());
  EXPECT_EQ(counts.packs_from_trailers, 0u);
  ExpectChunks(env_.store(), 1, 40);
}

TEST_F(S3ObjectStoreTest, EveryPackIsNamedByItsHashAndDescribesItself) {
  PutChunks(1, 20);
  ASSERT_TRUE(env_.bucket().Flush().ok());
  size_t objects = 0;
  for (const std::string& name : Names("packs/")) {
    auto bytes = Raw().Get(name);
    ASSERT_TRUE(bytes.ok() && bytes->has_value()) << name;
    EXPECT_EQ("copy/" + PackName(ContentId(**bytes)), name);
    auto entries = DecodePack(**bytes);
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    for (const PackEntry& e : *entries) {
      EXPECT_EQ(e.kind, ObjectKind::kChunk);
      EXPECT_EQ(e.length, kObjectSize);
      EXPECT_EQ(
          Bytes(bytes->value().begin() + e.offset, bytes->value().begin() + e.offset + e.length),
          *env_.store().Get(ObjectKind::kChunk, e.id));
    }
    objects += entries->size();
  }
  EXPECT_EQ(objects, 20u);
}

// A sync stopped between sending packs and the index that names them, or an
// index lost: the packs' trailers say what they hold.
TEST_F(S3ObjectStoreTest, PacksNoIndexNamesAreReadFromTheirTrailers) {
  PutChunks(1, 30);
  ASSERT_TRUE(env_.bucket().Flush().ok());
  for (const std::string& index : Names("index/")) ASSERT_TRUE(Raw().Delete(index).ok());
  env_.Reopen();
  const size_t packs = Names("packs/").size();
  EXPECT_EQ(env_.bucket().counts().packs_from_trailers, packs);
  ExpectChunks(env_.store(), 1, 30);
  // The next index names them: a later reader needs no trailer.
  Commit(1, 100);
  env_.Reopen();
  EXPECT_EQ(env_.bucket().counts().packs_from_trailers, 0u);
  ExpectChunks(env_.store(), 1, 30);
}

TEST_F(S3ObjectStoreTest, ADamagedIndexIsSetAsideAndItsPacksStillCount) {
  PutChunks(1, 12);
  ASSERT_TRUE(env_.bucket().Flush().ok());
  const auto indexes = Names("index/");
  ASSERT_EQ(indexes.size(), 1u);
  auto bytes = Raw().Get(indexes[0]);
  ASSERT_TRUE(bytes.ok() && bytes->has_value());
  Bytes damaged = **bytes;
  damaged[damaged.size() / 2] ^= 0x40;
  ASSERT_TRUE(Raw().Put(indexes[0], damaged).ok());
  env_.Reopen();
  const auto counts = env_.bucket().counts();
  ASSERT_EQ(counts.damaged_indexes.size(), 1u);
  EXPECT_NE(counts.damaged_indexes[0].find("do not match its name"), std::string::npos)
      << counts.damaged_indexes[0];
  EXPECT_EQ(counts.packs_from_trailers, Names("packs/").size());
  ExpectChunks(env_.store(), 1, 12);
}

TEST_F(S3ObjectStoreTest, AMissingPackMakesItsObjectsMissingAndNoOthers) {
  PutChunks(1, 30);
  ASSERT_TRUE(env_.bucket().Flush().ok());
  env_.Reopen();
  const auto packs = Names("packs/");
  ASSERT_GE(packs.size(), 2u);
  ASSERT_TRUE(Raw().Delete(packs[0]).ok());
  std::vector<ObjectId> ids;
  for (uint32_t n = 1; n <= 30; ++n) ids.push_back(TestId(n));
  auto got = GetAll(env_.store(), ObjectKind::kChunk, ids);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  size_t missing = 0;
  for (const Result<Bytes>& r : *got) {
    if (r.ok()) continue;
    EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
    ++missing;
  }
  EXPECT_GT(missing, 0u);
  EXPECT_LT(missing, 30u);
}

TEST_F(S3ObjectStoreTest, ANeedsListDamagedInItsPackIsReportedDamaged) {
  NeedsList list;
  NeededObject chunk;
  chunk.id = TestId(7);
  list.added = {chunk};
  const Bytes bytes = EncodeNeedsList(list);
  const ObjectId id = NeedsListId(bytes);
  ASSERT_TRUE(env_.store().Put(ObjectKind::kNeeds, id, bytes).ok());
  ASSERT_TRUE(env_.bucket().Flush().ok());
  const auto packs = Names("packs/");
  ASSERT_EQ(packs.size(), 1u);
  auto pack = Raw().Get(packs[0]);
  ASSERT_TRUE(pack.ok() && pack->has_value());
  Bytes damaged = **pack;
  damaged[3] ^= 1;  // inside the list, the pack's first object
  ASSERT_TRUE(Raw().Put(packs[0], damaged).ok());
  env_.Reopen();
  EXPECT_EQ(env_.store().Get(ObjectKind::kNeeds, id).status().code(), Code::kCorruption);
}

// A bit flipped in a pack is found by the index's checksum, without the key.
TEST_F(S3ObjectStoreTest, AChunkDamagedInItsPackDoesNotReadBack) {
  PutChunks(1, 3);
  ASSERT_TRUE(env_.bucket().Flush().ok());
  const auto packs = Names("packs/");
  ASSERT_EQ(packs.size(), 1u);
  auto pack = Raw().Get(packs[0]);
  ASSERT_TRUE(pack.ok() && pack->has_value());
  auto entries = DecodePack(**pack);
  ASSERT_TRUE(entries.ok());
  const PackEntry& second = (*entries)[1];
  Bytes damaged = **pack;
  damaged[second.offset + second.length / 2] ^= 0x10;
  ASSERT_TRUE(Raw().Put(packs[0], damaged).ok());
  env_.Reopen();
  std::vector<ObjectId> ids = {TestId(1), TestId(2), TestId(3)};
  std::vector<Code> codes;
  ASSERT_TRUE(env_.store()
                  .GetManyChecked(ObjectKind::kChunk, ids,
                                  [&](size_t, Result<ByteView> sealed) {
                                    codes.push_back(sealed.status().code());
                                  })
                  .ok());
  ASSERT_EQ(codes.size(), 3u);
  // Which object lies second in the pack is the store's choice: exactly one is damaged.
  EXPECT_EQ(std::count(codes.begin(), codes.end(), Code::kCorruption), 1);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), Code::kOk), 2);
  EXPECT_EQ(env_.store().Get(ObjectKind::kChunk, second.id).status().code(), Code::kCorruption);
}

TEST_F(S3ObjectStoreTest, TransientFailuresAreRetriedUntilTheyPass) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  auto opened = OpenAt(proxy->endpoint());
  ASSERT_NE(opened, nullptr);
  S3ObjectStore& store = *opened;
  proxy->SetPolicy(FaultProxy::Sequence(
      {Fault::kReply503, Fault::kDropBeforeReply, Fault::kReply500, Fault::kDropMidReply}));
  for (uint32_t n = 1; n <= 20; ++n) {
    ASSERT_TRUE(store.Put(ObjectKind::kChunk, TestId(n), TestValue(n, kObjectSize)).ok());
  }
  Status commit =
      store.CommitSnapshot({"host/a", 1, TestId(100)}, TestValue(100, 40), kNoWriter, std::nullopt);
  ASSERT_TRUE(commit.ok()) << commit.ToString();
  EXPECT_EQ(store.retries(), 4u);
  // Reads are retried too, a range cut in the middle included.
  auto reader = OpenAt(proxy->endpoint());
  ASSERT_NE(reader, nullptr);
  proxy->SetPolicy(FaultProxy::Sequence({Fault::kDropMidReply, Fault::kReply503}));
  ExpectChunks(*reader, 1, 20);
  EXPECT_EQ(reader->retries(), 2u);
}

TEST_F(S3ObjectStoreTest, AServerThatKeepsFailingEndsTheCommitAndShowsNothing) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  auto opened = OpenAt(proxy->endpoint());
  ASSERT_NE(opened, nullptr);
  S3ObjectStore& store = *opened;
  for (uint32_t n = 1; n <= 3; ++n) {
    ASSERT_TRUE(store.Put(ObjectKind::kChunk, TestId(n), TestValue(n, kObjectSize)).ok());
  }
  proxy->SetPolicy([](const FaultProxy::Request&) { return Fault::kReply500; });
  Status commit =
      store.CommitSnapshot({"host/a", 1, TestId(100)}, TestValue(100, 40), kNoWriter, std::nullopt);
  EXPECT_EQ(commit.code(), Code::kIoError) << commit.ToString();
  EXPECT_NE(commit.message().find("tries"), std::string::npos) << commit.message();
  EXPECT_NE(commit.message().find("InternalError"), std::string::npos) << commit.message();
  env_.Reopen();
  auto listed = env_.store().ListSnapshots("");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(S3ObjectStoreTest, UnknownCredentialsAndAMissingBucketAreToldApart) {
  s3::S3Settings wrong = S3rverSettings(env_.server().endpoint());
  wrong.access_key_id = "NOBODY";
  auto refused = S3ObjectStore::Open(wrong, {kTestBucket, "copy"}, SmallPackOptions());
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("credentials"), std::string::npos);
  auto missing = S3ObjectStore::Open(S3rverSettings(env_.server().endpoint()),
                                     {"no-such-bucket", ""}, SmallPackOptions());
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("no-such-bucket"), std::string::npos);
}

// s3rver checks no signature; the proxy checks each request's with code of
// its own (sigv4_check.h), as AWS, MinIO and Ceph RGW would: paged
// listings, odd keys, ranges and a session token included.
TEST_F(S3ObjectStoreTest, EveryRequestIsSignedAsAwsChecksIt) {
  auto proxy = StartProxy();
  ASSERT_NE(proxy, nullptr);
  proxy->RequireSignature(coffer::testing::S3rver::kSecretKey);
  S3Settings settings = S3rverSettings(proxy->endpoint());
  settings.session_token = "FwoGZXIvYXdzE+a/session=token";
  auto opened = S3ObjectStore::Open(settings, {kTestBucket, "copy"}, SmallPackOptions());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  S3ObjectStore& store = **opened;
  ASSERT_TRUE(store.PutMeta("key", TestValue(1, 100)).ok());
  ASSERT_TRUE(store.PutMeta("key.1", TestValue(2, 100)).ok());
  for (uint32_t n = 1; n <= 20; ++n) {
    ASSERT_TRUE(store.Put(ObjectKind::kChunk, TestId(n), TestValue(n, kObjectSize)).ok());
  }
  Commit(1, 100);  // through the env's client; this one commits too
  ASSERT_TRUE(
      store.CommitSnapshot({"host/b", 2, TestId(101)}, TestValue(101, 40), kNoWriter, std::nullopt)
          .ok());
  ASSERT_TRUE(store.RemoveKeySlot("key.1").ok());
  auto reader = S3ObjectStore::Open(settings, {kTestBucket, "copy"}, SmallPackOptions());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ExpectChunks(**reader, 1, 20);
  auto listed = (*reader)->ListSnapshots("");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
  ASSERT_TRUE((*reader)->DeleteSnapshot({"host/b", 2, TestId(101)}).ok());

  // A listing in pages (continuation tokens hold '+', '/' and '='), and keys
  // that need encoding.
  S3Client raw(settings, kTestBucket);
  for (int i = 0; i < 1001; ++i) ASSERT_TRUE(raw.Put("many/" + std::to_string(i), {}).ok()) << i;
  ASSERT_TRUE(raw.Put("odd/a b+c=d&e%f~g", AsBytes("odd")).ok());
  auto many = raw.List("many/");
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  EXPECT_EQ(many->size(), 1001u);
  auto odd = raw.Get("odd/a b+c=d&e%f~g");
  ASSERT_TRUE(odd.ok() && odd->has_value()) << odd.status().ToString();
  EXPECT_EQ(std::string((*odd)->begin(), (*odd)->end()), "odd");
  EXPECT_EQ(proxy->bad_signatures(), 0);
  EXPECT_GT(proxy->requests(), 1020);

  // A wrong secret makes a wrong signature, which the check refuses.
  settings.secret_access_key = "not the secret";
  auto refused = S3ObjectStore::Open(settings, {kTestBucket, "copy"}, SmallPackOptions());
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied) << refused.status().ToString();
  EXPECT_GT(proxy->bad_signatures(), 0);
}

TEST_F(S3ObjectStoreTest, GarbageCollectionIsRefusedAsUnsupported) {
  EXPECT_EQ(env_.store().BeginGc().status().code(), Code::kUnsupported);
}

TEST_F(S3ObjectStoreTest, CopiesUnderTwoPrefixesOfOneBucketAreApart) {
  PutChunks(1, 5);
  Commit(1, 100);
  auto other = OpenAt(env_.server().endpoint(), "other");
  ASSERT_NE(other, nullptr);
  std::vector<ObjectId> ids = {TestId(1)};
  auto found = other->Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE((*found)[0]);
  auto listed = other->ListSnapshots("");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace coffer::s3
