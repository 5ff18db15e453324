// ExitCodeFor: the one mapping from a failure to coffer's exit code, which
// man/coffer.1 documents and tests/e2e/exit_codes_test.cc checks end to end.
#include "tools/exit_codes.h"

#include <gtest/gtest.h>

namespace coffer::tools {
namespace {

TEST(ExitCodeForTest, EachCodeHasItsExitCode) {
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(Status::InvalidArgument("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status::Corruption("x")), 4);
  EXPECT_EQ(ExitCodeFor(Status::Busy("x")), 11);
  EXPECT_EQ(ExitCodeFor(Status::Unauthenticated("x")), 12);
  EXPECT_EQ(ExitCodeFor(Status::PermissionDenied("x")), 13);
  // Everything else is 1; the message says what.
  EXPECT_EQ(ExitCodeFor(Status::NotFound("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::IoError("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::NoSpace("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::AlreadyExists("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::Unsupported("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::Aborted("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::FailedPrecondition("x")), 1);
}

TEST(ExitCodeForTest, NotFoundWhileOpeningARepositoryIsNoRepository) {
  EXPECT_EQ(ExitCodeFor(Status::NotFound("x"), FailedStep::kOpeningRepository), 10);
  // Only kNotFound changes meaning there.
  EXPECT_EQ(ExitCodeFor(Status::Ok(), FailedStep::kOpeningRepository), 0);
  EXPECT_EQ(ExitCodeFor(Status::Corruption("x"), FailedStep::kOpeningRepository), 4);
  EXPECT_EQ(ExitCodeFor(Status::Busy("x"), FailedStep::kOpeningRepository), 11);
  EXPECT_EQ(ExitCodeFor(Status::Unauthenticated("x"), FailedStep::kOpeningRepository), 12);
  EXPECT_EQ(ExitCodeFor(Status::IoError("x"), FailedStep::kOpeningRepository), 1);
}

TEST(ExitCodeForTest, DamageMetWhileImportingIsTheArchives) {
  EXPECT_EQ(ExitCodeFor(Status::Corruption("x"), FailedStep::kImportingArchive), 5);
  // Only kCorruption changes meaning there: a missing archive is not a
  // missing repository.
  EXPECT_EQ(ExitCodeFor(Status::NotFound("x"), FailedStep::kImportingArchive), 1);
  EXPECT_EQ(ExitCodeFor(Status::InvalidArgument("x"), FailedStep::kImportingArchive), 2);
  EXPECT_EQ(ExitCodeFor(Status::Busy("x"), FailedStep::kImportingArchive), 11);
}

TEST(ExitCodeForTest, TheNamedCodesAreTheDocumentedNumbers) {
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitError, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitIncomplete, 3);
  EXPECT_EQ(kExitDamaged, 4);
  EXPECT_EQ(kExitBadArchive, 5);
  EXPECT_EQ(kExitNoRepository, 10);
  EXPECT_EQ(kExitLocked, 11);
  EXPECT_EQ(kExitWrongPassphrase, 12);
  EXPECT_EQ(kExitNotAllowed, 13);
  EXPECT_EQ(kExitJobRunning, 14);
  EXPECT_EQ(kExitStale, 15);
  EXPECT_EQ(kExitInterrupted, 130);
}

}  // namespace
}  // namespace coffer::tools
