// The one mapping between coffer::Status and grpc::Status, each way.
//
// The server sends the coffer::Code in the status details ("coffer-code:N"),
// so the client gets back exactly the code the local store returned; the gRPC
// code is chosen to mean the same to anyone else. A status without that
// marker (the transport's own, or another server's) is mapped by gRPC code:
// UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED and the like become kIoError.
#pragma once

#include <grpcpp/support/status.h>

#include "store/base/status.h"

namespace coffer::service {

grpc::Status ToGrpcStatus(const Status& status);
Status FromGrpcStatus(const grpc::Status& status);

// True when `status` came from the transport or the gRPC library rather than
// from a coffer server (no code marker).
bool IsTransportStatus(const grpc::Status& status);

}  // namespace coffer::service
