// coffer completion bash: the script it prints, sourced into a real bash
// and asked to complete lines the way bash asks a completion function
// (COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT set, _coffer called,
// COMPREPLY read), against a real repository.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"
#include "tools/exit_codes.h"

namespace coffer::e2e {
namespace {

using Words = std::set<std::string>;

std::string Join(const Words& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : " | ") + word;
  return out.empty() ? "(none)" : out;
}

// The folder of the coffer binary, put first in PATH so that `coffer` on a
// line is the one under test.
std::string BinaryDir() {
  const std::string binary = COFFER_BINARY;
  return binary.substr(0, binary.rfind('/'));
}

// COMP_WORDS for `line` as bash makes them with its default COMP_WORDBREAKS:
// words end at blanks (a backslash keeps the next character in the word), and
// each run of ':' or '=' is a word of its own. A line ending in a blank has
// an empty word under the cursor.
std::vector<std::string> CompWords(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  auto end_word = [&] {
    if (in_word) words.push_back(word);
    word.clear();
    in_word = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ') {
      end_word();
    } else if (c == ':' || c == '=') {
      if (in_word && word.back() != ':' && word.back() != '=') end_word();
      word += c;
      in_word = true;
    } else {
      if (in_word && (word.back() == ':' || word.back() == '=')) end_word();
      word += c;
      if (c == '\\' && i + 1 < line.size()) word += line[++i];
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  if (line.empty() || line.back() == ' ') words.push_back("");
  return words;
}

Words SubcommandsInHelp(const std::string& help) {
  Words out;
  for (const std::string& line : Section(help, "Subcommands:")) {
    out.insert(line.substr(2, line.find(' ', 2) - 2));
  }
  return out;
}

// The option names (-r, --repo) of a --help text's "Options:" section.
Words OptionsInHelp(const std::string& help) {
  Words out;
  for (const std::string& line : Section(help, "Options:")) {
    if (!line.starts_with("  -")) continue;
    std::string names = line.substr(2, line.find_first_of(" ", 2) - 2);  // "-r,--repo"
    std::istringstream parts(names);
    for (std::string name; std::getline(parts, name, ',');) out.insert(name);
  }
  return out;
}

Words Lines(const std::string& text) {
  Words out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) out.insert(line);
  return out;
}

class CompletionTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    Output script = CofferRaw({"completion", "bash"});
    ASSERT_EQ(script.code, 0) << script.all();
    script_ = tmp_ / "coffer.bash";
    std::ofstream(script_) << script.out;
    passphrase_file_ = tmp_ / "passphrase";
    std::ofstream(passphrase_file_) << passphrase_ << "\n";
  }
  void TearDown() override { EXPECT_TRUE(KillServersOf(repo_)); }

  // Runs `bash_code` in a bash that has sourced the script.
  Output Bash(const std::string& bash_code, const std::vector<std::string>& args = {},
              const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"bash", "-c", "source \"$0\" || exit 99\n" + bash_code,
                                     script_};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> full_env = {"PATH=" + BinaryDir() + ":" + std::getenv("PATH")};
    full_env.insert(full_env.end(), env.begin(), env.end());
    return RunProcess(argv, full_env);
  }

  // What completing `line` with the cursor at its end offers.
  Words Complete(const std::string& line, const std::vector<std::string>& env = {}) {
    std::vector<std::string> args = {line};
    for (const std::string& word : CompWords(line)) args.push_back(word);
    Output o = Bash(R"(
COMP_WORDBREAKS=$' \t\n"'\''><=;|&(:'
COMP_LINE=$1 COMP_POINT=${#1}
shift
COMP_WORDS=("$@") COMP_CWORD=$(($# - 1))
_coffer "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
)",
                    args, env);
    EXPECT_EQ(o.code, 0) << line << ": " << o.all();
    EXPECT_EQ(o.err, "") << line;
    Words out = Lines(o.out);
    out.erase("");
    // A word offered twice is offered once too many (bash would list it twice).
    EXPECT_EQ(out.size(), static_cast<size_t>(std::count(o.out.begin(), o.out.end(), '\n')) -
                              (Lines(o.out).count("") ? 1 : 0))
        << line << " offers a word twice:\n"
        << o.out;
    return out;
  }

  // `GLOBAL-OPTIONS ` naming the repository and its passphrase file.
  std::string Opens() const {
    return "coffer -r " + repo_ + " --passphrase-file " + passphrase_file_ + " ";
  }

  std::string script_;
  std::string passphrase_file_;
};

TEST_F(CompletionTest, OffersEveryCommandAndSubcommand) {
  const Words commands = SubcommandsInHelp(Help({}));
  ASSERT_GE(commands.size(), 20u);
  EXPECT_TRUE(commands.contains("completion"));
  EXPECT_EQ(Complete("coffer "), commands);
  EXPECT_EQ(Complete("coffer re"), (Words{"restore", "restore-test", "repair"}));
  EXPECT_EQ(Complete("coffer key "), SubcommandsInHelp(Help({"key"})));
  EXPECT_EQ(Complete("coffer jobs "), SubcommandsInHelp(Help({"jobs"})));
  // Global options before the command do not hide it.
  EXPECT_EQ(Complete("coffer -r " + repo_ + " -q key ex"), (Words{"export"}));
}

TEST_F(CompletionTest, OffersTheOptionsOfTheCommandAndTheGlobalOnes) {
  EXPECT_EQ(Complete("coffer backup --ex"), (Words{"--exclude", "--exclude-file"}));
  EXPECT_EQ(Complete("coffer --passphrase-"), (Words{"--passphrase-file", "--passphrase-fd"}));
  const Words ls = Complete("coffer ls -");
  for (const char* option :
       {"--long", "-l", "--json", "--recursive", "--repo", "--quiet", "--help"}) {
    EXPECT_TRUE(ls.contains(option)) << option << " not in " << Join(ls);
  }
  EXPECT_FALSE(ls.contains("--exclude")) << Join(ls);
  EXPECT_EQ(Complete("coffer diff --h"), (Words{"--help"}));  // the command's and the top's, once
  // An option value that looks like a command is not taken for one.
  EXPECT_EQ(Complete("coffer backup --group ls --ex"), (Words{"--exclude", "--exclude-file"}));
  EXPECT_EQ(Complete("coffer key export --q"), (Words{"--qr", "--qr-image", "--quiet"}));
}

// Every command and subcommand: {} for the top, {"key"}, {"key", "export"}...
std::vector<std::vector<std::string>> AllCommands() {
  std::vector<std::vector<std::string>> commands = {{}};
  for (size_t i = 0; i < commands.size(); ++i) {
    for (const std::string& sub : SubcommandsInHelp(Help(commands[i]))) {
      std::vector<std::string> command = commands[i];
      command.push_back(sub);
      commands.push_back(command);
    }
  }
  return commands;
}

// The script's table of options is the parser's: every command's --help
// lists exactly the options the script completes for it.
TEST_F(CompletionTest, TheScriptKnowsEveryOptionOfEveryCommand) {
  const std::vector<std::vector<std::string>> commands = AllCommands();
  ASSERT_GE(commands.size(), 30u);
  for (const auto& command : commands) {
    std::string path = "coffer";
    for (const std::string& word : command) path += " " + word;
    const Words help = OptionsInHelp(Help(command));
    ASSERT_FALSE(help.empty()) << path;
    Output table = Bash(R"(printf '%s\n' ${_coffer_options[$1]})", {path});
    EXPECT_EQ(Lines(table.out), help) << "the options of " << path;
  }
}

// What an option's value completes to is read from its name (FILE, DIR...),
// so every option that takes a value names it, rather than leaving CLI11's
// TEXT or INT (which --help would show, and which would complete nothing).
TEST_F(CompletionTest, EveryOptionNamesItsValue) {
  const std::set<std::string> generic = {"TEXT", "INT", "UINT", "FLOAT"};
  for (const auto& command : AllCommands()) {
    std::string path = "coffer";
    for (const std::string& word : command) path += " " + word;
    for (const std::string& line : Section(Help(command), "Options:")) {
      if (!line.starts_with("  -")) continue;
      // "  -o,--output DEST   Description": the value's name is the word after
      // the names, up to a validator (":INT in [1 - 19]") or a default ("=3").
      std::istringstream words(line.substr(0, line.find("  ", 2)));
      std::string names, value;
      words >> names >> value;
      value = value.substr(0, value.find_first_of(":="));
      EXPECT_FALSE(generic.contains(value)) << path << ": " << line;
    }
  }
}

TEST_F(CompletionTest, OptionValuesAreFilesOrFolders) {
  const std::string dir = tmp_ / "values";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir + "/folder one").c_str(), 0755), 0);
  std::ofstream(dir + "/file one") << "x";
  EXPECT_EQ(Complete("coffer --passphrase-file " + dir + "/f"),
            (Words{dir + "/file one", dir + "/folder one"}));
  EXPECT_EQ(Complete("coffer backup --exclude-file=" + dir + "/fi"), (Words{dir + "/file one"}));
  EXPECT_EQ(Complete("coffer -r " + dir + "/f"), (Words{dir + "/folder one"}));
  EXPECT_EQ(Complete("coffer restore --target " + dir + "/f"), (Words{dir + "/folder one"}));
  // backup's PATH is a local path; --group's value is not one.
  EXPECT_EQ(Complete("coffer backup " + dir + "/fi"), (Words{dir + "/file one"}));
  EXPECT_EQ(Complete("coffer backup --group " + dir + "/f"), Words{});
}

class CompletionWithSnapshotsTest : public CompletionTest {
 protected:
  void SetUp() override {
    CompletionTest::SetUp();
    data_ = tmp_ / "data";
    ASSERT_EQ(mkdir(data_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((data_ + "/dir with space").c_str(), 0755), 0);
    std::ofstream(data_ + "/dir with space/inner file") << "inner";
    std::ofstream(data_ + "/dirt") << "dirt";
    std::ofstream(data_ + "/other") << "other";
    Backup({data_}, {"--time", "2026-01-02T03:04:05Z"});
    Backup({data_}, {"--time", "2026-01-03T03:04:05Z"});
  }
  std::string First() const { return group_ + "/2026-01-02T03:04:05Z"; }
  std::string Second() const { return group_ + "/2026-01-03T03:04:05Z"; }

  std::string data_;
};

TEST_F(CompletionWithSnapshotsTest, OffersTheSnapshotsOfTheRepositoryOnTheLine) {
  const Words all = {First(), Second(), group_ + "/latest"};
  EXPECT_EQ(Complete(Opens() + "ls "), all);
  EXPECT_EQ(Complete(Opens() + "restore host/"), all);
  EXPECT_EQ(
      Complete("coffer --repo=" + repo_ + " --passphrase-file=" + passphrase_file_ + " info "),
      all);
  EXPECT_EQ(Complete("coffer ls ",
                     {"COFFER_REPO=" + repo_, "COFFER_PASSPHRASE_FILE=" + passphrase_file_}),
            all);
  EXPECT_EQ(Complete(Opens() + "forget " + First() + " "), all);
  EXPECT_EQ(Complete(Opens() + "verify --snapshot "), all);
  // bash completes only what follows the last ':' of the word.
  EXPECT_EQ(Complete(Opens() + "ls " + group_ + "/2026-01-03T03:0"), (Words{"04:05Z"}));
}

TEST_F(CompletionWithSnapshotsTest, OffersNothingWhenThePassphraseWouldBeAskedFor) {
  EXPECT_EQ(Complete("coffer -r " + repo_ + " ls "), Words{});
  EXPECT_EQ(Complete("coffer ls ", {"COFFER_REPO=" + repo_}), Words{});
  // The passphrase from the environment is enough.
  EXPECT_EQ(Complete("coffer -r " + repo_ + " ls ", PassEnv()).size(), 3u);
}

TEST_F(CompletionWithSnapshotsTest, OffersThePathsInsideTheSnapshot) {
  const std::string in = InSnapshot(data_);
  EXPECT_EQ(Complete(Opens() + "ls " + First() + " " + in + "/di"),
            (Words{in + "/dir with space/", in + "/dirt"}));
  EXPECT_EQ(Complete(Opens() + "cat " + group_ + "/latest " + in + "/dir\\ with\\ space/"),
            (Words{in + "/dir with space/inner file"}));
  EXPECT_EQ(Complete(Opens() + "restore -t /tmp/x " + Second() + " " + in + "/o"),
            (Words{in + "/other"}));
  const std::string top = in.substr(0, in.find('/'));
  EXPECT_EQ(Complete(Opens() + "ls " + First() + " "), (Words{top + "/"}));
  // Nothing for a snapshot that is not there.
  EXPECT_EQ(Complete(Opens() + "ls " + group_ + "/2020-01-01T00:00:00Z " + in + "/"), Words{});
}

TEST_F(CompletionTest, RefusesAShellItHasNoScriptFor) {
  Output o = CofferRaw({"completion", "zsh"});
  EXPECT_EQ(o.code, tools::kExitUsage) << o.all();
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find("zsh"), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(CofferRaw({"completion"}).code, tools::kExitUsage);
}

}  // namespace
}  // namespace coffer::e2e
