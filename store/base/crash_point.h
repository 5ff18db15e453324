// CrashPoint: a seam for crash-safety tests. When the environment variable
// COFFER_CRASH_AT is "NAME" or "NAME:N", the process kills itself with SIGKILL
// at the first (or Nth) time it passes the point NAME, exactly as a power cut
// or `kill -9` would stop it there. Unset, a point costs one relaxed load.
#pragma once

#include <string_view>

namespace coffer {

void CrashPoint(std::string_view name);

}  // namespace coffer
