#include "store/ingest/exclude.h"

#include <fnmatch.h>

#include <cerrno>
#include <fstream>

namespace coffer::ingest {

ExcludeMatcher::ExcludeMatcher(std::vector<std::string> patterns) {
  for (std::string& p : patterns) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();  // "cache/" means the directory
    (p.find('/') == std::string::npos ? by_name_ : by_path_).push_back(std::move(p));
  }
}

bool ExcludeMatcher::Excluded(std::string_view absolute_path, std::string_view name) const {
  std::string n(name), path(absolute_path);
  for (const auto& p : by_name_) {
    if (fnmatch(p.c_str(), n.c_str(), 0) == 0) return true;
  }
  for (const auto& p : by_path_) {
    if (fnmatch(p.c_str(), path.c_str(), 0) == 0) return true;
  }
  return false;
}

Result<std::vector<std::string>> ReadExcludeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::FromErrno(errno, "cannot read exclude file " + path);
  std::vector<std::string> patterns;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    patterns.push_back(line);
  }
  return patterns;
}

}  // namespace coffer::ingest
