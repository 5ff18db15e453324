#include "tools/prune_plan.h"

#include <map>

namespace coffer::tools {

Result<PrunePlan> PlanPruneOfGroups(Repository& repo, const std::set<std::string>& groups,
                                    const retention::KeepPolicy& policy) {
  PrunePlan plan;
  for (const std::string& group : groups) {
    COFFER_ASSIGN_OR_RETURN(auto listed, repo.ListSnapshots(group));
    plan.snapshots.insert(plan.snapshots.end(), listed.begin(), listed.end());
  }
  // The planner sees one group at a time; decisions come back newest first.
  std::map<std::string, std::vector<retention::PruneCandidate>> by_group;
  for (size_t i = 0; i < plan.snapshots.size(); ++i) {
    const Snapshot& s = plan.snapshots[i];
    // A damaged record is kept whatever the policy (its time is the index's,
    // but nothing else about it is known); forget removes it by name.
    by_group[s.ref.group].push_back({s.ref.time_ns, i, s.is_protected, s.damaged()});
  }
  const retention::LocalTimeFn local_time = retention::SystemLocalTime();
  for (auto& [group, candidates] : by_group) {
    auto decisions = retention::PlanPrune(std::move(candidates), policy, local_time);
    plan.decisions.insert(plan.decisions.end(), decisions.begin(), decisions.end());
  }
  return plan;
}

}  // namespace coffer::tools
