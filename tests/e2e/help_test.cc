// The man pages and `--help` agree on the options of every command.
#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using Options = std::set<std::string>;

std::string Join(const Options& s) {
  std::string out;
  for (const auto& o : s) out += (out.empty() ? "" : " ") + o;
  return out.empty() ? "(none)" : out;
}

Options LongOptions(const std::string& text) {
  Options out;
  static const std::regex re("--[a-z][a-z0-9-]*");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out.insert(it->str());
  }
  return out;
}

// The long options of a --help text's "Options:" section (not its subcommands).
Options HelpOptions(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {COFFER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--help");
  Output o = RunProcess(argv);
  EXPECT_EQ(o.code, 0) << o.all();
  std::string section;
  bool in = false;
  std::istringstream lines(o.out);
  for (std::string line; std::getline(lines, line);) {
    if (line == "Options:")
      in = true;
    else if (!line.empty() && line.back() == ':' && line[0] != ' ')
      in = false;
    else if (in && line.starts_with("  -"))
      section += line.substr(0, line.find("  ", 2)) + "\n";
  }
  return LongOptions(section);
}

// The long options in the tags (the line after .TP) of a man page section.
Options ManOptions(const std::string& page, const std::string& section_name) {
  std::ifstream in(std::string(COFFER_MAN_DIR) + "/" + page);
  EXPECT_TRUE(in.good()) << page;
  std::string tags;
  bool in_section = false, tag_next = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(".SH")) {
      std::string name = line.substr(3);
      name.erase(0, name.find_first_not_of(" \""));
      while (!name.empty() && (name.back() == '"' || name.back() == ' ')) name.pop_back();
      in_section = name == section_name;
      continue;
    }
    if (!in_section) continue;
    if (line.starts_with(".TP")) {
      tag_next = true;
      continue;
    }
    if (tag_next) {
      std::string unescaped;
      for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '-') continue;  // "\-" is "-"
        unescaped.push_back(line[i]);
      }
      tags += unescaped + "\n";
      tag_next = false;
    }
  }
  return LongOptions(tags);
}

Options Minus(const Options& a, const Options& b) {
  Options out;
  for (const auto& x : a) {
    if (!b.count(x)) out.insert(x);
  }
  return out;
}

// A name as a man page writes it: every hyphen as "\-".
std::string ManEscaped(const std::string& name) {
  std::string out;
  for (char c : name) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

const Options kGlobal = {"--help", "--version"};  // shown by every command, documented in coffer(1)

TEST(HelpTest, GlobalOptionsInHelpMatchCofferManPage) {
  Options help = HelpOptions({});
  Options man = ManOptions("coffer.1", "GLOBAL OPTIONS");
  ASSERT_FALSE(man.empty());
  EXPECT_TRUE(Minus(help, man).empty())
      << "in coffer --help, not in coffer.1: " << Join(Minus(help, man));
  EXPECT_TRUE(Minus(man, help).empty())
      << "in coffer.1, not in coffer --help: " << Join(Minus(man, help));
}

class CommandHelpTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CommandHelpTest, OptionsInHelpMatchTheCommandManPage) {
  std::string cmd = GetParam();
  Options help = Minus(HelpOptions({cmd}), kGlobal);
  Options man = ManOptions("coffer-" + cmd + ".1", "OPTIONS");
  const Options no_options = {"cat", "umount", "forget", "protect", "unprotect", "completion"};
  if (!no_options.count(cmd)) {  // these have no options of their own
    ASSERT_FALSE(help.empty()) << "no options parsed from coffer " << cmd << " --help";
    ASSERT_FALSE(man.empty()) << "no options parsed from coffer-" << cmd << ".1";
  }
  EXPECT_TRUE(Minus(help, man).empty()) << "in coffer " << cmd << " --help, not in coffer-" << cmd
                                        << ".1: " << Join(Minus(help, man));
  EXPECT_TRUE(Minus(man, help).empty()) << "in coffer-" << cmd << ".1, not in coffer " << cmd
                                        << " --help: " << Join(Minus(man, help));
}

INSTANTIATE_TEST_SUITE_P(EveryCommand, CommandHelpTest,
                         ::testing::Values("init", "backup", "import", "export", "snapshots",
                                           "info", "ls", "restore", "cat", "mount", "umount",
                                           "serve", "prune", "forget", "protect", "unprotect",
                                           "verify", "restore-test", "gc", "sync", "repair",
                                           "vzdump-hook", "run", "status", "scheduler",
                                           "completion"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');  // not in a test name
                           return name;
                         });

// `coffer key` has subcommands: their options together are coffer-key.1's.
TEST(HelpTest, KeySubcommandOptionsMatchTheirManPage) {
  Options help;
  for (const char* sub : {"export", "import", "passwd", "add", "remove", "list"}) {
    Options own = Minus(HelpOptions({"key", sub}), kGlobal);
    help.insert(own.begin(), own.end());
  }
  Options man = ManOptions("coffer-key.1", "OPTIONS");
  ASSERT_FALSE(help.empty());
  EXPECT_TRUE(Minus(help, man).empty())
      << "in coffer key SUBCOMMAND --help, not in coffer-key.1: " << Join(Minus(help, man));
  EXPECT_TRUE(Minus(man, help).empty())
      << "in coffer-key.1, not in coffer key SUBCOMMAND --help: " << Join(Minus(man, help));
}

// `coffer jobs` has subcommands too: their options together are coffer-jobs.1's.
TEST(HelpTest, JobsSubcommandOptionsMatchTheirManPage) {
  Options help;
  for (const char* sub : {"check", "next", "log", "systemd"}) {
    Options own = Minus(HelpOptions({"jobs", sub}), kGlobal);
    help.insert(own.begin(), own.end());
  }
  Options man = ManOptions("coffer-jobs.1", "OPTIONS");
  ASSERT_FALSE(help.empty());
  EXPECT_TRUE(Minus(help, man).empty())
      << "in coffer jobs SUBCOMMAND --help, not in coffer-jobs.1: " << Join(Minus(help, man));
  EXPECT_TRUE(Minus(man, help).empty())
      << "in coffer-jobs.1, not in coffer jobs SUBCOMMAND --help: " << Join(Minus(man, help));
}

TEST(HelpTest, EveryCommandHasAManPageListedInCoffer1) {
  std::ifstream in(std::string(COFFER_MAN_DIR) + "/coffer.1");
  std::stringstream ss;
  ss << in.rdbuf();
  for (std::string cmd :
       {"init",    "backup",    "import", "export",       "snapshots", "info",   "ls",
        "restore", "cat",       "mount",  "umount",       "serve",     "prune",  "forget",
        "protect", "unprotect", "verify", "restore-test", "gc",        "repair", "vzdump-hook",
        "key",     "run",       "jobs",   "status",       "scheduler"}) {
    EXPECT_NE(ss.str().find(ManEscaped("coffer-" + cmd)), std::string::npos) << cmd;
    std::ifstream page(std::string(COFFER_MAN_DIR) + "/coffer-" + cmd + ".1");
    EXPECT_TRUE(page.good()) << cmd;
  }
}

}  // namespace
}  // namespace coffer::e2e
