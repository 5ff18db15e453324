// Writing a POSIX pax tar as GNU tar 1.34 writes one with vzdump's flags:
// every member an extended header ('x') of "LENGTH KEY=VALUE\n" records
// (nanosecond times, SCHILY.xattr.*, SCHILY.acl.*, and path, linkpath,
// size, uid, gid where the ustar fields cannot hold them) before its ustar
// header; holes in GNU sparse format 1.0; the end of the archive as two
// zero blocks, padded to a 10240-byte record.
//
// Written here rather than with libarchive: libarchive keeps one mode per
// entry and makes an access ACL's group entry its group bits, while GNU tar
// (and the kernel) put the ACL mask there; an archive written by libarchive
// would extract right but differ from the source under `tar --compare`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace coffer::exporting {

using TarOutputFn = std::function<Status(ByteView)>;

struct TarMember {
  enum class Type : char {
    kFile = '0',
    kHardLink = '1',
    kSymlink = '2',
    kCharDevice = '3',
    kBlockDevice = '4',
    kDirectory = '5',
    kFifo = '6',
  };
  Type type = Type::kFile;
  std::string path;      // "./etc/hosts"; a directory's ends in '/'
  std::string linkpath;  // hard link target or symlink target
  uint32_t mode = 0;     // permission bits only
  uint32_t uid = 0, gid = 0;
  std::string user, group;  // empty: none written (--numeric-owner)
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t size = 0;  // a file's length, holes included
  // A file with holes: its data regions (offset, length) in order, each but
  // the last whole 512-byte blocks (GNU tar reads them so; see
  // WholeBlockRegions); the data written is then only those regions' bytes.
  std::optional<std::vector<std::pair<uint64_t, uint64_t>>> sparse_map;
  std::vector<std::pair<std::string, std::string>>
      records;  // extra pax records, e.g. SCHILY.xattr.*
};

class PaxWriter {
 public:
  explicit PaxWriter(TarOutputFn out) : out_(std::move(out)) {}

  // Writes the member's headers. For a file, its data follows through
  // WriteData: `size` bytes, or for a sparse file its regions' bytes.
  Status Begin(const TarMember& member);
  Status WriteData(ByteView data);
  // Ends the archive; kInvalidArgument if a file's data is short.
  Status Finish();

 private:
  Status Emit(ByteView bytes);
  Status EndMember();

  TarOutputFn out_;
  uint64_t data_left_ = 0;  // of the current member
  uint64_t data_size_ = 0;  // its data as stored, for the padding
  uint64_t written_ = 0;    // bytes of the archive so far
};

}  // namespace coffer::exporting
