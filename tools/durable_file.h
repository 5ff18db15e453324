// Writing a small file so that a crash leaves the old one or the new one:
// key files, and the metrics file of coffer status --prometheus.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "store/base/status.h"

namespace coffer::tools {

// Writes `text` to `path` with mode 0600, durably: through a temporary file
// renamed over it. kAlreadyExists if `path` exists and !replace.
Status WriteSecretFile(const std::string& path, std::string_view text, bool replace);
// Writes `text` to `path` with mode `mode` (whatever the umask), durably and
// atomically: PATH.tmp in the same folder, fsync, renamed over `path`, the
// folder synced. A reader sees the old file or the new one, never a part.
// Two writers of the same path at once are not expected (PATH.tmp is shared).
Status ReplaceFileDurably(const std::string& path, std::string_view text, mode_t mode);

}  // namespace coffer::tools
