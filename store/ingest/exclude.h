// Exclude patterns, as restic users know them: fnmatch(3) globs; a pattern
// without a slash matches any path component's name, one with a slash
// matches the whole absolute path. Excluded directories are not descended.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/base/status.h"

namespace coffer::ingest {

class ExcludeMatcher {
 public:
  explicit ExcludeMatcher(std::vector<std::string> patterns);
  bool Excluded(std::string_view absolute_path, std::string_view name) const;
  bool empty() const { return by_name_.empty() && by_path_.empty(); }

 private:
  std::vector<std::string> by_name_;
  std::vector<std::string> by_path_;
};

// Reads one pattern a line; blank lines and lines starting with '#' are skipped.
Result<std::vector<std::string>> ReadExcludeFile(const std::string& path);

}  // namespace coffer::ingest
