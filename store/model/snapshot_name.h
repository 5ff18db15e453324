// Names users type for snapshots and groups, and the snapshot time format.
//
// A snapshot is named `GROUP/TIME` (host/web1/2026-11-24T02:00:00Z),
// `GROUP/latest`, or a unique prefix of its id (at least 4 hex digits).
// Groups are `TYPE/NAME` as in Proxmox Backup Server: host/NAME, ct/VMID, vm/VMID.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/status.h"

namespace coffer::model {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
// The times a snapshot can have, in whole seconds since 1970-01-01T00:00:00Z:
// from the epoch to 2262-04-11T23:47:16Z, the last whole second whose
// nanoseconds fit the int64 the format stores.
constexpr int64_t kMinTimeSeconds = 0;
constexpr int64_t kMaxTimeSeconds = INT64_MAX / kNanosPerSecond;

// UTC, whole seconds: "2026-11-24T02:00:00Z".
std::string FormatTime(int64_t time_ns);
// ISO 8601: "2026-11-24T02:00:00Z", "...T02:00:00+01:00", "2026-11-24 02:00:00Z",
// or a date alone (midnight UTC). Fractions of a second are refused, and so
// (kInvalidArgument, one line) are dates and times that do not exist
// (2026-02-31, 2025-02-29, month 13, 24:00, minute or second 60, a zone
// offset past 23:59) and times outside [kMinTimeSeconds, kMaxTimeSeconds].
Result<int64_t> ParseTime(std::string_view text);

Status ValidateGroup(std::string_view group);
// A snapshot's tag: 1 to 128 bytes, no control character, no comma (the
// listing separates tags with commas, and restic users write --tag a,b for
// two tags, which Coffer asks for as two --tag options).
Status ValidateTag(std::string_view tag);

struct SnapshotSelector {
  enum class Kind { kExact, kLatest, kIdPrefix };
  Kind kind = Kind::kLatest;
  std::string group;      // kExact, kLatest
  int64_t time_ns = 0;    // kExact
  std::string id_prefix;  // kIdPrefix, lower-case hex
};

Result<SnapshotSelector> ParseSnapshotName(std::string_view name);

// A snapshot as the index names it (its group, time and id in hex).
struct IndexedSnapshot {
  std::string_view group;
  int64_t time_ns = 0;
  std::string id_hex;
};
// The position in `listed` (in index order: group, then time) of the
// snapshot `selector` names: kNotFound ("no snapshot NAME"), or
// kInvalidArgument for an id prefix that more than one id starts with.
Result<size_t> SelectSnapshot(const SnapshotSelector& selector, std::string_view name,
                              const std::vector<IndexedSnapshot>& listed);

}  // namespace coffer::model
