// BuildSyntheticDirs over snapshot lists, each compared with the whole of
// the directories it should give, written out one line per directory.
#include "fs/synthetic_dirs.h"

#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace coffer::fs {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

struct Listed {
  std::string group;
  int64_t time_ns = 0;
  bool damaged = false;
};

Snapshot Make(const Listed& listed) {
  Snapshot snap;
  snap.ref.group = listed.group;
  snap.ref.time_ns = listed.time_ns;
  if (listed.damaged)
    snap.damage = Status::Corruption("snapshot " + listed.group + ": authentication failed");
  return snap;
}

// One line per directory, in the order a listing shows them:
//   "/ newest=T"                     the root
//   "TYPE newest=T"
//   "TYPE/NAME newest=T latest=TIME"
//   "TYPE/NAME/TIME t=T"             T: the time of the snapshot it shows, in ns
std::vector<std::string> Describe(const SyntheticDirs& dirs) {
  std::vector<std::string> lines = {"/ newest=" + std::to_string(dirs.newest)};
  for (const auto& [type_name, type] : dirs.types) {
    lines.push_back(type_name + " newest=" + std::to_string(type.newest));
    for (const auto& [group_name, group] : type.groups) {
      const std::string path = type_name + "/" + group_name;
      lines.push_back(path + " newest=" + std::to_string(group.newest) +
                      " latest=" + group.newest_name);
      for (const auto& [time, snap] : group.by_time) {
        lines.push_back(path + "/" + time + " t=" + std::to_string(snap->ref.time_ns));
      }
    }
  }
  return lines;
}

struct Case {
  std::string name;
  std::vector<Listed> snapshots;
  std::vector<std::string> expected;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"NoSnapshots", {}, {"/ newest=0"}},
      {"OneGroup",
       {{"host/web1", 1 * kSecond}, {"host/web1", 61 * kSecond}},
       {"/ newest=61000000000", "host newest=61000000000",
        "host/web1 newest=61000000000 latest=1970-01-01T00:01:01Z",
        "host/web1/1970-01-01T00:00:01Z t=1000000000",
        "host/web1/1970-01-01T00:01:01Z t=61000000000"}},
      {"ManyGroupsOfManyTypesEachWithItsOwnLatest",
       {{"vm/100", 3 * kSecond},
        {"host/web1", 2 * kSecond},
        {"ct/101", 9 * kSecond},
        {"host/db", 7 * kSecond},
        {"host/web1", 5 * kSecond},
        {"vm/100", 4 * kSecond}},
       {"/ newest=9000000000", "ct newest=9000000000",
        "ct/101 newest=9000000000 latest=1970-01-01T00:00:09Z",
        "ct/101/1970-01-01T00:00:09Z t=9000000000", "host newest=7000000000",
        "host/db newest=7000000000 latest=1970-01-01T00:00:07Z",
        "host/db/1970-01-01T00:00:07Z t=7000000000",
        "host/web1 newest=5000000000 latest=1970-01-01T00:00:05Z",
        "host/web1/1970-01-01T00:00:02Z t=2000000000",
        "host/web1/1970-01-01T00:00:05Z t=5000000000", "vm newest=4000000000",
        "vm/100 newest=4000000000 latest=1970-01-01T00:00:04Z",
        "vm/100/1970-01-01T00:00:03Z t=3000000000", "vm/100/1970-01-01T00:00:04Z t=4000000000"}},
      {"TwoSnapshotsInOneSecondShowTheOneListedLast",
       {{"host/web1", 5 * kSecond + 200'000'000}, {"host/web1", 5 * kSecond + 700'000'000}},
       {"/ newest=5700000000", "host newest=5700000000",
        "host/web1 newest=5700000000 latest=1970-01-01T00:00:05Z",
        "host/web1/1970-01-01T00:00:05Z t=5700000000"}},
      {"GroupsThatAreNotTypeSlashNameAreLeftOut",
       {{"host", 1 * kSecond},
        {"/web1", 2 * kSecond},
        {"host/", 3 * kSecond},
        {"host/web1/extra", 4 * kSecond},
        {"", 5 * kSecond},
        {"host/web 1.example-ü", 6 * kSecond}},
       {"/ newest=6000000000", "host newest=6000000000",
        "host/web 1.example-ü newest=6000000000 latest=1970-01-01T00:00:06Z",
        "host/web 1.example-ü/1970-01-01T00:00:06Z t=6000000000"}},
      {"DamagedRecordsAreLeftOutAndLatestIsTheNewestIntactOne",
       {{"host/web1", 1 * kSecond},
        {"host/web1", 2 * kSecond},
        {"host/web1", 3 * kSecond, /*damaged=*/true},
        {"ct/200", 4 * kSecond, /*damaged=*/true}},
       {"/ newest=2000000000", "host newest=2000000000",
        "host/web1 newest=2000000000 latest=1970-01-01T00:00:02Z",
        "host/web1/1970-01-01T00:00:01Z t=1000000000",
        "host/web1/1970-01-01T00:00:02Z t=2000000000"}},
      {"ASnapshotBefore1970StillHasALatest",
       {{"host/old", -10 * kSecond}},
       {"/ newest=0", "host newest=0", "host/old newest=-10000000000 latest=1969-12-31T23:59:50Z",
        "host/old/1969-12-31T23:59:50Z t=-10000000000"}},
  };
  return cases;
}

class SyntheticDirsTest : public ::testing::TestWithParam<Case> {};

TEST_P(SyntheticDirsTest, GivesTheExpectedDirectories) {
  std::vector<Snapshot> snapshots;
  for (const Listed& listed : GetParam().snapshots) snapshots.push_back(Make(listed));
  const SyntheticDirs dirs = BuildSyntheticDirs(std::move(snapshots), 42);
  EXPECT_EQ(Describe(dirs), GetParam().expected);
  EXPECT_EQ(dirs.listed_at, 42);
}

INSTANTIATE_TEST_SUITE_P(Lists, SyntheticDirsTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(SyntheticDirsLookupTest, FindsTypesAndGroupsByPathOnly) {
  const SyntheticDirs dirs =
      BuildSyntheticDirs({Make({"host/web1", kSecond}), Make({"ct/101", 2 * kSecond})}, 0);
  ASSERT_NE(dirs.FindType("host"), nullptr);
  EXPECT_EQ(dirs.FindType("host")->groups.count("web1"), 1u);
  EXPECT_EQ(dirs.FindType("vm"), nullptr);
  const SyntheticDirs::Group* group = dirs.FindGroup("ct/101");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->newest, 2 * kSecond);
  EXPECT_EQ(dirs.FindGroup("host/web2"), nullptr);
  EXPECT_EQ(dirs.FindGroup("host"), nullptr) << "a type is not a group";
  EXPECT_EQ(dirs.FindGroup("ct/101/x"), nullptr);
  EXPECT_EQ(dirs.FindGroup("web1"), nullptr);
}

}  // namespace
}  // namespace coffer::fs
