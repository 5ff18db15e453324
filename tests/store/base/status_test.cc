#include "store/base/status.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace coffer {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::InvalidArgument("not positive");
  return v;
}

Status Doubled(int v, int* out) {
  COFFER_ASSIGN_OR_RETURN(int parsed, ParsePositive(v));
  *out = parsed * 2;
  return Status::Ok();
}

TEST(StatusTest, ErrnoMapsToCodes) {
  EXPECT_EQ(Status::FromErrno(ENOSPC, "write").code(), Code::kNoSpace);
  EXPECT_EQ(Status::FromErrno(ENOENT, "open").code(), Code::kNotFound);
  EXPECT_EQ(Status::FromErrno(EIO, "read").code(), Code::kIoError);
  EXPECT_NE(Status::FromErrno(ENOSPC, "write x").message().find("write x"), std::string::npos);
}

TEST(StatusTest, AssignOrReturnPropagatesErrors) {
  int out = 0;
  EXPECT_TRUE(Doubled(4, &out).ok());
  EXPECT_EQ(out, 8);
  Status s = Doubled(-1, &out);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(out, 8);
}

TEST(StatusTest, ContextIsPrefixed) {
  Status s = Status::Corruption("bad tag").WithContext("chunk 1234");
  EXPECT_EQ(s.message(), "chunk 1234: bad tag");
  EXPECT_EQ(s.code(), Code::kCorruption);
}

}  // namespace
}  // namespace coffer
