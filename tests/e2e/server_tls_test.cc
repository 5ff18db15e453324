// A backup server for other hosts, end to end: `coffer serve --listen
// tcp://127.0.0.1:PORT` with TLS, a full token and an append-only token runs
// as a child process, and commands reach it with --server, --tls-ca and a
// token, with no -r and no repository folder of their own. Loopback only.
#include <signal.h>
#include <sys/stat.h>
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
constexpr const char* kAppendToken = "e2e-append-only-token-81d3e0";
constexpr const char* kAppendOnlyRefused =
    "the server allows this token to add and read snapshots only (append-only): "
    "forget/prune/gc need a full token";

class ServerTlsTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    ASSERT_TRUE(MakeCert(tmp_.path(), "server"));
    ASSERT_TRUE(MakeCert(tmp_.path(), "other"));
    token_file_ = tmp_ / "token";
    testing::WriteFile(token_file_, std::string(kToken) + "\n");
    append_token_file_ = tmp_ / "append-token";
    testing::WriteFile(append_token_file_, std::string(kAppendToken) + "\n");
    source_ = tmp_ / "src";
    testing::MakeKitchenSinkTree(source_);
    StartServer({"--token-file", token_file_, "--append-only-token-file", append_token_file_});
  }

  void TearDown() override { StopServer(); }

  // Starts `coffer serve` on a free loopback port with the certificate and
  // `tokens` (its token options) and waits until it listens.
  void StartServer(const std::vector<std::string>& tokens) {
    server_ = StartTlsServer(repo_, tmp_.path(), tokens, &address_);
    ASSERT_TRUE(server_) << "coffer serve did not listen on " << address_;
  }

  void StopServer() {
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
  std::vector<std::string> AppendEnv() const { return {"COFFER_TOKEN_FILE=" + append_token_file_}; }
  // `snapshots --json` through the full token.
  nlohmann::json ListWithFullToken() {
    Output list = Remote({"snapshots", "--json"}, TokenEnv());
    EXPECT_EQ(list.code, 0) << list.all();
    return nlohmann::json::parse(list.out, nullptr, /*allow_exceptions=*/false);
  }
  // Expects `o` to be the server's refusal of an append-only token: exit 13
  // and the message, once, on one line.
  void ExpectRefused(const Output& o, const std::string& what) {
    EXPECT_EQ(o.code, 13) << what << ": " << o.all();
    size_t at = o.err.find(kAppendOnlyRefused);
    ASSERT_NE(at, std::string::npos) << what << ": " << o.err;
    EXPECT_EQ(o.err.find(kAppendOnlyRefused, at + 1), std::string::npos) << what << ": " << o.err;
    size_t line_start = o.err.rfind('\n', at);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    EXPECT_EQ(o.err.substr(line_start, 8), "coffer: ") << what << ": " << o.err;
    EXPECT_EQ(o.err.find('\n', at), at + std::string(kAppendOnlyRefused).size())
        << what << ": " << o.err;
  }

  std::string token_file_;
  std::string append_token_file_;
  std::string source_;
  std::string address_;
  std::unique_ptr<Child> server_;
};

TEST_F(ServerTlsTest, BackupSnapshotsAndCatThroughTheServer) {
  Output backup =
      Remote({"backup", "--json", "--group", group_, "--time", "2026-01-02T03:04:05Z", source_},
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
  Output unix_with_tls =
      CofferRaw({"serve", "-r", repo2, "--foreground", "--tls-cert", tmp_ / "server.crt"});
  EXPECT_EQ(unix_with_tls.code, 2) << unix_with_tls.all();
  Output unix_with_token = CofferRaw(
      {"serve", "-r", repo_, "--foreground", "--append-only-token-file", append_token_file_});
  EXPECT_EQ(unix_with_token.code, 2) << unix_with_token.all();
}

TEST_F(ServerTlsTest, ServeRefusesAnAppendOnlyTokenThatIsTheFullToken) {
  testing::WriteFile(tmp_ / "same", std::string(kToken) + "\n");
  Output o = CofferRaw({"serve", "-r", repo_, "--foreground", "--listen", "tcp://127.0.0.1:1",
                        "--tls-cert", tmp_ / "server.crt", "--tls-key", tmp_ / "server.key",
                        "--token-file", token_file_, "--append-only-token-file", tmp_ / "same"});
  EXPECT_EQ(o.code, 2) << o.all();
  EXPECT_NE(o.err.find("must differ"), std::string::npos) << o.err;
}

// What ransomware on a client host could do with the client's token: with
// an append-only token, back up, list, restore and verify, but never remove,
// protect, unprotect or record a verification.
TEST_F(ServerTlsTest, AppendOnlyTokenAddsAndReadsButCannotRemoveAnything) {
  const std::string first = group_ + "/2026-01-02T03:04:05Z";
  const std::string second = group_ + "/2026-01-03T03:04:05Z";
  const std::string third = group_ + "/2026-01-04T03:04:05Z";
  for (const char* time :
       {"2026-01-02T03:04:05Z", "2026-01-03T03:04:05Z", "2026-01-04T03:04:05Z"}) {
    Output backup = Remote({"backup", "--group", group_, "--time", time, source_}, AppendEnv());
    ASSERT_EQ(backup.code, 0) << backup.all();
  }
  Output list = Remote({"snapshots"}, AppendEnv());
  ASSERT_EQ(list.code, 0) << list.all();
  EXPECT_NE(list.out.find("2026-01-02T03:04:05Z  " + group_), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("2026-01-03T03:04:05Z  " + group_), std::string::npos) << list.out;
  const std::string target = tmp_ / "restored";
  Output restore = Remote({"restore", first, "--target", target}, AppendEnv());
  ASSERT_EQ(restore.code, 0) << restore.all();
  for (const auto& d : Compare(source_, target)) ADD_FAILURE() << d;
  Output cat = Remote({"cat", second, InSnapshot(source_) + "/plain.txt"}, AppendEnv());
  ASSERT_EQ(cat.code, 0) << cat.all();
  EXPECT_EQ(cat.out, testing::ReadFile(source_ + "/plain.txt"));

  // The newest protected with the full token, for unprotect to try; prune
  // --keep-last 1 then keeps it and the second, and would remove the first.
  ASSERT_EQ(Remote({"protect", third}, TokenEnv()).code, 0);
  const nlohmann::json before = ListWithFullToken();
  ASSERT_TRUE(before.is_array() && before.size() == 3u) << before.dump();

  ExpectRefused(Remote({"forget", first}, AppendEnv()), "forget");
  ExpectRefused(Remote({"forget", first, second}, AppendEnv()), "forget of two");
  Output dry_run = Remote({"prune", "--keep-last", "1", "--dry-run"}, AppendEnv());
  EXPECT_EQ(dry_run.code, 0) << dry_run.all();  // reading the plan is allowed
  EXPECT_NE(dry_run.err.find("would remove 1 of 3"), std::string::npos) << dry_run.all();
  ExpectRefused(Remote({"prune", "--keep-last", "1"}, AppendEnv()), "prune");
  ExpectRefused(Remote({"gc"}, AppendEnv()), "gc");
  ExpectRefused(Remote({"protect", first}, AppendEnv()), "protect");
  ExpectRefused(Remote({"unprotect", third}, AppendEnv()), "unprotect");
  // verify reads everything back, then may not record the outcome.
  Output verify = Remote({"verify"}, AppendEnv());
  ExpectRefused(verify, "verify");
  EXPECT_NE(verify.err.find("no damage found"), std::string::npos) << verify.err;
  EXPECT_NE(verify.err.find("the outcome could not be recorded in the snapshots"),
            std::string::npos)
      << verify.err;

  // Everything is as it was: three snapshots, one protected, none verified.
  EXPECT_EQ(ListWithFullToken(), before);
  for (const auto& s : before) {
    EXPECT_TRUE(s.value("last_verify", nlohmann::json()).is_null()) << s.dump();
  }
  // gc freed nothing either: the snapshots still restore.
  Output restore_second = Remote({"restore", second, "--target", tmp_ / "second"}, AppendEnv());
  ASSERT_EQ(restore_second.code, 0) << restore_second.all();
  for (const auto& d : Compare(source_, tmp_ / "second")) ADD_FAILURE() << d;

  // The full token may do it all.
  Output verified = Remote({"verify"}, TokenEnv());
  EXPECT_EQ(verified.code, 0) << verified.all();
  ASSERT_EQ(Remote({"unprotect", third}, TokenEnv()).code, 0);
  Output forget = Remote({"forget", first}, TokenEnv());
  EXPECT_EQ(forget.code, 0) << forget.all();
  Output gc = Remote({"gc"}, TokenEnv());
  EXPECT_EQ(gc.code, 0) << gc.all();
  EXPECT_EQ(ListWithFullToken().size(), 2u);
}

// The server's own host needs no --server and no token: the TCP server
// also answers on the repository's socket, with full rights, as a server
// started on demand would (it could not start one: the database is held).
TEST_F(ServerTlsTest, CommandsOnTheServersOwnHostUseTheRepositorySocketWithFullRights) {
  Output remote_backup =
      Remote({"backup", "--group", group_, "--time", "2026-01-02T03:04:05Z", source_}, AppendEnv());
  ASSERT_EQ(remote_backup.code, 0) << remote_backup.all();

  const std::string socket = repo_ + "/serve.sock";
  struct stat st;
  ASSERT_EQ(lstat(socket.c_str(), &st), 0) << socket;
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // What the remote client stored, seen locally; what is stored locally,
  // seen remotely: one server.
  nlohmann::json local = Snapshots();
  ASSERT_EQ(local.size(), 1u) << local.dump();
  Backup({source_}, {"--time", "2026-01-03T03:04:05Z"});
  ASSERT_EQ(ListWithFullToken().size(), 2u);

  // Full rights locally, where the append-only token is refused.
  const std::string first = group_ + "/2026-01-02T03:04:05Z";
  ExpectRefused(Remote({"forget", first}, AppendEnv()), "forget");
  Output forget = Coffer({"forget", first});
  EXPECT_EQ(forget.code, 0) << forget.all();
  EXPECT_EQ(ListWithFullToken().size(), 1u);

  // The socket goes with the server; the next command starts one of its own.
  StopServer();
  EXPECT_NE(lstat(socket.c_str(), &st), 0) << socket << " outlived its server";
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(ServerTlsTest, AServerMayHaveOnlyAppendOnlyTokens) {
  StopServer();
  StartServer({"--append-only-token-file", append_token_file_});
  ASSERT_TRUE(server_);
  Output backup =
      Remote({"backup", "--group", group_, "--time", "2026-01-02T03:04:05Z", source_}, AppendEnv());
  ASSERT_EQ(backup.code, 0) << backup.all();
  ExpectRefused(Remote({"forget", group_ + "/latest"}, AppendEnv()), "forget");
  Output full = Remote({"snapshots"}, TokenEnv());
  EXPECT_EQ(full.code, 12) << full.all();
  EXPECT_NE(full.err.find("the server refused the token"), std::string::npos) << full.err;
  Output list = Remote({"snapshots", "--json"}, AppendEnv());
  ASSERT_EQ(list.code, 0) << list.all();
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 1u) << list.out;
}

}  // namespace
}  // namespace coffer::e2e
