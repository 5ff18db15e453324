#include "store/base/status.h"

#include <cerrno>
#include <cstring>

namespace coffer {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not found";
    case Code::kCorruption: return "corruption";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kIoError: return "I/O error";
    case Code::kUnauthenticated: return "unauthenticated";
    case Code::kBusy: return "busy";
    case Code::kNoSpace: return "no space";
    case Code::kAlreadyExists: return "already exists";
    case Code::kUnsupported: return "unsupported";
    case Code::kAborted: return "aborted";
    case Code::kFailedPrecondition: return "failed precondition";
    case Code::kPermissionDenied: return "permission denied";
  }
  return "unknown";
}

Status Status::FromErrno(int err, std::string_view what) {
  std::string message = std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT: return NotFound(std::move(message));
    case ENOSPC:
    case EDQUOT: return NoSpace(std::move(message));
    case EEXIST: return AlreadyExists(std::move(message));
    case EINVAL: return InvalidArgument(std::move(message));
    default: return IoError(std::move(message));
  }
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return message_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace coffer
