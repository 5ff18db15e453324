#include "tools/cli.h"

#include <cstdio>

#include <fmt/format.h>

#include "tools/exit_codes.h"

namespace coffer::tools {

int Fail(const Status& status, FailedStep step) {
  if (status.code() == Code::kNoSpace) {
    // The RocksDB detail alone does not say what the user should do.
    fmt::print(stderr,
               "coffer: no space left for the repository: this command's changes were not "
               "committed, earlier snapshots are intact; free some space and run it again ({})\n",
               status.message());
    return ExitCodeFor(status, step);
  }
  fmt::print(stderr, "coffer: {}\n", status.message());
  return ExitCodeFor(status, step);
}

CLI::Option* AddRepeatableOption(CLI::App* cmd, const std::string& name,
                                 const std::string& value_name, std::vector<std::string>& values,
                                 const std::string& description) {
  // expected(1) alone keeps allow_extra_args from the vector default, which
  // would still take the following words and split a "[a,b]" value; take_all
  // keeps the values of every use instead of refusing a second one.
  return cmd->add_option(name, values, description + " (repeatable)")
      ->type_name(value_name)
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
}

}  // namespace coffer::tools
