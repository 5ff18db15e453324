#include "fs/synthetic_dirs.h"

#include <algorithm>

#include "store/model/snapshot_name.h"

namespace coffer::fs {

const SyntheticDirs::Type* SyntheticDirs::FindType(const std::string& name) const {
  auto it = types.find(name);
  return it == types.end() ? nullptr : &it->second;
}

const SyntheticDirs::Group* SyntheticDirs::FindGroup(const std::string& path) const {
  size_t slash = path.find('/');
  if (slash == std::string::npos) return nullptr;
  const Type* type = FindType(path.substr(0, slash));
  if (!type) return nullptr;
  auto it = type->groups.find(path.substr(slash + 1));
  return it == type->groups.end() ? nullptr : &it->second;
}

SyntheticDirs BuildSyntheticDirs(std::vector<Snapshot> snapshots, int64_t listed_at) {
  SyntheticDirs dirs;
  dirs.listed_at = listed_at;
  for (Snapshot& snap : snapshots) {
    if (snap.damaged()) continue;  // nothing of it can be shown; the others still can
    const std::string& group = snap.ref.group;
    size_t slash = group.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == group.size() ||
        group.find('/', slash + 1) != std::string::npos) {
      continue;  // not TYPE/NAME: no place in the tree
    }
    int64_t t = snap.ref.time_ns;
    std::string time_name = model::FormatTime(t);
    SyntheticDirs::Type& type = dirs.types[group.substr(0, slash)];
    SyntheticDirs::Group& g = type.groups[group.substr(slash + 1)];
    if (t >= g.newest || g.by_time.empty()) {
      g.newest = t;
      g.newest_name = time_name;
    }
    type.newest = std::max(type.newest, t);
    dirs.newest = std::max(dirs.newest, t);
    g.by_time[time_name] = std::make_shared<const Snapshot>(std::move(snap));
  }
  return dirs;
}

}  // namespace coffer::fs
