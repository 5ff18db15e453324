// What the commands that make snapshots (backup, import) share: who and
// where the snapshot is from, and the time it is filed under.
#pragma once

#include <string>

#include "store/repo/repository.h"

namespace coffer::tools {

// The host's name up to its first dot, in letters, digits, '-' and '_'.
std::string ShortHostname();
// The user running the command.
std::string UserName();

// The snapshot time: --time as given (it must be free), or now, moved to the
// next free second if the group already has a snapshot at this one.
Result<int64_t> ChooseTime(Repository& repo, const std::string& group, const std::string& text);

}  // namespace coffer::tools
