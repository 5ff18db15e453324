#include "store/service/grpc_status.h"

#include <charconv>
#include <optional>
#include <string>

namespace coffer::service {
namespace {

constexpr std::string_view kMarker = "coffer-code:";

grpc::StatusCode GrpcCodeOf(Code code) {
  switch (code) {
    case Code::kOk: return grpc::StatusCode::OK;
    case Code::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case Code::kCorruption: return grpc::StatusCode::DATA_LOSS;
    case Code::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kIoError: return grpc::StatusCode::INTERNAL;
    case Code::kUnauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    case Code::kBusy: return grpc::StatusCode::UNAVAILABLE;
    case Code::kNoSpace: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case Code::kUnsupported: return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kAborted: return grpc::StatusCode::ABORTED;
    case Code::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kPermissionDenied: return grpc::StatusCode::PERMISSION_DENIED;
  }
  return grpc::StatusCode::UNKNOWN;
}

Code CofferCodeOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return Code::kOk;
    case grpc::StatusCode::NOT_FOUND: return Code::kNotFound;
    case grpc::StatusCode::DATA_LOSS: return Code::kCorruption;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE: return Code::kInvalidArgument;
    case grpc::StatusCode::UNAUTHENTICATED: return Code::kUnauthenticated;
    case grpc::StatusCode::PERMISSION_DENIED: return Code::kPermissionDenied;
    case grpc::StatusCode::ALREADY_EXISTS: return Code::kAlreadyExists;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::UNIMPLEMENTED: return Code::kUnsupported;
    case grpc::StatusCode::ABORTED: return Code::kAborted;
    // Without the marker, RESOURCE_EXHAUSTED is gRPC refusing a message that
    // is too large (or a server out of threads): the request was wrong for
    // this server, not the disk full.
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return Code::kInvalidArgument;
    default: return Code::kIoError;
  }
}

std::optional<Code> MarkedCode(const grpc::Status& status) {
  const std::string& details = status.error_details();
  if (details.compare(0, kMarker.size(), kMarker) != 0) return std::nullopt;
  int n = 0;
  const char* begin = details.data() + kMarker.size();
  const char* end = details.data() + details.size();
  auto [ptr, ec] = std::from_chars(begin, end, n);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  if (n <= static_cast<int>(Code::kOk) || n > static_cast<int>(Code::kPermissionDenied)) {
    return std::nullopt;
  }
  return static_cast<Code>(n);
}

}  // namespace

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(GrpcCodeOf(status.code()), status.message(),
                      std::string(kMarker) + std::to_string(static_cast<int>(status.code())));
}

Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  std::optional<Code> marked = MarkedCode(status);
  if (marked) return Status(*marked, status.error_message());
  std::string message = status.error_message();
  if (message.empty()) message = "gRPC status " + std::to_string(status.error_code());
  return Status(CofferCodeOf(status.error_code()), "object service: " + message);
}

bool IsTransportStatus(const grpc::Status& status) {
  return !status.ok() && !MarkedCode(status).has_value();
}

}  // namespace coffer::service
