#include "tools/prune_plan.h"

namespace coffer::tools {

Result<PrunePlan> PlanPruneOfGroups(Repository& repo, const std::set<std::string>& groups,
                                    const retention::KeepPolicy& policy) {
  PrunePlan plan;
  for (const std::string& group : groups) {
    COFFER_ASSIGN_OR_RETURN(auto listed, repo.ListSnapshots(group));
    plan.snapshots.insert(plan.snapshots.end(), listed.begin(), listed.end());
  }
  std::vector<retention::GroupedPruneCandidate> candidates;
  candidates.reserve(plan.snapshots.size());
  for (size_t i = 0; i < plan.snapshots.size(); ++i) {
    const Snapshot& s = plan.snapshots[i];
    // A damaged record is kept whatever the policy (its time is the index's,
    // but nothing else about it is known); forget removes it by name.
    candidates.push_back({s.ref.group, {s.ref.time_ns, i, s.is_protected, s.damaged()}});
  }
  plan.decisions = retention::PlanPruneByGroup(std::move(candidates), policy);
  return plan;
}

}  // namespace coffer::tools
