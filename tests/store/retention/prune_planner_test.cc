// Table tests of the prune planner, including the vectors of Proxmox Backup
// Server's own prune tests (tests/prune.rs), which must give the same answers.
// Times are interpreted in UTC or a fixed offset, never the machine's zone.
#include "store/retention/prune_planner.h"

#include <time.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace coffer::retention {
namespace {

using Names = std::vector<std::string>;

constexpr int64_t kNanos = 1'000'000'000;

// "2019-11-15T09:39:15Z" as nanoseconds since the epoch.
int64_t Time(const std::string& iso) {
  std::tm tm{};
  char zone = 0;
  int n = std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &zone);
  EXPECT_TRUE(n == 7 && zone == 'Z') << iso;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * kNanos;
}

class PrunePlannerTest : public ::testing::Test {
 protected:
  // Plans `times` (given oldest first, as PBS's tests list them); `protected_times` are protected.
  std::vector<PruneDecision> Plan(const Names& times, const KeepPolicy& policy,
                                  const std::set<std::string>& protected_times = {}) {
    std::vector<PruneCandidate> candidates;
    for (size_t i = 0; i < times.size(); ++i) {
      candidates.push_back({Time(times[i]), i, protected_times.count(times[i]) > 0});
    }
    names_ = times;
    return PlanPrune(candidates, policy, local_time_);
  }

  // The kept (or removed) times, oldest first, like PBS's get_prune_list.
  Names Select(const Names& times, const KeepPolicy& policy, bool kept,
               const std::set<std::string>& protected_times = {}) {
    Names out;
    for (const PruneDecision& d : Plan(times, policy, protected_times)) {
      if (d.keep == kept) out.insert(out.begin(), names_[d.id]);
    }
    return out;
  }
  Names Kept(const Names& times, const KeepPolicy& policy,
             const std::set<std::string>& protected_times = {}) {
    return Select(times, policy, true, protected_times);
  }
  Names Removed(const Names& times, const KeepPolicy& policy,
                const std::set<std::string>& protected_times = {}) {
    return Select(times, policy, false, protected_times);
  }

  // time -> reason name ("" when removed).
  std::map<std::string, std::string> Reasons(const Names& times, const KeepPolicy& policy,
                                             const std::set<std::string>& protected_times = {}) {
    std::map<std::string, std::string> out;
    for (const PruneDecision& d : Plan(times, policy, protected_times)) {
      out[names_[d.id]] = std::string(ReasonName(d.reason));
    }
    return out;
  }

  LocalTimeFn local_time_ = FixedOffsetTime(0);
  Names names_;
};

// PBS test_prune_simple.
const Names kSimple = {"2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z",
                       "2019-12-04T12:59:15Z"};

// PBS test_prune_simple2.
const Names kSimple2 = {"2018-11-15T11:59:15Z", "2019-11-15T11:59:15Z", "2019-11-21T11:59:15Z",
                        "2019-11-22T11:59:15Z", "2019-11-29T11:59:15Z", "2019-12-01T11:59:15Z",
                        "2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z"};

// PBS test_prune_hourly.
const Names kHourly = {"2019-11-15T09:39:15Z", "2019-11-15T10:49:15Z", "2019-11-15T10:59:15Z",
                       "2019-11-15T11:39:15Z", "2019-11-15T11:49:15Z", "2019-11-15T11:59:15Z"};

TEST_F(PrunePlannerTest, PbsSimpleKeepLast) {
  EXPECT_EQ(Removed(kSimple, {.keep_last = 4}), Names{});
  EXPECT_EQ(Removed(kSimple, {.keep_last = 3}), (Names{"2019-12-02T11:59:15Z"}));
  EXPECT_EQ(Removed(kSimple, {.keep_last = 2}),
            (Names{"2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z"}));
  EXPECT_EQ(Removed(kSimple, {.keep_last = 1}),
            (Names{"2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z"}));
}

TEST_F(PrunePlannerTest, PbsSimpleMixed) {
  EXPECT_EQ(Removed(kSimple, {.keep_last = 2, .keep_daily = 2}), Names{});
  EXPECT_EQ(Removed(kSimple, {.keep_daily = 3}), (Names{"2019-12-04T11:59:15Z"}));
  EXPECT_EQ(Removed(kSimple, {.keep_daily = 2}),
            (Names{"2019-12-02T11:59:15Z", "2019-12-04T11:59:15Z"}));
  const Names all_but_newest = {"2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z",
                                "2019-12-04T11:59:15Z"};
  // All four are in one week, one month and one year.
  EXPECT_EQ(Removed(kSimple, {.keep_weekly = 5}), all_but_newest);
  EXPECT_EQ(Removed(kSimple, {.keep_daily = 1, .keep_weekly = 5}), all_but_newest);
  EXPECT_EQ(Removed(kSimple, {.keep_monthly = 6}), all_but_newest);
  EXPECT_EQ(Removed(kSimple, {.keep_yearly = 7}), all_but_newest);
  EXPECT_EQ(Removed(kSimple, {.keep_weekly = 5, .keep_monthly = 6, .keep_yearly = 7}),
            all_but_newest);
}

TEST_F(PrunePlannerTest, PbsSimple2) {
  EXPECT_EQ(Kept(kSimple2, {.keep_daily = 1}), (Names{"2019-12-04T11:59:15Z"}));
  EXPECT_EQ(Kept(kSimple2, {.keep_last = 1, .keep_daily = 1}),
            (Names{"2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z"}));
  EXPECT_EQ(Kept(kSimple2, {.keep_daily = 1, .keep_weekly = 1}),
            (Names{"2019-12-01T11:59:15Z", "2019-12-04T11:59:15Z"}));
  EXPECT_EQ(Kept(kSimple2, {.keep_daily = 1, .keep_weekly = 1, .keep_monthly = 1}),
            (Names{"2019-11-22T11:59:15Z", "2019-12-01T11:59:15Z", "2019-12-04T11:59:15Z"}));
  EXPECT_EQ(Kept(kSimple2, {.keep_monthly = 1, .keep_yearly = 1}),
            (Names{"2018-11-15T11:59:15Z", "2019-12-04T11:59:15Z"}));
}

TEST_F(PrunePlannerTest, PbsHourly) {
  EXPECT_EQ(Removed(kHourly, {.keep_hourly = 3}),
            (Names{"2019-11-15T10:49:15Z", "2019-11-15T11:39:15Z", "2019-11-15T11:49:15Z"}));
  EXPECT_EQ(Kept(kHourly, {.keep_hourly = 2}),
            (Names{"2019-11-15T10:59:15Z", "2019-11-15T11:59:15Z"}));
}

TEST_F(PrunePlannerTest, PbsProtected) {
  const Names list = {"2019-11-15T09:39:15Z", "2019-11-15T10:39:15Z", "2019-11-15T10:49:15Z",
                      "2019-11-15T10:59:15Z"};
  const std::set<std::string> protected_times = {"2019-11-15T09:39:15Z", "2019-11-15T10:59:15Z"};
  EXPECT_EQ(Removed(list, {.keep_last = 1}, protected_times), (Names{"2019-11-15T10:39:15Z"}));
  EXPECT_EQ(Removed(list, {.keep_hourly = 1}, protected_times), (Names{"2019-11-15T10:39:15Z"}));
}

TEST_F(PrunePlannerTest, EachKeptSnapshotNamesTheOptionThatKeptIt) {
  auto reasons = Reasons(kSimple2, {.keep_daily = 1, .keep_weekly = 1, .keep_monthly = 1});
  EXPECT_EQ(reasons["2019-12-04T11:59:15Z"], "daily");
  EXPECT_EQ(reasons["2019-12-01T11:59:15Z"], "weekly");
  EXPECT_EQ(reasons["2019-11-22T11:59:15Z"], "monthly");
  EXPECT_EQ(reasons["2019-12-03T11:59:15Z"], "");

  reasons = Reasons(kSimple2, {.keep_last = 1, .keep_hourly = 1, .keep_yearly = 2});
  EXPECT_EQ(reasons["2019-12-04T11:59:15Z"], "last");
  EXPECT_EQ(reasons["2019-12-03T11:59:15Z"], "hourly");
  EXPECT_EQ(reasons["2018-11-15T11:59:15Z"], "yearly");
  EXPECT_EQ(reasons["2019-12-02T11:59:15Z"], "");  // 2019 is covered by the snapshots kept before
}

TEST_F(PrunePlannerTest, DecisionsAreNewestFirstAndCarryTheCallersIds) {
  std::vector<PruneCandidate> shuffled = {{Time("2019-12-03T00:00:00Z"), 30},
                                          {Time("2019-12-05T00:00:00Z"), 50},
                                          {Time("2019-12-04T00:00:00Z"), 40}};
  auto decisions = PlanPrune(shuffled, {.keep_last = 2}, FixedOffsetTime(0));
  ASSERT_EQ(decisions.size(), 3u);
  EXPECT_EQ(decisions[0].id, 50u);
  EXPECT_EQ(decisions[1].id, 40u);
  EXPECT_EQ(decisions[2].id, 30u);
  EXPECT_EQ(decisions[0].time_ns, Time("2019-12-05T00:00:00Z"));
  EXPECT_TRUE(decisions[0].keep && decisions[1].keep);
  EXPECT_FALSE(decisions[2].keep);
  EXPECT_EQ(decisions[2].reason, KeepReason::kRemoved);
}

TEST_F(PrunePlannerTest, NoPolicyKeepsEverything) {
  auto reasons = Reasons(kSimple, {}, {"2019-12-03T11:59:15Z"});
  EXPECT_EQ(reasons["2019-12-02T11:59:15Z"], "no policy");
  EXPECT_EQ(reasons["2019-12-03T11:59:15Z"], "protected");
  EXPECT_EQ(reasons["2019-12-04T11:59:15Z"], "no policy");
  EXPECT_EQ(reasons["2019-12-04T12:59:15Z"], "no policy");
  // A count of 0 is an option not given, as in PBS's prune command.
  EXPECT_EQ(Removed(kSimple, {.keep_last = 0}), Names{});
  EXPECT_EQ(Kept(kSimple, {.keep_last = 0, .keep_daily = 0}), kSimple);
}

TEST_F(PrunePlannerTest, EmptyGroupGivesNoDecisions) {
  EXPECT_TRUE(PlanPrune({}, {.keep_last = 3}, FixedOffsetTime(0)).empty());
}

TEST_F(PrunePlannerTest, KeepLastMoreThanThereAreKeepsAll) {
  EXPECT_EQ(Kept(kSimple2, {.keep_last = 100}), kSimple2);
}

TEST_F(PrunePlannerTest, ProtectedSnapshotsDoNotFillAPeriodNorCount) {
  const Names days = {"2019-12-01T12:00:00Z", "2019-12-02T12:00:00Z", "2019-12-03T12:00:00Z",
                      "2019-12-04T12:00:00Z"};
  // The protected newest day does not use up one of the two days.
  auto reasons = Reasons(days, {.keep_daily = 2}, {"2019-12-04T12:00:00Z"});
  EXPECT_EQ(reasons["2019-12-04T12:00:00Z"], "protected");
  EXPECT_EQ(reasons["2019-12-03T12:00:00Z"], "daily");
  EXPECT_EQ(reasons["2019-12-02T12:00:00Z"], "daily");
  EXPECT_EQ(reasons["2019-12-01T12:00:00Z"], "");
  // An older snapshot of the protected one's day is still that day's daily.
  const Names same_day = {"2019-12-04T08:00:00Z", "2019-12-04T12:00:00Z"};
  EXPECT_EQ(Reasons(same_day, {.keep_daily = 1}, {"2019-12-04T12:00:00Z"})["2019-12-04T08:00:00Z"],
            "daily");
  // A protected snapshot survives even behind the point where an option stops.
  EXPECT_EQ(Kept(days, {.keep_last = 1}, {"2019-12-01T12:00:00Z"}),
            (Names{"2019-12-01T12:00:00Z", "2019-12-04T12:00:00Z"}));
}

TEST_F(PrunePlannerTest, DamagedRecordsAreKeptAndDoNotFillAPeriodNorCount) {
  const Names days = {"2019-12-01T12:00:00Z", "2019-12-02T12:00:00Z", "2019-12-03T12:00:00Z",
                      "2019-12-04T12:00:00Z", "2019-12-04T18:00:00Z"};
  std::vector<PruneCandidate> candidates;
  for (size_t i = 0; i < days.size(); ++i) candidates.push_back({Time(days[i]), i});
  candidates[4].is_damaged = true;  // the newest: its day's daily is still chosen
  candidates[0].is_damaged = true;  // the oldest: past where keep-daily stops
  candidates[0].is_protected = true;
  std::map<std::string, std::string> reasons;
  for (const PruneDecision& d : PlanPrune(candidates, {.keep_daily = 2}, local_time_)) {
    reasons[days[d.id]] = std::string(ReasonName(d.reason));
    EXPECT_EQ(d.keep, d.reason != KeepReason::kRemoved);
  }
  EXPECT_EQ(reasons["2019-12-04T18:00:00Z"], "damaged");
  EXPECT_EQ(reasons["2019-12-04T12:00:00Z"], "daily");
  EXPECT_EQ(reasons["2019-12-03T12:00:00Z"], "daily");
  EXPECT_EQ(reasons["2019-12-02T12:00:00Z"], "");
  EXPECT_EQ(reasons["2019-12-01T12:00:00Z"], "damaged");  // damaged says more than protected
  // Without a policy, too.
  for (const PruneDecision& d : PlanPrune(candidates, {}, local_time_)) {
    EXPECT_TRUE(d.keep);
    EXPECT_EQ(d.reason, candidates[d.id].is_damaged ? KeepReason::kDamaged : KeepReason::kNoPolicy);
  }
}

TEST_F(PrunePlannerTest, PeriodsWithoutSnapshotsDoNotCount) {
  const Names sparse = {"2019-10-01T12:00:00Z", "2019-12-01T12:00:00Z", "2019-12-04T12:00:00Z",
                        "2019-12-10T12:00:00Z"};
  EXPECT_EQ(Removed(sparse, {.keep_daily = 3}), (Names{"2019-10-01T12:00:00Z"}));
  EXPECT_EQ(Kept(sparse, {.keep_monthly = 2}),
            (Names{"2019-10-01T12:00:00Z", "2019-12-10T12:00:00Z"}));
}

TEST_F(PrunePlannerTest, PeriodsKeptByAnEarlierOptionAreSkipped) {
  // keep-last takes the two newest days, so keep-daily 2 takes the two days before them.
  const Names days = {"2019-12-01T12:00:00Z", "2019-12-02T12:00:00Z", "2019-12-03T12:00:00Z",
                      "2019-12-04T12:00:00Z", "2019-12-05T12:00:00Z"};
  auto reasons = Reasons(days, {.keep_last = 2, .keep_daily = 2});
  EXPECT_EQ(reasons["2019-12-05T12:00:00Z"], "last");
  EXPECT_EQ(reasons["2019-12-04T12:00:00Z"], "last");
  EXPECT_EQ(reasons["2019-12-03T12:00:00Z"], "daily");
  EXPECT_EQ(reasons["2019-12-02T12:00:00Z"], "daily");
  EXPECT_EQ(reasons["2019-12-01T12:00:00Z"], "");
}

TEST_F(PrunePlannerTest, WeeksAreIsoWeeksAcrossTheYearBoundary) {
  // 2020-12-31 (Thursday) and 2021-01-01 (Friday) are both in 2020-W53;
  // 2020-12-27 (Sunday) is in 2020-W52 and 2021-01-04 (Monday) starts 2021-W01.
  const Names days = {"2020-12-27T12:00:00Z", "2020-12-31T12:00:00Z", "2021-01-01T12:00:00Z",
                      "2021-01-04T12:00:00Z"};
  EXPECT_EQ(Kept(days, {.keep_weekly = 2}),
            (Names{"2021-01-01T12:00:00Z", "2021-01-04T12:00:00Z"}));
  EXPECT_EQ(Kept(days, {.keep_weekly = 3}),
            (Names{"2020-12-27T12:00:00Z", "2021-01-01T12:00:00Z", "2021-01-04T12:00:00Z"}));
  // By calendar month 2020-12-31 is the newest of December instead.
  EXPECT_EQ(Kept(days, {.keep_monthly = 2}),
            (Names{"2020-12-31T12:00:00Z", "2021-01-04T12:00:00Z"}));
  // 2019-12-30 (Monday) is already in 2020-W01.
  const Names turn = {"2019-12-29T12:00:00Z", "2019-12-30T12:00:00Z", "2020-01-02T12:00:00Z"};
  EXPECT_EQ(Kept(turn, {.keep_weekly = 1}), (Names{"2020-01-02T12:00:00Z"}));
  EXPECT_EQ(Kept(turn, {.keep_weekly = 2}),
            (Names{"2019-12-29T12:00:00Z", "2020-01-02T12:00:00Z"}));
  EXPECT_EQ(Kept(turn, {.keep_yearly = 2}),
            (Names{"2019-12-30T12:00:00Z", "2020-01-02T12:00:00Z"}));
}

TEST_F(PrunePlannerTest, LocalTimeDecidesTheDay) {
  // 22:30 UTC is 00:30 the next day at UTC+2.
  const Names times = {"2019-12-03T10:00:00Z", "2019-12-04T10:00:00Z", "2019-12-04T22:30:00Z"};
  EXPECT_EQ(Kept(times, {.keep_daily = 2}),
            (Names{"2019-12-03T10:00:00Z", "2019-12-04T22:30:00Z"}));
  local_time_ = FixedOffsetTime(2 * 3600);
  EXPECT_EQ(Kept(times, {.keep_daily = 2}),
            (Names{"2019-12-04T10:00:00Z", "2019-12-04T22:30:00Z"}));
  // West of UTC, 00:30 UTC on the 1st of a year is still the old year.
  const Names new_year = {"2019-06-01T12:00:00Z", "2020-01-01T00:30:00Z"};
  EXPECT_EQ(Reasons(new_year, {.keep_yearly = 2})["2019-06-01T12:00:00Z"], "yearly");
  local_time_ = FixedOffsetTime(-3600);
  EXPECT_EQ(Reasons(new_year, {.keep_yearly = 2})["2019-06-01T12:00:00Z"], "");
}

TEST(IsoWeekTest, MatchesStrftimeForEveryDayOfFiftyYears) {
  for (int64_t day = 0; day < 50 * 366; ++day) {
    time_t t = static_cast<time_t>((int64_t{7305} + day) * 86400 + 43200);  // from 1990-01-01, noon
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[16];
    std::strftime(text, sizeof text, "%G-%V", &tm);
    IsoWeek week = IsoWeekOf(tm);
    char mine[16];
    std::snprintf(mine, sizeof mine, "%04d-%02d", week.year, week.week);
    ASSERT_STREQ(mine, text) << "day " << day;
  }
}

TEST(IsoWeekTest, KnownBoundaries) {
  auto week_of = [](const std::string& iso) {
    time_t t = static_cast<time_t>(Time(iso) / kNanos);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return IsoWeekOf(tm);
  };
  EXPECT_EQ(week_of("2020-12-31T12:00:00Z"), (IsoWeek{2020, 53}));
  EXPECT_EQ(week_of("2021-01-01T12:00:00Z"), (IsoWeek{2020, 53}));
  EXPECT_EQ(week_of("2021-01-03T12:00:00Z"), (IsoWeek{2020, 53}));
  EXPECT_EQ(week_of("2021-01-04T12:00:00Z"), (IsoWeek{2021, 1}));
  EXPECT_EQ(week_of("2019-12-30T12:00:00Z"), (IsoWeek{2020, 1}));
  EXPECT_EQ(week_of("2018-12-31T12:00:00Z"), (IsoWeek{2019, 1}));
}

TEST(KeepReasonTest, Names) {
  EXPECT_EQ(ReasonName(KeepReason::kRemoved), "");
  EXPECT_EQ(ReasonName(KeepReason::kLast), "last");
  EXPECT_EQ(ReasonName(KeepReason::kHourly), "hourly");
  EXPECT_EQ(ReasonName(KeepReason::kDaily), "daily");
  EXPECT_EQ(ReasonName(KeepReason::kWeekly), "weekly");
  EXPECT_EQ(ReasonName(KeepReason::kMonthly), "monthly");
  EXPECT_EQ(ReasonName(KeepReason::kYearly), "yearly");
  EXPECT_EQ(ReasonName(KeepReason::kProtected), "protected");
  EXPECT_EQ(ReasonName(KeepReason::kDamaged), "damaged");
  EXPECT_EQ(ReasonName(KeepReason::kNoPolicy), "no policy");
}

// PlanPruneByGroup: the snapshots of several groups, each group planned on
// its own, as coffer prune and a job's keep-* options plan them.
struct GroupedSnapshot {
  std::string group;
  std::string time;
  bool is_protected = false;
  bool is_damaged = false;
};

struct GroupedCase {
  std::string what;
  std::vector<GroupedSnapshot> snapshots;  // in the order the caller read them
  KeepPolicy policy;
  int utc_offset_seconds = 0;
  // Every decision in the order they come back: "GROUP TIME REASON", the
  // reason "remove" for a snapshot removed.
  Names decisions;
};

Names PlanGroups(const GroupedCase& c) {
  std::vector<GroupedPruneCandidate> candidates;
  for (size_t i = 0; i < c.snapshots.size(); ++i) {
    const GroupedSnapshot& s = c.snapshots[i];
    candidates.push_back({s.group, {Time(s.time), i, s.is_protected, s.is_damaged}});
  }
  Names out;
  for (const PruneDecision& d :
       PlanPruneByGroup(candidates, c.policy, FixedOffsetTime(c.utc_offset_seconds))) {
    const GroupedSnapshot& s = c.snapshots.at(d.id);
    EXPECT_EQ(d.time_ns, Time(s.time)) << c.what;
    out.push_back(s.group + " " + s.time + " " +
                  (d.keep ? std::string(ReasonName(d.reason)) : "remove"));
  }
  return out;
}

TEST(PlanPruneByGroupTest, EachGroupIsPlannedOnItsOwn) {
  const std::vector<GroupedCase> cases = {
      {"nothing to plan", {}, {.keep_last = 1}, 0, {}},
      {"keep-last counts in each group, not in all; groups come in name order, newest first",
       {{"web", "2019-12-01T10:00:00Z"},
        {"db", "2019-12-01T11:00:00Z"},
        {"web", "2019-12-02T10:00:00Z"},
        {"db", "2019-12-02T11:00:00Z"},
        {"db", "2019-12-03T11:00:00Z"}},
       {.keep_last = 1},
       0,
       {"db 2019-12-03T11:00:00Z last", "db 2019-12-02T11:00:00Z remove",
        "db 2019-12-01T11:00:00Z remove", "web 2019-12-02T10:00:00Z last",
        "web 2019-12-01T10:00:00Z remove"}},
      {"every group (the caller passes them all): a group of one snapshot keeps it",
       {{"host/b", "2019-12-02T10:00:00Z"},
        {"ct/100", "2019-12-01T10:00:00Z"},
        {"host/a", "2019-12-01T10:00:00Z"},
        {"host/b", "2019-12-02T12:00:00Z"},
        {"host/a", "2019-12-03T10:00:00Z"}},
       {.keep_daily = 1},
       0,
       {"ct/100 2019-12-01T10:00:00Z daily", "host/a 2019-12-03T10:00:00Z daily",
        "host/a 2019-12-01T10:00:00Z remove", "host/b 2019-12-02T12:00:00Z daily",
        "host/b 2019-12-02T10:00:00Z remove"}},
      {"a damaged record is always kept and does not count; the other group is unaffected",
       {{"a", "2019-12-01T10:00:00Z"},
        {"a", "2019-12-02T10:00:00Z"},
        {"a", "2019-12-03T10:00:00Z", false, true},
        {"b", "2019-12-01T10:00:00Z"},
        {"b", "2019-12-02T10:00:00Z"}},
       {.keep_last = 1},
       0,
       {"a 2019-12-03T10:00:00Z damaged", "a 2019-12-02T10:00:00Z last",
        "a 2019-12-01T10:00:00Z remove", "b 2019-12-02T10:00:00Z last",
        "b 2019-12-01T10:00:00Z remove"}},
      {"a protected snapshot is kept in its group only",
       {{"a", "2019-12-01T10:00:00Z", true},
        {"a", "2019-12-02T10:00:00Z"},
        {"a", "2019-12-03T10:00:00Z"},
        {"b", "2019-12-01T10:00:00Z"},
        {"b", "2019-12-02T10:00:00Z"},
        {"b", "2019-12-03T10:00:00Z"}},
       {.keep_last = 1},
       0,
       {"a 2019-12-03T10:00:00Z last", "a 2019-12-02T10:00:00Z remove",
        "a 2019-12-01T10:00:00Z protected", "b 2019-12-03T10:00:00Z last",
        "b 2019-12-02T10:00:00Z remove", "b 2019-12-01T10:00:00Z remove"}},
      {"no policy keeps every snapshot of every group",
       {{"a", "2019-12-01T10:00:00Z"},
        {"b", "2019-12-01T10:00:00Z"},
        {"a", "2019-12-02T10:00:00Z"}},
       {},
       0,
       {"a 2019-12-02T10:00:00Z no policy", "a 2019-12-01T10:00:00Z no policy",
        "b 2019-12-01T10:00:00Z no policy"}},
      {"days are UTC's at offset 0: 22:30 is the same day as 10:00",
       {{"a", "2019-12-03T10:00:00Z"},
        {"a", "2019-12-04T10:00:00Z"},
        {"a", "2019-12-04T22:30:00Z"},
        {"b", "2019-12-04T22:30:00Z"},
        {"b", "2019-12-04T10:00:00Z"}},
       {.keep_daily = 2},
       0,
       {"a 2019-12-04T22:30:00Z daily", "a 2019-12-04T10:00:00Z remove",
        "a 2019-12-03T10:00:00Z daily", "b 2019-12-04T22:30:00Z daily",
        "b 2019-12-04T10:00:00Z remove"}},
      {"days are local at UTC+2: 22:30 UTC is the next day, in every group",
       {{"a", "2019-12-03T10:00:00Z"},
        {"a", "2019-12-04T10:00:00Z"},
        {"a", "2019-12-04T22:30:00Z"},
        {"b", "2019-12-04T22:30:00Z"},
        {"b", "2019-12-04T10:00:00Z"}},
       {.keep_daily = 2},
       2 * 3600,
       {"a 2019-12-04T22:30:00Z daily", "a 2019-12-04T10:00:00Z daily",
        "a 2019-12-03T10:00:00Z remove", "b 2019-12-04T22:30:00Z daily",
        "b 2019-12-04T10:00:00Z daily"}},
  };
  for (const GroupedCase& c : cases) {
    EXPECT_EQ(PlanGroups(c), c.decisions) << c.what;
  }
}

}  // namespace
}  // namespace coffer::retention
