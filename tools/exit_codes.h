// The exit codes of every coffer command; man/coffer.1 lists the same table.
#pragma once

#include "store/base/status.h"

namespace coffer::tools {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,          // anything else; the message says what
  kExitUsage = 2,          // unknown option, missing argument, bad value
  kExitIncomplete = 3,     // backup stored, but some sources could not be read;
                           // coffer run: stored, with a warning (post-hook, retention, gc)
  kExitDamaged = 4,        // a stored object failed authentication or its checksum
  kExitBadArchive = 5,     // an archive to import is damaged or not one Coffer reads
  kExitNoRepository = 10,  // no Coffer repository at the given folder
  kExitLocked = 11,        // another process holds the repository
  kExitWrongPassphrase = 12,
  kExitNotAllowed = 13,  // refused by the server: the token does not allow this
  kExitJobRunning = 14,  // coffer run: the job is already running (without --wait)
  kExitStale = 15,       // coffer status: a job's last success is older than its stale-after
  kExitInterrupted = 130,
};

// What a command was doing when it failed, where that changes what a Status
// means to the user.
enum class FailedStep {
  kAny,
  // Opening or reaching a repository (a folder, a server, a bucket, the
  // other side of coffer sync): kNotFound there means no repository (10).
  kOpeningRepository,
  // Importing an archive, which only reads it: kCorruption is the archive's
  // damage (5), not the repository's.
  kImportingArchive,
};

// The one mapping from a Status to an exit code.
inline int ExitCodeFor(const Status& status, FailedStep step = FailedStep::kAny) {
  switch (status.code()) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument: return kExitUsage;
    case Code::kCorruption:
      return step == FailedStep::kImportingArchive ? kExitBadArchive : kExitDamaged;
    case Code::kNotFound:
      return step == FailedStep::kOpeningRepository ? kExitNoRepository : kExitError;
    case Code::kBusy: return kExitLocked;
    case Code::kUnauthenticated: return kExitWrongPassphrase;
    case Code::kPermissionDenied: return kExitNotAllowed;
    default: return kExitError;
  }
}

}  // namespace coffer::tools
