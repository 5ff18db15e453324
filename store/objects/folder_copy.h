// Copying a whole repository folder file by file: how a first sync of every
// snapshot into a new folder goes (store/sync/sync.h), at the speed of cp
// and durably, instead of object by object. Offered by the stores whose
// repository is a folder on this host: the one OpenLocalStore() opens, and
// the client of a server listening on a unix socket, which asks the server
// that owns the database.
#pragma once

#include <cstdint>
#include <string>

#include "store/base/status.h"

namespace coffer {

struct FolderCopyReport {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t snapshots = 0;
  uint64_t objects = 0;  // chunks and trees
  uint64_t needs_lists = 0;
};

class FolderCopySource {
 public:
  // Makes the folder `dir` (absent or empty, an absolute path) a repository
  // that is a copy of this one: the database copied file by file, each file
  // fsynced, the snapshots' protection and notes cleared (each repository's
  // own; sync copies neither), then the marker written. kUnsupported or
  // kPermissionDenied when this store cannot or may not do it: the caller
  // copies object by object instead. On error `dir` holds nothing new.
  virtual Result<FolderCopyReport> CopyRepositoryTo(const std::string& dir) = 0;

 protected:
  ~FolderCopySource() = default;
};

}  // namespace coffer
