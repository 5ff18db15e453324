// What the job commands (`coffer jobs`, `coffer status`) print alike: times
// in the local zone (TZ) and the jobs file's problems.
#pragma once

#include <string>
#include <vector>

#include "jobs/clock.h"
#include "jobs/job_file.h"
#include "store/base/status.h"

namespace coffer::tools {

// "Mon 2024-05-06 02:00:00 CEST" and "2024-05-06T02:00:00+02:00": local time.
struct LocalText {
  std::string shown;
  std::string rfc3339;
};
LocalText FormatLocal(jobs::TimePoint time);

// "2024-05-06 02:00:00", local time: a table's column.
std::string LocalShort(jobs::TimePoint time);

// Prints the problems of a jobs file that cannot be used (ReadJobsFile's
// status: FILE:LINE:COLUMN lines already) and returns kExitUsage.
int FailJobsFile(const Status& status);

// The jobs a command is about: every job of `file` in its order, or only the
// one named `name` (kInvalidArgument if the file has none of that name).
// The pointers point into `file`.
Result<std::vector<const jobs::Job*>> ChooseJobs(const jobs::JobFile& file,
                                                 const std::string& name);

}  // namespace coffer::tools
