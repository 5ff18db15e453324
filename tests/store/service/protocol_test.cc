// The wire contract: version check, limits, malformed requests, and what a
// client sees when there is no server. Raw requests go through the generated
// stub, as a foreign or broken client would send them.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "store/service/limits.h"
#include "store/service/service.grpc.pb.h"
#include "tests/store/objects/test_objects.h"
#include "tests/store/service/store_envs.h"
#include "tests/testing/stub_object_store.h"

namespace coffer::service {
namespace {

using coffer::testing::GetAll;
using coffer::testing::ServedStore;
using coffer::testing::TempDir;
using coffer::testing::TestId;
using coffer::testing::TestValue;

class ProtocolTest : public ::testing::Test {
 protected:
  ProtocolTest() {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);  // larger than the server takes
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel("unix:" + tmp_ / "serve.sock",
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = ObjectService::NewStub(channel_);
  }

  SealedObject* AddObject(PutObjectsRequest* req, uint32_t n, size_t size) {
    SealedObject* o = req->add_objects();
    o->set_kind(static_cast<uint32_t>(ObjectKind::kChunk));
    o->set_id(TestId(n).bytes.data(), ObjectId::kSize);
    o->set_sealed(std::string(size, 'x'));
    return o;
  }
  grpc::Status Send(const PutObjectsRequest& req) {
    grpc::ClientContext ctx;
    PutObjectsResponse resp;
    return stub_->PutObjects(&ctx, req, &resp);
  }
  bool Stored(uint32_t n) {
    std::vector<ObjectId> ids = {TestId(n)};
    auto present = local_->Contains(ObjectKind::kChunk, ids);
    return present.ok() && (*present)[0];
  }
  // The server still answers after whatever came before.
  void ExpectServing() {
    auto remote = RemoteObjectStore::Connect(served_.address());
    ASSERT_TRUE(remote.ok()) << remote.status().ToString();
    ASSERT_TRUE((*remote)->Put(ObjectKind::kChunk, TestId(1000), TestValue(1000, 10)).ok());
    EXPECT_TRUE((*remote)->Get(ObjectKind::kChunk, TestId(1000)).ok());
  }

  TempDir tmp_;
  std::unique_ptr<LocalObjectStore> local_ =
      std::move(LocalObjectStore::Create(tmp_ / "db")).value();
  ServedStore served_{tmp_.path(), local_.get()};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ObjectService::Stub> stub_;
};

TEST_F(ProtocolTest, ClientOfAnotherProtocolVersionIsRefusedWithClearMessage) {
  ConnectOptions options;
  options.protocol_version = kProtocolVersion + 1;
  auto remote = RemoteObjectStore::Connect(served_.address(), options);
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), Code::kUnsupported);
  EXPECT_NE(remote.status().message().find("speaks object protocol"), std::string::npos)
      << remote.status().message();
  ExpectServing();
}

TEST_F(ProtocolTest, EveryRequestCarriesTheVersion) {
  GetRequest req;  // protocol_version left 0
  req.set_kind(1);
  req.set_id(TestId(1).bytes.data(), ObjectId::kSize);
  grpc::ClientContext ctx;
  GetResponse resp;
  grpc::Status st = stub_->Get(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  PutObjectsRequest put;
  AddObject(&put, 1, 10);
  EXPECT_EQ(Send(put).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(Stored(1));
}

TEST_F(ProtocolTest, ShortIdIsRefusedAndNothingOfTheBatchIsStored) {
  PutObjectsRequest req;
  req.set_protocol_version(kProtocolVersion);
  AddObject(&req, 1, 100);
  AddObject(&req, 2, 100)->set_id(std::string(31, 'i'));
  grpc::Status st = Send(req);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("31 bytes"), std::string::npos) << st.error_message();
  EXPECT_FALSE(Stored(1));
  ExpectServing();
}

TEST_F(ProtocolTest, OversizedObjectIsRefusedAndNothingIsStored) {
  PutObjectsRequest req;
  req.set_protocol_version(kProtocolVersion);
  AddObject(&req, 1, 100);
  AddObject(&req, 2, kMaxObjectBytes + 1);
  EXPECT_EQ(Send(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(Stored(1));
  EXPECT_FALSE(Stored(2));
  ExpectServing();
}

TEST_F(ProtocolTest, OversizedMessageIsRefusedByTheTransport) {
  PutObjectsRequest req;
  req.set_protocol_version(kProtocolVersion);
  for (uint32_t n = 1; n <= 3; ++n) AddObject(&req, n, 12 << 20);  // 36 MiB
  EXPECT_EQ(Send(req).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_FALSE(Stored(1));
  ExpectServing();
}

TEST_F(ProtocolTest, UnknownKindAndSnapshotKindAreRefused) {
  PutObjectsRequest req;
  req.set_protocol_version(kProtocolVersion);
  AddObject(&req, 1, 100)->set_kind(7);
  EXPECT_EQ(Send(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.mutable_objects(0)->set_kind(static_cast<uint32_t>(ObjectKind::kSnapshot));
  EXPECT_EQ(Send(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(Stored(1));
}

TEST_F(ProtocolTest, TooManyObjectsInOneCallAreRefused) {
  PutObjectsRequest req;
  req.set_protocol_version(kProtocolVersion);
  for (uint32_t n = 0; n <= kMaxPutObjects; ++n) AddObject(&req, n, 1);
  EXPECT_EQ(Send(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(Stored(0));
}

TEST_F(ProtocolTest, MalformedContainsIsRefused) {
  ContainsRequest req;
  req.set_protocol_version(kProtocolVersion);
  req.set_kind(1);
  req.set_ids(std::string(33, 'i'));
  ContainsResponse resp;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Contains(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  req.set_ids(std::string((kMaxContainsIds + 1) * ObjectId::kSize, 'i'));
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Contains(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  ExpectServing();
}

TEST_F(ProtocolTest, GetObjectsReplyStopsBeforeItsLimitAndAlwaysAnswersOne) {
  // The first object is larger than a reply holds; the rest are 1 MiB.
  ASSERT_TRUE(local_->Put(ObjectKind::kChunk, TestId(0), TestValue(0, 9 << 20)).ok());
  for (uint32_t n = 1; n <= 20; ++n) {
    ASSERT_TRUE(local_->Put(ObjectKind::kChunk, TestId(n), TestValue(n, 1 << 20)).ok());
  }
  auto ask = [&](uint32_t first, uint32_t last) {
    GetObjectsRequest req;
    req.set_protocol_version(kProtocolVersion);
    req.set_kind(static_cast<uint32_t>(ObjectKind::kChunk));
    for (uint32_t n = first; n <= last; ++n) req.mutable_ids()->append(AsChars(TestId(n).view()));
    GetObjectsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = stub_->GetObjects(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  GetObjectsResponse alone = ask(0, 20);
  ASSERT_EQ(alone.objects_size(), 1);
  EXPECT_EQ(alone.objects(0).sealed().size(), 9u << 20);
  GetObjectsResponse some = ask(1, 20);
  size_t bytes = 0;
  for (const FetchedObject& o : some.objects()) bytes += o.sealed().size();
  EXPECT_GT(some.objects_size(), 1);
  EXPECT_LT(some.objects_size(), 20);
  EXPECT_LE(bytes, kGetObjectsReplyBytes);
  EXPECT_EQ(some.objects(1).sealed(), std::string(AsChars(TestValue(2, 1 << 20))));
}

TEST_F(ProtocolTest, MalformedGetObjectsIsRefused) {
  GetObjectsRequest req;
  req.set_protocol_version(kProtocolVersion);
  req.set_kind(static_cast<uint32_t>(ObjectKind::kChunk));
  GetObjectsResponse resp;
  req.set_ids(std::string(33, 'i'));
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetObjects(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  req.set_ids(std::string((kMaxGetObjectsIds + 1) * ObjectId::kSize, 'i'));
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetObjects(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  req.set_ids(std::string(ObjectId::kSize, 'i'));
  req.set_kind(7);
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetObjects(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  ExpectServing();
}

TEST_F(ProtocolTest, ClientRefusesAnOversizedObjectAtOnce) {
  auto remote = served_.Connect();
  ASSERT_NE(remote, nullptr);
  Bytes big(kMaxObjectBytes + 1);
  EXPECT_EQ(remote->Put(ObjectKind::kChunk, TestId(1), big).code(), Code::kInvalidArgument);
  EXPECT_TRUE(remote->Flush().ok());  // the refusal did not poison the store
  EXPECT_FALSE(Stored(1));
}

TEST_F(ProtocolTest, SocketIsPrivateToItsOwner) {
  struct stat st;
  ASSERT_EQ(::stat((tmp_ / "serve.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A store whose writes fail, to show what a client does with a failed batch.
class FullDiskStore final : public testing::StubObjectStore {
 public:
  Status PutMeta(std::string_view, ByteView) override { return Status::NoSpace("disk full"); }
  Status Put(ObjectKind, const ObjectId&, ByteView) override {
    return Status::NoSpace("disk full");
  }
};

// A server that checks objects (as `coffer serve` does for an unencrypted
// repository) refuses a request with one bad object whole, and serves on.
TEST(ObjectCheckTest, ObjectThatFailsTheCheckRefusesItsWholeRequest) {
  TempDir tmp;
  ServerOptions options;
  options.check_object = [](ObjectKind, const ObjectId& id, ByteView) {
    return id == TestId(13) ? Status::Corruption("content does not match its id") : Status::Ok();
  };
  ServedStore served(tmp.path(), nullptr, options);
  auto remote = served.Connect();
  ASSERT_NE(remote, nullptr);
  for (uint32_t n : {11, 12, 13}) {
    ASSERT_TRUE(remote->Put(ObjectKind::kChunk, TestId(n), TestValue(n, 100)).ok());
  }
  Status flushed = remote->Flush();
  EXPECT_EQ(flushed.code(), Code::kInvalidArgument) << flushed.ToString();
  EXPECT_NE(flushed.message().find("does not match its id"), std::string::npos)
      << flushed.message();
  auto again = served.Connect();
  ASSERT_NE(again, nullptr);
  std::vector<ObjectId> ids = {TestId(11), TestId(12), TestId(13)};
  auto present = again->Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(present.ok());
  EXPECT_EQ(*present, std::vector<bool>({false, false, false}));
  ASSERT_TRUE(again->Put(ObjectKind::kChunk, TestId(11), TestValue(11, 100)).ok());
  EXPECT_TRUE(again->Flush().ok());
}

// A store with one damaged object, and one whose reads fail as a whole.
class DamagedStore final : public testing::StubObjectStore {
 public:
  Result<Bytes> Get(ObjectKind, const ObjectId& id) override {
    if (id == TestId(666)) return Status::IoError("the disk went away");
    if (id == TestId(13)) return Status::Corruption("blob file checksum mismatch");
    return TestValue(id.bytes[0], 10);
  }
};

TEST(RemoteObjectStoreErrorTest, GetManyReportsADamagedObjectAloneAndAStoreErrorWhole) {
  TempDir tmp;
  DamagedStore damaged;
  ServedStore served(tmp.path(), &damaged);
  auto remote = served.Connect();
  ASSERT_NE(remote, nullptr);
  std::vector<ObjectId> ids = {TestId(1), TestId(13), TestId(2)};
  auto got = GetAll(*remote, ObjectKind::kChunk, ids);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ(*(*got)[0], TestValue(TestId(1).bytes[0], 10));
  EXPECT_EQ((*got)[1].status().code(), Code::kCorruption);
  EXPECT_EQ((*got)[1].status().message(), "blob file checksum mismatch");
  EXPECT_EQ(*(*got)[2], TestValue(TestId(2).bytes[0], 10));
  ids.push_back(TestId(666));
  auto failed = GetAll(*remote, ObjectKind::kChunk, ids);
  EXPECT_EQ(failed.status().code(), Code::kIoError) << failed.status().ToString();
}

TEST(RemoteObjectStoreErrorTest, FailedBackgroundBatchSurfacesOnEveryLaterCall) {
  TempDir tmp;
  FullDiskStore full;
  ServedStore served(tmp.path(), &full);
  auto remote = served.Connect();
  ASSERT_NE(remote, nullptr);
  // Buffered: these succeed, the server has not seen them yet.
  for (uint32_t n = 0; n < 10; ++n) {
    ASSERT_TRUE(remote->Put(ObjectKind::kChunk, TestId(n), TestValue(n, 100)).ok());
  }
  Status commit =
      remote->CommitSnapshot({"host/a", 1, TestId(99)}, TestValue(99, 40), kNoWriter, std::nullopt);
  EXPECT_EQ(commit.code(), Code::kNoSpace) << commit.ToString();
  EXPECT_EQ(remote->Put(ObjectKind::kChunk, TestId(50), TestValue(50, 10)).code(), Code::kNoSpace);
  EXPECT_EQ(remote->ListSnapshots("").status().code(), Code::kNoSpace);
  EXPECT_EQ(remote->Flush().code(), Code::kNoSpace);
}

TEST(RemoteObjectStoreErrorTest, ServerStatusCodesArriveUnchanged) {
  TempDir tmp;
  FullDiskStore full;
  ServedStore served(tmp.path(), &full);
  auto remote = served.Connect();
  ASSERT_NE(remote, nullptr);
  Status s = remote->PutMeta("k", AsBytes("v"));
  EXPECT_EQ(s.code(), Code::kNoSpace);
  EXPECT_EQ(s.message(), "disk full");
}

TEST(ConnectTest, NoServerIsNotFound) {
  TempDir tmp;
  auto remote = RemoteObjectStore::Connect(DefaultServiceAddress(tmp.path()));
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), Code::kNotFound);
  EXPECT_NE(remote.status().message().find("no server at unix:"), std::string::npos)
      << remote.status().message();
}

TEST(ConnectTest, StaleSocketIsNotFound) {
  TempDir tmp;
  std::string path = tmp / "serve.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);  // bound, never listened: what a killed server leaves behind
  auto remote = RemoteObjectStore::Connect("unix:" + path);
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), Code::kNotFound) << remote.status().ToString();
  // A new server takes the stale socket's place.
  ServedStore served(tmp.path());
  EXPECT_NE(served.Connect(), nullptr);
}

TEST(ConnectTest, ServerStartedAfterAFailedConnectIsFound) {
  TempDir tmp;
  ASSERT_EQ(RemoteObjectStore::Connect(DefaultServiceAddress(tmp.path())).status().code(),
            Code::kNotFound);
  ServedStore served(tmp.path());
  EXPECT_NE(served.Connect(), nullptr);
}

}  // namespace
}  // namespace coffer::service

namespace coffer::service {
namespace {

// More concurrent calls than the server has threads: they wait, none fails.
TEST(ServerThreadsTest, MoreCallersThanServerThreadsAllSucceed) {
  TempDir tmp;
  ServerOptions options;
  options.max_threads = 2;
  coffer::testing::ServedStore served(tmp.path(), nullptr, options);
  auto remote = served.Connect();
  ASSERT_NE(remote, nullptr);
  std::vector<ObjectId> ids;
  for (uint32_t n = 0; n < 2000; ++n) ids.push_back(TestId(n));
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 24; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto present = remote->Contains(ObjectKind::kChunk, ids);
        if (!present.ok()) {
          std::lock_guard lock(mu);
          if (failures++ == 0) first_failure = present.status().ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
}

}  // namespace
}  // namespace coffer::service
