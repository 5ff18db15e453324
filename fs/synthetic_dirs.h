// SyntheticDirs: the directories the mount shows above the snapshots' own
// trees, made from the snapshot list alone:
//
//   /TYPE                 one per type of group ("host", "ct", "vm")
//   /TYPE/NAME            one per group TYPE/NAME
//   /TYPE/NAME/TIME       one per snapshot (UTC, whole seconds)
//   /TYPE/NAME/latest     the group's newest snapshot
//
// A pure function of the list, so its rules are tested without a
// repository: damaged records and groups that are not TYPE/NAME are left
// out (SnapshotFs logs the damaged ones), and two snapshots of a group in
// one second share a TIME, which shows the one listed last (the list comes
// sorted by time, so the later). Each directory's time is that of the
// newest snapshot below it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/repo/repository.h"

namespace coffer::fs {

struct SyntheticDirs {
  struct Group {
    std::map<std::string, std::shared_ptr<const Snapshot>> by_time;  // "2026-...Z" -> snapshot
    int64_t newest = 0;
    std::string newest_name;  // what `latest` points to: a key of by_time
  };
  struct Type {
    std::map<std::string, Group> groups;
    int64_t newest = 0;
  };
  int64_t listed_at = 0;  // when the list was read, on FsOptions::now_ns's clock
  int64_t newest = 0;
  std::map<std::string, Type> types;

  const Type* FindType(const std::string& name) const;
  // `path` is "TYPE/NAME".
  const Group* FindGroup(const std::string& path) const;
};

// The synthetic directories of `snapshots`, as listed at `listed_at`.
SyntheticDirs BuildSyntheticDirs(std::vector<Snapshot> snapshots, int64_t listed_at);

}  // namespace coffer::fs
