#include "store/service/grpc_status.h"

#include <gtest/gtest.h>

namespace coffer::service {
namespace {

TEST(GrpcStatusTest, EveryCodeRoundTripsWithItsMessage) {
  for (int c = static_cast<int>(Code::kNotFound); c <= static_cast<int>(Code::kPermissionDenied);
       ++c) {
    Status original(static_cast<Code>(c), "what happened");
    Status back = FromGrpcStatus(ToGrpcStatus(original));
    EXPECT_EQ(back.code(), original.code()) << CodeName(original.code());
    EXPECT_EQ(back.message(), "what happened");
  }
  EXPECT_TRUE(FromGrpcStatus(ToGrpcStatus(Status::Ok())).ok());
}

TEST(GrpcStatusTest, GrpcCodesMeanTheSameToOtherClients) {
  EXPECT_EQ(ToGrpcStatus(Status::NotFound("")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(Status::Corruption("")).error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(ToGrpcStatus(Status::InvalidArgument("")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcStatus(Status::NoSpace("")).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus(Status::AlreadyExists("")).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ToGrpcStatus(Status::Unsupported("")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToGrpcStatus(Status::Unauthenticated("")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToGrpcStatus(Status::PermissionDenied("")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(GrpcStatusTest, TransportErrorsWithoutMarkerAreMappedByCode) {
  grpc::Status unavailable(grpc::StatusCode::UNAVAILABLE, "connection refused");
  EXPECT_TRUE(IsTransportStatus(unavailable));
  EXPECT_EQ(FromGrpcStatus(unavailable).code(), Code::kIoError);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::DATA_LOSS, "x")).code(),
            Code::kCorruption);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too large")).code(),
            Code::kInvalidArgument);
  // Refused for lack of rights is not a wrong passphrase or token.
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "x")).code(),
            Code::kPermissionDenied);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "x")).code(),
            Code::kUnauthenticated);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "x", "coffer-code:zz")).code(),
            Code::kNotFound);
  EXPECT_FALSE(IsTransportStatus(ToGrpcStatus(Status::Busy("locked"))));
}

}  // namespace
}  // namespace coffer::service
