// Internal to store/kv: the one place where a rocksdb::Status becomes a
// coffer::Status. Never include this header outside store/kv.
#pragma once

#include <rocksdb/status.h>

#include <string_view>

#include "store/base/status.h"

namespace coffer::kv {

// Maps `s` to a coffer::Status whose message starts with `context`:
//   Corruption -> kCorruption        NotFound, missing path -> kNotFound
//   no space on device -> kNoSpace   lock held (this or another process) -> kBusy
//   "does not exist (create_if_missing is false)" -> kNotFound
//   "exists (error_if_exists is true)" -> kAlreadyExists
//   NotSupported -> kUnsupported     InvalidArgument -> kInvalidArgument
//   everything else (IOError, Incomplete, TimedOut, ...) -> kIoError
Status FromRocks(const rocksdb::Status& s, std::string_view context);

}  // namespace coffer::kv
