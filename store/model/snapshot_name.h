// Names users type for snapshots and groups, and the snapshot time format.
//
// A snapshot is named `GROUP/TIME` (host/web1/2026-11-24T02:00:00Z),
// `GROUP/latest`, or a unique prefix of its id (at least 4 hex digits).
// Groups are `TYPE/NAME` as in Proxmox Backup Server: host/NAME, ct/VMID, vm/VMID.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/base/status.h"

namespace coffer::model {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// UTC, whole seconds: "2026-11-24T02:00:00Z".
std::string FormatTime(int64_t time_ns);
// ISO 8601: "2026-11-24T02:00:00Z", "...T02:00:00+01:00", "2026-11-24 02:00:00Z",
// or a date alone (midnight UTC). Fractions of a second are refused.
Result<int64_t> ParseTime(std::string_view text);

Status ValidateGroup(std::string_view group);

struct SnapshotSelector {
  enum class Kind { kExact, kLatest, kIdPrefix };
  Kind kind = Kind::kLatest;
  std::string group;      // kExact, kLatest
  int64_t time_ns = 0;    // kExact
  std::string id_prefix;  // kIdPrefix, lower-case hex
};

Result<SnapshotSelector> ParseSnapshotName(std::string_view name);

}  // namespace coffer::model
