#include "tools/mount_helper.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace coffer::tools {
namespace {

// Options mount(8), systemd or fstab conventions give every filesystem;
// they mean nothing more to a read-only FUSE mount. mount(8) adds rw to a
// helper's options unless ro is given: the mount stays read-only.
constexpr std::array<std::string_view, 19> kIgnored = {
    "ro",    "rw",     "defaults", "noauto",   "auto",  "nofail", "user",
    "users", "nouser", "_netdev",  "nosuid",   "nodev", "noexec", "exec",
    "suid",  "dev",    "noatime",  "relatime", "atime"};

std::vector<std::string_view> SplitCommas(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> MountHelperCommand(std::span<const std::string> argv) {
  std::vector<std::string> positional;
  std::vector<std::string_view> options;
  bool fake = false, sloppy = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "-o" || arg == "-t") {
      if (i + 1 == argv.size()) return Status::InvalidArgument(arg + " needs a value");
      if (arg == "-o") {
        for (std::string_view option : SplitCommas(argv[i + 1])) options.push_back(option);
      }
      ++i;
    } else if (arg.size() > 1 && arg[0] == '-' &&
               arg.find_first_not_of("fnsv", 1) == std::string::npos) {
      fake = fake || arg.find('f') != std::string::npos;
      sloppy = sloppy || arg.find('s') != std::string::npos;
    } else if (!arg.empty() && arg[0] == '-') {
      return Status::InvalidArgument("unknown argument " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) {
    return Status::InvalidArgument("usage: mount.coffer REPOSITORY MOUNTPOINT [-o OPTIONS]");
  }
  std::vector<std::string> global = {"coffer", "--repo=" + positional[0]};
  std::vector<std::string> mount = {"mount"};
  for (std::string_view option : options) {
    const size_t equals = option.find('=');
    const std::string_view name = option.substr(0, equals);
    const std::string value =
        equals == std::string_view::npos ? "" : std::string(option.substr(equals + 1));
    const bool has_value = equals != std::string_view::npos && !value.empty();
    if (name == "passphrase-file" && has_value) {
      global.push_back("--passphrase-file=" + value);
    } else if (name == "key-file" && has_value) {
      global.push_back("--key-file=" + value);
    } else if (name == "group" && has_value) {
      mount.push_back("--group=" + value);
    } else if (name == "cache-size" && has_value) {
      mount.push_back("--cache-size=" + value);
    } else if ((option == "allow_other" || option == "allow-other")) {
      mount.push_back("--allow-other");
    } else if (std::find(kIgnored.begin(), kIgnored.end(), option) != kIgnored.end() ||
               option.starts_with("x-") || option.starts_with("comment=")) {
      continue;
    } else if (!sloppy) {
      return Status::InvalidArgument(
          "unknown mount option " + std::string(option) +
          (equals != std::string_view::npos && !has_value ? " (no value)" : ""));
    }
  }
  if (fake) return std::vector<std::string>();
  // After "--", DIR is never read as an option, whatever it starts with.
  mount.push_back("--");
  mount.push_back(positional[1]);
  global.insert(global.end(), mount.begin(), mount.end());
  return global;
}

}  // namespace coffer::tools
