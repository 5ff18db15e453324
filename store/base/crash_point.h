// CrashPoint: a seam for crash-safety tests. When the environment variable
// COFFER_CRASH_AT is "NAME" or "NAME:N", the process kills itself with SIGKILL
// at the first (or Nth) time it passes the point NAME, exactly as a power cut
// or `kill -9` would stop it there. Unset, a point costs one relaxed load.
#pragma once

#include <string_view>

namespace coffer {

void CrashPoint(std::string_view name);

// PausePoint: a seam for concurrency tests. When COFFER_PAUSE_AT is
// "NAME:DIR", the first time the process passes the point NAME it creates
// DIR/NAME.reached and then opens the FIFO DIR/NAME.release for reading,
// which blocks until the test opens it for writing. So a test can hold, say,
// a garbage collection between its mark and its sweep, run a backup, and let
// it go on, without sleeping. Unset, a point costs one load.
void PausePoint(std::string_view name);

}  // namespace coffer
