// What `coffer prune` decides, for the commands that prune too (`coffer run`
// applies a job's keep-* after its backup): one plan, one code.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "store/repo/repository.h"
#include "store/retention/prune_planner.h"

namespace coffer::tools {

struct PrunePlan {
  std::vector<Snapshot> snapshots;                  // every snapshot of the groups
  std::vector<retention::PruneDecision> decisions;  // decision.id indexes `snapshots`
};

// The plan for `groups` ("" alone: every group) under `policy`: reads their
// snapshots and plans each group on its own (retention::PlanPruneByGroup),
// in local time. Damaged records are always kept.
Result<PrunePlan> PlanPruneOfGroups(Repository& repo, const std::set<std::string>& groups,
                                    const retention::KeepPolicy& policy);

}  // namespace coffer::tools
