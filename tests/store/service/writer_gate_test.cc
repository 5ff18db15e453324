// ObjectServer::CloseToNewWritersIf: how a command that served its own
// database hands it over. It closes only when no one writes, and from then
// on a new backup or gc is told the server is gone, so that it starts a
// server of its own instead of registering with one about to close.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

#include "tests/store/objects/test_objects.h"
#include "tests/store/service/store_envs.h"

namespace coffer::service {
namespace {

using namespace std::chrono_literals;
using coffer::testing::TempDir;

class WriterGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(local_.ok()) << local_.status().ToString();
    auto server = ObjectServer::Start(**local_, address_, ServerOptions{});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    served_ = std::async(std::launch::async, [this] { return server_->Serve(0ms); });
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    if (served_.valid()) {
      EXPECT_TRUE(served_.get().ok());
    }
  }
  // A client that counts how often it would start a server of its own.
  std::unique_ptr<RemoteObjectStore> Connect() {
    ConnectOptions options;
    options.restart_server = [this] {
      ++restarts_;
      return Status::NotFound("no other server in this test");
    };
    auto remote = RemoteObjectStore::Connect(address_, options);
    EXPECT_TRUE(remote.ok()) << remote.status().ToString();
    return remote.ok() ? std::move(remote).value() : nullptr;
  }
  bool NoOneWrites() { return !(*local_)->HasWritersOrCollection(); }

  TempDir tmp_;
  Result<std::unique_ptr<LocalObjectStore>> local_ = LocalObjectStore::Create(tmp_ / "db");
  std::string address_ = DefaultServiceAddress(tmp_.path());
  std::unique_ptr<ObjectServer> server_;
  std::future<Status> served_;
  std::atomic<int> restarts_{0};
};

TEST_F(WriterGateTest, StaysOpenWhileAWriterIsRegistered) {
  auto remote = Connect();
  ASSERT_NE(remote, nullptr);
  auto writer = remote->BeginWrite(std::nullopt);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  EXPECT_FALSE(NoOneWrites());
  EXPECT_FALSE(server_->CloseToNewWritersIf([this] { return NoOneWrites(); }));
  // Still open: another writer registers.
  auto second = remote->BeginWrite(std::nullopt);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(remote->EndWrite(*writer).ok());
  ASSERT_TRUE(remote->EndWrite(*second).ok());
  EXPECT_TRUE(NoOneWrites());
  EXPECT_TRUE(server_->CloseToNewWritersIf([this] { return NoOneWrites(); }));
  EXPECT_EQ(restarts_.load(), 0);
}

TEST_F(WriterGateTest, StaysOpenWhileACollectionRuns) {
  auto remote = Connect();
  ASSERT_NE(remote, nullptr);
  auto gc = remote->BeginGc();
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_FALSE(server_->CloseToNewWritersIf([this] { return NoOneWrites(); }));
  ASSERT_TRUE(remote->AbortGc(gc->gc_id).ok());
  EXPECT_TRUE(server_->CloseToNewWritersIf([this] { return NoOneWrites(); }));
}

TEST_F(WriterGateTest, OnceClosedANewWriterIsSentToAServerOfItsOwn) {
  auto remote = Connect();
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(server_->CloseToNewWritersIf([this] { return NoOneWrites(); }));

  auto writer = remote->BeginWrite(std::nullopt);
  EXPECT_FALSE(writer.ok());
  auto gc = remote->BeginGc();
  EXPECT_FALSE(gc.ok());
  // Each was taken for a server gone away: the client tried to start one.
  EXPECT_EQ(restarts_.load(), 2);
  EXPECT_TRUE(NoOneWrites()) << "a refused call registered anyway";
  // Everything else is still served until the server stops.
  EXPECT_TRUE(remote->ListSnapshots("").ok());
}

}  // namespace
}  // namespace coffer::service
