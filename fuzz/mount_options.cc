// mount(8)'s call of mount.coffer, as written in /etc/fstab or on the command
// line (tools/mount_helper.h: MountHelperCommand).
//
// Input: the arguments after argv[0], separated by NUL bytes. Properties: a
// refusal is kInvalidArgument; a command is empty (-f) or `coffer --repo=SPEC
// [--NAME=VALUE...] mount [--NAME=VALUE... --allow-other] -- DIR` with SPEC
// and DIR the two positional arguments given and only the known options, each
// with its value in the same argument (so no value is read as an option).
#include <initializer_list>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "tools/mount_helper.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> argv = {"mount.coffer"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      argv.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  argv.push_back(current);
  if (argv.size() > 64) return 0;

  Result<std::vector<std::string>> command = tools::MountHelperCommand(argv);
  if (!command.ok()) {
    if (command.status().code() != Code::kInvalidArgument)
      fuzz::Fail("a refusal that is not kInvalidArgument");
    return 0;
  }
  const std::vector<std::string>& c = *command;
  if (c.empty()) return 0;  // -f
  if (c.size() < 5 || c[0] != "coffer") fuzz::Fail("the command does not start with coffer");
  // The positional arguments, in the order given.
  std::vector<std::string> positional;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "-o" || argv[i] == "-t") {
      ++i;
    } else if (argv[i].empty() || argv[i][0] != '-') {
      positional.push_back(argv[i]);
    }
  }
  if (positional.size() != 2 || c[1] != "--repo=" + positional[0] || c.back() != positional[1]) {
    fuzz::Fail("SPEC or DIR is not what was given");
  }
  // Valued options are one argument each, --NAME=VALUE with a value; DIR follows "--".
  auto valued = [](const std::string& arg, std::initializer_list<const char*> names) {
    for (const char* name : names) {
      const std::string prefix = std::string(name) + "=";
      if (arg.size() > prefix.size() && arg.compare(0, prefix.size(), prefix) == 0) return true;
    }
    return false;
  };
  size_t i = 2;
  for (; i < c.size() && c[i] != "mount"; ++i) {
    if (!valued(c[i], {"--passphrase-file", "--key-file"}))
      fuzz::Fail("an unexpected global option " + c[i]);
  }
  if (i >= c.size() || c[i] != "mount") fuzz::Fail("no mount subcommand");
  for (++i; i < c.size() && c[i] != "--"; ++i) {
    if (c[i] != "--allow-other" && !valued(c[i], {"--group", "--cache-size"})) {
      fuzz::Fail("an unexpected mount option " + c[i]);
    }
  }
  if (i + 2 != c.size()) fuzz::Fail("DIR does not follow --, alone and last");
  return 0;
}
