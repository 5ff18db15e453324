#include "store/retention/prune_planner.h"

#include <time.h>

#include <algorithm>
#include <map>
#include <unordered_set>

#include "store/base/timespec.h"

namespace coffer::retention {

bool KeepPolicy::KeepsSomething() const {
  return keep_last > 0 || keep_hourly > 0 || keep_daily > 0 || keep_weekly > 0 ||
         keep_monthly > 0 || keep_yearly > 0;
}

std::string_view ReasonName(KeepReason reason) {
  switch (reason) {
    case KeepReason::kRemoved: return "";
    case KeepReason::kLast: return "last";
    case KeepReason::kHourly: return "hourly";
    case KeepReason::kDaily: return "daily";
    case KeepReason::kWeekly: return "weekly";
    case KeepReason::kMonthly: return "monthly";
    case KeepReason::kYearly: return "yearly";
    case KeepReason::kProtected: return "protected";
    case KeepReason::kNoPolicy: return "no policy";
    case KeepReason::kDamaged: return "damaged";
  }
  return "";
}

LocalTimeFn SystemLocalTime() {
  tzset();  // localtime_r need not read TZ itself
  return [](int64_t seconds) {
    time_t t = static_cast<time_t>(seconds);
    std::tm tm{};
    localtime_r(&t, &tm);
    return tm;
  };
}

LocalTimeFn FixedOffsetTime(int offset_seconds) {
  return [offset_seconds](int64_t seconds) {
    time_t t = static_cast<time_t>(seconds + offset_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm;
  };
}

namespace {

// 53 when 1 January is a Thursday, or a Wednesday in a leap year.
int IsoWeeksInYear(int year) {
  auto dec31_weekday = [](int y) { return (y + y / 4 - y / 100 + y / 400) % 7; };
  return dec31_weekday(year) == 4 || dec31_weekday(year - 1) == 3 ? 53 : 52;
}

}  // namespace

IsoWeek IsoWeekOf(const std::tm& date) {
  int iso_weekday = (date.tm_wday + 6) % 7 + 1;  // Monday 1 .. Sunday 7
  int year = date.tm_year + 1900;
  int week = (date.tm_yday + 1 - iso_weekday + 10) / 7;
  if (week < 1) return {year - 1, IsoWeeksInYear(year - 1)};
  if (week > IsoWeeksInYear(year)) return {year + 1, 1};
  return {year, week};
}

namespace {

enum class Mark { kNone, kKeep, kRemove, kProtected };

struct Planned {
  PruneCandidate candidate;
  std::tm local{};
  Mark mark = Mark::kNone;
  KeepReason reason = KeepReason::kRemoved;
};

// The period an option groups snapshots by, as a number unique within that option.
using PeriodFn = std::function<int64_t(const Planned&)>;

int64_t Seconds(const Planned& p) {
  return ToTimespec(p.candidate.time_ns).tv_sec;
}
int64_t Year(const Planned& p) {
  return p.local.tm_year + 1900;
}
int64_t Month(const Planned& p) {
  return Year(p) * 100 + p.local.tm_mon + 1;
}
int64_t Day(const Planned& p) {
  return Month(p) * 100 + p.local.tm_mday;
}
int64_t Hour(const Planned& p) {
  return Day(p) * 100 + p.local.tm_hour;
}
int64_t Week(const Planned& p) {
  IsoWeek w = IsoWeekOf(p.local);
  return int64_t{w.year} * 100 + w.week;
}

// One keep option over the snapshots, newest first; see the header for the rules.
void MarkSelections(std::vector<Planned>& list, uint64_t keep, const PeriodFn& period_of,
                    KeepReason reason) {
  std::unordered_set<int64_t> kept_before;  // periods an earlier option already covers
  for (const Planned& p : list) {
    if (p.mark == Mark::kKeep) kept_before.insert(period_of(p));
  }
  std::unordered_set<int64_t> kept_now;
  for (Planned& p : list) {
    if (p.mark != Mark::kNone) continue;
    if (p.candidate.is_protected || p.candidate.is_damaged) {
      p.mark = Mark::kProtected;
      continue;
    }
    int64_t period = period_of(p);
    if (kept_before.count(period)) continue;  // left undecided for a later option
    if (kept_now.count(period)) {
      p.mark = Mark::kRemove;  // an older snapshot of a period already kept
      continue;
    }
    if (kept_now.size() >= keep) break;
    kept_now.insert(period);
    p.mark = Mark::kKeep;
    p.reason = reason;
  }
}

}  // namespace

std::vector<PruneDecision> PlanPrune(std::vector<PruneCandidate> snapshots,
                                     const KeepPolicy& policy, const LocalTimeFn& local_time) {
  std::stable_sort(
      snapshots.begin(), snapshots.end(),
      [](const PruneCandidate& a, const PruneCandidate& b) { return a.time_ns > b.time_ns; });
  std::vector<Planned> list;
  list.reserve(snapshots.size());
  for (const PruneCandidate& c : snapshots) {
    Planned p{c};
    p.local = local_time(ToTimespec(c.time_ns).tv_sec);
    list.push_back(p);
  }

  const bool keep_all = !policy.KeepsSomething();
  if (!keep_all) {
    const struct {
      uint64_t count;
      PeriodFn period_of;
      KeepReason reason;
    } options[] = {
        {policy.keep_last, Seconds, KeepReason::kLast},
        {policy.keep_hourly, Hour, KeepReason::kHourly},
        {policy.keep_daily, Day, KeepReason::kDaily},
        {policy.keep_weekly, Week, KeepReason::kWeekly},
        {policy.keep_monthly, Month, KeepReason::kMonthly},
        {policy.keep_yearly, Year, KeepReason::kYearly},
    };
    for (const auto& option : options) {
      if (option.count > 0) MarkSelections(list, option.count, option.period_of, option.reason);
    }
  }

  std::vector<PruneDecision> decisions;
  decisions.reserve(list.size());
  for (const Planned& p : list) {
    PruneDecision d{p.candidate.id, p.candidate.time_ns, true, KeepReason::kRemoved};
    if (p.candidate.is_damaged) {
      d.reason = KeepReason::kDamaged;
    } else if (p.candidate.is_protected) {
      d.reason = KeepReason::kProtected;
    } else if (keep_all) {
      d.reason = KeepReason::kNoPolicy;
    } else if (p.mark == Mark::kKeep) {
      d.reason = p.reason;
    } else {
      d.keep = false;
    }
    decisions.push_back(d);
  }
  return decisions;
}

std::vector<PruneDecision> PlanPruneByGroup(std::vector<GroupedPruneCandidate> snapshots,
                                            const KeepPolicy& policy,
                                            const LocalTimeFn& local_time) {
  std::map<std::string, std::vector<PruneCandidate>> by_group;
  for (GroupedPruneCandidate& s : snapshots) by_group[std::move(s.group)].push_back(s.snapshot);
  std::vector<PruneDecision> decisions;
  decisions.reserve(snapshots.size());
  for (auto& [group, candidates] : by_group) {
    std::vector<PruneDecision> planned = PlanPrune(std::move(candidates), policy, local_time);
    decisions.insert(decisions.end(), planned.begin(), planned.end());
  }
  return decisions;
}

}  // namespace coffer::retention
