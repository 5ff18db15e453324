// How a job's run ended, as the record of runs, `coffer run`'s exit status
// and the notices all say it.
#pragma once

#include <string_view>

namespace coffer::jobs {

// A warning is a run that stored a snapshot but not all of what it should
// have (unreadable files, a failed post-hook, retention or gc).
enum class Outcome { kSuccess, kWarning, kFailure };

// "success", "warning", "failure": the record's and the notice's `outcome`,
// and COFFER_OUTCOME. Written to disk: never change them.
constexpr std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess: return "success";
    case Outcome::kWarning: return "warning";
    case Outcome::kFailure: return "failure";
  }
  return "failure";
}

}  // namespace coffer::jobs
