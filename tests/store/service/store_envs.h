// The two ObjectStore implementations as test environments, so one typed
// suite runs against both: LocalObjectStore directly, and RemoteObjectStore
// talking over a real unix socket to an ObjectServer (in this process) that
// serves a LocalObjectStore.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "store/objects/local_object_store.h"
#include "store/service/remote_object_store.h"
#include "store/service/server.h"
#include "tests/store/service/tls_fixtures.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::testing {

class LocalEnv {
 public:
  static constexpr const char* kName = "Local";
  LocalEnv() { Open(/*create=*/true); }
  ObjectStore& store() { return *local_; }
  // Closes and opens the store again: what survives a restart.
  void Reopen() {
    local_.reset();
    Open(/*create=*/false);
  }

 private:
  void Open(bool create) {
    auto store =
        create ? LocalObjectStore::Create(tmp_ / "db") : LocalObjectStore::Open(tmp_ / "db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    local_ = std::move(store).value();
  }
  TempDir tmp_;
  std::unique_ptr<LocalObjectStore> local_;
};

// A LocalObjectStore served by an ObjectServer on a thread of its own, on
// `address` (default: DIR/serve.sock); Connect() uses `connect`.
class ServedStore {
 public:
  explicit ServedStore(const std::string& dir, ObjectStore* store = nullptr,
                       service::ServerOptions options = {}, const std::string& address = {},
                       service::ConnectOptions connect = {})
      : address_(address.empty() ? service::DefaultServiceAddress(dir) : address),
        connect_(std::move(connect)) {
    if (store == nullptr) {
      auto local = LocalObjectStore::Open(dir + "/db");
      if (!local.ok()) local = LocalObjectStore::Create(dir + "/db");
      EXPECT_TRUE(local.ok()) << local.status().ToString();
      local_ = std::move(local).value();
      store = local_.get();
    }
    auto server = service::ObjectServer::Start(*store, address_, options);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    address_ = server_->address().ToString();  // tcp://HOST:0 has its port now
    thread_ = std::thread([this] { (void)server_->Serve(std::chrono::milliseconds(0)); });
  }
  ~ServedStore() {
    server_->Shutdown();
    thread_.join();
    server_.reset();
    local_.reset();
  }
  const std::string& address() const { return address_; }
  service::ObjectServer& server() { return *server_; }

  std::unique_ptr<service::RemoteObjectStore> Connect() {
    auto remote = service::RemoteObjectStore::Connect(address_, connect_);
    EXPECT_TRUE(remote.ok()) << remote.status().ToString();
    return remote.ok() ? std::move(remote).value() : nullptr;
  }

 private:
  std::string address_;
  service::ConnectOptions connect_;
  std::unique_ptr<LocalObjectStore> local_;
  std::unique_ptr<service::ObjectServer> server_;
  std::thread thread_;
};

class RemoteEnv {
 public:
  static constexpr const char* kName = "Remote";
  // tls: over tcp://127.0.0.1 with TLS and a token rather than a unix socket.
  explicit RemoteEnv(bool tls = false) : tls_(tls) { Open(); }
  ~RemoteEnv() {
    remote_.reset();
    served_.reset();
  }
  ObjectStore& store() { return *remote_; }
  // The client goes, the server stops and closes the database, then both
  // come back.
  void Reopen() {
    remote_.reset();
    served_.reset();
    Open();
  }

 private:
  void Open() {
    served_ = tls_ ? std::make_unique<ServedStore>(tmp_.path(), nullptr, TlsServerOptions(),
                                                   kLoopbackAnyPort, TlsConnectOptions())
                   : std::make_unique<ServedStore>(tmp_.path());
    remote_ = served_->Connect();
    ASSERT_NE(remote_, nullptr);
  }
  bool tls_;
  TempDir tmp_;
  std::unique_ptr<ServedStore> served_;
  std::unique_ptr<service::RemoteObjectStore> remote_;
};

// RemoteEnv over TLS: tcp://127.0.0.1, a self-signed certificate, a token.
class TlsEnv : public RemoteEnv {
 public:
  static constexpr const char* kName = "Tls";
  TlsEnv() : RemoteEnv(/*tls=*/true) {}
};

}  // namespace coffer::testing
