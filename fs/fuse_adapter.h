// FuseAdapter: the libfuse low-level callbacks. Each is a thin call into
// SnapshotFs (passed as the session's userdata); Status values become errno
// in one place (ErrnoFor), and every exception stops at the callback edge as
// EIO with a log line, so the mount never crashes. Every call that would
// change something answers EROFS.
#pragma once

#include "fs/fuse_includes.h"
#include "fs/snapshot_fs.h"

namespace coffer::fs {

// The errno a failed Status means to a program reading the mount.
int ErrnoFor(const Status& status);

// The callbacks; their userdata must be a SnapshotFs*, live while mounted.
const struct fuse_lowlevel_ops& LowLevelOps();

}  // namespace coffer::fs
