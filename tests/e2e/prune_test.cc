// Retention from the command line: coffer prune, forget, protect and
// unprotect against a real repository with snapshots at chosen times.
// Every run pins TZ=UTC, so days and weeks do not depend on the machine.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using Names = std::vector<std::string>;

// The snapshots of Proxmox Backup Server's test_prune_simple2, oldest first.
const Names kPbsTimes = {"2018-11-15T11:59:15Z", "2019-11-15T11:59:15Z", "2019-11-21T11:59:15Z",
                         "2019-11-22T11:59:15Z", "2019-11-29T11:59:15Z", "2019-12-01T11:59:15Z",
                         "2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z"};

class PruneTest : public CofferTest {
 protected:
  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  Output Run(const std::vector<std::string>& args) { return Coffer(args, {"TZ=UTC"}); }

  // One small snapshot of `group` at `time`.
  void BackupAt(const std::string& group, const std::string& time) {
    Output o = Run({"backup", "--group", group, "--time", time, "--stdin"}, time);
    ASSERT_EQ(o.code, 0) << o.all();
  }
  Output Run(const std::vector<std::string>& args, const std::string& stdin_data) {
    return Coffer(args, {"TZ=UTC"}, stdin_data);
  }

  // The names (GROUP/TIME) of every snapshot, in listing order.
  Names SnapshotNames() {
    Names out;
    for (const auto& s : Snapshots()) out.push_back(s["name"].get<std::string>());
    return out;
  }

  const std::string elsa_ = "host/elsa";
};

std::string Name(const std::string& group, const std::string& time) {
  return group + "/" + time;
}

TEST_F(PruneTest, DryRunShowsEachSnapshotWithItsRuleAndRemovesNothing) {
  for (const auto& t : kPbsTimes) BackupAt(elsa_, t);
  Output o = Run({"prune", "--dry-run", "--group", elsa_, "--keep-daily", "1", "--keep-weekly", "1",
                  "--keep-monthly", "1"});
  ASSERT_EQ(o.code, 0) << o.all();
  // The example of coffer-prune(1).
  EXPECT_EQ(o.out,
            "Snapshot                        Action  Reason\n"
            "host/elsa/2019-12-04T11:59:15Z  keep    daily\n"
            "host/elsa/2019-12-03T11:59:15Z  remove\n"
            "host/elsa/2019-12-02T11:59:15Z  remove\n"
            "host/elsa/2019-12-01T11:59:15Z  keep    weekly\n"
            "host/elsa/2019-11-29T11:59:15Z  remove\n"
            "host/elsa/2019-11-22T11:59:15Z  keep    monthly\n"
            "host/elsa/2019-11-21T11:59:15Z  remove\n"
            "host/elsa/2019-11-15T11:59:15Z  remove\n"
            "host/elsa/2018-11-15T11:59:15Z  remove\n");
  EXPECT_NE(o.err.find("would remove 6 of 9 snapshots"), std::string::npos) << o.err;
  EXPECT_EQ(SnapshotNames().size(), kPbsTimes.size());
}

TEST_F(PruneTest, PruneRemovesExactlyWhatTheJsonPlanRemoves) {
  for (const auto& t : kPbsTimes) BackupAt(elsa_, t);
  BackupAt("ct/104", "2019-12-01T01:00:00Z");
  BackupAt("ct/104", "2019-12-02T01:00:00Z");
  BackupAt("ct/104", "2019-12-03T01:00:00Z");

  const std::vector<std::string> policy = {"--keep-last", "2", "--keep-yearly", "1"};
  std::vector<std::string> dry = {"prune", "--dry-run", "--json"};
  dry.insert(dry.end(), policy.begin(), policy.end());
  Output plan_out = Run(dry);
  ASSERT_EQ(plan_out.code, 0) << plan_out.all();
  auto plan = nlohmann::json::parse(plan_out.out, nullptr, false);
  ASSERT_TRUE(plan.is_array()) << plan_out.out;
  ASSERT_EQ(plan.size(), kPbsTimes.size() + 3);

  std::set<std::string> expect_kept = {
      Name(elsa_, "2019-12-04T11:59:15Z"), Name(elsa_, "2019-12-03T11:59:15Z"),  // last
      Name(elsa_, "2018-11-15T11:59:15Z"),                                       // yearly
      Name("ct/104", "2019-12-03T01:00:00Z"), Name("ct/104", "2019-12-02T01:00:00Z")};
  std::set<std::string> kept;
  for (const auto& d : plan) {
    std::string name = d["snapshot"];
    EXPECT_EQ(name, d["group"].get<std::string>() + "/" + d["time"].get<std::string>());
    EXPECT_EQ(d["id"].get<std::string>().size(), 64u) << d;
    if (d["keep"].get<bool>()) kept.insert(name);
    if (name == Name(elsa_, "2018-11-15T11:59:15Z")) {
      EXPECT_EQ(d["reason"], "yearly");
    }
    if (name == Name(elsa_, "2019-12-04T11:59:15Z")) {
      EXPECT_EQ(d["reason"], "last");
    }
    if (!d["keep"].get<bool>()) {
      EXPECT_EQ(d["reason"], "") << d;
    }
  }
  EXPECT_EQ(kept, expect_kept);

  std::vector<std::string> real = {"prune"};
  real.insert(real.end(), policy.begin(), policy.end());
  Output pruned = Run(real);
  ASSERT_EQ(pruned.code, 0) << pruned.all();
  EXPECT_NE(pruned.err.find("removed 7 of 12 snapshots"), std::string::npos) << pruned.err;
  Names left = SnapshotNames();
  EXPECT_EQ(std::set<std::string>(left.begin(), left.end()), expect_kept);

  // Pruning again with the same policy finds nothing more to remove.
  Output again = Run(dry);
  ASSERT_EQ(again.code, 0) << again.all();
  for (const auto& d : nlohmann::json::parse(again.out)) EXPECT_TRUE(d["keep"].get<bool>()) << d;
}

TEST_F(PruneTest, GroupOptionLimitsPruneToThatGroup) {
  BackupAt(elsa_, "2019-12-01T00:00:00Z");
  BackupAt(elsa_, "2019-12-02T00:00:00Z");
  BackupAt("ct/104", "2019-12-01T00:00:00Z");
  BackupAt("ct/104", "2019-12-02T00:00:00Z");
  Output o = Run({"prune", "--group", "ct/104", "--keep-last", "1"});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(SnapshotNames(), (Names{"ct/104/2019-12-02T00:00:00Z", "host/elsa/2019-12-01T00:00:00Z",
                                    "host/elsa/2019-12-02T00:00:00Z"}));
}

TEST_F(PruneTest, AGroupNamedTwiceIsPlannedOnce) {
  BackupAt(elsa_, "2019-12-01T00:00:00Z");
  BackupAt(elsa_, "2019-12-02T00:00:00Z");
  Output o = Run({"prune", "--group", elsa_, "--group", elsa_, "--keep-last", "2", "--json"});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(nlohmann::json::parse(o.out).size(), 2u) << o.out;
  EXPECT_EQ(SnapshotNames().size(), 2u);
}

TEST_F(PruneTest, NoKeepOptionKeepsEverythingAndSaysSo) {
  BackupAt(elsa_, "2019-12-01T00:00:00Z");
  BackupAt(elsa_, "2019-12-02T00:00:00Z");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"prune"}, std::vector<std::string>{"prune", "--keep-last", "0"}}) {
    Output o = Run(args);
    ASSERT_EQ(o.code, 0) << o.all();
    EXPECT_NE(o.err.find("keeping every snapshot"), std::string::npos) << o.err;
    EXPECT_NE(o.out.find("host/elsa/2019-12-01T00:00:00Z  keep    no policy"), std::string::npos)
        << o.out;
    EXPECT_EQ(SnapshotNames().size(), 2u);
  }
}

TEST_F(PruneTest, ProtectedSnapshotsSurvivePruneAndForgetUntilUnprotected) {
  BackupAt(elsa_, "2019-12-01T00:00:00Z");
  BackupAt(elsa_, "2019-12-02T00:00:00Z");
  BackupAt(elsa_, "2019-12-03T00:00:00Z");
  const std::string oldest = Name(elsa_, "2019-12-01T00:00:00Z");

  Output p = Run({"protect", oldest});
  ASSERT_EQ(p.code, 0) << p.all();
  EXPECT_EQ(p.out, "protected " + oldest + "\n");
  for (const auto& s : Snapshots()) EXPECT_EQ(s["protected"].get<bool>(), s["name"] == oldest) << s;
  Output listing = Run({"snapshots"});
  EXPECT_EQ(std::count(listing.out.begin(), listing.out.end(), '\n'), 4) << listing.out;
  EXPECT_NE(listing.out.find("(protected)"), std::string::npos) << listing.out;

  Output pruned = Run({"prune", "--keep-last", "1", "--json"});
  ASSERT_EQ(pruned.code, 0) << pruned.all();
  auto plan = nlohmann::json::parse(pruned.out);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[2]["snapshot"], oldest);
  EXPECT_EQ(plan[2]["reason"], "protected");
  EXPECT_FALSE(plan[1]["keep"].get<bool>());  // the protected one does not count as the last one
  EXPECT_EQ(SnapshotNames(), (Names{oldest, Name(elsa_, "2019-12-03T00:00:00Z")}));

  Output refused = Run({"forget", oldest});
  EXPECT_EQ(refused.code, 1) << refused.all();
  EXPECT_EQ(refused.err, "coffer: " + oldest + " is protected: run coffer unprotect first\n");
  EXPECT_EQ(SnapshotNames().size(), 2u);

  Output u = Run({"unprotect", oldest});
  ASSERT_EQ(u.code, 0) << u.all();
  EXPECT_EQ(u.out, "unprotected " + oldest + "\n");
  EXPECT_FALSE(Snapshots()[0]["protected"].get<bool>());
  Output forgot = Run({"forget", oldest});
  EXPECT_EQ(forgot.code, 0) << forgot.all();
  EXPECT_EQ(SnapshotNames(), (Names{Name(elsa_, "2019-12-03T00:00:00Z")}));
}

TEST_F(PruneTest, ForgetRemovesEveryNamedSnapshotItCanAndReportsTheRest) {
  BackupAt(elsa_, "2019-12-01T00:00:00Z");
  BackupAt(elsa_, "2019-12-02T00:00:00Z");
  BackupAt(elsa_, "2019-12-03T00:00:00Z");
  BackupAt(elsa_, "2019-12-04T00:00:00Z");
  auto before = Snapshots();
  std::string second_id = before[1]["id"].get<std::string>().substr(0, 12);
  const std::string kept_protected = Name(elsa_, "2019-12-03T00:00:00Z");
  ASSERT_EQ(Run({"protect", kept_protected}).code, 0);

  Output o = Run({"forget", Name(elsa_, "2019-12-01T00:00:00Z"), second_id, kept_protected,
                  Name(elsa_, "2020-01-01T00:00:00Z"), elsa_ + "/latest",
                  Name(elsa_, "2019-12-04T00:00:00Z")});
  EXPECT_EQ(o.code, 1) << o.all();
  EXPECT_EQ(o.out,
            "removed host/elsa/2019-12-01T00:00:00Z\n"
            "removed host/elsa/2019-12-02T00:00:00Z\n"
            "removed host/elsa/2019-12-04T00:00:00Z\n");  // named twice, removed once
  EXPECT_NE(o.err.find("no snapshot host/elsa/2020-01-01T00:00:00Z"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("protected"), std::string::npos) << o.err;
  EXPECT_EQ(SnapshotNames(), (Names{kept_protected}));
}

TEST_F(PruneTest, ForgetOfAMissingSnapshotExits1) {
  BackupAt(elsa_, "2019-12-01T00:00:00Z");
  Output o = Run({"forget", Name(elsa_, "2019-12-02T00:00:00Z")});
  EXPECT_EQ(o.code, 1) << o.all();
  EXPECT_EQ(o.out, "");
  Output p = Run({"protect", "ffffffff"});
  EXPECT_EQ(p.code, 1) << p.all();
  EXPECT_EQ(SnapshotNames().size(), 1u);
}

TEST_F(PruneTest, UsageErrorsExit2AndChangeNothing) {
  BackupAt(elsa_, "2019-12-01T00:00:00Z");
  BackupAt(elsa_, "2019-12-02T00:00:00Z");
  const std::vector<std::vector<std::string>> bad = {
      {"prune", "--keep-last=-1"},
      {"prune", "--keep-daily", "abc"},
      {"prune", "--keep-weekly", "1.5"},
      {"prune", "--keep-monthly", ""},
      {"prune", "--keep-last", "1", "--group", "nogroup"},
      {"prune", "--keep-last"},
      {"forget"},
      {"forget", "host/elsa/yesterday"},
      {"forget", Name(elsa_, "2019-12-01T00:00:00Z"), "not a name"},
      {"protect"},
      {"unprotect", "xyz"},
  };
  for (const auto& args : bad) {
    Output o = Run(args);
    std::string shown;
    for (const auto& a : args) shown += " '" + a + "'";
    EXPECT_EQ(o.code, 2) << shown << ": " << o.all();
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << shown << ": " << o.err;
  }
  EXPECT_EQ(SnapshotNames().size(), 2u);
}

TEST_F(PruneTest, NegativeCountAsASeparateArgumentIsAUsageError) {
  BackupAt(elsa_, "2019-12-01T00:00:00Z");
  Output o = Run({"prune", "--keep-last", "-1"});
  EXPECT_EQ(o.code, 2) << o.all();
  EXPECT_EQ(SnapshotNames().size(), 1u);
}

}  // namespace
}  // namespace coffer::e2e
