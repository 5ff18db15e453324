// The prune planner: which snapshots of one group a keep policy keeps, and why.
//
// A pure function with the semantics of Proxmox Backup Server's prune
// (pbs-datastore prune.rs), so a policy means the same in both:
// - Snapshots are taken newest first. The options are applied in the order
//   last, hourly, daily, weekly, monthly, yearly.
// - Each option with a count N walks the snapshots not yet decided and keeps
//   the newest one of each of its periods (an hour, a day, an ISO week, ...)
//   until N periods are kept; older snapshots of a period it already kept are
//   removed. It stops at the first snapshot that would open period N+1.
// - A period that holds a snapshot kept by an earlier option is skipped and
//   does not count; periods without snapshots do not count either, so
//   --keep-daily 7 keeps the newest snapshot of each of the 7 newest days
//   that have one, however far apart.
// - Protected snapshots are always kept, and they neither fill a period nor
//   count towards N. So are damaged records (Coffer's own rule: a record
//   that does not open is never removed by a policy; coffer forget removes
//   it by name).
// - Periods are in local time (see LocalTimeFn); weeks are ISO 8601 weeks,
//   so 2021-01-01 is in week 53 of 2020.
// - A policy without any count above 0 keeps everything ("no policy"), as
//   PBS does when no keep option is given.
// Whether a snapshot is complete plays no part: Coffer has no unfinished
// snapshots (a record is written only when everything it references is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace coffer::retention {

// How many periods of each kind to keep; 0 means the option is not given.
struct KeepPolicy {
  uint64_t keep_last = 0;
  uint64_t keep_hourly = 0;
  uint64_t keep_daily = 0;
  uint64_t keep_weekly = 0;
  uint64_t keep_monthly = 0;
  uint64_t keep_yearly = 0;

  bool KeepsSomething() const;
};

// One snapshot of the group to plan for.
struct PruneCandidate {
  int64_t time_ns = 0;  // UTC, nanoseconds since the epoch
  size_t id = 0;        // the caller's, returned unchanged
  bool is_protected = false;
  bool is_damaged = false;  // its record does not open: kept, like a protected one
};

// Why a snapshot is kept; kRemoved when it is not.
enum class KeepReason {
  kRemoved,
  kLast,
  kHourly,
  kDaily,
  kWeekly,
  kMonthly,
  kYearly,
  kProtected,
  kNoPolicy,
  kDamaged
};

// "last", "hourly", ..., "protected", "no policy", "damaged"; "" for kRemoved.
std::string_view ReasonName(KeepReason reason);

struct PruneDecision {
  size_t id = 0;
  int64_t time_ns = 0;
  bool keep = false;
  KeepReason reason = KeepReason::kRemoved;
};

// The broken-down local time (tm_year, tm_mon, tm_mday, tm_hour, tm_yday,
// tm_wday) of a time given in seconds since the epoch. The seam that lets
// tests pin the time zone.
using LocalTimeFn = std::function<std::tm(int64_t seconds)>;

// The machine's time zone (localtime_r, honouring TZ).
LocalTimeFn SystemLocalTime();
// A zone at a fixed offset east of UTC, without daylight saving time;
// FixedOffsetTime(0) is UTC.
LocalTimeFn FixedOffsetTime(int offset_seconds);

struct IsoWeek {
  int year = 0;  // the ISO week-numbering year, which may differ from tm_year near 1 January
  int week = 0;  // 1..53
  bool operator==(const IsoWeek&) const = default;
};
// The ISO 8601 week of a broken-down date (strftime's %G and %V).
IsoWeek IsoWeekOf(const std::tm& date);

// Decides every snapshot of one group. The result has one decision per
// candidate, newest first (equal times keep their input order).
std::vector<PruneDecision> PlanPrune(std::vector<PruneCandidate> snapshots,
                                     const KeepPolicy& policy,
                                     const LocalTimeFn& local_time = SystemLocalTime());

// One snapshot of any group, for PlanPruneByGroup.
struct GroupedPruneCandidate {
  std::string group;
  PruneCandidate snapshot;
};

// Decides the snapshots of several groups, each group on its own (a policy
// keeps N snapshots of every group, not N in all): PlanPrune per group, the
// groups one after another in the order of their names, each newest first.
// Which groups to prune is the caller's choice: it passes their snapshots.
std::vector<PruneDecision> PlanPruneByGroup(std::vector<GroupedPruneCandidate> snapshots,
                                            const KeepPolicy& policy,
                                            const LocalTimeFn& local_time = SystemLocalTime());

}  // namespace coffer::retention
