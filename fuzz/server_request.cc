// Every request of the object service (store/service/service.proto), as a
// client process or a remote host sends it, through a real ObjectServer on a
// unix socket in this process, serving a real LocalObjectStore (RocksDB) in a
// temporary folder. The store keeps what earlier inputs put in it.
//
// Input: [method][request]. The method is the first byte modulo the number
// of calls; the rest is that call's request message. Unless bit 7 of the
// first byte is set, the protocol version is set to the server's, so most
// inputs get past the version check. Property: the server answers every
// call (a handler that crashes, hangs or throws shows up here).
#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <thread>

#include "fuzz/fuzz_util.h"
#include "store/objects/local_object_store.h"
#include "store/service/address.h"
#include "store/service/limits.h"
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

// A handler's own errors carry their coffer code (grpc_status.h); gRPC's
// UNAVAILABLE or DEADLINE_EXCEEDED without one mean the server did not answer.
void CheckAnswered(const grpc::Status& status) {
  const bool from_handler = status.error_details().starts_with("coffer-code:");
  if (!from_handler && (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    fuzz::Fail("the server did not answer: " + status.error_message());
  }
}

// Parses `bytes` as Req, calls `method` with it and checks that the server answered.
template <typename Req, typename Resp, typename Call>
void Unary(ByteView bytes, bool keep_version, Call call) {
  Req req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  if (!keep_version) req.set_protocol_version(kProtocolVersion);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  Resp resp;
  CheckAnswered(call(&ctx, req, &resp));
}

template <typename Req, typename Resp, typename Call>
void Streaming(ByteView bytes, bool keep_version, Call call) {
  Req req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  if (!keep_version) req.set_protocol_version(kProtocolVersion);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = call(&ctx, req);
  Resp page;
  while (reader->Read(&page)) {
  }
  CheckAnswered(reader->Finish());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = MakeEnv();
  if (size < 1) return 0;
  const bool keep_version = (data[0] & 0x80) != 0;
  const ByteView bytes(data + 1, size - 1);
  ObjectService::Stub& s = *env->stub;
  using C = grpc::ClientContext;
  switch ((data[0] & 0x7f) % 18) {
    case 0:
      Unary<HelloRequest, HelloResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.Hello(c, q, r); });
      break;
    case 1:
      Unary<GetMetaRequest, GetMetaResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.GetMeta(c, q, r); });
      break;
    case 2:
      Unary<PutMetaRequest, PutMetaResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.PutMeta(c, q, r); });
      break;
    case 3:
      Unary<ContainsRequest, ContainsResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.Contains(c, q, r); });
      break;
    case 4:
      Unary<PutObjectsRequest, PutObjectsResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.PutObjects(c, q, r); });
      break;
    case 5:
      Unary<GetRequest, GetResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.Get(c, q, r); });
      break;
    case 6:
      Unary<GetObjectsRequest, GetObjectsResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.GetObjects(c, q, r); });
      break;
    case 7:
      Unary<CommitSnapshotRequest, CommitSnapshotResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.CommitSnapshot(c, q, r); });
      break;
    case 8:
      Streaming<ListSnapshotsRequest, ListSnapshotsResponse>(bytes, keep_version, [&](C* c, auto& q) { return s.ListSnapshots(c, q); });
      break;
    case 9:
      Unary<DeleteSnapshotRequest, DeleteSnapshotResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.DeleteSnapshot(c, q, r); });
      break;
    case 10:
      Unary<SetSnapshotProtectedRequest, SetSnapshotProtectedResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.SetSnapshotProtected(c, q, r); });
      break;
    case 11:
      Unary<SetSnapshotNoteRequest, SetSnapshotNoteResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.SetSnapshotNote(c, q, r); });
      break;
    case 12:
      Unary<BeginWriteRequest, BeginWriteResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.BeginWrite(c, q, r); });
      break;
    case 13:
      Unary<EndWriteRequest, EndWriteResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.EndWrite(c, q, r); });
      break;
    case 14:
      Streaming<BeginGcRequest, BeginGcResponse>(bytes, keep_version, [&](C* c, auto& q) { return s.BeginGc(c, q); });
      break;
    case 15:
      Unary<AddGcMarksRequest, AddGcMarksResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.AddGcMarks(c, q, r); });
      break;
    case 16:
      Unary<FinishGcRequest, FinishGcResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.FinishGc(c, q, r); });
      break;
    case 17:
      Unary<AbortGcRequest, AbortGcResponse>(bytes, keep_version, [&](C* c, auto& q, auto* r) { return s.AbortGc(c, q, r); });
      break;
  }
  return 0;
}
