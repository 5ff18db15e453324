// Every request of the object service (store/service/service.proto), as a
// client process or a remote host sends it, through a real ObjectServer on a
// unix socket in this process, serving a real LocalObjectStore (RocksDB) in a
// temporary folder. The store keeps what earlier inputs put in it.
//
// Input: [method][request]. The method is the first byte's low 7 bits
// modulo the number of calls (server_calls.h); the rest is that call's
// request message. Unless bit 7 of the
// first byte is set, the protocol version is set to the server's, so most
// inputs get past the version check. Property: the server answers every
// call (a handler that crashes, hangs or throws shows up here).
#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "fuzz/fuzz_util.h"
#include "fuzz/server_calls.h"
#include "store/objects/local_object_store.h"
#include "store/service/address.h"
#include "store/service/server.h"
#include "store/service/service.grpc.pb.h"

using namespace coffer;
using namespace coffer::service;

namespace {

struct Env {
  std::string dir;
  std::unique_ptr<LocalObjectStore> store;
  std::unique_ptr<ObjectServer> server;
  std::thread serving;
  std::unique_ptr<ObjectService::Stub> stub;
};

// Made once and never destroyed: the server serves until the process exits.
Env* MakeEnv() {
  auto* env = new Env;
  // In memory where there is a tmpfs: commits and collections sync the database.
  std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm/coffer-fuzz-server-XXXXXX"
                                                  : "/tmp/coffer-fuzz-server-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) fuzz::Fail("mkdtemp");
  env->dir = dir;
  auto store = LocalObjectStore::Create(env->dir + "/db");
  if (!store.ok()) fuzz::Fail("cannot create the store: " + store.status().message());
  env->store = std::move(store).value();
  ServerOptions options;
  options.repository_format = 1;
  auto server = ObjectServer::Start(*env->store, DefaultServiceAddress(env->dir), options);
  if (!server.ok()) fuzz::Fail("cannot start the server: " + server.status().message());
  env->server = std::move(server).value();
  env->serving = std::thread([env] { (void)env->server->Serve(std::chrono::milliseconds(0)); });
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  env->stub = ObjectService::NewStub(grpc::CreateCustomChannel(
      "unix:" + env->dir + "/serve.sock", grpc::InsecureChannelCredentials(), args));
  std::fprintf(stderr, "server_request: serving a store in %s\n", env->dir.c_str());
  // The folder goes when libFuzzer exits; the server's files are unlinked
  // under it, which the process still serving them does not notice.
  static std::string* folder = &env->dir;
  std::atexit([] { std::filesystem::remove_all(*folder); });
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = MakeEnv();
  if (size < 1) return 0;
  const bool keep_version = (data[0] & 0x80) != 0;
  (void)fuzz::SendCall(*env->stub, fuzz::PickCall(data[0]), ByteView(data + 1, size - 1),
                       keep_version);
  return 0;
}
