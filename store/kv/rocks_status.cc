#include "store/kv/rocks_status.h"

#include <string>

namespace coffer::kv {
namespace {

bool Mentions(const rocksdb::Status& s, std::string_view text) {
  // getState() is the message without the "IO error: " prefix; may be null.
  const char* state = s.getState();
  return state != nullptr && std::string_view(state).find(text) != std::string_view::npos;
}

}  // namespace

Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::Ok();
  std::string message = std::string(context) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(message));
  if (s.IsNoSpace() || Mentions(s, "No space left")) return Status::NoSpace(std::move(message));
  // PosixFileSystem::LockFile: "lock hold by current process" within one
  // process, flock()'s EAGAIN ("Resource temporarily unavailable") across two.
  if (Mentions(s, "lock hold") || Mentions(s, "Resource temporarily unavailable")) {
    return Status::Busy(std::move(message));
  }
  if (s.IsNotFound() || s.IsPathNotFound() || Mentions(s, "create_if_missing is false")) {
    return Status::NotFound(std::move(message));
  }
  if (Mentions(s, "error_if_exists is true")) return Status::AlreadyExists(std::move(message));
  if (s.IsNotSupported()) return Status::Unsupported(std::move(message));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(message));
  return Status::IoError(std::move(message));
}

}  // namespace coffer::kv
