// Serve(idle_exit): the server of an auto-started `coffer serve` exits once
// no client has used it for a while, and not while one is connected.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <future>

#include "tests/store/objects/test_objects.h"
#include "tests/store/service/store_envs.h"

namespace coffer::service {
namespace {

using namespace std::chrono_literals;
using coffer::testing::TempDir;
using coffer::testing::TestId;
using coffer::testing::TestValue;

// Generous: these assert that Serve() returns, not how fast.
constexpr auto kDeadline = 20s;

class ServerIdleTest : public ::testing::Test {
 protected:
  std::unique_ptr<ObjectServer> Start(std::chrono::milliseconds idle) {
    ServerOptions options;
    options.idle_exit = idle;
    auto server = ObjectServer::Start(**local_, address_, options);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }
  static std::future<Status> ServeAsync(ObjectServer& server, std::chrono::milliseconds idle) {
    return std::async(std::launch::async, [&server, idle] { return server.Serve(idle); });
  }

  TempDir tmp_;
  Result<std::unique_ptr<LocalObjectStore>> local_ = LocalObjectStore::Create(tmp_ / "db");
  std::string address_ = DefaultServiceAddress(tmp_.path());
};

TEST_F(ServerIdleTest, ServeReturnsWhenNoClientCame) {
  auto server = Start(200ms);
  ASSERT_NE(server, nullptr);
  auto served = ServeAsync(*server, 200ms);
  ASSERT_EQ(served.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(served.get().ok());
}

TEST_F(ServerIdleTest, ServeOutlivesAConnectedClientAndReturnsAfterItIsGone) {
  auto server = Start(200ms);
  ASSERT_NE(server, nullptr);
  auto served = ServeAsync(*server, 200ms);
  auto remote = RemoteObjectStore::Connect(address_);
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  EXPECT_EQ((*remote)->server_idle_exit(), 200ms);
  // Idle client: its keep-alive holds the server for several idle periods.
  EXPECT_EQ(served.wait_for(1s), std::future_status::timeout);
  ASSERT_TRUE((*remote)->Put(ObjectKind::kChunk, TestId(1), TestValue(1, 100)).ok());
  ASSERT_TRUE(
      (*remote)
          ->CommitSnapshot({"host/a", 1, TestId(2)}, TestValue(2, 40), kNoWriter, std::nullopt)
          .ok());
  remote->reset();
  ASSERT_EQ(served.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(served.get().ok());
}

TEST_F(ServerIdleTest, ShutdownFromAnotherThreadEndsServe) {
  auto server = Start(0ms);
  ASSERT_NE(server, nullptr);
  auto served = ServeAsync(*server, 0ms);
  EXPECT_EQ(served.wait_for(300ms), std::future_status::timeout);  // never idles out
  server->Shutdown();
  ASSERT_EQ(served.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(served.get().ok());
}

TEST_F(ServerIdleTest, IdleForCountsFromTheLastCall) {
  auto server = Start(0ms);
  ASSERT_NE(server, nullptr);
  auto remote = RemoteObjectStore::Connect(address_);
  ASSERT_TRUE(remote.ok());
  EXPECT_LT(server->IdleFor(), 5s);
  EXPECT_EQ(server->active_calls(), 0);
  std::this_thread::sleep_for(50ms);
  EXPECT_GE(server->IdleFor(), 40ms);
}

TEST_F(ServerIdleTest, SocketFileIsRemovedWhenTheServerStops) {
  auto server = Start(0ms);
  ASSERT_NE(server, nullptr);
  struct stat st;
  ASSERT_EQ(::stat((tmp_ / "serve.sock").c_str(), &st), 0);
  server->Shutdown();
  ASSERT_TRUE(server->Serve(0ms).ok());
  server.reset();
  EXPECT_NE(::stat((tmp_ / "serve.sock").c_str(), &st), 0);
  EXPECT_EQ(RemoteObjectStore::Connect(address_).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace coffer::service
