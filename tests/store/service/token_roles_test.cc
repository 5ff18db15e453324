// Token roles over tcp://: a full token may do everything; an append-only
// token may add snapshots and read, and every call that would remove,
// protect, annotate, change meta records or collect garbage is refused with
// PERMISSION_DENIED before it changes anything. Unix sockets keep full
// rights. Loopback only.
#include <grpcpp/grpcpp.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "store/service/auth.h"
#include "store/service/grpc_status.h"
#include "store/service/limits.h"
#include "store/service/service.grpc.pb.h"
#include "tests/store/objects/test_objects.h"
#include "tests/store/service/store_envs.h"
#include "tests/store/service/tls_fixtures.h"

namespace coffer::service {
namespace {

using coffer::testing::ServedStore;
using coffer::testing::TempDir;
using coffer::testing::TestId;
using coffer::testing::TestValue;
using coffer::testing::TlsConnectOptions;
using coffer::testing::TlsServerOptions;

constexpr const char* kAppendToken = "append-only-token-9f8e7d6c5b4a";

ServerOptions RolesServerOptions() {
  ServerOptions options = TlsServerOptions();  // kTestToken: full
  options.append_only_tokens = {kAppendToken};
  return options;
}

class TokenRolesTest : public ::testing::Test {
 protected:
  TokenRolesTest() {
    // What the refused calls must leave as it is: a chunk, a tree, the
    // config, two key slots, and a snapshot neither protected nor annotated.
    EXPECT_TRUE(local_->Put(ObjectKind::kChunk, TestId(1), TestValue(1, 1000)).ok());
    EXPECT_TRUE(local_->Put(ObjectKind::kTree, TestId(2), TestValue(2, 300)).ok());
    EXPECT_TRUE(local_->PutMeta("config", TestValue(3, 50)).ok());
    EXPECT_TRUE(local_->PutMeta("key", TestValue(8, 121)).ok());
    EXPECT_TRUE(local_->PutMeta("key.1", TestValue(9, 121)).ok());
    EXPECT_TRUE(local_->CommitSnapshot(kSnapshot, TestValue(4, 40), kNoWriter, std::nullopt).ok());
  }

  std::unique_ptr<RemoteObjectStore> Connect(const std::string& token) {
    auto remote = RemoteObjectStore::Connect(served_.address(), TlsConnectOptions(token));
    EXPECT_TRUE(remote.ok()) << remote.status().ToString();
    return remote.ok() ? std::move(remote).value() : nullptr;
  }

  // A raw client of the wire protocol on a channel of its own.
  std::unique_ptr<ObjectService::Stub> RawStub(const std::string& token) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = coffer::testing::SharedTestCert(0).cert_pem;
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::SslCredentials(ssl);
    if (!token.empty()) {
      creds = grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(token));
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return ObjectService::NewStub(
        grpc::CreateCustomChannel(served_.server().address().GrpcTarget(), creds, args));
  }

  // The state the refused calls must not change, as the server's own store
  // sees it.
  void ExpectUnchanged() {
    auto list = local_->ListSnapshots("");
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].ref, kSnapshot);
    EXPECT_FALSE((*list)[0].is_protected);
    EXPECT_TRUE((*list)[0].sealed_note.empty());
    auto config = local_->GetMeta("config");
    ASSERT_TRUE(config.ok() && config->has_value());
    EXPECT_EQ(**config, TestValue(3, 50));
    auto other = local_->GetMeta("other");
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->has_value());
    auto slots = local_->ListMeta("key");
    ASSERT_TRUE(slots.ok());
    ASSERT_EQ(slots->size(), 2u) << "a key slot was removed";
    EXPECT_EQ((*slots)[1].value, TestValue(9, 121));
    auto chunk = local_->Get(ObjectKind::kChunk, TestId(1));
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    EXPECT_EQ(*chunk, TestValue(1, 1000));
    EXPECT_TRUE(local_->Get(ObjectKind::kTree, TestId(2)).ok());
  }

  const SnapshotRef kSnapshot{"host/roles", 1'800'000'000LL * 1'000'000'000, TestId(4)};
  TempDir tmp_;
  std::unique_ptr<LocalObjectStore> local_ =
      std::move(LocalObjectStore::Create(tmp_ / "db")).value();
  ServedStore served_{tmp_.path(), local_.get(), RolesServerOptions(),
                      coffer::testing::kLoopbackAnyPort, TlsConnectOptions()};
};

// Every call an append-only token may not make, on the wire.
struct RefusedCall {
  const char* name;
  std::function<grpc::Status(ObjectService::Stub&, grpc::ClientContext&, uint64_t gc_id,
                             const SnapshotRefMsg& ref)>
      call;
};

std::vector<RefusedCall> RefusedCalls() {
  return {
      {"PutMeta",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t, const SnapshotRefMsg&) {
         PutMetaRequest req;
         req.set_protocol_version(kProtocolVersion);
         req.set_key("config");
         req.set_value("replaced");
         PutMetaResponse resp;
         return stub.PutMeta(&ctx, req, &resp);
       }},
      {"PutMeta (a new key)",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t, const SnapshotRefMsg&) {
         PutMetaRequest req;
         req.set_protocol_version(kProtocolVersion);
         req.set_key("other");
         req.set_value("added");
         PutMetaResponse resp;
         return stub.PutMeta(&ctx, req, &resp);
       }},
      {"RemoveKeySlot",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t, const SnapshotRefMsg&) {
         RemoveKeySlotRequest req;
         req.set_protocol_version(kProtocolVersion);
         req.set_name("key.1");
         RemoveKeySlotResponse resp;
         return stub.RemoveKeySlot(&ctx, req, &resp);
       }},
      {"DeleteSnapshot",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t,
          const SnapshotRefMsg& ref) {
         DeleteSnapshotRequest req;
         req.set_protocol_version(kProtocolVersion);
         *req.mutable_ref() = ref;
         DeleteSnapshotResponse resp;
         return stub.DeleteSnapshot(&ctx, req, &resp);
       }},
      {"SetSnapshotProtected",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t,
          const SnapshotRefMsg& ref) {
         SetSnapshotProtectedRequest req;
         req.set_protocol_version(kProtocolVersion);
         *req.mutable_ref() = ref;
         req.set_is_protected(true);
         SetSnapshotProtectedResponse resp;
         return stub.SetSnapshotProtected(&ctx, req, &resp);
       }},
      {"SetSnapshotNote",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t,
          const SnapshotRefMsg& ref) {
         SetSnapshotNoteRequest req;
         req.set_protocol_version(kProtocolVersion);
         *req.mutable_ref() = ref;
         req.set_sealed_note("all is well");
         SetSnapshotNoteResponse resp;
         return stub.SetSnapshotNote(&ctx, req, &resp);
       }},
      {"BeginGc",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t, const SnapshotRefMsg&) {
         BeginGcRequest req;
         req.set_protocol_version(kProtocolVersion);
         auto reader = stub.BeginGc(&ctx, req);
         BeginGcResponse page;
         while (reader->Read(&page)) {
         }
         return reader->Finish();
       }},
      {"AddGcMarks",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t gc_id,
          const SnapshotRefMsg&) {
         AddGcMarksRequest req;
         req.set_protocol_version(kProtocolVersion);
         req.set_gc_id(gc_id);
         req.set_prefixes(std::string(8, '\x01'));
         AddGcMarksResponse resp;
         return stub.AddGcMarks(&ctx, req, &resp);
       }},
      {"FinishGc",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t gc_id,
          const SnapshotRefMsg&) {
         FinishGcRequest req;
         req.set_protocol_version(kProtocolVersion);
         req.set_gc_id(gc_id);
         FinishGcResponse resp;
         return stub.FinishGc(&ctx, req, &resp);
       }},
      {"AbortGc",
       [](ObjectService::Stub& stub, grpc::ClientContext& ctx, uint64_t gc_id,
          const SnapshotRefMsg&) {
         AbortGcRequest req;
         req.set_protocol_version(kProtocolVersion);
         req.set_gc_id(gc_id);
         AbortGcResponse resp;
         return stub.AbortGc(&ctx, req, &resp);
       }},
  };
}

TEST_F(TokenRolesTest, AppendOnlyTokenIsRefusedEveryCallThatRemovesOrChanges) {
  // A collection begun with the full token, whose marks (none) would delete
  // every object if an append-only caller could finish it.
  auto full = Connect(coffer::testing::kTestToken);
  ASSERT_NE(full, nullptr);
  auto gc = full->BeginGc();
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();

  SnapshotRefMsg ref;
  ref.set_group(kSnapshot.group);
  ref.set_time_ns(kSnapshot.time_ns);
  ref.set_id(kSnapshot.id.bytes.data(), ObjectId::kSize);
  auto stub = RawStub(kAppendToken);
  for (const RefusedCall& refused : RefusedCalls()) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status st = refused.call(*stub, ctx, gc->gc_id, ref);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << refused.name << ": " << st.error_message();
    EXPECT_EQ(st.error_message(), kAppendOnlyRefused) << refused.name;
    EXPECT_EQ(FromGrpcStatus(st).code(), Code::kPermissionDenied) << refused.name;
    ExpectUnchanged();
  }

  // The collection is still the full token's to end: nothing was deleted.
  EXPECT_TRUE(full->AbortGc(gc->gc_id).ok());
  ExpectUnchanged();
  EXPECT_EQ(served_.server().active_calls(), 0);
}

TEST_F(TokenRolesTest, RemoteStoreWithAppendOnlyTokenGetsPermissionDenied) {
  auto remote = Connect(kAppendToken);
  ASSERT_NE(remote, nullptr);
  std::vector<std::pair<const char*, Status>> refused = {
      {"DeleteSnapshot", remote->DeleteSnapshot(kSnapshot)},
      {"SetSnapshotProtected", remote->SetSnapshotProtected(kSnapshot, true)},
      {"SetSnapshotNote", remote->SetSnapshotNote(kSnapshot, TestValue(5, 60))},
      {"PutMeta", remote->PutMeta("config", TestValue(6, 50))},
      {"RemoveKeySlot", remote->RemoveKeySlot("key.1")},
      {"BeginGc", remote->BeginGc().status()},
      {"AddGcMarks", remote->AddGcMarks(1, std::vector<uint64_t>{1})},
      {"FinishGc", remote->FinishGc(1).status()},
      {"AbortGc", remote->AbortGc(1)},
  };
  for (const auto& [name, status] : refused) {
    EXPECT_EQ(status.code(), Code::kPermissionDenied) << name << ": " << status.ToString();
    EXPECT_EQ(status.message(), kAppendOnlyRefused) << name;
  }
  ExpectUnchanged();
  // A refusal is no sticky error: the client still adds and reads.
  EXPECT_TRUE(remote->Put(ObjectKind::kChunk, TestId(7), TestValue(7, 100)).ok());
  EXPECT_TRUE(remote->Flush().ok());
  EXPECT_TRUE(remote->Get(ObjectKind::kChunk, TestId(7)).ok());
}

TEST_F(TokenRolesTest, AppendOnlyTokenAddsAndReadsSnapshots) {
  auto remote = Connect(kAppendToken);  // Hello
  ASSERT_NE(remote, nullptr);
  auto config = remote->GetMeta("config");
  ASSERT_TRUE(config.ok() && config->has_value()) << config.status().ToString();
  EXPECT_EQ(**config, TestValue(3, 50));
  // The key slots too: an append-only client unwraps the key to write.
  auto slots = remote->ListMeta("key");
  ASSERT_TRUE(slots.ok()) << slots.status().ToString();
  ASSERT_EQ(slots->size(), 2u);
  EXPECT_EQ((*slots)[0].key, "key");
  EXPECT_EQ((*slots)[0].value, TestValue(8, 121));

  auto writer = remote->BeginWrite(kSnapshot);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  std::vector<WriteId> writers = {*writer};
  EXPECT_TRUE(remote->RefreshWriters(writers).ok());  // Hello naming the writer
  ASSERT_TRUE(remote->Put(ObjectKind::kChunk, TestId(10), TestValue(10, 2000)).ok());
  ASSERT_TRUE(remote->Put(ObjectKind::kTree, TestId(11), TestValue(11, 200)).ok());
  ASSERT_TRUE(remote->Flush().ok());  // PutObjects
  std::vector<ObjectId> ids = {TestId(1), TestId(10), TestId(12)};
  auto present = remote->Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(present.ok()) << present.status().ToString();
  EXPECT_EQ(*present, (std::vector<bool>{true, true, false}));
  auto chunk = remote->Get(ObjectKind::kChunk, TestId(10));
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_EQ(*chunk, TestValue(10, 2000));
  auto many = coffer::testing::GetAll(*remote, ObjectKind::kChunk, ids);  // GetObjects
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  ASSERT_EQ(many->size(), 3u);
  EXPECT_TRUE((*many)[0].ok() && (*many)[1].ok());
  EXPECT_EQ((*many)[2].status().code(), Code::kNotFound);

  SnapshotRef added{"host/roles", kSnapshot.time_ns + 1'000'000'000, TestId(13)};
  ASSERT_TRUE(remote->CommitSnapshot(added, TestValue(13, 40), *writer, std::nullopt).ok());
  EXPECT_TRUE(remote->EndWrite(*writer).ok());
  auto list = remote->ListSnapshots("host/roles");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].ref, added);

  // The server's own store has the new snapshot and objects.
  auto stored = local_->ListSnapshots("");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 2u);
  EXPECT_TRUE(local_->Get(ObjectKind::kTree, TestId(11)).ok());
}

TEST_F(TokenRolesTest, AppendOnlyTokenNeverReplacesAStoredObjectOrSnapshot) {
  auto remote = Connect(kAppendToken);
  ASSERT_NE(remote, nullptr);
  // Other bytes under stored ids, alongside a new object in the same batch.
  ASSERT_TRUE(remote->Put(ObjectKind::kChunk, TestId(1), TestValue(99, 1000)).ok());
  ASSERT_TRUE(remote->Put(ObjectKind::kTree, TestId(2), TestValue(98, 300)).ok());
  ASSERT_TRUE(remote->Put(ObjectKind::kChunk, TestId(20), TestValue(20, 500)).ok());
  ASSERT_TRUE(remote->Flush().ok());
  auto chunk = local_->Get(ObjectKind::kChunk, TestId(1));
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(*chunk, TestValue(1, 1000));
  auto tree = local_->Get(ObjectKind::kTree, TestId(2));
  ASSERT_TRUE(tree.ok());
  EXPECT_EQ(*tree, TestValue(2, 300));
  auto added = local_->Get(ObjectKind::kChunk, TestId(20));
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, TestValue(20, 500));

  // Nor a snapshot record (the store refuses that to anyone).
  Status commit = remote->CommitSnapshot(kSnapshot, TestValue(97, 40), kNoWriter, std::nullopt);
  EXPECT_EQ(commit.code(), Code::kAlreadyExists) << commit.ToString();
  ExpectUnchanged();

  // A full token may store a good copy over a damaged object.
  auto full = Connect(coffer::testing::kTestToken);
  ASSERT_NE(full, nullptr);
  ASSERT_TRUE(full->Put(ObjectKind::kChunk, TestId(1), TestValue(96, 1000)).ok());
  ASSERT_TRUE(full->Flush().ok());
  chunk = local_->Get(ObjectKind::kChunk, TestId(1));
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(*chunk, TestValue(96, 1000));
}

TEST_F(TokenRolesTest, FullTokenMayRemoveProtectAnnotateAndCollect) {
  auto full = Connect(coffer::testing::kTestToken);
  ASSERT_NE(full, nullptr);
  EXPECT_TRUE(full->SetSnapshotProtected(kSnapshot, true).ok());
  EXPECT_TRUE(full->SetSnapshotNote(kSnapshot, TestValue(5, 60)).ok());
  EXPECT_TRUE(full->PutMeta("other", TestValue(6, 10)).ok());
  EXPECT_TRUE(full->RemoveKeySlot("key.1").ok());
  EXPECT_EQ(full->RemoveKeySlot("key").code(), Code::kFailedPrecondition) << "never the last slot";
  auto list = local_->ListSnapshots("");
  ASSERT_TRUE(list.ok() && list->size() == 1u);
  EXPECT_TRUE((*list)[0].is_protected);
  EXPECT_EQ((*list)[0].sealed_note, TestValue(5, 60));
  EXPECT_TRUE(full->SetSnapshotProtected(kSnapshot, false).ok());
  EXPECT_TRUE(full->DeleteSnapshot(kSnapshot).ok());
  auto gc = full->BeginGc();
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_TRUE(full->AddGcMarks(gc->gc_id, std::vector<uint64_t>{1}).ok());
  auto result = full->FinishGc(gc->gc_id);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->objects_deleted, 2u);  // the chunk and the tree, no longer referenced
  list = local_->ListSnapshots("");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

// Copying the repository's files writes a folder where the caller says, on
// the server's host: a caller over tcp:// may not, whatever its token.
TEST_F(TokenRolesTest, NoTokenLetsACallerOverTcpCopyTheRepositorysFiles) {
  for (const char* token : {coffer::testing::kTestToken, kAppendToken}) {
    auto remote = Connect(token);
    ASSERT_NE(remote, nullptr);
    const std::string target = tmp_ / "copy";
    Result<FolderCopyReport> copied = remote->CopyRepositoryTo(target);
    EXPECT_EQ(copied.status().code(), Code::kPermissionDenied)
        << token << ": " << copied.status().ToString();
    EXPECT_FALSE(std::filesystem::exists(target)) << token;
  }
  ExpectUnchanged();
}

TEST_F(TokenRolesTest, AConnectionCarriesTokensOfOneRole) {
  // One channel, the token per call: the first call binds the connection's
  // role, and a call with the other token on it is refused, either way.
  for (const char* first : {kAppendToken, coffer::testing::kTestToken}) {
    const char* second = first == kAppendToken ? coffer::testing::kTestToken : kAppendToken;
    auto stub = RawStub("");
    auto get_meta = [&](const char* token) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      ctx.set_credentials(grpc::AccessTokenCredentials(token));
      GetMetaRequest req;
      req.set_protocol_version(kProtocolVersion);
      req.set_key("config");
      GetMetaResponse resp;
      return stub->GetMeta(&ctx, req, &resp);
    };
    grpc::Status st = get_meta(first);
    ASSERT_TRUE(st.ok()) << st.error_message();
    st = get_meta(second);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << first;
    EXPECT_NE(st.error_message().find("another role"), std::string::npos) << st.error_message();
    EXPECT_TRUE(get_meta(first).ok());
  }
}

TEST(TokenRolesServerTest, ServerWithOnlyAppendOnlyTokens) {
  TempDir tmp;
  auto local = std::move(LocalObjectStore::Create(tmp / "db")).value();
  ASSERT_TRUE(
      local->CommitSnapshot({"host/a", 7, TestId(1)}, TestValue(1, 40), kNoWriter, std::nullopt)
          .ok());
  ServerOptions options = TlsServerOptions();
  options.token.clear();
  options.append_only_tokens = {kAppendToken, "a-second-append-only-token"};
  ServedStore served(tmp.path(), local.get(), options, coffer::testing::kLoopbackAnyPort,
                     TlsConnectOptions(kAppendToken));
  auto remote = served.Connect();
  ASSERT_NE(remote, nullptr);
  EXPECT_TRUE(remote->ListSnapshots("").ok());
  EXPECT_EQ(remote->DeleteSnapshot({"host/a", 7, TestId(1)}).code(), Code::kPermissionDenied);
  auto second =
      RemoteObjectStore::Connect(served.address(), TlsConnectOptions("a-second-append-only-token"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)->BeginGc().status().code(), Code::kPermissionDenied);
  // The usual test token is no token of this server.
  auto other = RemoteObjectStore::Connect(served.address(), TlsConnectOptions());
  EXPECT_EQ(other.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(local->ListSnapshots("")->size(), 1u);
}

TEST(TokenRolesServerTest, TokensMustDiffer) {
  TempDir tmp;
  auto local = std::move(LocalObjectStore::Create(tmp / "db")).value();
  ServerOptions same = TlsServerOptions();
  same.append_only_tokens = {same.token};
  auto server = ObjectServer::Start(*local, coffer::testing::kLoopbackAnyPort, same);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), Code::kInvalidArgument);
  EXPECT_NE(server.status().message().find("must differ"), std::string::npos)
      << server.status().message();

  ServerOptions twice = TlsServerOptions();
  twice.append_only_tokens = {kAppendToken, kAppendToken};
  EXPECT_EQ(ObjectServer::Start(*local, coffer::testing::kLoopbackAnyPort, twice).status().code(),
            Code::kInvalidArgument);
}

TEST(TokenRolesServerTest, UnixSocketClientsKeepFullRights) {
  TempDir tmp;
  ServedStore plain(tmp.path());
  auto remote = plain.Connect();
  ASSERT_NE(remote, nullptr);
  SnapshotRef ref{"host/a", 7, TestId(1)};
  ASSERT_TRUE(remote->CommitSnapshot(ref, TestValue(1, 40), kNoWriter, std::nullopt).ok());
  EXPECT_TRUE(remote->SetSnapshotProtected(ref, true).ok());
  EXPECT_TRUE(remote->SetSnapshotProtected(ref, false).ok());
  EXPECT_TRUE(remote->PutMeta("other", TestValue(2, 10)).ok());
  EXPECT_TRUE(remote->DeleteSnapshot(ref).ok());
  auto gc = remote->BeginGc();
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_TRUE(remote->AbortGc(gc->gc_id).ok());
}

TEST(TokenRolesAuthTest, MatchBearerNamesTheRoleOfTheTokenSent) {
  std::vector<ServerToken> tokens = {{"full-secret", TokenRole::kFull},
                                     {"append-secret", TokenRole::kAppendOnly},
                                     {"append-other", TokenRole::kAppendOnly}};
  EXPECT_EQ(MatchBearer("Bearer full-secret", tokens), TokenRole::kFull);
  EXPECT_EQ(MatchBearer("Bearer append-secret", tokens), TokenRole::kAppendOnly);
  EXPECT_EQ(MatchBearer("Bearer append-other", tokens), TokenRole::kAppendOnly);
  EXPECT_EQ(MatchBearer("Bearer append-secre", tokens), std::nullopt);
  EXPECT_EQ(MatchBearer("Bearer full-secrets", tokens), std::nullopt);
  EXPECT_EQ(MatchBearer("full-secret", tokens), std::nullopt);
  EXPECT_EQ(MatchBearer("Bearer full-secret", {}), std::nullopt);
  EXPECT_EQ(RoleName(TokenRole::kFull), "full");
  EXPECT_EQ(RoleName(TokenRole::kAppendOnly), "append-only");
}

}  // namespace
}  // namespace coffer::service
