// What the fuzz targets of the object server share: the calls of the object
// service (store/service/service.proto) in the order an input's first byte
// picks them, and sending one, its request parsed from the input, over a
// stub. Used by server_request (unix socket, full rights) and
// append_only_request (TLS, an append-only token).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "store/base/bytes.h"
#include "store/service/limits.h"
#include "store/service/service.grpc.pb.h"

namespace coffer::fuzz {

// Every call of the service, numbered as inputs pick them. CopyRepository is
// left out: over the unix socket it writes a whole folder wherever its one
// string says (tests cover that string: an absolute path to an absent or
// empty folder), and over TLS it is refused before its request is used.
enum class ServiceCall : uint8_t {
  kHello,
  kGetMeta,
  kPutMeta,
  kContains,
  kPutObjects,
  kGet,
  kGetObjects,
  kCommitSnapshot,
  kListSnapshots,
  kDeleteSnapshot,
  kSetSnapshotProtected,
  kSetSnapshotNote,
  kBeginWrite,
  kEndWrite,
  kBeginGc,
  kAddGcMarks,
  kFinishGc,
  kAbortGc,
  kListMeta,
  kRemoveKeySlot,
  kSetSnapshotNeeds,
};
inline constexpr int kServiceCalls = 21;

// The call an input's first byte picks: its low 7 bits modulo the number of
// calls (bit 7 is the targets' "keep the protocol version" flag).
inline ServiceCall PickCall(uint8_t first_byte) {
  return static_cast<ServiceCall>((first_byte & 0x7f) % kServiceCalls);
}

inline std::string_view CallName(ServiceCall call) {
  constexpr std::string_view kNames[kServiceCalls] = {
      "Hello",
      "GetMeta",
      "PutMeta",
      "Contains",
      "PutObjects",
      "Get",
      "GetObjects",
      "CommitSnapshot",
      "ListSnapshots",
      "DeleteSnapshot",
      "SetSnapshotProtected",
      "SetSnapshotNote",
      "BeginWrite",
      "EndWrite",
      "BeginGc",
      "AddGcMarks",
      "FinishGc",
      "AbortGc",
      "ListMeta",
      "RemoveKeySlot",
      "SetSnapshotNeeds",
  };
  return kNames[static_cast<int>(call)];
}

// A handler's own errors carry their coffer code (grpc_status.h); gRPC's
// UNAVAILABLE or DEADLINE_EXCEEDED without one mean the server did not answer.
inline void CheckAnswered(ServiceCall call, const grpc::Status& status) {
  const bool from_handler = status.error_details().starts_with("coffer-code:");
  if (!from_handler && (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    Fail("the server did not answer " + std::string(CallName(call)) + ": " +
         status.error_message());
  }
}

namespace server_calls_internal {

// Parses `bytes` as Req (nullopt if they are not one) and sets its protocol
// version to the server's unless `keep_version`.
template <typename Req>
std::optional<Req> ParseRequest(ByteView bytes, bool keep_version) {
  Req req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  if (!keep_version) req.set_protocol_version(service::kProtocolVersion);
  return req;
}

// Long enough for any handler on a loaded machine; libFuzzer's -timeout
// reports a hang before it.
inline void SetDeadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

template <typename Req, typename Resp, typename Call>
std::optional<grpc::Status> Unary(ByteView bytes, bool keep_version, Call call) {
  std::optional<Req> req = ParseRequest<Req>(bytes, keep_version);
  if (!req) return std::nullopt;
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  Resp resp;
  return call(&ctx, *req, &resp);
}

// A server-streaming call, its replies read to the end.
template <typename Req, typename Resp, typename Call>
std::optional<grpc::Status> Streaming(ByteView bytes, bool keep_version, Call call) {
  std::optional<Req> req = ParseRequest<Req>(bytes, keep_version);
  if (!req) return std::nullopt;
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  auto reader = call(&ctx, *req);
  Resp page;
  while (reader->Read(&page)) {
  }
  return reader->Finish();
}

}  // namespace server_calls_internal

// Parses `request` as `call`'s request message and sends it over `stub`,
// reading streamed replies to the end. nullopt if the bytes are not such a
// message (nothing is sent); else the call's status, once CheckAnswered
// found that the server answered.
inline std::optional<grpc::Status> SendCall(service::ObjectService::Stub& stub, ServiceCall call,
                                            ByteView request, bool keep_version) {
  using namespace coffer::service;
  using server_calls_internal::Streaming;
  using server_calls_internal::Unary;
  using C = grpc::ClientContext;
  ObjectService::Stub& s = stub;
  const ByteView b = request;
  const bool k = keep_version;
  std::optional<grpc::Status> status;
  switch (call) {
    case ServiceCall::kHello:
      status = Unary<HelloRequest, HelloResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.Hello(c, q, r); });
      break;
    case ServiceCall::kGetMeta:
      status = Unary<GetMetaRequest, GetMetaResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.GetMeta(c, q, r); });
      break;
    case ServiceCall::kPutMeta:
      status = Unary<PutMetaRequest, PutMetaResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.PutMeta(c, q, r); });
      break;
    case ServiceCall::kContains:
      status = Unary<ContainsRequest, ContainsResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.Contains(c, q, r); });
      break;
    case ServiceCall::kPutObjects:
      status = Unary<PutObjectsRequest, PutObjectsResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.PutObjects(c, q, r); });
      break;
    case ServiceCall::kGet:
      status = Unary<GetRequest, GetResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.Get(c, q, r); });
      break;
    case ServiceCall::kGetObjects:
      status = Unary<GetObjectsRequest, GetObjectsResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.GetObjects(c, q, r); });
      break;
    case ServiceCall::kCommitSnapshot:
      status = Unary<CommitSnapshotRequest, CommitSnapshotResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.CommitSnapshot(c, q, r); });
      break;
    case ServiceCall::kListSnapshots:
      status = Streaming<ListSnapshotsRequest, ListSnapshotsResponse>(
          b, k, [&](C* c, auto& q) { return s.ListSnapshots(c, q); });
      break;
    case ServiceCall::kDeleteSnapshot:
      status = Unary<DeleteSnapshotRequest, DeleteSnapshotResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.DeleteSnapshot(c, q, r); });
      break;
    case ServiceCall::kSetSnapshotProtected:
      status = Unary<SetSnapshotProtectedRequest, SetSnapshotProtectedResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.SetSnapshotProtected(c, q, r); });
      break;
    case ServiceCall::kSetSnapshotNote:
      status = Unary<SetSnapshotNoteRequest, SetSnapshotNoteResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.SetSnapshotNote(c, q, r); });
      break;
    case ServiceCall::kBeginWrite:
      status = Unary<BeginWriteRequest, BeginWriteResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.BeginWrite(c, q, r); });
      break;
    case ServiceCall::kEndWrite:
      status = Unary<EndWriteRequest, EndWriteResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.EndWrite(c, q, r); });
      break;
    case ServiceCall::kBeginGc:
      status = Streaming<BeginGcRequest, BeginGcResponse>(
          b, k, [&](C* c, auto& q) { return s.BeginGc(c, q); });
      break;
    case ServiceCall::kAddGcMarks:
      status = Unary<AddGcMarksRequest, AddGcMarksResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.AddGcMarks(c, q, r); });
      break;
    case ServiceCall::kFinishGc:
      status = Unary<FinishGcRequest, FinishGcResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.FinishGc(c, q, r); });
      break;
    case ServiceCall::kAbortGc:
      status = Unary<AbortGcRequest, AbortGcResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.AbortGc(c, q, r); });
      break;
    case ServiceCall::kListMeta:
      status = Unary<ListMetaRequest, ListMetaResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.ListMeta(c, q, r); });
      break;
    case ServiceCall::kRemoveKeySlot:
      status = Unary<RemoveKeySlotRequest, RemoveKeySlotResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.RemoveKeySlot(c, q, r); });
      break;
    case ServiceCall::kSetSnapshotNeeds:
      status = Unary<SetSnapshotNeedsRequest, SetSnapshotNeedsResponse>(
          b, k, [&](C* c, auto& q, auto* r) { return s.SetSnapshotNeeds(c, q, r); });
      break;
  }
  if (status) CheckAnswered(call, *status);
  return status;
}

}  // namespace coffer::fuzz
