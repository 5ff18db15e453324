#include "store/service/address.h"

#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "store/objects/local_object_store.h"
#include "store/service/remote_object_store.h"
#include "store/service/server.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::service {
namespace {

TEST(ServiceAddressTest, ParsesUnixAndTcp) {
  auto unix_address = ParseServiceAddress("unix:/srv/repo/serve.sock");
  ASSERT_TRUE(unix_address.ok());
  EXPECT_EQ(unix_address->kind, ServiceAddress::Kind::kUnix);
  EXPECT_EQ(unix_address->path, "/srv/repo/serve.sock");
  EXPECT_EQ(unix_address->GrpcTarget(), "unix:/srv/repo/serve.sock");
  auto tcp = ParseServiceAddress("tcp://backup.example:7070");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->kind, ServiceAddress::Kind::kTcp);
  EXPECT_EQ(tcp->host, "backup.example");
  EXPECT_EQ(tcp->port, 7070);
  EXPECT_EQ(tcp->ToString(), "tcp://backup.example:7070");
}

TEST(ServiceAddressTest, RefusesMalformedAddresses) {
  for (const char* bad : {"", "unix:", "/srv/repo/serve.sock", "tcp://host", "tcp://host:0",
                          "tcp://host:70000", "tcp://:80", "http://host:80"}) {
    EXPECT_EQ(ParseServiceAddress(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ServiceAddressTest, SocketPathLongerThanSunPathIsRefusedClearly) {
  std::string path = "/" + std::string(kMaxUnixPathBytes, 'p');
  Status s = ParseServiceAddress("unix:" + path).status();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("at most 107"), std::string::npos) << s.message();
  EXPECT_TRUE(ParseServiceAddress("unix:" + path.substr(1)).ok());  // exactly 107
}

TEST(ServiceAddressTest, ASocketInAFolderGrpcWouldReadAsAUriIsNamedThroughTheFolder) {
  auto plain = ParseServiceAddress("unix:/srv/repo/serve.sock");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->ResolvedGrpcTarget().value(), "unix:/srv/repo/serve.sock");

  testing::TempDir tmp;
  const std::string folder = tmp / "a,b%41";
  ASSERT_EQ(mkdir(folder.c_str(), 0700), 0);
  auto odd = ParseServiceAddress("unix:" + folder + "/serve.sock");
  ASSERT_TRUE(odd.ok());
  Result<std::string> target = odd->ResolvedGrpcTarget();
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  ASSERT_TRUE(target->starts_with("unix:/proc/self/fd/")) << *target;
  EXPECT_TRUE(target->ends_with("/serve.sock")) << *target;
  EXPECT_EQ(target->find_first_of(",%"), std::string::npos) << *target;
  // The link names the folder itself.
  const std::string link =
      target->substr(5, target->size() - 5 - std::string("/serve.sock").size());
  EXPECT_EQ(std::filesystem::read_symlink(link).string(), folder);
  EXPECT_EQ(odd->ResolvedGrpcTarget().value(), *target) << "the folder is opened once";

  auto odd_name = ParseServiceAddress("unix:" + tmp.path() + "/serve,1.sock");
  ASSERT_TRUE(odd_name.ok());
  EXPECT_EQ(odd_name->ResolvedGrpcTarget().status().code(), Code::kInvalidArgument);
}

TEST(ServiceAddressTest, DefaultIsServeSockInTheRepository) {
  EXPECT_EQ(DefaultServiceAddress("/srv/repo"), "unix:/srv/repo/serve.sock");
}

TEST(ServiceAddressTest, TcpNeedsTlsAndPortZeroOnlyToListen) {
  testing::TempDir tmp;
  auto local = LocalObjectStore::Create(tmp / "db");
  ASSERT_TRUE(local.ok());
  // tcp:// without certificate, key and token (tls_test.cc serves with them).
  EXPECT_EQ(ObjectServer::Start(**local, "tcp://127.0.0.1:0", {}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ParseListenAddress("tcp://127.0.0.1:0")->port, 0);
  EXPECT_EQ(RemoteObjectStore::Connect("tcp://127.0.0.1:0").status().code(),
            Code::kInvalidArgument);
  std::string too_long = "unix:" + tmp.path() + "/" + std::string(120, 's');
  EXPECT_EQ(ObjectServer::Start(**local, too_long, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RemoteObjectStore::Connect(too_long).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::service
