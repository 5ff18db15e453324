// Serving other hosts: tcp:// with TLS and a bearer token, on 127.0.0.1
// only. A client needs the CA that signed the server's certificate and the
// token; without either it gets a clear error and stores nothing. Unix
// sockets need neither. (The typed conformance suite also runs over TLS:
// ObjectStoreConformanceTest/Tls.)
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "store/service/auth.h"
#include "store/service/grpc_status.h"
#include "store/service/limits.h"
#include "store/service/service.grpc.pb.h"
#include "tests/store/objects/test_objects.h"
#include "tests/store/service/store_envs.h"
#include "tests/store/service/tls_fixtures.h"
#include "tests/testing/wait_until.h"

namespace coffer::service {
namespace {

using coffer::testing::ServedStore;
using coffer::testing::TempDir;
using coffer::testing::TestId;
using coffer::testing::TestValue;
using coffer::testing::TlsConnectOptions;
using coffer::testing::TlsServerOptions;
using coffer::testing::WaitUntil;

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

class TlsTest : public ::testing::Test {
 protected:
  bool Stored(uint32_t n) {
    std::vector<ObjectId> ids = {TestId(n)};
    auto present = local_->Contains(ObjectKind::kChunk, ids);
    return present.ok() && (*present)[0];
  }
  // A raw client of the wire protocol, as a foreign client would be.
  std::unique_ptr<ObjectService::Stub> RawStub(const std::string& token) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = coffer::testing::SharedTestCert(0).cert_pem;
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::SslCredentials(ssl);
    if (!token.empty()) {
      creds = grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(token));
    }
    return ObjectService::NewStub(
        grpc::CreateChannel(served_.server().address().GrpcTarget(), creds));
  }
  grpc::Status RawPut(const std::string& token, uint32_t n) {
    PutObjectsRequest req;
    req.set_protocol_version(kProtocolVersion);
    SealedObject* o = req.add_objects();
    o->set_kind(static_cast<uint32_t>(ObjectKind::kChunk));
    o->set_id(TestId(n).bytes.data(), ObjectId::kSize);
    o->set_sealed("sealed bytes");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    PutObjectsResponse resp;
    return RawStub(token)->PutObjects(&ctx, req, &resp);
  }

  TempDir tmp_;
  std::unique_ptr<LocalObjectStore> local_ =
      std::move(LocalObjectStore::Create(tmp_ / "db")).value();
  ServedStore served_{tmp_.path(), local_.get(), TlsServerOptions(),
                      coffer::testing::kLoopbackAnyPort, TlsConnectOptions()};
};

TEST_F(TlsTest, ListensOnTheLoopbackPortItChose) {
  const ServiceAddress& address = served_.server().address();
  EXPECT_EQ(address.kind, ServiceAddress::Kind::kTcp);
  EXPECT_EQ(address.host, "127.0.0.1");
  EXPECT_GT(address.port, 0);
  EXPECT_EQ(served_.address(), "tcp://127.0.0.1:" + std::to_string(address.port));
}

TEST_F(TlsTest, ClientWithCaAndTokenPutsGetsCommitsAndLists) {
  auto remote = served_.Connect();
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Put(ObjectKind::kChunk, TestId(1), TestValue(1, 3 << 20)).ok());
  ASSERT_TRUE(remote->Put(ObjectKind::kTree, TestId(2), TestValue(2, 500)).ok());
  ASSERT_TRUE(remote->PutMeta("config", TestValue(3, 100)).ok());
  ASSERT_TRUE(
      remote->CommitSnapshot({"host/tls", 7, TestId(4)}, TestValue(4, 40), kNoWriter, std::nullopt)
          .ok());

  auto chunk = remote->Get(ObjectKind::kChunk, TestId(1));
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_EQ(*chunk, TestValue(1, 3 << 20));
  EXPECT_EQ(remote->Get(ObjectKind::kTree, TestId(1)).status().code(), Code::kNotFound);
  auto meta = remote->GetMeta("config");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_EQ(**meta, TestValue(3, 100));
  std::vector<ObjectId> ids = {TestId(1), TestId(9)};
  auto present = remote->Contains(ObjectKind::kChunk, ids);
  ASSERT_TRUE(present.ok());
  EXPECT_EQ(*present, (std::vector<bool>{true, false}));
  auto list = remote->ListSnapshots("");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ref, (SnapshotRef{"host/tls", 7, TestId(4)}));
  EXPECT_EQ((*list)[0].sealed, TestValue(4, 40));
  // The server's own store has it all: the calls went through.
  EXPECT_TRUE(Stored(1));
}

TEST_F(TlsTest, WrongTokenIsRefusedAndNothingIsStored) {
  auto remote = RemoteObjectStore::Connect(served_.address(), TlsConnectOptions("not-the-token"));
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(Contains(remote.status().message(), "the server refused the token"))
      << remote.status().message();

  grpc::Status raw = RawPut("not-the-token", 5);
  EXPECT_EQ(raw.error_code(), grpc::StatusCode::UNAUTHENTICATED) << raw.error_message();
  EXPECT_EQ(FromGrpcStatus(raw).code(), Code::kUnauthenticated);
  EXPECT_TRUE(Contains(raw.error_message(), "the server refused the token")) << raw.error_message();
  // A prefix of the token, or the token with more after it, is no better.
  std::string token = coffer::testing::kTestToken;
  EXPECT_EQ(RawPut(token.substr(0, token.size() - 1), 5).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(RawPut(token + "x", 5).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(Stored(5));
  EXPECT_EQ(served_.server().active_calls(), 0);

  ASSERT_TRUE(RawPut(token, 6).ok());  // the same request with the token is served
  EXPECT_TRUE(Stored(6));
}

TEST_F(TlsTest, NoTokenIsRefused) {
  auto remote = RemoteObjectStore::Connect(served_.address(), TlsConnectOptions(""));
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(Contains(remote.status().message(), "the server refused the token"))
      << remote.status().message();
  EXPECT_EQ(RawPut("", 7).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(Stored(7));
}

TEST_F(TlsTest, ClientWithoutTheServersCaFailsToConnectWithClearError) {
  auto remote = RemoteObjectStore::Connect(served_.address(),
                                           TlsConnectOptions(coffer::testing::kTestToken, 1));
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), Code::kIoError);
  EXPECT_TRUE(
      Contains(remote.status().message(), "cannot reach the server at " + served_.address()))
      << remote.status().message();
  EXPECT_TRUE(Contains(remote.status().message(), "certificate")) << remote.status().message();
}

TEST_F(TlsTest, NoServerAtTheAddressIsAnIoErrorNotNotFound) {
  std::string address = served_.address();
  served_.server().Shutdown();
  // Serve() returns and stops listening shortly after.
  auto options = TlsConnectOptions();
  options.timeout = std::chrono::milliseconds(2000);
  auto remote = RemoteObjectStore::Connect(address, options);
  WaitUntil(
      [&] {
        if (remote.ok()) remote = RemoteObjectStore::Connect(address, options);
        return !remote.ok();
      },
      std::chrono::seconds(10));
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), Code::kIoError) << remote.status().ToString();
}

TEST(TlsServerTest, TcpNeedsCertificateKeyAndToken) {
  TempDir tmp;
  auto local = LocalObjectStore::Create(tmp / "db");
  ASSERT_TRUE(local.ok());
  for (int missing = 0; missing < 3; ++missing) {
    ServerOptions options = TlsServerOptions();
    (missing == 0 ? options.tls_cert_pem : missing == 1 ? options.tls_key_pem : options.token) = "";
    auto server = ObjectServer::Start(**local, coffer::testing::kLoopbackAnyPort, options);
    ASSERT_FALSE(server.ok()) << missing;
    EXPECT_EQ(server.status().code(), Code::kInvalidArgument);
    EXPECT_TRUE(Contains(server.status().message(), "needs a TLS certificate"))
        << server.status().message();
  }
  // A key that is not the certificate's: gRPC refuses to listen.
  ServerOptions mismatched = TlsServerOptions();
  mismatched.tls_key_pem = coffer::testing::SharedTestCert(1).key_pem;
  EXPECT_EQ(
      ObjectServer::Start(**local, coffer::testing::kLoopbackAnyPort, mismatched).status().code(),
      Code::kIoError);
}

TEST(TlsServerTest, UnixSocketsNeedNeitherTlsNorToken) {
  TempDir tmp;
  ServedStore plain(tmp.path());
  auto remote = plain.Connect();
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->Put(ObjectKind::kChunk, TestId(1), TestValue(1, 100)).ok());
  auto got = remote->Get(ObjectKind::kChunk, TestId(1));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, TestValue(1, 100));

  // A client's TLS options and token do not matter to a unix socket.
  auto with_options = RemoteObjectStore::Connect(plain.address(), TlsConnectOptions());
  ASSERT_TRUE(with_options.ok()) << with_options.status().ToString();
  EXPECT_TRUE((*with_options)->Get(ObjectKind::kChunk, TestId(1)).ok());
}

TEST(TlsServerTest, ATcpServerMayAlsoServeALocalSocketWithoutTokens) {
  TempDir tmp;
  auto local = LocalObjectStore::Create(tmp / "db");
  ASSERT_TRUE(local.ok());
  ServerOptions options = TlsServerOptions();
  options.local_socket = "unix:" + (tmp / "serve.sock");
  auto server = ObjectServer::Start(**local, coffer::testing::kLoopbackAnyPort, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_TRUE((*server)->local_address().has_value());
  EXPECT_EQ((*server)->local_address()->path, tmp / "serve.sock");

  // No token over the socket, and it may do what only a full token may
  // (meta records are written at once, objects in batches).
  const Bytes note = TestValue(2, 10);
  auto over_socket = RemoteObjectStore::Connect(options.local_socket, ConnectOptions{});
  ASSERT_TRUE(over_socket.ok()) << over_socket.status().ToString();
  ASSERT_TRUE((*over_socket)->PutMeta("note", note).ok());
  // The same store over TCP, which still wants its token.
  auto over_tcp = RemoteObjectStore::Connect((*server)->address().ToString(), TlsConnectOptions());
  ASSERT_TRUE(over_tcp.ok()) << over_tcp.status().ToString();
  auto got = (*over_tcp)->GetMeta("note");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, std::optional<Bytes>(note));
  ConnectOptions wrong_token = TlsConnectOptions();
  wrong_token.token = "not-the-token";
  auto refused = RemoteObjectStore::Connect((*server)->address().ToString(), wrong_token);
  EXPECT_FALSE(refused.ok() && (*refused)->GetMeta("note").ok());

  // A unix listener is its own host's already: a second socket is refused.
  ServerOptions twice;
  twice.local_socket = "unix:" + (tmp / "other.sock");
  auto unix_server = ObjectServer::Start(**local, "unix:" + (tmp / "main.sock"), twice);
  EXPECT_EQ(unix_server.status().code(), Code::kInvalidArgument);
}

TEST(TlsAuthTest, BearerMatchesOnlyTheExactToken) {
  EXPECT_TRUE(BearerMatches("Bearer secret", "secret"));
  EXPECT_FALSE(BearerMatches("Bearer secreT", "secret"));
  EXPECT_FALSE(BearerMatches("Bearer secre", "secret"));
  EXPECT_FALSE(BearerMatches("Bearer secrets", "secret"));
  EXPECT_FALSE(BearerMatches("bearer secret", "secret"));
  EXPECT_FALSE(BearerMatches("secret", "secret"));
  EXPECT_FALSE(BearerMatches("Bearer ", "secret"));
  EXPECT_FALSE(BearerMatches("", "secret"));
}

TEST(TlsAuthTest, TokensAreOnePrintableLine) {
  auto token = ParseToken("abc-123_XYZ\n", "FILE");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "abc-123_XYZ");
  EXPECT_EQ(ParseToken("\n", "FILE").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseToken("two words", "FILE").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseToken("line\nline", "FILE").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseToken(std::string(kMaxTokenBytes + 1, 'a'), "FILE").status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::service
