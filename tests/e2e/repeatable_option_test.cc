// Options that may be given more than once take exactly one value per use,
// so options and arguments can come in any order: `backup --exclude '*.tmp'
// DIR` backs up DIR (CLI11's default for a list took DIR as a second
// pattern). One row per repeatable option of every command; a last check
// reads every command's --help and fails when an option takes every word
// after it, or is repeatable and has no row here.
#include <sys/stat.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using Names = std::set<std::string>;

// What the exclude checks leave of the source tree: each file they name is
// matched by one pattern. Were "a,b" split, "a" and "b" would go too; were
// "[cd]" read as a list, "cd" would go and "c" stay.
const Names kKeptByTheExcludes = {"keep.txt", "sub", "sub/keep.txt", "a", "b", "cd"};

class RepeatableOptionTest;

// A repeatable option and the run that proves it takes one value per use.
struct RepeatableOption {
  std::string command;
  std::string option;
  // Gives the option more than once, as `--opt VALUE` right before a word
  // it must leave alone and as `--opt=VALUE` (with a comma or brackets in a
  // value where one may hold them), and checks that the command used
  // exactly those values and that word.
  void (RepeatableOptionTest::*check)();
};

// Test names and failures show "backup --exclude", not the struct's bytes.
void PrintTo(const RepeatableOption& option, std::ostream* out) {
  *out << option.command << " " << option.option;
}

class RepeatableOptionTest : public CofferTest,
                             public ::testing::WithParamInterface<RepeatableOption> {
 public:
  void BackupExclude();
  void BackupExcludeFile();
  void BackupTag();
  void ImportTag();
  void PruneGroup();
  void VerifySnapshot();
  void ServeAppendOnlyTokenFile();
  void SyncGroup();

 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    ASSERT_EQ(mkdir(source_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((source_ + "/sub").c_str(), 0755), 0);
    // The tree the backup checks store, and some of it exclude.
    for (const char* name : {"keep.txt", "sub/keep.txt", "a", "b", "cd", "drop.tmp", "sub/drop.tmp",
                             "drop.log", "a,b", "c"}) {
      testing::WriteFile(source_ + "/" + name, name);
    }
  }

  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  // The paths below source_ in `snapshot`, relative to source_.
  Names StoredBelowSource(const std::string& snapshot) {
    const std::string prefix = InSnapshot(source_) + "/";
    Output o = Coffer({"ls", "-R", "--json", snapshot, InSnapshot(source_)});
    EXPECT_EQ(o.code, 0) << o.all();
    Names out;
    std::istringstream lines(o.out);
    for (std::string line; std::getline(lines, line);) {
      auto path = nlohmann::json::parse(line)["path"].get<std::string>();
      EXPECT_TRUE(path.starts_with(prefix)) << path;
      out.insert(path.substr(prefix.size()));
    }
    return out;
  }

  // The one snapshot of `group`, from `snapshots --json`.
  nlohmann::json OnlySnapshotOf(const std::string& group) {
    nlohmann::json found;
    for (const auto& s : Snapshots()) {
      if (s["group"] == group) {
        EXPECT_TRUE(found.is_null()) << "more than one snapshot of " << group;
        found = s;
      }
    }
    EXPECT_FALSE(found.is_null()) << "no snapshot of " << group;
    return found;
  }

  // A small snapshot of `group` at `time`, from standard input.
  std::string BackupAt(const std::string& group, const std::string& time) {
    Output o = Coffer({"backup", "--group", group, "--time", time, "--stdin"}, {}, time);
    EXPECT_EQ(o.code, 0) << o.all();
    return group + "/" + time;
  }

  Names SnapshotNames() {
    Names out;
    for (const auto& s : Snapshots()) out.insert(s["name"].get<std::string>());
    return out;
  }

  std::string source_;
};

void RepeatableOptionTest::BackupExclude() {
  Output o = Coffer({"backup", "--group", "host/exclude", "--exclude", "*.tmp", source_,
                     "--exclude=*.log", "--exclude", "a,b", "--exclude", "[cd]"});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(StoredBelowSource("host/exclude/latest"), kKeptByTheExcludes);
}

void RepeatableOptionTest::BackupExcludeFile() {
  const std::string tmp_patterns = tmp_ / "tmp.exclude";
  const std::string more_patterns = tmp_ / "log,names.exclude";  // a comma in a path
  testing::WriteFile(tmp_patterns, "*.tmp\n");
  testing::WriteFile(more_patterns, "*.log\na,b\n[cd]\n");
  Output o = Coffer({"backup", "--group", "host/exclude-file", "--exclude-file", tmp_patterns,
                     source_, "--exclude-file=" + more_patterns});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(StoredBelowSource("host/exclude-file/latest"), kKeptByTheExcludes);
}

void RepeatableOptionTest::BackupTag() {
  Output o = Coffer(
      {"backup", "--group", "host/tag", "--tag", "daily", source_, "--tag=a b", "--tag", "[c d]"});
  ASSERT_EQ(o.code, 0) << o.all();
  nlohmann::json snapshot = OnlySnapshotOf("host/tag");
  auto tags = snapshot["tags"].get<std::vector<std::string>>();
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"[c d]", "a b", "daily"})) << snapshot.dump();
  EXPECT_EQ(snapshot["paths"], nlohmann::json::array({source_})) << snapshot.dump();
}

void RepeatableOptionTest::ImportTag() {
  const std::string archive = tmp_ / "src.tar";
  std::string out;
  ASSERT_EQ(testing::RunCommand({"tar", "-cf", archive, "-C", source_, "."}, &out), 0) << out;
  Output o = Coffer({"import", "--group", "host/import-tag", "--tag", "daily", archive, "--tag=a b",
                     "--tag", "[c d]"});
  ASSERT_EQ(o.code, 0) << o.all();
  nlohmann::json snapshot = OnlySnapshotOf("host/import-tag");
  auto tags = snapshot["tags"].get<std::vector<std::string>>();
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"[c d]", "a b", "daily"})) << snapshot.dump();
  EXPECT_EQ(snapshot["paths"], nlohmann::json::array({archive})) << snapshot.dump();
}

void RepeatableOptionTest::PruneGroup() {
  for (const char* group : {"host/g1", "host/g2", "host/g3"}) {
    BackupAt(group, "2026-01-01T00:00:00Z");
    BackupAt(group, "2026-01-02T00:00:00Z");
  }
  const Names all = SnapshotNames();
  ASSERT_EQ(all.size(), 6u);

  // prune takes no arguments: the word after a group is refused, not pruned.
  Output refused = Coffer({"prune", "--group", "host/g1", "host/g2", "--keep-last", "1"});
  EXPECT_EQ(refused.code, 2) << refused.all();
  EXPECT_NE(refused.err.find("host/g2"), std::string::npos) << refused.err;
  EXPECT_EQ(SnapshotNames(), all);

  Output o = Coffer({"prune", "--group", "host/g1", "--keep-last", "1", "--group=host/g2"});
  ASSERT_EQ(o.code, 0) << o.all();
  EXPECT_EQ(SnapshotNames(),
            (Names{"host/g1/2026-01-02T00:00:00Z", "host/g2/2026-01-02T00:00:00Z",
                   "host/g3/2026-01-01T00:00:00Z", "host/g3/2026-01-02T00:00:00Z"}));
}

void RepeatableOptionTest::SyncGroup() {
  for (const char* group : {"host/g1", "host/g2", "host/g3"})
    BackupAt(group, "2026-01-01T00:00:00Z");
  const std::string copy = tmp_ / "copy";

  // sync takes no arguments: the word after a group is refused, nothing made.
  Output refused = Coffer({"sync", "--init", "--group", "host/g1", "host/g2", "--to", copy});
  EXPECT_EQ(refused.code, 2) << refused.all();
  EXPECT_NE(refused.err.find("host/g2"), std::string::npos) << refused.err;
  struct stat st;
  EXPECT_NE(stat(copy.c_str(), &st), 0);

  Output o = Coffer({"sync", "--init", "--group", "host/g1", "--to", copy, "--group=host/g2"});
  ASSERT_EQ(o.code, 0) << o.all();
  Output listed = CofferRaw({"-r", copy, "snapshots", "--json"}, PassEnv());
  EXPECT_TRUE(KillServersOf(copy));
  ASSERT_EQ(listed.code, 0) << listed.all();
  Names copied;
  for (const auto& s : nlohmann::json::parse(listed.out))
    copied.insert(s["name"].get<std::string>());
  EXPECT_EQ(copied, (Names{"host/g1/2026-01-01T00:00:00Z", "host/g2/2026-01-01T00:00:00Z"}));
}

void RepeatableOptionTest::VerifySnapshot() {
  const std::string first = BackupAt(group_, "2026-01-01T00:00:00Z");
  const std::string second = BackupAt(group_, "2026-01-02T00:00:00Z");
  const std::string third = BackupAt(group_, "2026-01-03T00:00:00Z");

  // verify takes no arguments: the word after a snapshot is refused.
  Output refused = Coffer({"verify", "--snapshot", first, second});
  EXPECT_EQ(refused.code, 2) << refused.all();
  EXPECT_NE(refused.err.find(second), std::string::npos) << refused.err;

  Output o = Coffer({"verify", "--snapshot", first, "--json", "--snapshot=" + third});
  ASSERT_EQ(o.code, 0) << o.all();
  nlohmann::json result = nlohmann::json::parse(o.out);
  Names verified;
  for (const auto& s : result["snapshots"]) verified.insert(s["name"].get<std::string>());
  EXPECT_EQ(verified, (Names{first, third})) << o.out;
}

void RepeatableOptionTest::ServeAppendOnlyTokenFile() {
  // Two files with the same token are refused by name before the server
  // listens: that names the files it was given, and needs no certificate
  // that parses.
  const std::string first = tmp_ / "web1.token";
  const std::string second = tmp_ / "web2,db1.token";  // a comma in a path
  for (const std::string& file : {first, second, tmp_ / "server.crt", tmp_ / "server.key"}) {
    testing::WriteFile(file, "e2e-append-only-token-3c7d1a\n");
  }
  const std::vector<std::string> serve = {"serve",      "-r",
                                          repo_,        "--foreground",
                                          "--listen",   "tcp://127.0.0.1:1",
                                          "--tls-cert", tmp_ / "server.crt",
                                          "--tls-key",  tmp_ / "server.key"};
  auto with = [&](std::vector<std::string> tail) {
    std::vector<std::string> args = serve;
    args.insert(args.end(), tail.begin(), tail.end());
    return CofferRaw(args);
  };

  // serve takes no arguments: the word after a file is refused.
  Output refused = with({"--append-only-token-file", first, second});
  EXPECT_EQ(refused.code, 2) << refused.all();
  EXPECT_NE(refused.err.find("not expected: " + second), std::string::npos) << refused.err;

  Output o = with({"--append-only-token-file", first, "--idle-exit", "0",
                   "--append-only-token-file=" + second});
  EXPECT_EQ(o.code, 2) << o.all();
  EXPECT_NE(o.err.find("the append-only tokens in " + first + " and " + second + " are the same"),
            std::string::npos)
      << o.err;
}

// Adding a repeatable option: add it with AddRepeatableOption (tools/cli.h),
// write its check above and add a row here.
const std::vector<RepeatableOption> kRepeatableOptions = {
    {"backup", "--exclude", &RepeatableOptionTest::BackupExclude},
    {"backup", "--exclude-file", &RepeatableOptionTest::BackupExcludeFile},
    {"backup", "--tag", &RepeatableOptionTest::BackupTag},
    {"import", "--tag", &RepeatableOptionTest::ImportTag},
    {"prune", "--group", &RepeatableOptionTest::PruneGroup},
    {"verify", "--snapshot", &RepeatableOptionTest::VerifySnapshot},
    {"serve", "--append-only-token-file", &RepeatableOptionTest::ServeAppendOnlyTokenFile},
    {"sync", "--group", &RepeatableOptionTest::SyncGroup},
};

TEST_P(RepeatableOptionTest, TakesOneValuePerUse) {
  (this->*GetParam().check)();
}

INSTANTIATE_TEST_SUITE_P(EveryRepeatableOption, RepeatableOptionTest,
                         ::testing::ValuesIn(kRepeatableOptions), [](const auto& info) {
                           std::string name =
                               info.param.command + "_" + info.param.option.substr(2);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// One option of a --help text: its names and value ("--exclude PATTERN")
// and its description, which may start on the next line.
struct HelpEntry {
  std::string names;
  std::string description;
};

std::vector<HelpEntry> OptionEntries(const std::vector<std::string>& command) {
  std::vector<HelpEntry> out;
  for (const std::string& line : Section(Help(command), "Options:")) {
    if (line.starts_with("  -")) {
      size_t gap = line.find("  ", 2);
      out.push_back({line.substr(2, gap - 2), gap == std::string::npos ? "" : line.substr(gap)});
    } else if (!out.empty()) {
      out.back().description += line;
    }
  }
  return out;
}

std::string LongName(const std::string& names) {
  static const std::regex re("--[a-z][a-z0-9-]*");
  std::smatch m;
  return std::regex_search(names, m, re) ? m.str() : names;
}

TEST(RepeatableOptionTableTest, CoversEveryRepeatableOptionOfEveryCommand) {
  std::vector<std::vector<std::string>> commands = {{}};  // the global options first
  for (const std::string& line : Section(Help({}), "Subcommands:")) {
    commands.push_back({line.substr(2, line.find(' ', 2) - 2)});
  }
  ASSERT_GE(commands.size(), 17u) << "no commands parsed from coffer --help";

  Names repeatable;  // "COMMAND --option"
  for (const auto& command : commands) {
    const std::string shown = command.empty() ? "coffer" : "coffer " + command[0];
    for (const HelpEntry& entry : OptionEntries(command)) {
      // CLI11 shows " ..." after an option that takes every word up to the
      // next option (a std::vector added with add_option).
      EXPECT_TRUE(entry.names.find(" ...") == std::string::npos)
          << shown << " " << entry.names
          << " takes every word after it: add it with AddRepeatableOption";
      if (entry.description.ends_with("(repeatable)")) {
        repeatable.insert((command.empty() ? "" : command[0]) + " " + LongName(entry.names));
      }
    }
  }
  Names in_table;
  for (const RepeatableOption& row : kRepeatableOptions)
    in_table.insert(row.command + " " + row.option);
  EXPECT_EQ(repeatable, in_table) << "every option whose --help says (repeatable) needs a row in "
                                     "kRepeatableOptions, and every row such an option";
}

}  // namespace
}  // namespace coffer::e2e
