// A backup server for other hosts, end to end: `coffer serve --listen
// tcp://127.0.0.1:PORT` with TLS and a token runs as a child process, and
// commands reach it with --server, --tls-ca and the token, with no -r and
// no repository folder of their own. Loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

constexpr const char* kToken = "e2e-token-5f2a9c";

// A port nobody listens on now, on 127.0.0.1 (the kernel picks it).
int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

bool MakeCert(const std::string& dir, const std::string& name) {
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
      dir + "/" + name + ".key' -out '" + dir + "/" + name + ".crt' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

class ServerTlsTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    ASSERT_TRUE(MakeCert(tmp_.path(), "server"));
    ASSERT_TRUE(MakeCert(tmp_.path(), "other"));
    token_file_ = tmp_ / "token";
    testing::WriteFile(token_file_, std::string(kToken) + "\n");
    source_ = tmp_ / "src";
    testing::MakeKitchenSinkTree(source_);

    // Another process may take the port between our check and the
    // server's bind; then start again with another.
    for (int attempt = 0; attempt < 3 && !server_; ++attempt) {
      int port = FreeLoopbackPort();
      ASSERT_GT(port, 0);
      address_ = "tcp://127.0.0.1:" + std::to_string(port);
      server_ = std::make_unique<Child>(
          std::vector<std::string>{COFFER_BINARY, "serve", "-r", repo_, "--foreground", "--listen",
                                   address_, "--tls-cert", tmp_ / "server.crt", "--tls-key",
                                   tmp_ / "server.key", "--token-file", token_file_},
          std::vector<std::string>{});
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!Listening(port) && std::chrono::steady_clock::now() < deadline &&
             kill(server_->pid(), 0) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling, not a sync
      }
      if (!Listening(port)) server_.reset();
    }
    ASSERT_TRUE(server_) << "coffer serve did not listen on " << address_;
  }

  void TearDown() override {
    if (server_) {
      kill(server_->pid(), SIGTERM);
      Output o = server_->Wait();
      EXPECT_EQ(o.code, 0) << o.all();
      server_.reset();
    }
  }

  // `coffer --server ADDRESS --tls-ca server.crt ARGS` with the passphrase
  // and `env`; no -r.
  Output Remote(const std::vector<std::string>& args, std::vector<std::string> env,
                const std::string& ca = "server") {
    std::vector<std::string> argv = {"--server", address_, "--tls-ca", tmp_ / (ca + ".crt")};
    argv.insert(argv.end(), args.begin(), args.end());
    env.push_back("COFFER_PASSPHRASE=" + passphrase_);
    return CofferRaw(argv, env);
  }
  std::vector<std::string> TokenEnv() const { return {std::string("COFFER_TOKEN=") + kToken}; }

  std::string token_file_;
  std::string source_;
  std::string address_;
  std::unique_ptr<Child> server_;
};

TEST_F(ServerTlsTest, BackupSnapshotsAndCatThroughTheServer) {
  Output backup = Remote({"backup", "--json", "--group", group_, "--time", "2026-01-02T03:04:05Z",
                          source_},
                         TokenEnv());
  ASSERT_EQ(backup.code, 0) << backup.all();
  std::string snapshot = group_ + "/2026-01-02T03:04:05Z";

  Output list = Remote({"snapshots"}, TokenEnv());
  ASSERT_EQ(list.code, 0) << list.all();
  EXPECT_NE(list.out.find("2026-01-02T03:04:05Z  " + group_), std::string::npos) << list.out;

  Output cat = Remote({"cat", snapshot, InSnapshot(source_) + "/plain.txt"}, TokenEnv());
  ASSERT_EQ(cat.code, 0) << cat.all();
  EXPECT_EQ(cat.out, testing::ReadFile(source_ + "/plain.txt"));

  // The token from a file, the server from the environment.
  Output by_file = CofferRaw({"--tls-ca", tmp_ / "server.crt", "snapshots"},
                             {"COFFER_SERVER=" + address_, "COFFER_TOKEN_FILE=" + token_file_,
                              "COFFER_PASSPHRASE=" + passphrase_});
  ASSERT_EQ(by_file.code, 0) << by_file.all();
  EXPECT_EQ(by_file.out, list.out);
}

TEST_F(ServerTlsTest, WrongOrMissingTokenOrCaIsRefusedClearly) {
  Output wrong = Remote({"snapshots"}, {"COFFER_TOKEN=not-the-token"});
  EXPECT_EQ(wrong.code, 12) << wrong.all();
  EXPECT_NE(wrong.err.find("the server refused the token"), std::string::npos) << wrong.err;

  Output none = Remote({"snapshots"}, {});
  EXPECT_EQ(none.code, 2) << none.all();
  EXPECT_NE(none.err.find("COFFER_TOKEN"), std::string::npos) << none.err;

  Output other_ca = Remote({"snapshots"}, TokenEnv(), "other");
  EXPECT_EQ(other_ca.code, 1) << other_ca.all();
  EXPECT_NE(other_ca.err.find("cannot reach the server at " + address_), std::string::npos)
      << other_ca.err;

  // Nothing was stored by the refused clients, and the server still serves.
  Output list = Remote({"snapshots", "--json"}, TokenEnv());
  ASSERT_EQ(list.code, 0) << list.all();
  auto json = nlohmann::json::parse(list.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(json.is_array() && json.empty()) << list.out;
}

TEST_F(ServerTlsTest, ServeRefusesTcpWithoutCertificateKeyOrToken) {
  std::string repo2 = tmp_ / "repo";
  Output o = CofferRaw({"serve", "-r", repo2, "--foreground", "--listen", "tcp://127.0.0.1:1",
                        "--tls-cert", tmp_ / "server.crt", "--token-file", token_file_});
  EXPECT_EQ(o.code, 2) << o.all();
  EXPECT_NE(o.err.find("needs --tls-cert FILE, --tls-key FILE and --token-file FILE"),
            std::string::npos)
      << o.err;
  Output unix_with_tls = CofferRaw({"serve", "-r", repo2, "--foreground", "--tls-cert",
                                    tmp_ / "server.crt"});
  EXPECT_EQ(unix_with_tls.code, 2) << unix_with_tls.all();
}

}  // namespace
}  // namespace coffer::e2e
